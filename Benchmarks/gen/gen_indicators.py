#!/usr/bin/env python3
# Kept in Cairn's tree from ../shared/bench/gen (the reference generators the CERT's
# benchmarks use), so `make bench-data` works from a clone; outputs are unchanged.
"""Write the indicator tables, the 'world' (benign pools + planted values) that
gen_pcap.py / gen_syslog.py draw from, and lookup query streams.

Outputs in --out (default: ../bench-data beside the folder that holds shared/, or $BENCH_DATA):
  ipv4.txt      1,000,000 IPv4 indicators: ~92% single addresses, rest CIDRs /16../31
  ipv6.txt        100,000 IPv6 indicators: /128 addresses and /32../64 prefixes
  cidrs.txt     ipv4.txt + ipv6.txt (the form grepcidr -f takes)
  domains.txt   1,000,000 domains; an entry matches itself and every subdomain
  hashes.txt    1,000,000 hex digests: 40% MD5, 20% SHA1, 40% SHA256 (lowercase)
  world.json    benign pools (never match any indicator) and planted values
  queries_ipv4.txt / queries_ipv6.txt / queries_domains.txt / queries_hashes.txt
                lookup streams for the in-memory lookup benches (1% hits)
"""
import argparse
import json
import os
import random
import sys

sys.dont_write_bytecode = True   # keep the repo free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (DEFAULT_DATA, NEVER_IOC4, NEVER_IOC6, WORDS, bad_domain, domain_suffixes, file_hashes,
                    good_domain, ip4s, ip6s, is_reserved4, planted_file,
                    rand_public4, rand_public6, skewed_index)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=20241)
    ap.add_argument("--ipv4", type=int, default=1_000_000)
    ap.add_argument("--ipv6", type=int, default=100_000)
    ap.add_argument("--domains", type=int, default=1_000_000)
    ap.add_argument("--hashes", type=int, default=1_000_000)
    ap.add_argument("--plant", type=int, default=5000, help="planted IPv4/domain/hash values")
    ap.add_argument("--plant6", type=int, default=500, help="planted IPv6 values")
    ap.add_argument("--files", type=int, default=300, help="planted HTTP file bodies")
    ap.add_argument("--queries", type=int, default=4_000_000, help="IPv4/domain queries")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)

    # ---------------- IPv4: (net, plen) ----------------
    v4 = set()
    len_mix = [(32, 0.92), (24, 0.06), (None, 0.017), (20, 0.0025), (16, 0.0005)]
    while len(v4) < a.ipv4:
        r = rng.random()
        acc = 0.0
        for plen, p in len_mix:
            acc += p
            if r < acc:
                break
        if plen is None:
            plen = rng.choice((25, 26, 27, 28, 29, 30, 31))
        elif plen == 20:
            plen = rng.randint(17, 23)
        n = rand_public4(rng)
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        n &= mask
        if is_reserved4(n) or any(x & mask == n for x in NEVER_IOC4):
            continue
        v4.add((n, plen))
    v4 = sorted(v4)
    rng.shuffle(v4)
    v4_by_len = {}
    for n, p in v4:
        v4_by_len.setdefault(p, set()).add(n)
    v4_masks = [((0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF, s) for p, s in v4_by_len.items()]

    def hit4(n):
        return any((n & m) in s for m, s in v4_masks)

    # ---------------- IPv6 ----------------
    v6 = set()
    while len(v6) < a.ipv6:
        r = rng.random()
        plen = 128 if r < 0.80 else 64 if r < 0.90 else 48 if r < 0.97 else 32
        n = rand_public6(rng)
        mask = ((1 << 128) - 1) ^ ((1 << (128 - plen)) - 1)
        n &= mask
        if any(x & mask == n for x in NEVER_IOC6):
            continue
        v6.add((n, plen))
    v6 = sorted(v6)
    rng.shuffle(v6)
    v6_by_len = {}
    for n, p in v6:
        v6_by_len.setdefault(p, set()).add(n)
    v6_masks = [(((1 << 128) - 1) ^ ((1 << (128 - p)) - 1), s) for p, s in v6_by_len.items()]

    def hit6(n):
        return any((n & m) in s for m, s in v6_masks)

    # ---------------- domains ----------------
    doms = set()
    while len(doms) < a.domains:
        doms.add(bad_domain(rng))
    doms = sorted(doms)
    rng.shuffle(doms)

    def hitd(d):
        return any(s in doms_set for s in domain_suffixes(d))

    doms_set = set(doms)

    # ---------------- hashes ----------------
    files = [file_hashes(planted_file(i)) for i in range(a.files)]
    file_hash_set = {h for t in files for h in t}
    hashes = set(file_hash_set)
    n_md5, n_sha1 = int(a.hashes * 0.4), int(a.hashes * 0.2)
    while len(hashes) < n_md5:
        hashes.add("%032x" % rng.getrandbits(128))
    while len(hashes) < n_md5 + n_sha1:
        hashes.add("%040x" % rng.getrandbits(160))
    while len(hashes) < a.hashes:
        hashes.add("%064x" % rng.getrandbits(256))
    hashes = sorted(hashes)
    rng.shuffle(hashes)

    # ---------------- write indicator files ----------------
    def cidr4(n, p):
        return ip4s(n) if p == 32 else "%s/%d" % (ip4s(n), p)

    def cidr6(n, p):
        return ip6s(n) if p == 128 else "%s/%d" % (ip6s(n), p)

    v4_lines = [cidr4(n, p) for n, p in v4]
    v6_lines = [cidr6(n, p) for n, p in v6]
    for name, lines in (("ipv4.txt", v4_lines), ("ipv6.txt", v6_lines),
                        ("cidrs.txt", v4_lines + v6_lines), ("domains.txt", doms),
                        ("hashes.txt", hashes)):
        with open(os.path.join(a.out, name), "w") as f:
            f.write("\n".join(lines))
            f.write("\n")

    # ---------------- planted values ----------------
    def host_in4(n, p):
        return n | (rng.getrandbits(32 - p) if p < 32 else 0)

    def host_in6(n, p):
        return n | (rng.getrandbits(128 - p) if p < 128 else 0)

    pl4 = sorted({host_in4(*e) for e in rng.sample(v4, a.plant)})
    pl6 = sorted({host_in6(*e) for e in rng.sample(v6, a.plant6)})
    pl_dom = []
    for d in rng.sample(doms, a.plant):
        pl_dom.append(d if rng.random() < 0.5 else
                      rng.choice(("www", "cdn", "api", "dl", "x" + str(rng.randint(1, 99)))) + "." + d)
    file_set = {h for t in files for h in t}
    pl_hash = rng.sample([h for h in hashes if h not in file_set], a.plant)

    # ---------------- benign pools (never match) ----------------
    ext4 = []
    while len(ext4) < 60000:
        n = rand_public4(rng)
        if not hit4(n):
            ext4.append(n)
    ext6 = []
    while len(ext6) < 6000:
        n = rand_public6(rng)
        if not hit6(n):
            ext6.append(n)
    good = []
    seen = set()
    while len(good) < 20000:
        d = good_domain(rng)
        if d in seen:
            continue
        seen.add(d)
        if not hitd(d):
            good.append(d)
    for d in ("zen.spamhaus.org", "example.com", "corp.example.com", "mail.corp.example.com"):
        assert not hitd(d), d

    world = {
        "seed": a.seed,
        "ext4": [ip4s(n) for n in ext4],
        "ext6": [ip6s(n) for n in ext6],
        "good_domains": good,
        "planted_ipv4": [ip4s(n) for n in pl4],
        "planted_ipv6": [ip6s(n) for n in pl6],
        "planted_domains": pl_dom,
        "planted_hashes": pl_hash,
        "planted_files": a.files,
        "counts": {"ipv4": len(v4_lines), "ipv6": len(v6_lines),
                   "domains": len(doms), "hashes": len(hashes)},
    }
    with open(os.path.join(a.out, "world.json"), "w") as f:
        json.dump(world, f)

    # ---------------- lookup query streams (1% hits) ----------------
    # IPv4: a skewed pool of benign talkers + internal + random, 1% planted.
    internal = [(10 << 24) | (1 << 16) | rng.getrandbits(16) for _ in range(4000)]
    qs4 = []
    for i in range(a.queries):
        r = rng.random()
        if r < 0.01:
            qs4.append(ip4s(pl4[rng.randrange(len(pl4))]))
        elif r < 0.45:
            qs4.append(ip4s(internal[skewed_index(rng, len(internal))]))
        elif r < 0.90:
            qs4.append(ip4s(ext4[skewed_index(rng, len(ext4))]))
        else:
            n = rng.getrandbits(32)
            qs4.append(ip4s(n))
    qs6 = []
    for i in range(a.queries // 10):
        if rng.random() < 0.01:
            qs6.append(ip6s(pl6[rng.randrange(len(pl6))]))
        else:
            qs6.append(ip6s(ext6[skewed_index(rng, len(ext6))]))
    qsd = []
    for i in range(a.queries):
        if rng.random() < 0.01:
            qsd.append(pl_dom[rng.randrange(len(pl_dom))])
        else:
            d = good[skewed_index(rng, len(good))]
            if rng.random() < 0.6:
                d = rng.choice(("www", "api", "cdn", "img", "mail", rng.choice(WORDS))) + "." + d
            qsd.append(d)
    qsh = []
    for i in range(a.queries // 4):
        r = rng.random()
        if r < 0.01:
            qsh.append(pl_hash[rng.randrange(len(pl_hash))])
        else:
            bits = rng.choice((128, 160, 256, 256))
            qsh.append("%0*x" % (bits // 4, rng.getrandbits(bits)))
    for name, lines in (("queries_ipv4.txt", qs4), ("queries_ipv6.txt", qs6),
                        ("queries_domains.txt", qsd), ("queries_hashes.txt", qsh)):
        with open(os.path.join(a.out, name), "w") as f:
            f.write("\n".join(lines))
            f.write("\n")
    print(json.dumps({"out": a.out, **world["counts"],
                      "planted": {"ipv4": len(pl4), "ipv6": len(pl6),
                                  "domains": len(pl_dom), "hashes": len(pl_hash),
                                  "files": a.files}}))


if __name__ == "__main__":
    main()
