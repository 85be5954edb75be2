#!/usr/bin/env bash
# Runs Cairn's libFuzzer targets (docs/fuzzing.md).
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer options…]   one target, default 60 s
#   scripts/fuzz.sh all [SECONDS]                           every target in turn
#   scripts/fuzz.sh T1,T2,… [SECONDS]                       these targets in turn, one build
#   scripts/fuzz.sh build                                   only build the fuzzer
#   scripts/fuzz.sh minimise [TARGET]                       re-minimise the kept corpora
#   scripts/fuzz.sh list                                    the target names
#   scripts/fuzz.sh replay TARGET FILE…                     run inputs once (a crash's stack)
#
# Builds once (SwiftPM, release, -sanitize=fuzzer,address, into .build-fuzz), then
# runs libFuzzer with Fuzz/corpus/<target> plus seeds made from ../shared/corpus,
# writes crashes to Fuzz/crashes/<target>/, and afterwards merges (-set_cover_merge=1)
# what the run found into a minimised Fuzz/corpus/<target> (inputs of at most 4 KB,
# 8 KB for whole capture files).
# One fuzzer at a time: the build machines are small and shared.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
scratch=${CAIRN_FUZZ_SCRATCH:-$root/.build-fuzz}
shared=${CAIRN_SHARED_CORPUS:-$root/../shared/corpus}
binary=$scratch/cairn-fuzz
targets="dns-message gzip-log log-lines packet-ethernet packet-other-link packet-raw-ip pcap-file pcapng-file rules-csv rules-misp rules-plain rules-stix rules-zeek tcp-stream"

# Largest input libFuzzer makes, per target: a few packets' or lines' worth keeps
# the executions fast; the seeds are cut to fit.
max_len() {
    case $1 in
        pcap-file|pcapng-file) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

