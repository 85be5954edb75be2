#!/usr/bin/env python3
# Kept in Cairn's tree from ../shared/bench/gen (the reference generators the CERT's
# benchmarks use), so `make bench-data` works from a clone; outputs are unchanged.
"""Write a deterministic, realistic mixed Ethernet capture (pcap + pcapng).

Traffic model (per flow; ~64 flows interleaved at any time):
  DNS over UDP (query + response, A/AAAA/HTTPS, CNAME chains, EDNS0, NXDOMAIN)
  HTTP/1.1 over TCP 80 (handshake, 1-3 requests, responses carrying small files,
      some of which are planted 'malware' whose hashes are indicators)
  TLS 1.3 over TCP 443 (ClientHello with SNI, ServerHello, encrypted records, bulk)
  other TCP (ssh, smb, rdp, db, smtp, high ports: bulk payload both ways)
  inbound SYN scans (SYN -> RST), other UDP (NTP, QUIC-like), ICMP echo, ARP
~10% of flows are IPv6, ~8% carry an 802.1Q tag, ~1% are QinQ. IPv4 header, TCP and
UDP checksums are correct. Segments use MSS 1448 (v4) / 1428 (v6) with TCP
timestamps, so full frames are 1514 bytes. A ground-truth JSON is written next to
the capture (<pcap>.truth.json) with the exact number of packets that carry a
planted indicator in each place an engine is expected to look.

Requires world.json from gen_indicators.py in --data.
"""
import argparse
import json
import os
import random
import struct
import sys

sys.dont_write_bytecode = True   # keep the repo free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (DEFAULT_DATA, WORDS, file_hashes, ip4, load_world, planted_file,
                    skewed_index)

# tags (ground truth bits)
IPHIT, DNSQ, DNSR, CH, HTTPREQ, DOMHIT, FILEHIT, V6, VLAN, HTTPRESP = (1 << i for i in range(10))
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
LE = sys.byteorder == "little"
_mv = memoryview


def sum16(b):
    """Ones' complement partial sum of b in *native* word order."""
    if len(b) & 1:
        b = bytes(b) + b"\0"
    return sum(_mv(b).cast("H"))


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def csum_bytes(s):
    """Checksum field bytes (network order) from a native-order partial sum."""
    return struct.pack("<H" if LE else ">H", (~fold(s)) & 0xFFFF)


class Out:
    def __init__(self, pcap, pcapng):
        self.f = open(pcap, "wb")
        self.g = open(pcapng, "wb") if pcapng else None
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        if self.g:
            self.g.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
            self.g.write(struct.pack("<IIHHII", 1, 20, 1, 0, 262144, 20))
        self.b, self.gb = [], []
        self.n = 0
        self.bytes = 0

    def write(self, ts, frame):
        L = len(frame)
        if L < 60:
            frame += b"\0" * (60 - L)
            L = 60
        self.b.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, L, L))
        self.b.append(frame)
        if self.g:
            pad = (-L) & 3
            blen = 32 + L + pad
            self.gb.append(struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, L, L))
            self.gb.append(frame)
            self.gb.append(b"\0" * pad + struct.pack("<I", blen))
        self.n += 1
        self.bytes += L
        if len(self.b) > 20000:
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.b))
        self.b = []
        if self.g:
            self.g.write(b"".join(self.gb))
            self.gb = []

    def close(self):
        self.flush()
        self.f.close()
        if self.g:
            self.g.close()


def mac_of(ipb):
    return b"\x02" + bytes(ipb[-5:]) if len(ipb) >= 5 else b"\x02\x00" + bytes(ipb)


GW_MAC = bytes.fromhex("001b213a4f01")


