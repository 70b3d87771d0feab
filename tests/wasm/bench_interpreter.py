"""Records/s of the Fluent Bit filter module in a WebAssembly interpreter.

Fluent Bit runs `.wasm` files in WAMR's fast interpreter (no JIT); WAMR is
not packaged anywhere this project can install from, so this measures the
filter in wasm3 (the `pywasm3` package), an interpreter of the same kind,
to show the order of magnitude an interpreter gives next to wasmtime's
compiled code. The host side mirrors harness.py: the record plus a NUL is
copied in with the module's own malloc, the six-argument call is timed, the
NUL-terminated result is read back. wasm3 0.5 reads only MVP encodings, so
the module must be built for `target-cpu=mvp` (bench.sh does that).
Median of 3 passes over the file. Prints one JSON object.
Usage: python bench_interpreter.py MODULE.wasm FILE"""

from __future__ import annotations

import json
import os
import sys
import time

import wasm3

from harness import rate_report

WASI = "wasi_snapshot_preview1"


def main() -> None:
    module_path, log_path = sys.argv[1], sys.argv[2]
    env = wasm3.Environment()
    rt = env.new_runtime(256 * 1024)
    mod = env.parse_module(open(module_path, "rb").read())
    rt.load(mod)

    def mem():
        return rt.get_memory(0)

    def random_get(buf: int, n: int) -> int:
        mem()[buf : buf + n] = os.urandom(n)
        return 0

    def environ_sizes_get(count: int, size: int) -> int:
        m = mem()
        m[count : count + 4] = bytes(4)
        m[size : size + 4] = bytes(4)
        return 0

    def fd_write(fd: int, iovs: int, n: int, written: int) -> int:
        m = mem()
        total = 0
        for i in range(n):
            base = iovs + 8 * i
            total += int.from_bytes(m[base + 4 : base + 8], "little")
        m[written : written + 4] = total.to_bytes(4, "little")
        return 0

    def proc_exit(code: int) -> None:
        raise SystemExit(code)

    mod.link_function(WASI, "random_get", "i(ii)", random_get)
    mod.link_function(WASI, "environ_sizes_get", "i(ii)", environ_sizes_get)
    mod.link_function(WASI, "environ_get", "i(ii)", lambda a, b: 0)
    mod.link_function(WASI, "fd_write", "i(iiii)", fd_write)
    mod.link_function(WASI, "proc_exit", "v(i)", proc_exit)
    filt = rt.find_function("postfix_enrich")
    malloc, free = rt.find_function("malloc"), rt.find_function("free")

    lines = open(log_path, encoding="utf-8", errors="replace").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records = [json.dumps({"log": l}).encode() for l in lines]

    def call(rec: bytes) -> tuple[bytes, float]:
        p = malloc(len(rec) + 1)
        m = mem()
        m[p : p + len(rec)] = rec
        m[p + len(rec)] = 0
        t0 = time.perf_counter()
        out = filt(0, 0, 0, 0, p, len(rec))
        dt = time.perf_counter() - t0
        free(p)
        m = mem()
        end = bytes(m[out : out + (1 << 20)]).index(b"\0")
        return bytes(m[out : out + end]), dt

    # The module must really enrich here, not fail on every record.
    first = json.loads(call(records[0])[0])
    assert "postfix" in first, first
    per_record = []
    for _ in range(3):
        spent = sum(call(r)[1] for r in records)
        per_record.append(spent / len(records))
    overhead = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(2000):
            filt(0, 0, 0, 0, 0, 0)
        overhead.append((time.perf_counter() - t0) / 2000)
    print(rate_report(len(records), per_record, overhead))


if __name__ == "__main__":
    main()
