#!/usr/bin/env python3
"""Scales a recorded Postfix log to N lines for benchmarks.

Repeats the input, giving every copy fresh client addresses, smtpd pids,
ports and queue ids (consistently within a copy, so sessions and queue links
stay intact), and advances the clock, so the enricher sees N/len(input)
distinct sessions instead of the same ones again.
"""
import argparse
import re
import sys

QID = re.compile(r"\b([0-9A-F]{10,12})\b")
PID = re.compile(r"\[(\d+)\]: ")
IP = re.compile(r"\b127\.0\.0\.(\d+)\b")
PORT = re.compile(r"\]:(\d{4,5})\b")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("input", nargs="+", help="recorded log(s)")
    ap.add_argument("--lines", type=int, default=1_000_000)
    args = ap.parse_args()
    src = []
    for path in args.input:
        with open(path, "rb") as f:
            src += [l.decode("utf-8", "replace").rstrip("\n") for l in f]
    out = sys.stdout
    written, copy = 0, 0
    while written < args.lines:
        copy += 1
        a, b = (copy >> 8) & 255, copy & 255
        for line in src:
            line = QID.sub(lambda m: "%X%06X" % (copy, int(m.group(1)[-6:], 16)), line)
            line = PID.sub(lambda m: "[%d]: " % (int(m.group(1)) + copy * 7919 % 4_000_000), line)
            line = IP.sub(lambda m: "10.%d.%d.%s" % (a, b, m.group(1)), line)
            line = PORT.sub(lambda m: "]:%d" % ((int(m.group(1)) + copy) % 64511 + 1024), line)
            out.write(line + "\n")
            written += 1
            if written >= args.lines:
                break


if __name__ == "__main__":
    main()
