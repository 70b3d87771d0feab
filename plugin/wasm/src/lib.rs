//! postfix-enrich as a Fluent Bit `filter_wasm` module (wasm32-wasip1).
//!
//! The module exports ONE filter function, [`postfix_enrich`] (set
//! `Function_Name postfix_enrich`), and its memory; deliberately not
//! `malloc`/`free`. Measured in Fluent Bit 5.1.1 (../README.md): a module
//! that exports both makes WAMR switch its app heap off and call into the
//! module four extra times per record (malloc and free for tag and record);
//! without them WAMR copies tag and record into its app heap
//! (`Wasm_Heap_Size`), which it appends after the module's initial memory,
//! below anything wasi-libc's dlmalloc later grows, so the heaps never
//! overlap. That holds while the module exports no `__heap_base` global
//! (WAMR would then insert its heap at __heap_base and move only the
//! global, while dlmalloc keeps the link-time address); rustc exports none
//! for a wasm32-wasip1 cdylib, and tests/wasm/test_filter.py checks the
//! export list.
//!
//! Fluent Bit keeps one module instance per `[FILTER]` for its whole life,
//! so one static [`filter::Filter`] (one core `Enricher`) keeps session
//! context across records and chunks, within the core's caps.
//!
//! Traps are the enemy here: Fluent Bit drops a record whose call traps,
//! and wasm32 has no unwinding, so `catch_unwind` cannot help (a panic is a
//! trap). Instead every path is panic-free and every host input is checked
//! (null or out-of-bounds record pointers). See ../README.md for the rules.

pub mod blocklists;
pub mod filter;
pub mod json;

#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::{Cell, UnsafeCell};

    use crate::filter::{config_for_year, record_year, Filter, NULL_RECORD};

    /// The filter's state. wasm32-wasip1 modules are single-threaded (no
    /// shared memory), so a plain cell is enough; a `Mutex` would be worse:
    /// if a call ever trapped while holding it, every later call would
    /// find it locked and trap too.
    struct Global {
        filter: UnsafeCell<Option<Filter>>,
        /// The year the filter's configuration was made for.
        year: Cell<Option<i32>>,
        /// Set during a call: still set on entry means the last call trapped
        /// half-way, so its state is not trusted.
        busy: Cell<bool>,
        /// Blocklists that could not be read, still to be said on a record.
        list_errors: UnsafeCell<Vec<String>>,
        /// The record that says them.
        annotated: UnsafeCell<Vec<u8>>,
    }

    // SAFETY: the target has no threads; Fluent Bit calls one function at a time per instance.
    unsafe impl Sync for Global {}

    static STATE: Global = Global {
        filter: UnsafeCell::new(None),
        year: Cell::new(None),
        busy: Cell::new(false),
        list_errors: UnsafeCell::new(Vec::new()),
        annotated: UnsafeCell::new(Vec::new()),
    };

    /// Bytes of linear memory, to refuse record pointers outside it.
    fn memory_len() -> usize {
        core::arch::wasm32::memory_size::<0>().saturating_mul(65536)
    }

    /// The Fluent Bit filter: enriches the record's Postfix line and returns
    /// a pointer to the new record (NUL-terminated JSON text) that stays
    /// valid until the next call. Never traps, never returns invalid JSON.
    ///
    /// # Safety
    /// Called by the host with `rec_ptr..rec_ptr+rec_len` inside linear
    /// memory (checked anyway).
    #[no_mangle]
    pub unsafe extern "C" fn postfix_enrich(
        _tag_ptr: *const u8,
        _tag_len: u32,
        time_sec: u32,
        _time_nsec: u32,
        rec_ptr: *const u8,
        rec_len: u32,
    ) -> *const u8 {
        if rec_ptr.is_null() {
            return NULL_RECORD.as_ptr();
        }
        let len = rec_len as usize;
        match (rec_ptr as usize).checked_add(len) {
            Some(end) if end <= memory_len() => {}
            _ => return NULL_RECORD.as_ptr(),
        }
        // SAFETY: non-null and inside linear memory (checked above).
        let record = unsafe { std::slice::from_raw_parts(rec_ptr, len) };
        // SAFETY: single-threaded; no other reference to the state exists
        // while this call runs (the host does not re-enter the module).
        let slot = unsafe { &mut *STATE.filter.get() };
        if STATE.busy.replace(true) {
            // The previous call trapped mid-way: start over with a fresh
            // context. The old one is leaked, not dropped, since its
            // invariants may be broken.
            if let Some(old) = slot.take() {
                std::mem::forget(old);
            }
        }
        // A later year: year-less stamps are dated with it from now on. Only
        // forwards, so records of two inputs straddling 1 January do not flap.
        let year = record_year(time_sec);
        // SAFETY: as for the filter slot.
        let list_errors = unsafe { &mut *STATE.list_errors.get() };
        let filter = slot.get_or_insert_with(|| {
            STATE.year.set(year);
            let mut config = config_for_year(year);
            let lists = crate::blocklists::startup();
            config.blocklists = lists.lists;
            *list_errors = lists.errors;
            Filter::new(config)
        });
        if year > STATE.year.get() {
            if let Some(y) = year {
                filter.set_year(y);
            }
            STATE.year.set(year);
        }
        let processed = filter.process(record);
        let mut out = processed.as_ptr();
        if !list_errors.is_empty() {
            // Once: the first record says which blocklists could not be read.
            // SAFETY: as for the filter slot.
            let annotated = unsafe { &mut *STATE.annotated.get() };
            crate::blocklists::annotate(processed, &std::mem::take(list_errors), annotated);
            out = annotated.as_ptr();
        }
        STATE.busy.set(false);
        out
    }
}
