#!/usr/bin/env python3
# Kept in Cairn's tree from ../shared/bench/gen (the reference generators the CERT's
# benchmarks use), so `make bench-data` works from a clone; outputs are unchanged.
"""Write ~1 GB of deterministic RFC 3164 syslog text, then gzip it (GNU gzip -6 -n,
the way logrotate compresses).

Line mix: kernel iptables/UFW (SRC=/DST=, IPv4 and IPv6), nginx access logs
(client IP, referer URLs, redirect targets), sshd, postfix (host[ip], mail
addresses, relays), BIND query logs, hash-bearing lines (osquery file events
as JSON, clamd, amavis with sha256), and plain noise (CRON, systemd, dhcpd).
Realistic traps are kept: dotted version numbers (Chrome/120.0.0.0), file names
that look like domains (jquery-3.6.0.min.js), MAC addresses and times with colons,
base64 SSH key fingerprints.

A planted indicator (from world.json) replaces the benign value with probability
--hit-rate per slot (--hash-hit-rate for hash slots). The exact number of lines with
an IP / domain / hash hit is written to <out>.truth.json.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # keep the repo free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_DATA, WORDS, load_world, skewed_index

HIT_IP, HIT_DOM, HIT_HASH = 1, 2, 4
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
USERS = ("root admin test user ubuntu oracle postgres git deploy jenkins ftp guest "
         "pi support www-data backup nagios alice bob carol dave").split()
UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "curl/7.88.1", "python-requests/2.31.0", "Go-http-client/1.1", "zgrab/0.x",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
PATHS = ("/", "/index.html", "/index.php", "/wp-login.php", "/xmlrpc.php", "/.env", "/api/v2/orders",
         "/static/js/jquery-3.6.0.min.js", "/static/css/main.4f2a1c.css", "/images/banner.webp",
         "/search?q=%s", "/login?next=/account", "/cgi-bin/luci/;stok=/locale", "/robots.txt",
         "/favicon.ico", "/assets/app.bundle.js", "/downloads/report-2024.pdf", "/healthz")
SIGS = ("Win.Trojan.Agent-1234567", "Win.Malware.Emotet-9953466-0", "Doc.Downloader.Generic-7012345",
        "Html.Phishing.Bank-7711", "Unix.Trojan.Mirai-7100807-0", "Eicar-Test-Signature")


class Clock:
    def __init__(self, start):
        self.t = float(start)
        self.sec = -1

    def advance(self, dt):
        self.t += dt
        s = int(self.t)
        if s != self.sec:
            self.sec = s
            tm = time.gmtime(s)
            self.rfc = "%s %2d %02d:%02d:%02d" % (MONTHS[tm.tm_mon - 1], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
            self.ngx = "%02d/%s/%d:%02d:%02d:%02d +0000" % (tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
                                                           tm.tm_hour, tm.tm_min, tm.tm_sec)


class Gen:
    def __init__(self, a, w):
        self.rng = rng = random.Random(a.seed)
        self.a = a
        self.ext4, self.ext6 = w["ext4"], w["ext6"]
        self.pl4, self.pl6 = w["planted_ipv4"], w["planted_ipv6"]
        self.good, self.pldom = w["good_domains"], w["planted_domains"]
        self.plhash = {32: [], 40: [], 64: []}
        for h in w["planted_hashes"]:
            self.plhash[len(h)].append(h)
        self.int4 = ["10.1.%d.%d" % (rng.randrange(256), rng.randrange(1, 255)) for _ in range(3000)] + \
                    ["192.168.1.%d" % i for i in range(2, 250)]
        self.int6 = ["fd12:3456:789a:1:%x:%x:%x:%x" % tuple(rng.getrandbits(16) for _ in range(4))
                     for _ in range(500)]
        self.hit = a.hit_rate
        self.hhit = a.hash_hit_rate
        self.clock = Clock(1709251200)   # 2024-03-01T00:00:00Z

    # ---- slots ----
    def ext_ip(self, v6=False):
        r = self.rng
        if r.random() < self.hit:
            return (r.choice(self.pl6) if v6 else r.choice(self.pl4)), HIT_IP
        if v6:
            return self.ext6[skewed_index(r, len(self.ext6))], 0
        return self.ext4[skewed_index(r, len(self.ext4))], 0

    def dom(self):
        r = self.rng
        if r.random() < self.hit:
            return r.choice(self.pldom), HIT_DOM
        return self.good[skewed_index(r, len(self.good))], 0

    def hashes(self):
        """(md5, sha1, sha256, tag)"""
        r = self.rng
        v = ["%032x" % r.getrandbits(128), "%040x" % r.getrandbits(160), "%064x" % r.getrandbits(256)]
        if r.random() < self.hhit:
            k = r.choice((0, 0, 1, 2, 2))
            v[k] = r.choice(self.plhash[(32, 40, 64)[k]])
            return v[0], v[1], v[2], HIT_HASH
        return v[0], v[1], v[2], 0

    # ---- line types: return (host, tag_with_pid, message, hits) ----
    def iptables(self):
        r = self.rng
        v6 = r.random() < 0.12
        src, h = self.ext_ip(v6)
        dst = r.choice(self.int6) if v6 else r.choice(self.int4)
        pfx = r.choice(("IPTABLES-DROP: ", "UFW BLOCK: ", "FW-IN-ACCEPT: ", "[UFW BLOCK] "))
        up = "%.6f" % (self.clock.t - 1709000000.0)
        sp, dp = r.randint(1024, 65535), r.choice((22, 23, 80, 443, 445, 3389, 8080, 5060, 25, r.randint(1, 65535)))
        mac = "MAC=52:54:00:12:34:56:00:1b:21:3a:4f:01:%s" % ("86:dd" if v6 else "08:00")
        if r.random() < 0.8:
            l4 = "PROTO=TCP SPT=%d DPT=%d WINDOW=%d RES=0x00 SYN URGP=0" % (sp, dp, r.choice((1024, 29200, 64240, 65535)))
        else:
            l4 = "PROTO=UDP SPT=%d DPT=%d LEN=%d" % (sp, dp, r.randint(16, 512))
        if v6:
            msg = "[%12s] %sIN=eth0 OUT= %s SRC=%s DST=%s LEN=%d TC=0 HOPLIMIT=%d FLOWLBL=%d %s" % (
                up, pfx, mac, src, dst, r.randint(60, 1500), r.randint(40, 64), r.getrandbits(20), l4)
        else:
            msg = "[%12s] %sIN=eth0 OUT= %s SRC=%s DST=%s LEN=%d TOS=0x00 PREC=0x00 TTL=%d ID=%d %sPROTO%s" % (
                up, pfx, mac, src, dst, r.randint(40, 1500), r.randint(30, 128), r.getrandbits(16),
                "DF " if r.random() < 0.5 else "", l4[5:])
        return "<4>", "fw%02d" % r.randint(1, 2), "kernel:", msg, h

    def nginx(self):
        r = self.rng
        client, h = self.ext_ip(r.random() < 0.1)
        p = r.choice(PATHS)
        if "%s" in p:
            p = p % r.choice(WORDS)
        if r.random() < 0.05:   # open redirect / phishing lure
            d, hd = self.dom()
            p = "/redirect?url=https://%s/%s" % (d, r.choice(("login", "verify", "a/b.php", "")))
            h |= hd
        if r.random() < 0.6:
            d, hd = self.dom()
            ref = "https://%s/%s" % (d, r.choice(("", "search", "index.html", "p/%d" % r.randrange(10000))))
            h |= hd
        else:
            ref = "-"
        st = r.choice((200, 200, 200, 200, 301, 302, 304, 404, 404, 403, 500))
        msg = '%s - - [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"' % (
            client, self.clock.ngx, r.choice(("GET", "GET", "GET", "POST", "HEAD")), p, st,
            r.randrange(100, 60000), ref, r.choice(UAS))
        if r.random() < 0.3:
            msg = "www.corp.example.com:443 " + msg
        return "<190>", "web%02d" % r.randint(1, 8), "nginx:", msg, h

    def sshd(self):
        r = self.rng
        k = r.random()
        u = r.choice(USERS)
        port = r.randint(1024, 65535)
        if k < 0.80:
            ip, h = self.ext_ip(r.random() < 0.08)
            msg = r.choice((
                "Failed password for invalid user %s from %s port %d ssh2" % (u, ip, port),
                "Failed password for root from %s port %d ssh2" % (ip, port),
                "Invalid user %s from %s port %d" % (u, ip, port),
                "Connection closed by authenticating user root %s port %d [preauth]" % (ip, port),
                "Disconnected from invalid user %s %s port %d [preauth]" % (u, ip, port),
                "Received disconnect from %s port %d:11: Bye Bye [preauth]" % (ip, port),
                "Unable to negotiate with %s port %d: no matching key exchange method found." % (ip, port),
            ))
        elif k < 0.93:
            ip, h = r.choice(self.int4), 0
            fp = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
            msg = "Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s" % (u, ip, port, fp)
        else:
            h = 0
            msg = "pam_unix(sshd:session): session %s for user %s(uid=%d) by (uid=0)" % (
                r.choice(("opened", "closed")), u, 1000 + r.randrange(50))
        return "<38>", "bastion%02d" % r.randint(1, 3), "sshd[%d]:" % r.randint(300, 99999), msg, h

    def postfix(self):
        r = self.rng
        k = r.random()
        d, h = self.dom()
        qid = "%X" % r.getrandbits(40)
        pid = r.randint(300, 99999)
        if k < 0.25:
            ip, hi = self.ext_ip(r.random() < 0.05)
            rd = "unknown" if r.random() < 0.4 else "mail." + d
            if rd == "unknown":
                h = 0
            h |= hi
            msg = "postfix/smtpd[%d]: %s from %s[%s]" % (pid, r.choice(("connect", "disconnect")), rd, ip)
        elif k < 0.45:
            ip, hi = self.ext_ip()
            h |= hi
            msg = ("postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 Service unavailable; "
                   "Client host [%s] blocked using zen.spamhaus.org; from=<%s@%s> to=<%s@corp.example.com> "
                   "proto=ESMTP helo=<%s>") % (pid, ip, ip, r.choice(USERS), d, r.choice(USERS),
                                               r.choice(("localhost", "User", d)))
        elif k < 0.70:
            ip, hi = self.ext_ip()
            h |= hi
            msg = ("postfix/smtp[%d]: %s: to=<%s@%s>, relay=mx%d.%s[%s]:25, delay=%.2f, "
                   "delays=0.05/0.01/0.21/0.25, dsn=2.0.0, status=sent (250 2.0.0 OK  %d %s - gsmtp)") % (
                pid, qid, r.choice(USERS), d, r.randint(1, 3), d, ip, r.random() * 3,
                int(self.clock.t), "%x" % r.getrandbits(48))
        elif k < 0.88:
            msg = "postfix/qmgr[%d]: %s: from=<%s@%s>, size=%d, nrcpt=1 (queue active)" % (
                pid, qid, r.choice(USERS), d, r.randint(800, 90000))
        else:
            msg = "postfix/cleanup[%d]: %s: message-id=<%s.%s@%s>" % (
                pid, qid, time.strftime("%Y%m%d%H%M%S", time.gmtime(self.clock.sec)), qid, d)
        return "<22>", "mx%02d" % r.randint(1, 2), "", msg, h

    def named(self):
        r = self.rng
        d, h = self.dom()
        if r.random() < 0.5:
            d = r.choice(("www", "api", "cdn", "mail", "img")) + "." + d
        ip = r.choice(self.int4) if r.random() < 0.9 else r.choice(self.int6)
        qt = r.choice(("A", "A", "A", "AAAA", "AAAA", "HTTPS", "MX", "TXT", "PTR"))
        if r.random() < 0.05:
            msg = "client @0x7f%010x %s#%d (%s): query (cache) '%s/%s/IN' denied" % (
                r.getrandbits(40), ip, r.randint(1024, 65535), d, d, qt)
        else:
            msg = "client @0x7f%010x %s#%d (%s): query: %s IN %s %s (10.0.0.53)" % (
                r.getrandbits(40), ip, r.randint(1024, 65535), d, d, qt, r.choice(("+", "+E(0)", "+E(0)K", "-E(0)")))
        return "<30>", "ns%d" % r.randint(1, 2), "named[%d]:" % r.randint(300, 9999), msg, h

    def hashline(self):
        r = self.rng
        md5, sha1, sha256, h = self.hashes()
        k = r.random()
        if k < 0.5:
            f = "%s_%d.%s" % (r.choice(("invoice", "setup", "report", "scan", "update", "photo")),
                              r.randrange(10000), r.choice(("exe", "docx", "pdf", "zip", "js", "dll")))
            msg = ('{"name":"file_events","hostIdentifier":"ws-%04d","unixTime":%d,"columns":{"action":"CREATED",'
                   '"target_path":"C:\\\\Users\\\\%s\\\\Downloads\\\\%s","md5":"%s","sha1":"%s","sha256":"%s",'
                   '"size":"%d"}}') % (r.randrange(2000), int(self.clock.t), r.choice(USERS), f, md5, sha1,
                                       sha256, r.randint(1000, 9000000))
            return "<14>", "ws-%04d" % r.randrange(2000), "osqueryd[%d]:" % r.randint(300, 9999), msg, h
        if k < 0.75:
            # clamd prints the MD5 only: keep a planted hash only if it is the MD5
            if h and md5 not in self.plhash[32]:
                h = 0
            msg = "/var/spool/amavisd/tmp/amavis-%d/parts/p%03d: %s(%s:%d) FOUND" % (
                int(self.clock.t), r.randrange(20), r.choice(SIGS), md5, r.randint(1000, 900000))
            return "<30>", "av01", "clamd[%d]:" % r.randint(300, 9999), msg, h
        ip, hi = self.ext_ip()
        d, hd = self.dom()
        if h and sha256 not in self.plhash[64]:
            h = 0
        msg = ("(%05d-%02d) Blocked INFECTED (%s) {DiscardedInbound,Quarantined}, [%s]:%d <%s@%s> -> "
               "<%s@corp.example.com>, quarantine: virus-%s, Queue-ID: %X, mail_id: %s, Hits: -, size: %d, "
               "sha256: %s") % (r.randrange(99999), r.randrange(99), r.choice(SIGS), ip, r.randint(1024, 65535),
                                r.choice(USERS), d, r.choice(USERS), "%x" % r.getrandbits(40), r.getrandbits(40),
                                "%x" % r.getrandbits(48), r.randint(1000, 900000), sha256)
        return "<30>", "av01", "amavis[%d]:" % r.randint(300, 9999), msg, h | hi | hd

    def noise(self):
        r = self.rng
        k = r.random()
        if k < 0.3:
            return "<78>", "web%02d" % r.randint(1, 8), "CRON[%d]:" % r.randint(300, 99999), \
                "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)", 0
        if k < 0.6:
            return "<30>", "bastion%02d" % r.randint(1, 3), "systemd[1]:", \
                "Started Session %d of User %s." % (r.randrange(100000), r.choice(USERS)), 0
        if k < 0.9:
            mac = ":".join("%02x" % r.getrandbits(8) for _ in range(6))
            return "<30>", "dhcp01", "dhcpd[%d]:" % r.randint(300, 9999), \
                "DHCPACK on %s to %s (%s-%d) via eth1" % (r.choice(self.int4), mac,
                                                           r.choice(("laptop", "ws", "printer", "phone")),
                                                           r.randrange(500)), 0
        return "<6>", "db01", "kernel:", \
            "[%12.6f] EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none." % (
                self.clock.t - 1709000000.0), 0

    MIX = (("iptables", 0.24), ("nginx", 0.24), ("sshd", 0.13), ("postfix", 0.12), ("named", 0.16),
           ("hashline", 0.05), ("noise", 0.06))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=None, help="text path (default DATA/syslog.log); gz gets .gz")
    ap.add_argument("--bytes", type=int, default=1_000_000_000, help="uncompressed size to reach")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--hit-rate", type=float, default=0.01)
    ap.add_argument("--hash-hit-rate", type=float, default=0.05)
    ap.add_argument("--no-pri", action="store_true", help="omit <PRI> (the form rsyslog writes to files)")
    ap.add_argument("--no-gzip", action="store_true")
    a = ap.parse_args()
    w = load_world(a.data)
    out = a.out or os.path.join(a.data, "syslog.log")
    g = Gen(a, w)
    rng = g.rng
    fns, cum = [], []
    acc = 0.0
    for name, p in g.MIX:
        acc += p
        fns.append(getattr(g, name))
        cum.append(acc)
    counts = {}
    per_type = {name: 0 for name, _ in g.MIX}
    names = [name for name, _ in g.MIX]
    nbytes = 0
    nlines = 0
    buf = []
    clock = g.clock
    with open(out, "w", encoding="ascii", newline="\n") as f:
        while nbytes < a.bytes:
            clock.advance(rng.random() * 0.026)
            x = rng.random()
            i = 0
            while x >= cum[i] and i < len(cum) - 1:
                i += 1
            pri, host, tag, msg, h = fns[i]()
            per_type[names[i]] += 1
            if tag:
                line = "%s%s %s %s %s\n" % ("" if a.no_pri else pri, clock.rfc, host, tag, msg)
            else:
                line = "%s%s %s %s\n" % ("" if a.no_pri else pri, clock.rfc, host, msg)
            buf.append(line)
            nbytes += len(line)
            nlines += 1
            counts[h] = counts.get(h, 0) + 1
            if len(buf) >= 50000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))

    def count(bit):
        return sum(v for k, v in counts.items() if k & bit)

    truth = {
        "lines": nlines, "bytes": nbytes,
        "lines_ip_hit": count(HIT_IP), "lines_domain_hit": count(HIT_DOM), "lines_hash_hit": count(HIT_HASH),
        "lines_any_hit": count(7), "per_type": per_type, "seed": a.seed, "hit_rate": a.hit_rate,
        "hash_hit_rate": a.hash_hit_rate,
        "notes": "a line counts once per kind however many hits of that kind it holds",
    }
    if not a.no_gzip:
        with open(out + ".gz", "wb") as z:
            subprocess.run(["gzip", "-6", "-n", "-c", out], stdout=z, check=True)
        truth["gz_bytes"] = os.path.getsize(out + ".gz")
    with open(out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
