#!/usr/bin/env python3
"""Writes a JSON-lines connection log in which every line is a sighting, for the
correlation benchmark (docs/performance.md, "Correlating 10 million sightings").

    Benchmarks/make-correlation-log.py OUT_DIR [--lines N] [--hosts H] [--gap-seconds S]

OUT_DIR gets `conn.log` (Zeek-style JSON lines: `ts`, `id.orig_h`, `id.resp_h`) and
`rules/c2.txt` (the 100 addresses 203.0.113.1–100). Line i is host i mod H talking
to one of those addresses at second (i div H) * S, so with the defaults (10 M
lines, 1,000 hosts, S = 1) every host makes one incident lasting 10,000 s; with a
gap of S = 3600 (more than Cairn's 30-minute grouping gap) every line is an
incident of its own: the pathological case. Deterministic: no randomness.
"""
import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--lines", type=int, default=10_000_000)
parser.add_argument("--hosts", type=int, default=1000)
parser.add_argument("--gap-seconds", type=int, default=1)
args = parser.parse_args()

os.makedirs(os.path.join(args.out, "rules"), exist_ok=True)
with open(os.path.join(args.out, "rules", "c2.txt"), "w") as rules:
    rules.write("# correlation benchmark: every line of conn.log names one of these\n")
    for k in range(1, 101):
        rules.write(f"203.0.113.{k}\n")

start = 1_767_225_600  # 2026-01-01T00:00:00Z
hosts = [f"10.{(h >> 16) & 255}.{(h >> 8) & 255}.{h & 255}" for h in range(args.hosts)]
with open(os.path.join(args.out, "conn.log"), "w", buffering=1 << 20) as log:
    batch = []
    for i in range(args.lines):
        host = hosts[i % args.hosts]
        second = start + (i // args.hosts) * args.gap_seconds
        batch.append(f'{{"ts":{second}.{i % 1000:03d},"id.orig_h":"{host}","id.resp_h":"203.0.113.{i % 100 + 1}"}}\n')
        if len(batch) == 100_000:
            log.write("".join(batch))
            batch.clear()
    log.write("".join(batch))
