#!/usr/bin/env python3
"""End-to-end benchmark: Cairn against the tools a CERT would use instead, in one run.

usage: python3 Benchmarks/run.py [--data DIR] [--rounds N] [--stages capture,syslog,store,scaling,memory,scan,load] [--slow]

Inputs are the deterministic ones of Benchmarks/gen (2 M packets, 1 GB syslog,
1 M IPv4 / 100 k IPv6 / 1 M domain / 1 M hash indicators); `make bench-data` writes
them to ../bench-data (about 4 GB, 6 minutes), or by hand:
    python3 Benchmarks/gen/gen_indicators.py --out DIR
    python3 Benchmarks/gen/gen_pcap.py --data DIR
    python3 Benchmarks/gen/gen_syslog.py --data DIR
Commands run round-robin (A B C, B C A, ...) so the drift of a shared machine hits all
alike; each row gives the median wall time, CPU time, peak memory and the median over
rounds of (wall / the floor's wall in the same round). Whole-process times: start-up
and indicator loading are included, as a user would see them.
--slow adds tshark and the grep/ripgrep pattern matchers (minutes each).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_once(command):
    start = time.monotonic()
    process = subprocess.Popen(["bash", "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    error = process.stderr.read().decode(errors="replace")[-400:]
    code = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "code": code,
            "error": error}


def measure(rows, rounds, title, size_bytes, items, unit, ratio_label="× floor", targets=()):
    """rows: list of (name, command, is_floor, rounds_override). Prints a markdown table,
    then for each (row, against, limit) of targets the median over rounds of the row's
    wall time over the other's in the same round, against the issue's limit."""
    results = {name: [] for name, _, _, _ in rows}
    floor_name = next(name for name, _, is_floor, _ in rows if is_floor)
    for round_index in range(rounds + 1):  # round 0 warms the page cache
        order = rows[round_index % len(rows):] + rows[:round_index % len(rows)]
        walls = {}
        for name, command, _, limit in order:
            if limit is not None and len(results[name]) >= limit:
                continue
            if round_index == 0 and limit is not None:
                continue  # slow peers: no warm-up run
            result = run_once(command)
            if result["code"] not in (0, 1):
                print(f"  ! {name} exited {result['code']}: {result['error'].strip()}", file=sys.stderr)
            walls[name] = result["wall"]
            if round_index > 0 or limit is not None:
                result["round_floor"] = None
                results[name].append(result)
        if floor_name in walls:
            for name in walls:
                if results[name]:
                    results[name][-1]["round_floor"] = walls[floor_name]
    print(f"\n### {title}\n")
    print(f"| command | median s | CPU s | MB/s | {unit}/s | peak RSS MB | {ratio_label} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, _, is_floor, _ in rows:
        runs = results[name]
        if not runs:
            continue
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = max(r["rss"] for r in runs)
        ratios = [r["wall"] / r["round_floor"] for r in runs if r.get("round_floor")]
        ratio = statistics.median(ratios) if ratios else float("nan")
        label = f"**{name}**" if is_floor else name.replace("|", "\\|")  # a pipe in a cell ends it
        print(f"| {label} | {wall:.3f} | {cpu:.2f} | {size_bytes / 1e6 / wall:,.0f} | "
              f"{items / wall / 1e6:.2f} M | {rss:,.0f} | {ratio:.2f} |")
    for name, against, limit in targets:
        pairs = list(zip(results[name], results[against]))
        if not pairs:
            continue
        ratio = statistics.median(a["wall"] / b["wall"] for a, b in pairs)
        print(f"\nTarget: {name} ÷ {against}, same round: {ratio:.2f} "
              f"(median of {len(pairs)}; target ≤ {limit}: {'met' if ratio <= limit else 'not met'})")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("BENCH_DATA", os.path.join(ROOT, "..", "bench-data")))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stages", default="capture,syslog,store,scaling,memory,scan,load")
    parser.add_argument("--slow", action="store_true")
    args = parser.parse_args()
    data = os.path.abspath(args.data)
    for name in ["ipv4.txt", "ipv6.txt", "domains.txt", "hashes.txt"]:
        if not os.path.exists(os.path.join(data, name)):
            sys.exit(f"missing {data}/{name}: generate the inputs first (see --help)")

    for product in ["cairn", "cairn-bench"]:
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    cairn = os.path.join(ROOT, ".build", "release", "cairn")
    cairn_bench = os.path.join(ROOT, ".build", "release", "cairn-bench")
    work = tempfile.mkdtemp(prefix="cairn-bench-")
    floor = os.path.join(work, "pcap_floor")
    subprocess.run(["gcc", "-O2", "-o", floor, os.path.join(ROOT, "Benchmarks", "c", "pcap_floor.c"), "-lpcap"],
                   check=True)
    inflate_floor = os.path.join(work, "inflate_floor")
    subprocess.run(["gcc", "-O2", "-o", inflate_floor, os.path.join(ROOT, "Benchmarks", "c", "inflate_floor.c"),
                    "-lz", "-lisal", "-ldeflate"], check=True)
    # Rule sets: all generated indicators, and a single address (the same work tcpdump's
    # host filter is given).
    all_rules = os.path.join(work, "rules-all")
    os.makedirs(all_rules)
    for name in ["ipv4.txt", "ipv6.txt", "domains.txt", "hashes.txt"]:
        os.symlink(os.path.join(data, name), os.path.join(all_rules, name))
    # The set issue 5 names for the syslog benchmark: 1 M domains and 1 M IPv4.
    issue_rules = os.path.join(work, "rules-domains-ipv4")
    os.makedirs(issue_rules)
    for name in ["ipv4.txt", "domains.txt"]:
        os.symlink(os.path.join(data, name), os.path.join(issue_rules, name))
    one_rule = os.path.join(work, "rules-one")
    os.makedirs(one_rule)
    with open(os.path.join(data, "ipv4.txt")) as f:
        host = next(line.strip() for line in f if "/" not in line)
    with open(os.path.join(one_rule, "one.txt"), "w") as f:
        f.write(host + "\n")
    db = os.path.join(work, "case.sqlite")

    # The compiled rule cache the ingest rows use: the bench's own, warmed below, so
    # that rows measure what a second run with the same rules costs. Rows marked
    # "rules parsed" pass --no-table-cache.
    table_cache = os.path.join(work, "table-cache")

    def ingest(rules, path, jobs=1, cache=True):
        cache_option = f"--table-cache {table_cache}" if cache else "--no-table-cache"
        return (f"rm -f {db} {db}-wal {db}-shm; {cairn} ingest --jobs {jobs} {cache_option} --rules {rules} "
                f"--db {db} {path}")

    empty_log = os.path.join(work, "empty.log")
    open(empty_log, "w").close()
    for rules in [all_rules, issue_rules, one_rule]:
        subprocess.run(ingest(rules, empty_log), shell=True, check=True, stdout=subprocess.DEVNULL)

    print(f"# Cairn benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    indicator_files = [os.path.join(data, n) for n in ["ipv4.txt", "ipv6.txt", "domains.txt", "hashes.txt"]]
    indicators = sum(1 for path in indicator_files for _ in open(path, "rb"))
    measure([(f"cairn rules check (load + compile {indicators:,} indicators)",
              f"{cairn} rules check {all_rules}", True, None),
             (f"cairn ingest of an empty log, {indicators:,} indicators, rules parsed",
              ingest(all_rules, empty_log, cache=False), False, None),
             (f"cairn ingest of an empty log, {indicators:,} indicators, from the table cache",
              ingest(all_rules, empty_log), False, None)],
            args.rounds, "Indicator loading", sum(os.path.getsize(path) for path in indicator_files),
            indicators, "indicators")

    if "capture" in args.stages:
        pcap = os.path.join(data, "traffic.pcap")
        pcapng = os.path.join(data, "traffic.pcapng")
        size = os.path.getsize(pcap)
        with open(pcap + ".truth.json") as f:
            packets = json.load(f)["packets"]
        rows = [
            ("libpcap pcap_next_ex loop (floor)", f"{floor} {pcap}", True, None),
            ("cat pcap > /dev/null", f"cat {pcap} > /dev/null", False, None),
            (f"tcpdump -nn -r F 'host {host}'", f"tcpdump -nn -r {pcap} 'host {host}' > /dev/null 2>&1", False, None),
            # What every ingest also does, on a thread of its own: the custody SHA-256
            # (with the processor's SHA instructions, as Cairn's swift-crypto uses them).
            ("openssl dgst -sha256 F (the custody hash alone)", f"openssl dgst -sha256 {pcap} > /dev/null", False, None),
            ("cairn ingest, 1 indicator", ingest(one_rule, pcap), False, None),
            (f"cairn ingest, {indicators:,} indicators", ingest(all_rules, pcap), False, None),
            (f"cairn ingest pcapng, {indicators:,} indicators", ingest(all_rules, pcapng), False, None),
        ]
        if args.slow:
            rows.append(("tshark -T fields dns/sni/host", f"tshark -n -r {pcap} -T fields -e dns.qry.name "
                         "-e tls.handshake.extensions_server_name -e http.host > /dev/null 2>&1", False, 1))
        all_row = f"cairn ingest, {indicators:,} indicators"
        measure(rows, args.rounds, f"Captures: {packets:,} packets, {size / 1e9:.2f} GB, one core", size,
                packets, "packets",
                targets=[(all_row, "cairn ingest, 1 indicator", 1.5),
                         (all_row, "openssl dgst -sha256 F (the custody hash alone)", 2.0)])

    if "syslog" in args.stages:
        gz = os.path.join(data, "syslog.log.gz")
        text_size = os.path.getsize(os.path.join(data, "syslog.log"))
        lines = sum(1 for _ in open(os.path.join(data, "syslog.log"), "rb"))
        domains = os.path.join(data, "domains.txt")
        rows = [
            ("zcat F > /dev/null (floor)", f"zcat {gz} > /dev/null", True, None),
            ("zlib gzread loop", f"{inflate_floor} zlib-gzread {gz}", False, None),
            ("zlib inflate loop", f"{inflate_floor} zlib-inflate {gz}", False, None),
            ("ISA-L isal_inflate loop", f"{inflate_floor} isal {gz}", False, None),
            ("libdeflate, whole file in memory", f"{inflate_floor} libdeflate {gz}", False, None),
            ("cairn ingest, 1 indicator", ingest(one_rule, gz), False, None),
            ("cairn ingest, 1 M domains + 1 M IPv4, rules parsed", ingest(issue_rules, gz, cache=False), False, None),
            ("cairn ingest, 1 M domains + 1 M IPv4", ingest(issue_rules, gz), False, None),
            (f"cairn ingest, {indicators:,} indicators", ingest(all_rules, gz), False, None),
            (f"cairn ingest, {indicators:,} indicators, default --jobs ({os.cpu_count()})",
             ingest(all_rules, gz, jobs=os.cpu_count()), False, None),
            # One file, two jobs: the spare job inflates on a second thread.
            ("cairn ingest --jobs 2 (one file: 2 scanning threads), 1 M domains + 1 M IPv4", ingest(issue_rules, gz, jobs=2),
             False, None),
        ]
        targets = [(f"cairn ingest, {indicators:,} indicators", "zcat F > /dev/null (floor)", 1.0)]
        if shutil.which("igzip"):  # Debian's isal
            rows.insert(1, ("igzip -dc F > /dev/null", f"igzip -dc {gz} > /dev/null", False, None))
            targets.insert(0, (f"cairn ingest, {indicators:,} indicators, default --jobs ({os.cpu_count()})",
                               "igzip -dc F > /dev/null", 2.0))
        if args.slow:
            rows.append(("zcat F | grep -F -f domains.txt", f"zcat {gz} | grep -F -f {domains} > /dev/null", False, 1))
            if shutil.which("rg"):
                rows.append(("rg -z -F -f domains.txt", f"rg -z -F -f {domains} {gz} > /dev/null", False, 1))
        measure(rows, args.rounds, f"Syslog: {text_size / 1e9:.2f} GB text, {os.path.getsize(gz) / 1e6:.0f} MB gzip, "
                "one core but the rows that say otherwise", text_size, lines, "lines", targets=targets)


    if "store" in args.stages:
        print("\n### Store: sightings into the case database\n")
        sys.stdout.flush()
        subprocess.run([cairn_bench, "store", "1000000"], check=True)

    if "scan" in args.stages:
        print("\n### The log text scanner alone: the bench syslog's first 300 MB, one core\n")
        sys.stdout.flush()
        subprocess.run([cairn_bench, "scan", os.path.join(data, "syslog.log")], check=True)

    if "load" in args.stages:
        print("\n### Loading 10,000,000 generated indicators the first time (1 file in 10 CSV)\n")
        sys.stdout.flush()
        subprocess.run([cairn_bench, "load"], check=True)

    if "scaling" in args.stages:
        two = os.path.join(work, "two-logs")
        os.makedirs(two)
        gz = os.path.join(data, "syslog.log.gz")
        text_size = os.path.getsize(os.path.join(data, "syslog.log"))
        lines = sum(1 for _ in open(os.path.join(data, "syslog.log"), "rb"))
        os.symlink(gz, os.path.join(two, "a.log.gz"))
        shutil.copyfile(gz, os.path.join(two, "b.log.gz"))
        with open(os.path.join(two, "b.log.gz"), "ab") as f:
            f.write(b"\0")  # a different SHA-256, so it is not skipped as a duplicate
        measure([
            ("cairn ingest --jobs 1, two files", ingest(issue_rules, two, jobs=1), True, None),
            ("cairn ingest --jobs 2, two files", ingest(issue_rules, two, jobs=2), False, None),
        ], args.rounds, "Scaling: two gzip syslogs, 1 M domains + 1 M IPv4 (time ÷ `--jobs 1` time; 0.50 is 2× the "
            "throughput)",
            2 * text_size, 2 * lines, "lines", "× `--jobs 1`")
        # Rotated logs are of unequal sizes: when the small one is done, the large one has
        # both cores (the scanning pool is shared by all the logs of a run).
        rotated = os.path.join(work, "rotated-logs")
        os.makedirs(rotated)
        os.symlink(gz, os.path.join(rotated, "syslog.1.gz"))
        with open(os.path.join(data, "syslog.log"), "rb") as f:
            head = f.read(100_000_000)
        head = head[:head.rindex(b"\n") + 1]
        with open(os.path.join(rotated, "syslog"), "wb") as out:
            out.write(head)
        measure([
            ("cairn ingest --jobs 1, rotated logs", ingest(issue_rules, rotated, jobs=1), True, None),
            ("cairn ingest --jobs 2, rotated logs", ingest(issue_rules, rotated, jobs=2), False, None),
        ], args.rounds, "Scaling: rotated logs of unequal sizes, the 1 GB syslog gzip-compressed and its first "
            "100 MB as plain text, 1 M domains + 1 M IPv4",
            text_size + len(head), lines + head.count(b"\n"), "lines", "× `--jobs 1`")
        captures = os.path.join(work, "two-captures")
        os.makedirs(captures)
        for name in ["traffic.pcap", "traffic.pcapng"]:  # the same packets, two files
            os.symlink(os.path.join(data, name), os.path.join(captures, name))
        size = sum(os.path.getsize(os.path.join(data, n)) for n in ["traffic.pcap", "traffic.pcapng"])
        with open(os.path.join(data, "traffic.pcap.truth.json")) as f:
            packets = json.load(f)["packets"]
        measure([
            ("cairn ingest --jobs 1, pcap + pcapng", ingest(one_rule, captures, jobs=1), True, None),
            ("cairn ingest --jobs 2, pcap + pcapng", ingest(one_rule, captures, jobs=2), False, None),
        ], args.rounds, "Scaling: the capture as pcap and as pcapng, 1 indicator", size, 2 * packets, "packets",
            "× `--jobs 1`")
        os.remove(os.path.join(two, "b.log.gz"))

    if "memory" in args.stages:
        # The same content four times in one file: a 4-member gzip, and a pcap with the
        # records four times over (their times repeat, which Cairn does not mind).
        pcap = os.path.join(data, "traffic.pcap")
        gz = os.path.join(data, "syslog.log.gz")
        pcap4 = os.path.join(work, "traffic-4x.pcap")
        with open(pcap4, "wb") as out:
            with open(pcap, "rb") as f:
                out.write(f.read(24))
            for _ in range(4):
                with open(pcap, "rb") as f:
                    f.seek(24)
                    shutil.copyfileobj(f, out, 1 << 24)
        gz4 = os.path.join(work, "syslog-4x.log.gz")
        with open(gz4, "wb") as out:
            for _ in range(4):
                with open(gz, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 24)
        # Issue 23's memory target: an ingest with the indicators loaded peaks at no
        # more than 3× their text, whatever the input.
        indicator_text = sum(os.path.getsize(path) for path in indicator_files)
        print(f"\n### Memory: peak RSS against input size ({indicators:,} indicators loaded, "
              f"{indicator_text / 1e6:.0f} MB of text)\n")
        print("| command | input | wall s | peak RSS MB | ÷ indicator text |")
        print("|---|---:|---:|---:|---:|")
        peaks = []
        for name, command, path in [
            ("cairn rules check (the tables alone)", f"{cairn} rules check {all_rules}", None),
            ("cairn ingest pcap 1×", ingest(all_rules, pcap), pcap),
            ("cairn ingest pcap 4×", ingest(all_rules, pcap4), pcap4),
            ("cairn ingest syslog 1×", ingest(all_rules, gz), gz),
            ("cairn ingest syslog 4×", ingest(all_rules, gz4), gz4),
        ]:
            result = run_once(command)
            size = f"{os.path.getsize(path) / 1e9:.2f} GB" if path else "—"
            ratio = result['rss'] * (1 << 20) / indicator_text
            if path:
                peaks.append(ratio)
            print(f"| {name} | {size} | {result['wall']:.1f} | {result['rss']:,.0f} | {ratio:.2f} |")
            sys.stdout.flush()
        print(f"\nTarget: ingest peak RSS ÷ indicator text, largest of the ingests: {max(peaks):.2f} "
              f"(target ≤ 3.0: {'met' if max(peaks) <= 3.0 else 'not met'})")
        os.remove(pcap4)
        os.remove(gz4)

    shutil.rmtree(work)


if __name__ == "__main__":
    main()
