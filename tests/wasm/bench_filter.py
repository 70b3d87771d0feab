"""Records/s of the Fluent Bit filter module under wasmtime.

Each record ({"log": line}, as in_tail makes it) is copied in with the
module's malloc as Fluent Bit does, but only the filter call itself is
timed; the null-record call (returns at once) is timed the same way and
reported as the host's per-call overhead, so `net` is the module's own
cost. Median of 5 passes over the file, each on a fresh instance.
Prints one JSON object.
Usage: python bench_filter.py FILE [SECONDS]"""

from __future__ import annotations

import json
import statistics
import sys
import time

from harness import FluentBitHost


def main() -> None:
    path = sys.argv[1]
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records = [json.dumps({"log": l}).encode() for l in lines]
    clock = time.perf_counter
    gross, overhead = [], []
    for _ in range(5):
        host = FluentBitHost()
        call = host.func
        spent = 0.0
        n = 0
        start = clock()
        while n == 0 or clock() - start < budget / 5:
            for rec in records:
                ptr = host._dup(rec)
                t0 = clock()
                call(0, 0, 0, 0, ptr, len(rec))
                spent += clock() - t0
                host.free(ptr)
                n += 1
        gross.append(spent / n)
        t0 = clock()
        for _ in range(2000):
            call(0, 0, 0, 0, 0, 0)
        overhead.append((clock() - t0) / 2000)
    g = statistics.median(gross)
    o = statistics.median(overhead)
    print(json.dumps({
        "records": len(records),
        "gross_records_per_s": round(1 / g),
        "host_call_overhead_us": round(o * 1e6, 2),
        "net_records_per_s": round(1 / max(g - o, 1e-9)),
    }))


if __name__ == "__main__":
    main()