class Side:
    """Builds frames from one endpoint to the other (IPv4 or IPv6, any L4)."""

    def __init__(self, l2, src, dst, v6, ttl, rng):
        self.l2, self.src, self.dst, self.v6, self.ttl = l2, src, dst, v6, ttl
        self.ipid = rng.getrandbits(16)
        self.ps = sum16(src) + sum16(dst)        # pseudo-header address part
        if not v6:
            # constant part of the IPv4 header sum (ver/ihl/tos, DF, ttl/proto added per call)
            self.hbase = sum16(struct.pack("!HH", 0x4500, 0x4000)) + self.ps
        self.ts = rng.getrandbits(31)
        self.flowlbl = rng.getrandbits(20)

    def ip(self, proto, l4len):
        if self.v6:
            return struct.pack("!IHBB", 0x60000000 | self.flowlbl, l4len, proto, self.ttl) + self.src + self.dst
        self.ipid = (self.ipid + 1) & 0xFFFF
        tot = 20 + l4len
        h = struct.pack("!HHBB", tot, self.ipid, self.ttl, proto)
        c = csum_bytes(self.hbase + sum16(h))
        return (b"\x45\x00" + h[:4] + b"\x40\x00" + h[4:] + c + self.src + self.dst)

    def l4(self, proto, hdr, payload):
        """hdr has its checksum field zeroed at bytes [cs:cs+2]."""
        n = len(hdr) + len(payload)
        s = self.ps + sum16(hdr) + sum16(payload) + sum16(struct.pack("!HH", proto, n) if not self.v6
                                                           else struct.pack("!IxxxB", n, proto))
        return n, s

    def tcp(self, sport, dport, seq, ack, flags, payload=b"", syn=False, tsecr=0, win=502):
        self.ts = (self.ts + 1) & 0xFFFFFFFF
        if syn:
            mss = 1440 if self.v6 else 1460
            opts = struct.pack("!BBHBBBBIIBBBB", 2, 4, mss, 4, 2, 8, 10, self.ts, tsecr, 1, 3, 3, 7)
            doff = 10
            win = 64240
        elif flags & RST:
            opts = b""
            doff = 5
            win = 0
        else:
            opts = struct.pack("!BBBBII", 1, 1, 8, 10, self.ts, tsecr)
            doff = 8
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          doff << 4, flags, win, 0, 0) + opts
        n, s = self.l4(6, hdr, payload)
        hdr = hdr[:16] + csum_bytes(s) + hdr[18:]
        return self.l2 + self.ip(6, n) + hdr + payload

    def udp(self, sport, dport, payload):
        n = 8 + len(payload)
        hdr = struct.pack("!HHHH", sport, dport, n, 0)
        _, s = self.l4(17, hdr, payload)
        c = csum_bytes(s)
        if c == b"\0\0":
            c = b"\xff\xff"
        return self.l2 + self.ip(17, n) + hdr[:6] + c + payload

    def icmp(self, typ, ident, seq, payload):
        proto = 58 if self.v6 else 1
        if self.v6:
            typ = 128 if typ == 8 else 129
        hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
        if self.v6:
            _, s = self.l4(58, hdr, payload)
        else:
            s = sum16(hdr) + sum16(payload)
        hdr = hdr[:2] + csum_bytes(s) + hdr[4:]
        return self.l2 + self.ip(proto, len(hdr) + len(payload)) + hdr + payload


# ------------------------------------------------------------ payloads ----
def dns_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def dns_query(qid, name, qtype, edns):
    q = dns_name(name) + struct.pack("!HH", qtype, 1)
    hdr = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0) if edns else b""
    return hdr + q + opt


def dns_response(rng, qid, name, qtype, addrs, nx, edns):
    q = dns_name(name) + struct.pack("!HH", qtype, 1)
    ans = []
    nptr = 0xC00C
    if nx:   # NXDOMAIN, no authority section (keeps it short)
        flags, an, ans_b = 0x8183, 0, b""
    else:
        flags = 0x8180
        if rng.random() < 0.3:
            cname = "edge-%d.%s" % (rng.randrange(64), rng.choice(("akamaiedge.net", "cloudfront.net",
                                                                    "fastly.net", "azureedge.net")))
            cn = dns_name(cname)
            ans.append(struct.pack("!HHHIH", 0xC00C, 5, 1, 300, len(cn)) + cn)
            nptr = 0xC000 | (12 + len(q) + 12)
        rt = 28 if qtype == 28 else 1
        for a in addrs:
            ans.append(struct.pack("!HHHIH", nptr, rt, 1, rng.choice((60, 300, 3600)), len(a)) + a)
        an = len(ans)
        ans_b = b"".join(ans)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0) if edns else b""
    hdr = struct.pack("!HHHHHH", qid, flags, 1, an, 0, 1 if edns else 0)
    return hdr + q + ans_b + opt


