"""A host that calls the Fluent Bit filter module the way Fluent Bit does.

Fluent Bit (filter_wasm on WAMR) copies the tag and the JSON record, each
followed by a NUL, into the module's linear memory
(wasm_runtime_module_dup_data), calls the filter function with six i32
arguments (tag_ptr, tag_len, time_sec, time_nsec, rec_ptr, rec_len; lengths
exclude the NUL), reads the NUL-terminated string at the returned address
(checking it lies inside linear memory), then frees its two buffers. Where
the copies live depends on the module, as in WAMR: a module that exports
`malloc` and `free` gets them in its own heap (four calls into the module
per record); otherwise WAMR's app heap, `Wasm_Heap_Size` bytes appended to
the module's initial memory before any code runs, holds them, and a record
that does not fit is passed as pointer 0. This harness does the same under
wasmtime (the `wasmtime` package from PyPI: prebuilt, so CI spends no
minutes compiling a runtime; see plugin/wasm/README.md).

One `FluentBitHost` is one filter instance: the module instance, and so
the session context inside it, lives as long as the object.
"""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._func import enter_wasm

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "postfix_enrich"


def wasm_path() -> Path:
    """The release module: $FILTER_WASM, else the `wasm` profile build output."""
    if os.environ.get("FILTER_WASM"):
        return Path(os.environ["FILTER_WASM"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    return target / "wasm32-wasip1" / "wasm" / "postfix_enrich_fluent_bit.wasm"


_ENGINE = wasmtime.Engine()
_MODULES: dict[str, wasmtime.Module] = {}


def _module(path: Path) -> wasmtime.Module:
    key = str(path)
    if key not in _MODULES:
        _MODULES[key] = wasmtime.Module.from_file(_ENGINE, key)
    return _MODULES[key]


class _I32Func:
    """Calls an all-i32 export through the C API with preallocated argument
    cells. wasmtime-py's generic `Func.__call__` rebuilds the function's
    type on every call (~100+ us of Python); Fluent Bit's own host cost is
    ~1-2 us per record, so the generic path would bury the module's cost
    in the benchmark. Same semantics: traps raise `wasmtime.Trap`."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func):
        ty = func.type(store)
        assert all(str(p) == "i32" for p in ty.params), ty
        self.nres = len(ty.results)
        self.store = store
        self.func = func
        self.n = len(ty.params)
        self.params = (ffi.wasmtime_val_t * self.n)()
        for p in self.params:
            p.kind = ffi.WASMTIME_I32.value
        self.results = (ffi.wasmtime_val_t * 1)()

    def __call__(self, *args: int) -> int:
        for i, a in enumerate(args):
            # wasm i32 is two's complement: pass pointers >= 2 GiB as negative.
            self.params[i].of.i32 = a - (1 << 32) if a >= 1 << 31 else a
        with enter_wasm(self.store) as trap:
            error = ffi.wasmtime_func_call(
                self.store._context(), ctypes.byref(self.func._func),
                self.params, self.n, self.results, self.nres, trap)
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
        return self.results[0].of.i32 & 0xFFFFFFFF if self.nres else 0


class Trap(Exception):
    """The call trapped: Fluent Bit would drop the record."""


# The examples' Wasm_Heap_Size (examples/fluent-bit/).
HEAP_SIZE = 1 << 20
PAGE = 65536


class _AppHeap:
    """WAMR's app heap for a module without malloc/free exports: pages
    appended to the initial memory at instantiation (so below anything the
    module's own allocator grows later), `pages * 64 KiB - 1 KiB` usable.
    Fluent Bit frees its copies after each call, so a bump allocator that
    falls back to the end of the highest live block behaves like WAMR's for
    this pattern; a block that does not fit gives 0, as WAMR does."""

    def __init__(self, memory: wasmtime.Memory, store: wasmtime.Store, size: int):
        pages = max(1, -(-size // PAGE))
        self.base = memory.grow(store, pages) * PAGE
        self.limit = self.base + pages * PAGE - 1024
        self.live: dict[int, int] = {}

    def malloc(self, size: int) -> int:
        top = max(self.live.values(), default=self.base)
        if top + size > self.limit:
            return 0
        self.live[top] = top + (size + 7) // 8 * 8
        return top

    def free(self, ptr: int) -> None:
        self.live.pop(ptr, None)


class FluentBitHost:
    """One filter instance, called like Fluent Bit's filter_wasm calls it."""

    def __init__(self, path: Path | None = None, heap_size: int = HEAP_SIZE,
                 accessible_paths: list[tuple[Path, str]] | None = None, stderr: Path | None = None):
        """`accessible_paths`: (host directory, name) pairs preopened in
        order, as Fluent Bit's `Accessible_Paths` does (WAMR gives each
        directory its own path as the name). `stderr`: a file that takes
        the module's stderr (Fluent Bit's log) instead of ours."""
        self.module = _module(path or wasm_path())
        self.store = wasmtime.Store(_ENGINE)
        wasi = wasmtime.WasiConfig()
        # Like Fluent Bit: no argv, no env; stdout/stderr shared with the host.
        wasi.inherit_stdout()
        if stderr is None:
            wasi.inherit_stderr()
        else:
            wasi.stderr_file = str(stderr)
        for host_dir, name in accessible_paths or []:
            wasi.preopen_dir(str(host_dir), name, False)
        self.store.set_wasi(wasi)
        linker = wasmtime.Linker(_ENGINE)
        linker.define_wasi()
        self.instance = linker.instantiate(self.store, self.module)
        ex = self.instance.exports(self.store)
        self.memory: wasmtime.Memory = ex["memory"]
        self.own_heap = "malloc" in ex and "free" in ex
        if self.own_heap:
            self.malloc = _I32Func(self.store, ex["malloc"])
            self.free = _I32Func(self.store, ex["free"])
        else:
            heap = _AppHeap(self.memory, self.store, heap_size)
            self.malloc, self.free = heap.malloc, heap.free
        self.func = _I32Func(self.store, ex[FUNCTION])

    def _base(self) -> int:
        # Re-read each time: memory.grow may move the host mapping.
        return ctypes.addressof(self.memory.data_ptr(self.store).contents)

    def _dup(self, data: bytes) -> int:
        ptr = self.malloc(len(data) + 1)
        if ptr == 0:
            return 0
        ctypes.memmove(self._base() + ptr, data + b"\0", len(data) + 1)
        return ptr

    def read_cstr(self, addr: int) -> bytes:
        """The NUL-terminated string at addr; fails like WAMR's
        validate_app_str_addr when it does not end inside memory."""
        size = self.memory.data_len(self.store)
        if not 0 < addr < size:
            raise ValueError(f"returned address {addr} outside memory ({size})")
        base = self._base()
        # Look for the NUL in growing windows: most outputs are ~1 KiB.
        window = 4096
        while True:
            n = min(size - addr, window)
            chunk = ctypes.string_at(base + addr, n)
            end = chunk.find(b"\0")
            if end >= 0:
                return chunk[:end]
            if n == size - addr:
                raise ValueError("returned string has no NUL before the end of memory")
            window *= 4

    # Record time passed to the filter: 2026-06-20, so year-less stamps get
    # 2026 like the native reference's default.
    TIME = 1_782_000_000

    def call_raw(self, rec_ptr: int, rec_len: int, tag: bytes = b"postfix", time_sec: int | None = None) -> bytes:
        """Calls the filter with a given record pointer (e.g. 0)."""
        tag_ptr = self._dup(tag)
        try:
            out = self.func(tag_ptr, len(tag), self.TIME if time_sec is None else time_sec, 0, rec_ptr, rec_len)
        except wasmtime.Trap as e:  # pragma: no cover - a failure mode under test
            raise Trap(str(e)) from e
        finally:
            if tag_ptr:
                self.free(tag_ptr)
        return self.read_cstr(out)

    def call(self, record: bytes, tag: bytes = b"postfix", time_sec: int | None = None) -> bytes:
        """Filters one JSON record (bytes); returns the output JSON text."""
        rec_ptr = self._dup(record)
        try:
            return self.call_raw(rec_ptr, len(record), tag, time_sec)
        finally:
            if rec_ptr:
                self.free(rec_ptr)

    def filter_line(self, line: str, key: str = "log") -> dict:
        """Wraps a line as in_tail does ({key: line}, non-ASCII escaped as
        Fluent Bit's JSON writer does) and returns the parsed output."""
        rec = json.dumps({key: line}, ensure_ascii=True).encode()
        return json.loads(self.call(rec))

    def memory_bytes(self) -> int:
        return self.memory.data_len(self.store)