build() {
    echo "== building FuzzTargets with -sanitize=fuzzer,address (release, $scratch)" >&2
    (cd "$root" && swift build -c release --scratch-path "$scratch" --target FuzzTargets \
        -Xswiftc -sanitize=fuzzer,address)
    local products=$scratch/release
    # Every object SwiftPM built for FuzzTargets and its dependencies (the C targets
    # of swift-crypto included), but no test bundle.
    local objects=()
    while IFS= read -r object; do objects+=("$object"); done < <(
        find "$products"/ -path '*Tests.build' -prune -o -path '*.build/*.o' -print | sort)
    # The system-library modules' module maps, and the C modules of the dependencies,
    # which the Swift modules re-export to whoever imports them.
    local includes=(-I "$products/Modules" -I "$products")
    for map in "$root"/Sources/C*/module.modulemap "$products"/*.build/module.modulemap; do
        [ -f "$map" ] && includes+=(-Xcc "-fmodule-map-file=$map")
    done
    # The C modules of the dependencies (swift-crypto's, and SwiftNIO's and
    # swift-atomics' shims, which NIOHPACK's modules import), with their own module maps.
    for dir in "$scratch"/checkouts/*/Sources/*/include; do
        includes+=(-Xcc -I -Xcc "$dir")
        [ -f "$dir/module.modulemap" ] && includes+=(-Xcc "-fmodule-map-file=$dir/module.modulemap")
    done
    echo "== linking $binary (${#objects[@]} objects)" >&2
    swiftc -sanitize=fuzzer,address -parse-as-library -O -swift-version 6 \
        "${includes[@]}" "$root/Fuzz/Driver/main.swift" "${objects[@]}" \
        -lpcap -lz -lbrotlidec -lzstd -lisal -lstdc++ -o "$binary.new" 2>&1 |
        { grep -v "warning: Cannot export local symbol '__asan" || true; } >&2
    # Renamed into place, so that a fuzzer still running the old binary is not disturbed.
    mv -f "$binary.new" "$binary"
}

# Seeds: scratch files under $scratch/seeds/<target>, rebuilt each run (never kept
# as they are: the merge keeps those that add coverage).
seeds() {
    rm -rf "$scratch/seeds"
    mkdir -p "$scratch/seeds"
    if [ ! -d "$shared" ]; then
        echo "note: $shared is absent; seeds from the repository only" >&2
    fi
    python3 - "$root" "$shared" "$scratch/seeds" <<'PY' >&2
import sys

import hashlib, os, struct, sys

root, shared, out = sys.argv[1], sys.argv[2], sys.argv[3]
LIMIT = 50 * 1024          # no seed larger than this
PER_TARGET = 400           # seeds per target, at most

counts = {}

def put(target, data, cap=LIMIT):
    if not data or len(data) > cap or counts.get(target, 0) >= PER_TARGET:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest())
    if not os.path.exists(name):
        with open(name, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1

def read(path):
    with open(path, "rb") as f:
        return f.read()

def head(data, size=8192):
    if len(data) <= size:
        return data
    cut = data.rfind(b"\n", 0, size)
    return data[: cut + 1 if cut > 0 else size]

def files(directory):
    if not os.path.isdir(directory):
        return []
    found = []
    for base, _, names in os.walk(directory):
        for n in names:
            found.append(os.path.join(base, n))
    return sorted(found)

def pcap_records(data):
    """(linktype, [packets]) of a classic pcap, or None."""
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    packets, off = [], 24
    while off + 16 <= len(data) and len(packets) < 64:
        caplen = struct.unpack(e + "I", data[off + 8 : off + 12])[0]
        if caplen > 262144 or off + 16 + caplen > len(data):
            break
        packets.append(data[off + 16 : off + 16 + caplen])
        off += 16 + caplen
    return link, packets

OTHER_LINKS = [0, 108, 113, 276, 228, 229, 14, 9, 50, 204, 51, 104, 10, 105, 127, 119, 163, 192, 226, 242, 239, 258, 220, 147, 129]   # FuzzTargets.otherLinkTypes
PORTS = [53, 80, 443, 8080]                           # tcp-stream's port choice

def tcp_seed(payload, port_code, cuts, handshake=True):
    flags = port_code | (0x04 if handshake else 0) | 0x20
    plan = bytes(min(c, 127) for c in cuts)
    return bytes([flags, len(cuts) % 32]) + plan + payload

# Captures.
pcap_dir = os.path.join(shared, "pcap")
for path in files(pcap_dir) + [os.path.join(root, "SampleData/office-lan.pcap"), os.path.join(root, "SampleData/branch-v6.pcapng")]:
    if not os.path.exists(path):
        continue
    data = read(path)
    if path.endswith(".pcapng"):
        put("pcapng-file", data)
        continue
    put("pcap-file", data)
    parsed = pcap_records(data)
    if not parsed:
        continue
    link, packets = parsed
    for p in packets[:4]:
        if link == 1:
            put("packet-ethernet", p, 4096)
            ethertype = p[12:14] if len(p) >= 14 else b""
            if ethertype in (b"\x08\x00", b"\x86\xdd"):
                put("packet-raw-ip", p[14:], 4096)
            # TCP payloads of IPv4 for tcp-stream.
            if ethertype == b"\x08\x00" and len(p) >= 34 and p[23] == 6:
                ihl = (p[14] & 0x0F) * 4
                t = 14 + ihl
                if len(p) >= t + 20:
                    sport, dport = struct.unpack(">HH", p[t : t + 4])
                    doff = (p[t + 12] >> 4) * 4
                    payload = p[t + doff :]
                    if payload:
                        code = next((i for i, port in enumerate(PORTS) if port in (sport, dport)), 3)
                        put("tcp-stream", tcp_seed(payload, code, []), 8192)
                        put("tcp-stream", tcp_seed(payload, code, [1, 5, 16, 31, 64]), 8192)
            # UDP payloads on DNS ports for dns-message.
            if ethertype == b"\x08\x00" and len(p) >= 34 and p[23] == 17:
                t = 14 + (p[14] & 0x0F) * 4
                if len(p) >= t + 8:
                    sport, dport = struct.unpack(">HH", p[t : t + 4])
                    if {sport, dport} & {53, 5353, 5355}:
                        put("dns-message", p[t + 8 :], 4096)
        elif link in (101, 12, 14, 228, 229):
            put("packet-raw-ip", p, 4096)
        if link in OTHER_LINKS:
            put("packet-other-link", bytes([OTHER_LINKS.index(link)]) + p, 4096)

# Hand-made streams: HTTP both ways, DNS over TCP.
http = b"GET /gate.php?id=1 HTTP/1.1\r\nHost: update-check.example\r\nUser-Agent: x\r\n\r\n"
response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
put("tcp-stream", tcp_seed(http + response, 1, [len(http)] + [0x80 | 20, 0x80 | 40]))
put("tcp-stream", tcp_seed(b"POST /u HTTP/1.1\r\nHost: a.example\r\nContent-Length: 4\r\n\r\nabcd", 3, [3, 3, 3, 3, 3, 3]))
query = bytes.fromhex("abcd01000001000000000000") + b"\x06update\x05check\x07example\x00\x00\x01\x00\x01"
put("tcp-stream", tcp_seed(struct.pack(">H", len(query)) + query, 0, [1, 1, 2]))
put("dns-message", query)
put("dns-message", bytes.fromhex("abcd81800001000100000000") + b"\x03www\x07example\x00\x00\x01\x00\x01"
    + bytes.fromhex("c00c000100010000003c0004c0000201"))

# Logs.
syslog = os.path.join(shared, "syslog")
for path in files(syslog) + files(os.path.join(root, "SampleData/syslog")):
    if "/expected/" in path:
        continue
    data = read(path)
    if data[:2] == b"\x1f\x8b":
        put("gzip-log", data)
    else:
        put("log-lines", head(data))
put("log-lines", b'<34>1 2026-02-01T10:00:00Z fw01 app - - - {"ts":1706781600,"id.orig_h":"10.0.0.1","id.resp_h":"203.0.113.45"}\n')

# Rule files: shared feeds (cut), the repository's Rules/, the docs' examples.
for path in files(os.path.join(shared, "indicators")):
    data = read(path)
    if path.endswith(".json"):
        put("rules-misp", data)
    elif path.endswith(".csv"):
        put("rules-csv", head(data))
    else:
        put("rules-plain", head(data))
for path in files(os.path.join(root, "Rules")):
    if not path.endswith(".md"):
        put("rules-plain", read(path))
put("rules-csv", b"indicator,type,severity,confidence,source,description,valid_from,valid_until,tlp,tags\n"
    b"203.0.113.45,ipv4,high,80,Partner CERT,\"beacon, seen twice\",2026-02-01,2026-06-01,TLP:AMBER,c2;panda\n"
    b"=login.update-check.example,domain,medium,,Partner CERT,phishing page,,,green,phishing\n")
put("rules-csv", b"evil-test-domain.com,malware (test),(static)\n6.6.6.6:8443,malware (test),(static)\nevil-url.example/bad/path,malware (test),(static)\n")
put("rules-csv", b"uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag,object_uuid,object_name,object_meta_category\n"
    b"\"5f1a2b3c-0001\",1234,\"Network activity\",\"ip-dst\",\"203.0.113.45\",\"C2 server\",1,20260201,\"\",\"tlp:amber,kill-chain:c2\",\"\",\"\",\"\"\n"
    b"\"5f1a2b3c-0003\",1234,\"Payload delivery\",\"filename|sha256\",\"invoice.exe|9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"\",1,20260201,\"\",\"\",\"\",\"\",\"\"\n"
    b"\"5f1a2b3c-0005\",1234,\"Network activity\",\"domain|ip\",\"login.example|192.0.2.8\",\"\",1,20260201,\"\",\"\",\"\",\"\",\"\"\n")
put("rules-csv", b"# ja3_md5,Firstseen,Lastseen,Listingreason\nb386946a5a44d1ddcc843bc75336dfce,2017-07-14 18:08:15,2019-07-27 20:42:54,Dridex\n")
put("rules-zeek", b"#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n"
    b"203.0.113.45\tIntel::ADDR\tpartner-cert\tbeacon endpoint\n198.51.100.0/24\tIntel::SUBNET\tpartner-cert\t-\n"
    b"update-check.example\tIntel::DOMAIN\tpartner-cert\t-\nupdate-check.example/gate.php\tIntel::URL\tpartner-cert\t-\n"
    b"44d88612fea8a8f36de82e1278abb02f\tIntel::FILE_HASH\tx\t(empty)\nbilling@paypa1-login.test\tIntel::EMAIL\tx\t-\n")
put("rules-zeek", b"#separator \\x2c\n#fields,indicator,indicator_type,meta.source\n203.0.113.9,Intel::ADDR,x\n")
put("rules-stix", b"""{"type": "bundle", "id": "bundle--5d2b4a4c-8f4e-4c4e-9a55-0c1d2e3f4a5b", "objects": [
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "name": "Example Panda C2",
  "pattern": "[ipv4-addr:value = '203.0.113.45'] OR [domain-name:value = 'update-check.example']",
  "pattern_type": "stix", "valid_from": "2026-02-01T00:00:00Z", "labels": ["c2"], "confidence": 80,
  "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--2", "pattern_type": "stix",
  "pattern": "[file:hashes.'SHA-256' = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' OR url:value = 'http://evil.example/x' OR ipv6-addr:value = '2001:db8::/32' OR email-addr:value = 'a@b.example']",
  "valid_from": "2026-02-01T00:00:00Z", "valid_until": "2026-03-01T00:00:00Z"}]}
""")
put("rules-misp", b"""{"Event": {"id": "77", "info": "Phishing wave", "Orgc": {"name": "CERT-XX"},
  "Tag": [{"name": "tlp:green"}],
  "Attribute": [
    {"uuid": "a-1", "type": "url", "value": "http://evil.example/login", "to_ids": true},
    {"uuid": "a-2", "type": "ip-dst", "value": "192.0.2.50", "to_ids": false}],
  "Object": [{"Attribute": [{"uuid": "a-3", "type": "domain|ip", "value": "x.example|192.0.2.9", "to_ids": "1"}]}]}}
""")
put("rules-misp", b"""{"response": [{"Event": {"id": "8", "Attribute": [{"uuid": "b", "type": "ja3-fingerprint-md5", "value": "b386946a5a44d1ddcc843bc75336dfce", "to_ids": true}]}}]}""")
for target in sorted(counts):
    print(f"{target}: {counts[target]} seeds")
PY
}

# The largest input kept in Fuzz/corpus/<target>: small inputs keep the repository
# and the replay test light (a few MB for all targets together).
keep_len() {
    case $1 in
        pcap-file|pcapng-file) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# Replaces Fuzz/corpus/<target> by a minimised set (-set_cover_merge=1) of the inputs
# of at most keep_len bytes that together cover the edges that the kept corpus, the
# finds of every run so far (.build-fuzz/work, which keeps everything) and the seeds
# cover. Edges, not hit counts (-use_counters=0): the kept set stays small.
minimise() {
    local target=$1
    local kept=$root/Fuzz/corpus/$target crashes=$root/Fuzz/crashes/$target
    local merged=$scratch/merged/$target small=$scratch/small/$target
    rm -rf "$merged" "$small"
    mkdir -p "$merged" "$small" "$kept" "$crashes" "$scratch/tmp"
    find "$scratch/work/$target" "$kept" "$scratch/seeds/$target" -type f \
        -size -"$(( $(keep_len "$target") + 1 ))"c -exec cp -t "$small" {} + 2>/dev/null || true
    if TMPDIR=$scratch/tmp CAIRN_FUZZ_TARGET=$target ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$binary" -set_cover_merge=1 -use_counters=0 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$crashes/" \
        "$merged" "$small" >"$scratch/merge-$target.log" 2>&1 && [ -n "$(ls -A "$merged")" ]; then
        rm -rf "$kept"
        mv "$merged" "$kept"
    else
        echo "warning: merge for $target failed; see $scratch/merge-$target.log" >&2
    fi
}

run() {
    local target=$1 seconds=$2
    shift 2
    local kept=$root/Fuzz/corpus/$target crashes=$root/Fuzz/crashes/$target
    local work=$scratch/work/$target merged=$scratch/merged/$target
    mkdir -p "$kept" "$crashes" "$work" "$scratch/seeds/$target" "$scratch/tmp"
    echo "== $target for $seconds s" >&2
    local status=0
    # TMPDIR: the targets' temporary files go to a private directory, not /tmp.
    TMPDIR=$scratch/tmp CAIRN_FUZZ_TARGET=$target ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$binary" -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "$@" \
        "$work" "$kept" "$scratch/seeds/$target" || status=$?
    minimise "$target"
    echo "== $target: exit $status; kept corpus $(ls "$kept" | wc -l) files, $(du -sh "$kept" | cut -f1)" >&2
    return $status
}

command=${1:-}
case $command in
    ""|-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    list) echo "$targets" | tr ' ' '\n'; exit 0 ;;
    build) build; exit 0 ;;
    minimise)
        [ -x "$binary" ] || build
        [ -d "$scratch/seeds" ] || seeds
        for target in $([ "${2:-all}" = all ] && echo "$targets" || echo "$2"); do minimise "$target"; done
        exit 0 ;;
    replay)
        shift
        target=$1; shift
        [ -x "$binary" ] || build
        CAIRN_FUZZ_TARGET=$target TMPDIR=/tmp "$binary" "$@"
        exit $? ;;
esac
seconds=${2:-60}
build
seeds
case $command in
    all) chosen=$targets ;;
    *,*) chosen=$(echo "$command" | tr ',' ' ')
         for target in $chosen; do
             case " $targets " in
                 *" $target "*) ;;
                 *) echo "unknown target $target; one of: $targets" >&2; exit 2 ;;
             esac
         done ;;
    *) chosen="" ;;
esac
if [ -n "$chosen" ]; then
    failed=""
    for target in $chosen; do
        run "$target" "$seconds" "${@:3}" || failed="$failed $target"
    done
    if [ -n "$failed" ]; then
        echo "== crashes or failures in:$failed (inputs under Fuzz/crashes/)" >&2
        exit 1
    fi
else
    case " $targets " in
        *" $command "*) ;;
        *) echo "unknown target $command; one of: $targets" >&2; exit 2 ;;
    esac
    run "$command" "$seconds" "${@:3}"
fi