CIPHERS = struct.pack("!16H", 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9,
                      0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035, 0x00FF)
SIGALGS = struct.pack("!9H", 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201)


def client_hello(rng, sni):
    s = sni.encode()
    exts = [
        struct.pack("!HHHBH", 0, len(s) + 5, len(s) + 3, 0, len(s)) + s,
        b"\x00\x17\x00\x00", b"\xff\x01\x00\x01\x00",
        b"\x00\x0a\x00\x08\x00\x06\x00\x1d\x00\x17\x00\x18",
        b"\x00\x0b\x00\x02\x01\x00", b"\x00\x23\x00\x00",
        b"\x00\x10\x00\x0e\x00\x0c\x02h2\x08http/1.1",
        b"\x00\x05\x00\x05\x01\x00\x00\x00\x00",
        struct.pack("!HHH", 13, len(SIGALGS) + 2, len(SIGALGS)) + SIGALGS,
        b"\x00\x33\x00\x26\x00\x24\x00\x1d\x00\x20" + rng.randbytes(32),
        b"\x00\x2d\x00\x02\x01\x01", b"\x00\x2b\x00\x05\x04\x03\x04\x03\x03",
    ]
    ext = b"".join(exts)
    body_len = 2 + 32 + 33 + 2 + len(CIPHERS) + 2 + 2 + len(ext)
    if rng.random() < 0.5 and body_len + 8 <= 512:   # Chrome-style padding to 512
        padn = 512 - (body_len + 4) - 4
        ext += struct.pack("!HH", 21, padn) + b"\0" * padn
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
            + struct.pack("!H", len(CIPHERS)) + CIPHERS + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello(rng):
    ext = b"\x00\x2b\x00\x02\x03\x04" + b"\x00\x33\x00\x24\x00\x1d\x00\x20" + rng.randbytes(32)
    body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + b"\x13\x01\x00"
            + struct.pack("!H", len(ext)) + ext)
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"


UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Microsoft-CryptoAPI/10.0", "curl/7.88.1", "Wget/1.21.3", "python-requests/2.31.0",
    "Debian APT-HTTP/1.3 (2.6.1)", "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1)",
)
PATHS = (
    ("/", "text/html"), ("/index.html", "text/html"), ("/static/js/app.%x.js", "application/javascript"),
    ("/images/logo-%d.webp", "image/webp"), ("/download/setup_%d.exe", "application/octet-stream"),
    ("/api/v1/items?id=%d", "application/json"), ("/wp-content/uploads/2024/03/doc%d.pdf", "application/pdf"),
    ("/debian/pool/main/p/pkg%d.deb", "application/vnd.debian.binary-package"),
    ("/update/check?v=%d", "text/plain"), ("/favicon.ico", "image/x-icon"),
)


def lognorm_size(rng, median, sigma, lo, hi):
    import math
    v = int(median * math.exp(rng.gauss(0, sigma)))
    return max(lo, min(hi, v))


