# Kept in Cairn's tree from ../shared/bench/gen (the reference generators the CERT's
# benchmarks use), so `make bench-data` works from a clone; outputs are unchanged.
"""Shared, deterministic helpers for the bench input generators.

Everything here is a pure function of its arguments (no global RNG), so the
same seed gives byte-identical outputs on any machine with the same CPython
minor version.
"""
import hashlib
import json
import os
import random
import struct

DEFAULT_DATA = os.environ.get(
    "BENCH_DATA",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bench-data"),
)

# ---------------------------------------------------------------- IPv4 ----
# (network, prefixlen) blocks that never appear as indicators nor as "benign
# external" addresses: private, loopback, link-local, CGN, doc, multicast...
_RESERVED4 = [
    ("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8),
    ("169.254.0.0", 16), ("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24),
    ("192.88.99.0", 24), ("192.168.0.0", 16), ("198.18.0.0", 15),
    ("198.51.100.0", 24), ("203.0.113.0", 24), ("224.0.0.0", 3),
]


def ip4(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def ip4s(n):
    return "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)


_RES4 = [(ip4(a), 0xFFFFFFFF ^ ((1 << (32 - p)) - 1)) for a, p in _RESERVED4]

# addresses the generators write directly (public resolvers, the version string in
# "Chrome/120.0.0.0" that any IPv4 extractor will pick up): no indicator may cover them.
NEVER_IOC4 = [ip4(s) for s in ("8.8.8.8", "1.1.1.1", "9.9.9.9", "120.0.0.0")]
NEVER_IOC6 = [0x20014860486000000000000000008888]


def is_reserved4(n):
    for net, mask in _RES4:
        if n & mask == net:
            return True
    return False


def rand_public4(rng):
    while True:
        n = rng.getrandbits(32)
        if not is_reserved4(n):
            return n


# ---------------------------------------------------------------- IPv6 ----
def ip6s(n):
    """RFC 5952 text form of a 128-bit int (same as ipaddress' compressed)."""
    groups = [(n >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    best_s, best_l, s, l = -1, 0, -1, 0
    for i, g in enumerate(groups):
        if g == 0:
            if s < 0:
                s, l = i, 1
            else:
                l += 1
            if l > best_l:
                best_s, best_l = s, l
        else:
            s, l = -1, 0
    if best_l >= 2:
        left = ":".join("%x" % g for g in groups[:best_s])
        right = ":".join("%x" % g for g in groups[best_s + best_l:])
        return left + "::" + right
    return ":".join("%x" % g for g in groups)


def rand_public6(rng):
    # global unicast 2000::/3, never the documentation prefix 2001:db8::/32
    while True:
        n = (0b001 << 125) | rng.getrandbits(125)
        if (n >> 96) != 0x20010DB8:
            return n


# ------------------------------------------------------------- domains ----
WORDS = (
    "alpha apex app arc atlas aurora axis beacon blue bolt bright bridge cloud cobalt "
    "code core crest cyber data delta digital echo edge ember falcon fast fiber "
    "first flow forge fox frame fusion galaxy gate global gold green grid harbor hawk "
    "helix hub hyper icon image info insight iron jet kinetic lab lake leaf level "
    "light line link logic lunar magnet maple market matrix media mesa metro micro "
    "mind mint mobile nano net nexus nova oak ocean omni open orbit pacific panda "
    "peak pixel planet point polar prime pulse quantum quick radar rapid raven "
    "red river rocket sage scale shift signal silver sky smart solar sonic spark "
    "sphere spring star stone storm stream summit sun swift sync system tech terra "
    "tiger track trend true turbo unity urban vector venture vertex via vista "
    "vital wave web wind wise wolf world zen zone"
).split()

BRANDS = (
    "paypal apple microsoft office365 outlook google amazon netflix dhl fedex ups "
    "chase wellsfargo bankofamerica coinbase binance metamask docusign dropbox adobe "
    "facebook instagram whatsapp linkedin steam"
).split()

BAD_TLDS = ("com com com net org info ru cn top xyz biz online site club io co su pw "
            "tk ml ga cf gq cc ws me icu live shop link click work").split()

GOOD_TLDS = "com com com com net org io de uk fr nl se co edu gov".split()

FREE_HOSTS = ("duckdns.org", "no-ip.biz", "ddns.net", "000webhostapp.com",
              "herokuapp.com", "azurewebsites.net", "blogspot.com", "pages.dev",
              "workers.dev", "ngrok.io", "web.app", "firebaseapp.com")

POPULAR = (
    "google.com youtube.com facebook.com microsoft.com apple.com amazon.com "
    "wikipedia.org windowsupdate.com office.com live.com github.com "
    "cloudflare.com akamaized.net gstatic.com googleapis.com doubleclick.net "
    "linkedin.com twitter.com instagram.com netflix.com spotify.com ubuntu.com "
    "debian.org mozilla.org zoom.us slack.com dropbox.com adobe.com yahoo.com "
    "bing.com msftconnecttest.com digicert.com letsencrypt.org pool.ntp.org "
    "cloudfront.net amazonaws.com azureedge.net fastly.net jsdelivr.net "
    "stackoverflow.com reddit.com bbc.co.uk cnn.com nytimes.com"
).split()

SUBS = ("www", "www", "www", "api", "cdn", "static", "img", "mail", "login",
        "update", "m", "app", "assets", "auth", "portal", "files", "download")


def rand_label(rng, lo, hi, alphabet="abcdefghijklmnopqrstuvwxyz0123456789"):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def bad_domain(rng):
    r = rng.random()
    if r < 0.40:   # DGA-style
        return rand_label(rng, 8, 20, "abcdefghijklmnopqrstuvwxyz" * 3 + "0123456789") \
            + "." + rng.choice(BAD_TLDS)
    if r < 0.70:   # word combos
        w = [rng.choice(WORDS) for _ in range(rng.randint(2, 3))]
        sep = rng.choice(("", "-", ""))
        return sep.join(w) + str(rng.randint(0, 999) if rng.random() < 0.3 else "") \
            + "." + rng.choice(BAD_TLDS)
    if r < 0.85:   # abused free hosting / dyndns
        return rand_label(rng, 5, 14) + "." + rng.choice(FREE_HOSTS)
    # brand phishing
    b = rng.choice(BRANDS)
    w = rng.choice(("secure", "login", "verify", "account", "support", "update",
                    "billing", "auth", "signin", "wallet"))
    form = rng.random()
    if form < 0.5:
        d = b + "-" + w + str(rng.randint(1, 99)) + "." + rng.choice(BAD_TLDS)
    else:
        d = w + "-" + b + "-" + rand_label(rng, 3, 6) + "." + rng.choice(BAD_TLDS)
    if rng.random() < 0.3:
        d = rng.choice(("www", "login", "m", "secure")) + "." + d
    return d


def good_domain(rng):
    if rng.random() < 0.35:
        return rng.choice(POPULAR)
    w = rng.choice(WORDS) + rng.choice(WORDS)
    return w + "." + rng.choice(GOOD_TLDS)


def domain_suffixes(d):
    """d itself and every parent domain with at least two labels."""
    out = [d]
    while True:
        i = d.find(".")
        if i < 0:
            break
        d = d[i + 1:]
        if "." not in d:
            break
        out.append(d)
    return out


# ------------------------------------------------------ planted files ----
def planted_file(i):
    """Deterministic small 'malware' body served over HTTP in the pcap; its
    MD5/SHA1/SHA256 are indicators."""
    r = random.Random(0xF11E0000 + i)
    size = 1500 + r.randrange(60000)
    head = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    return head + r.randbytes(size - len(head))


def file_hashes(body):
    return (hashlib.md5(body).hexdigest(), hashlib.sha1(body).hexdigest(),
            hashlib.sha256(body).hexdigest())


# ------------------------------------------------------------- misc ----
def load_world(data_dir):
    with open(os.path.join(data_dir, "world.json")) as f:
        return json.load(f)


def skewed_index(rng, n, power=3.0):
    """Index in [0, n) heavily skewed towards 0 (a few talkers dominate)."""
    return int(n * (rng.random() ** power))


def pack_ip4(n):
    return struct.pack("!I", n)


def pack_ip6(n):
    return n.to_bytes(16, "big")
