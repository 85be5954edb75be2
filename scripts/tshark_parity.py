"""The logic of scripts/tshark-parity.sh: tshark's values per capture, made into
indicators, against what Cairn sights in the same captures."""
import csv
import hashlib
import ipaddress
import os
import re
import subprocess
import sys
import tempfile

# tshark fields whose values become indicators, and the kind each gives.
FIELDS = {
    "ip.src": "ip", "ip.dst": "ip", "ipv6.src": "ip", "ipv6.dst": "ip",
    "dns.qry.name": "domain", "dns.a": "ip", "dns.aaaa": "ip",
    "tls.handshake.extensions_server_name": "domain",
    "http.host": "host", "http2.headers.authority": "host",
}
NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+")
CAPTURE_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"}


def captures(directory):
    """Every file under `directory` that starts as a pcap or pcapng, sorted."""
    found = []
    for parent, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(parent, name)
            if name.startswith("."):
                continue
            with open(path, "rb") as handle:
                if handle.read(4) in CAPTURE_MAGICS:
                    found.append(os.path.abspath(path))
    return found


def indicator(kind, value):
    """The rule-file line for one tshark value, or None when it cannot be one."""
    value = value.strip()
    if kind == "host":
        value = value.rsplit("@", 1)[-1]
        if value.startswith("["):
            value = value[1:value.find("]")]
            kind = "ip"
        else:
            value = value.split(":")[0]
            kind = "domain"
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return None
    if kind == "domain":
        value = value.rstrip(".").lower()
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        # A name without a dot cannot be an indicator, nor one with bytes a domain
        # indicator cannot hold (a DNS tunnel's binary or base64 labels, which tshark
        # shows with U+FFFD), nor tshark's placeholders (`<Root>`).
        if "." not in value or not NAME.fullmatch(value):
            return None
        return "=" + value
    return value


def tshark_values(path):
    """The indicator lines tshark's values give for one capture."""
    command = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
               "-E", "aggregator=\x1f"]
    for field in FIELDS:
        command += ["-e", field]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    values = set()
    for line in result.stdout.splitlines():
        for field, cell in zip(FIELDS, line.split("\t")):
            for value in filter(None, cell.split("\x1f")):
                for item in value.split(","):
                    made = indicator(FIELDS[field], item)
                    if made:
                        values.add(made)
    with tempfile.TemporaryDirectory() as objects:
        subprocess.run(["tshark", "-n", "-r", path, "-q", "--export-objects", "http," + objects],
                       capture_output=True)
        for name in os.listdir(objects):
            with open(os.path.join(objects, name), "rb") as handle:
                data = handle.read()
            # tshark 4.0's HTTP/1 dissector exports an HTTP/2 client preface (and the
            # frames of its segment) as an object: not a body.
            if data and not data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
                values.add(hashlib.sha256(data).hexdigest())
    return values


def main():
    directory, cairn = sys.argv[1], sys.argv[2]
    if not os.path.isdir(directory):
        print(f"tshark-parity: {directory}: not a directory", file=sys.stderr)
        return 2
    if not os.access(cairn, os.X_OK):
        print(f"tshark-parity: {cairn}: no cairn executable (build it with `swift build -c release`)", file=sys.stderr)
        return 2
    files = captures(directory)
    wanted = {path: tshark_values(path) for path in files}
    with tempfile.TemporaryDirectory() as work:
        rules = os.path.join(work, "rules", "tshark.txt")
        os.makedirs(os.path.dirname(rules))
        with open(rules, "w") as handle:
            for value in sorted(set().union(*wanted.values()) if wanted else []):
                handle.write(value + "\n")
        database = os.path.join(work, "case.sqlite")
        ingest = subprocess.run([cairn, "ingest", "--rules", os.path.dirname(rules), "--db", database,
                                 "--no-table-cache", *files], capture_output=True, text=True)
        if ingest.returncode not in (0, 1):
            print(ingest.stderr, file=sys.stderr)
            return 2
        listing = subprocess.run([cairn, "sightings", "--db", database, "--format", "tsv", "--include-suppressed"],
                                 capture_output=True, text=True, check=True)
    sighted = {}
    for row in csv.DictReader(listing.stdout.splitlines(), delimiter="\t"):
        value = row["indicator"]
        if row["indicator_type"] == "domain":
            value = "=" + value.lstrip("=")
        sighted.setdefault(os.path.abspath(row["source"]), set()).add(value)
    missed = extra = total = 0
    for path in files:
        shown, seen = wanted[path], sighted.get(path, set())
        total += len(shown)
        for value in sorted(shown - seen):
            print(f"tshark only\t{path}\t{value.lstrip('=')}")
            missed += 1
        for value in sorted(seen - shown):
            print(f"cairn only\t{path}\t{value.lstrip('=')}")
            extra += 1
    print(f"{len(files)} captures: {total - missed} of {total} values tshark shows sighted by Cairn, "
          f"{missed} not; {extra} sighted by Cairn that tshark does not show there")
    return 0 if missed == 0 and extra == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