class Gen:
    def __init__(self, a, world):
        self.rng = rng = random.Random(a.seed)
        self.a = a
        self.w = world
        self.pool = rng.randbytes(1 << 22)
        self.ext4 = [struct.pack("!I", ip4(s)) for s in world["ext4"]]
        self.ext6 = [self._p6(s) for s in world["ext6"]]
        self.pl4 = [struct.pack("!I", ip4(s)) for s in world["planted_ipv4"]]
        self.pl6 = [self._p6(s) for s in world["planted_ipv6"]]
        self.good = world["good_domains"]
        self.pldom = world["planted_domains"]
        self.int4 = [struct.pack("!I", (10 << 24) | (1 << 16) | rng.getrandbits(16)) for _ in range(3000)]
        self.int6 = [bytes.fromhex("fd123456789a0001") + rng.randbytes(8) for _ in range(600)]
        self.srv4 = [struct.pack("!I", ip4("10.0.0.%d" % i)) for i in range(10, 40)]
        self.srv6 = [bytes.fromhex("fd123456789a0000000000000000") + bytes([0, i]) for i in range(10, 40)]
        self.res4 = [struct.pack("!I", ip4(s)) for s in ("10.0.0.53", "10.0.0.53", "10.0.0.54",
                                                         "8.8.8.8", "1.1.1.1", "9.9.9.9")]
        self.res6 = [bytes.fromhex("fd123456789a00000000000000000053"), bytes.fromhex("20014860486000000000000000008888")]
        self.files = a.files
        self.file_hashes = None

    @staticmethod
    def _p6(s):
        import ipaddress
        return ipaddress.IPv6Address(s).packed

    def payload(self, n):
        o = self.rng.randrange(len(self.pool) - n)
        return self.pool[o:o + n]

    # ---- endpoints ----
    def l2(self, src_mac, dst_mac, vlan, v6):
        et = b"\x86\xdd" if v6 else b"\x08\x00"
        return dst_mac + src_mac + vlan + et

    def endpoints(self, v6, kind):
        """Return (client_ip, server_ip, ip_hit) for 'out' (internal->external),
        'in' (external->internal) or 'dns' flows."""
        rng = self.rng
        hit = rng.random() < self.a.hit_rate
        if v6:
            inside = self.int6[skewed_index(rng, len(self.int6), 2)]
            if kind == "dns":
                return inside, rng.choice(self.res6), False
            ext = rng.choice(self.pl6) if hit else self.ext6[skewed_index(rng, len(self.ext6))]
            if kind == "in":
                return ext, rng.choice(self.srv6), hit
            return inside, ext, hit
        inside = self.int4[skewed_index(rng, len(self.int4), 2)]
        if kind == "dns":
            return inside, rng.choice(self.res4), False
        ext = rng.choice(self.pl4) if hit else self.ext4[skewed_index(rng, len(self.ext4))]
        if kind == "in":
            return ext, rng.choice(self.srv4), hit
        return inside, ext, hit

    def sides(self, cip, sip, v6):
        rng = self.rng
        r = rng.random()
        if r < 0.01:
            vlan = struct.pack("!HHHH", 0x88A8, 1000, 0x8100, rng.choice((10, 20, 30)))
        elif r < 0.09:
            vlan = struct.pack("!HH", 0x8100, rng.choice((10, 20, 100, 200)))
        else:
            vlan = b""
        cmac = mac_of(cip)
        c = Side(self.l2(cmac, GW_MAC, vlan, v6), cip, sip, v6, 64 if not v6 else 64, rng)
        s = Side(self.l2(GW_MAC, cmac, vlan, v6), sip, cip, v6, rng.choice((52, 55, 57, 116, 119)), rng)
        return c, s, (VLAN if vlan else 0) | (V6 if v6 else 0)

    # ---- TCP conversation ----
    def tcp_conv(self, c, s, sport, dport, msgs, v6, ending="fin"):
        rng = self.rng
        mss = 1428 if v6 else 1448
        cseq, sseq = rng.getrandbits(32), rng.getrandbits(32)
        yield c.tcp(sport, dport, cseq, 0, SYN, syn=True), 0
        yield s.tcp(dport, sport, sseq, cseq + 1, SYN | ACK, syn=True, tsecr=c.ts), 0
        cseq += 1
        sseq += 1
        yield c.tcp(sport, dport, cseq, sseq, ACK, tsecr=s.ts), 0
        for from_client, data, tag in msgs:
            if from_client:
                snd, rcv, sp, dp = c, s, sport, dport
            else:
                snd, rcv, sp, dp = s, c, dport, sport
            n = len(data)
            k = 0
            for off in range(0, n, mss):
                seg = data[off:off + mss]
                last = off + mss >= n
                if from_client:
                    fr = snd.tcp(sp, dp, cseq, sseq, ACK | (PSH if last else 0), seg, tsecr=rcv.ts)
                    cseq += len(seg)
                else:
                    fr = snd.tcp(sp, dp, sseq, cseq, ACK | (PSH if last else 0), seg, tsecr=rcv.ts)
                    sseq += len(seg)
                yield fr, (tag if off == 0 else 0)
                k += 1
                if k % 2 == 0 or last:
                    if from_client:
                        yield rcv.tcp(dp, sp, sseq, cseq, ACK, tsecr=snd.ts), 0
                    else:
                        yield rcv.tcp(dp, sp, cseq, sseq, ACK, tsecr=snd.ts), 0
        if ending == "rst":
            yield c.tcp(sport, dport, cseq, sseq, RST | ACK), 0
            return
        yield c.tcp(sport, dport, cseq, sseq, FIN | ACK, tsecr=s.ts), 0
        cseq += 1
        yield s.tcp(dport, sport, sseq, cseq, FIN | ACK, tsecr=c.ts), 0
        sseq += 1
        yield c.tcp(sport, dport, cseq, sseq, ACK, tsecr=s.ts), 0

    def name(self):
        rng = self.rng
        if rng.random() < self.a.hit_rate:
            return rng.choice(self.pldom), DOMHIT
        d = self.good[skewed_index(rng, len(self.good))]
        if rng.random() < 0.5:
            d = rng.choice(("www", "api", "cdn", "static", "img", "login", "update")) + "." + d
        return d, 0

    # ---- flows ----
    def flow_dns(self):
        rng = self.rng
        v6 = rng.random() < 0.10
        cip, sip, _ = self.endpoints(v6, "dns")
        c, s, base = self.sides(cip, sip, v6)
        name, dh = self.name()
        qtype = rng.choice((1, 1, 1, 28, 28, 65))
        edns = rng.random() < 0.7
        qid = rng.getrandbits(16)
        sport = rng.randint(1024, 65535)
        nx = bool(dh) and rng.random() < 0.3
        if qtype == 28:
            addrs = [rng.choice(self.ext6) for _ in range(rng.randint(1, 2))]
        elif qtype == 1:
            pool = self.pl4 if dh and rng.random() < 0.5 else self.ext4
            addrs = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
        else:
            addrs = []
        self.base = base
        yield c.udp(sport, 53, dns_query(qid, name, qtype, edns)), DNSQ | dh
        yield s.udp(53, sport, dns_response(rng, qid, name, qtype, addrs, nx, edns)), DNSR | dh

    def http_msgs(self, host, hit):
        rng = self.rng
        msgs = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            p, ctype = rng.choice(PATHS)
            if "%" in p:
                p = p % rng.randrange(1 << 16)
            method = "POST" if rng.random() < 0.08 else "GET"
            hosthdr = host + (":8080" if rng.random() < 0.02 else "")
            req = ("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
                   "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n" % (
                       method, p, hosthdr, rng.choice(UAS)))
            body = b""
            if method == "POST":
                body = ("id=%d&token=%x" % (rng.randrange(10**6), rng.getrandbits(64))).encode()
                req += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body)
            msgs.append((True, req.encode() + b"\r\n" + body, HTTPREQ | hit))
            ftag = 0
            r = rng.random()
            if r < 0.08:
                status, rbody = "304 Not Modified", b""
            elif r < 0.12:
                status, rbody = "404 Not Found", b"<html><body><h1>404 Not Found</h1></body></html>\n"
                ctype = "text/html"
            else:
                status = "200 OK"
                if rng.random() < self.a.file_rate:
                    k = rng.randrange(self.files)
                    rbody = planted_file(k)
                    ctype = "application/octet-stream"
                    ftag = FILEHIT
                else:
                    rbody = self.payload(lognorm_size(rng, 5000, 1.1, 200, 400000))
            hdr = ("HTTP/1.1 %s\r\nServer: nginx/1.22.1\r\nDate: Fri, 01 Mar 2024 12:%02d:%02d GMT\r\n"
                   "Content-Type: %s\r\nContent-Length: %d\r\nConnection: keep-alive\r\n"
                   "ETag: \"%x-%x\"\r\n\r\n" % (status, rng.randrange(60), rng.randrange(60), ctype,
                                                 len(rbody), rng.getrandbits(32), len(rbody)))
            msgs.append((False, hdr.encode() + rbody, HTTPRESP | ftag))
        return msgs

    def flow_http(self):
        rng = self.rng
        v6 = rng.random() < 0.10
        cip, sip, iphit = self.endpoints(v6, "out")
        c, s, base = self.sides(cip, sip, v6)
        host, dh = self.name()
        self.base = base | (IPHIT if iphit else 0)
        yield from self.tcp_conv(c, s, rng.randint(32768, 60999), rng.choice((80, 80, 80, 8080)),
                                 self.http_msgs(host, dh), v6)

    def tls_records(self, n):
        out = []
        while n > 0:
            k = min(n, 16401)
            out.append(b"\x17\x03\x03" + struct.pack("!H", k) + self.payload(k))
            n -= k
        return b"".join(out)

    def flow_tls(self):
        rng = self.rng
        v6 = rng.random() < 0.10
        cip, sip, iphit = self.endpoints(v6, "out")
        c, s, base = self.sides(cip, sip, v6)
        sni, dh = self.name()
        self.base = base | (IPHIT if iphit else 0)
        msgs = [(True, client_hello(rng, sni), CH | dh),
                (False, server_hello(rng) + self.tls_records(rng.randint(2500, 4500)), 0),
                (True, b"\x14\x03\x03\x00\x01\x01" + self.tls_records(53)
                 + self.tls_records(rng.randint(80, 600)), 0)]
        for _ in range(rng.choice((1, 1, 2, 3))):
            msgs.append((False, self.tls_records(lognorm_size(rng, 5000, 1.5, 100, 2_000_000)), 0))
            if rng.random() < 0.5:
                msgs.append((True, self.tls_records(rng.randint(80, 900)), 0))
        yield from self.tcp_conv(c, s, rng.randint(32768, 60999), 443, msgs, v6,
                                 "rst" if rng.random() < 0.05 else "fin")

    def flow_tcp_other(self):
        rng = self.rng
        v6 = rng.random() < 0.10
        inbound = rng.random() < 0.3
        cip, sip, iphit = self.endpoints(v6, "in" if inbound else "out")
        c, s, base = self.sides(cip, sip, v6)
        self.base = base | (IPHIT if iphit else 0)
        port = rng.choice((22, 22, 445, 3389, 5432, 3306, 25, 587, 993, 8443, 9001, 4444,
                           rng.randint(1024, 65535)))
        msgs = []
        if port == 22:
            msgs.append((False, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n", 0))
            msgs.append((True, b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n", 0))
        for _ in range(rng.randint(1, 12)):
            msgs.append((True, self.payload(lognorm_size(rng, 300, 1.2, 20, 20000)), 0))
            msgs.append((False, self.payload(lognorm_size(rng, 700, 1.4, 20, 200000)), 0))
        yield from self.tcp_conv(c, s, rng.randint(32768, 60999), port, msgs, v6,
                                 "rst" if rng.random() < 0.1 else "fin")

    def flow_scan(self):
        rng = self.rng
        v6 = rng.random() < 0.10
        cip, sip, iphit = self.endpoints(v6, "in")
        c, s, base = self.sides(cip, sip, v6)
        self.base = base | (IPHIT if iphit else 0)
        sport = rng.randint(1024, 65535)
        for _ in range(rng.randint(1, 6)):
            dport = rng.choice((22, 23, 80, 443, 445, 3389, 8080, 5900, rng.randint(1, 65535)))
            seq = rng.getrandbits(32)
            yield c.tcp(sport, dport, seq, 0, SYN, syn=True), 0
            yield s.tcp(dport, sport, 0, seq + 1, RST | ACK), 0

    def flow_udp_other(self):
        rng = self.rng
        v6 = rng.random() < 0.10
        cip, sip, iphit = self.endpoints(v6, "out")
        c, s, base = self.sides(cip, sip, v6)
        self.base = base | (IPHIT if iphit else 0)
        sport = rng.randint(32768, 60999)
        r = rng.random()
        if r < 0.4:   # NTP
            yield c.udp(123, 123, b"\x23" + b"\0" * 39 + self.payload(8)), 0
            yield s.udp(123, 123, b"\x24\x02\x00\xe7" + self.payload(44)), 0
        elif r < 0.9:   # QUIC-ish
            for i in range(rng.randint(4, 40)):
                if i % 3 == 2:
                    yield c.udp(sport, 443, b"\x40" + self.payload(rng.randint(30, 60))), 0
                else:
                    yield s.udp(443, sport, b"\x40" + self.payload(rng.randint(1000, 1350))), 0
        else:          # ICMP echo
            ident = rng.getrandbits(16)
            for i in range(rng.randint(1, 4)):
                data = self.payload(56)
                yield c.icmp(8, ident, i, data), 0
                yield s.icmp(0, ident, i, data), 0

    def flow_arp(self):
        rng = self.rng
        ip = self.int4[rng.randrange(len(self.int4))]
        mac = mac_of(ip)
        self.base = 0
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\0" * 6 + struct.pack("!I", ip4("10.1.0.1"))
        yield b"\xff" * 6 + mac + b"\x08\x06" + arp, 0

    FLOWS = (("dns", 0.46), ("http", 0.08), ("tls", 0.18), ("tcp", 0.08), ("scan", 0.12),
             ("udp", 0.07), ("arp", 0.01))

    def new_flow(self):
        r = self.rng.random()
        acc = 0.0
        for name, p in self.FLOWS:
            acc += p
            if r < acc:
                break
        g = getattr(self, "flow_" + ("tcp_other" if name == "tcp" else "udp_other" if name == "udp" else name))()
        # Run to the first yield lazily: the base tag is set on first next().
        return g


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA, help="dir with world.json; outputs go here")
    ap.add_argument("--out", default=None, help="pcap path (default DATA/traffic.pcap)")
    ap.add_argument("--pcapng", default=None, help="pcapng path (default DATA/traffic.pcapng; 'none' to skip)")
    ap.add_argument("-n", "--packets", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--hit-rate", type=float, default=0.01, help="share of flows using a planted IP / name")
    ap.add_argument("--file-rate", type=float, default=0.03, help="share of HTTP 200s serving a planted file")
    ap.add_argument("--concurrency", type=int, default=64)
    a = ap.parse_args()
    world = load_world(a.data)
    a.files = world["planted_files"]
    out = a.out or os.path.join(a.data, "traffic.pcap")
    ng = a.pcapng or os.path.join(a.data, "traffic.pcapng")
    if ng == "none":
        ng = None
    g = Gen(a, world)
    rng = g.rng
    w = Out(out, ng)
    ts = 1709294400 * 1000000   # 2024-03-01T12:00:00Z
    active = []
    for _ in range(a.concurrency):
        active.append([g.new_flow(), None])
    counts = {}
    while w.n < a.packets:
        i = rng.randrange(a.concurrency)
        slot = active[i]
        try:
            frame, tag = next(slot[0])
        except StopIteration:
            slot[0], slot[1] = g.new_flow(), None
            continue
        if slot[1] is None:
            slot[1] = g.base   # set by the flow generator before its first yield
        tag |= slot[1]
        counts[tag] = counts.get(tag, 0) + 1
        ts += 1 + int(rng.expovariate(1 / 40.0))
        w.write(ts, frame)
    w.close()

    def count(mask, need=0):
        return sum(v for k, v in counts.items() if k & mask == mask and (not need or k & need))

    truth = {
        "packets": w.n, "frame_bytes": w.bytes, "avg_frame": round(w.bytes / w.n, 1),
        "file_bytes_pcap": os.path.getsize(out),
        "ipv6_packets": count(V6), "vlan_packets": count(VLAN),
        "ip_hit_packets": count(IPHIT),
        "dns_queries": count(DNSQ), "dns_responses": count(DNSR),
        "dns_query_hits": count(DNSQ | DOMHIT), "dns_response_hits": count(DNSR | DOMHIT),
        "tls_client_hellos": count(CH), "tls_sni_hits": count(CH | DOMHIT),
        "http_requests": count(HTTPREQ), "http_host_hits": count(HTTPREQ | DOMHIT),
        "http_responses": count(HTTPRESP), "http_planted_file_responses": count(HTTPRESP | FILEHIT),
        "domain_hit_packets": count(DOMHIT),
        "seed": a.seed, "hit_rate": a.hit_rate,
        "notes": "hit counts are packets; ip_hit counts packets whose IP src or dst is a planted "
                 "indicator address (DNS answer rdata not counted); a packet may count in several rows",
    }
    if ng:
        truth["file_bytes_pcapng"] = os.path.getsize(ng)
    with open(out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
