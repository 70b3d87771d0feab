//! Build script: exports the C library's `malloc` and `free` from the wasm
//! module so that Fluent Bit (WAMR) places the tag and the record in the
//! same allocator Rust uses, instead of its small fixed app heap.

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "wasm32" && os == "wasi" {
        // Rust's System allocator on wasip1 is wasi-libc's dlmalloc, so the
        // host's malloc'd buffers and ours come from one heap; exporting the
        // libc symbols (rather than defining our own `malloc`) avoids a
        // duplicate-symbol clash with wasi-libc.
        println!("cargo:rustc-cdylib-link-arg=--export=malloc");
        println!("cargo:rustc-cdylib-link-arg=--export=free");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
