#!/usr/bin/env python3
"""Writes SampleData/: small captures and syslogs in which Rules/ finds incidents.

Deterministic: the same bytes on every run (fixed times, fixed seed, gzip mtime 0).
Standard library only. Run from the project root:  python3 scripts/make-sample-data.py
(`--out DIR` writes elsewhere; the tests use it to check the committed files.)

What is planted (times UTC, 2026-03-02):
  office-lan.pcap (Ethernet, pcap little-endian, microseconds)
    10.0.0.23  09:00 resolves cdn.update-check.example, then beacons to 203.0.113.45
               every 5 minutes until 09:25 and once to 198.51.100.200  -> one incident, 3 indicators
    10.0.0.57  (VLAN 20) 10:15 resolves paypa1-login.test; again at 12:40 -> two incidents (gap > 30 min)
    plus benign DNS, HTTPS and NTP traffic that matches nothing
  branch-v6.pcapng (pcapng, Ethernet, IPv6)
    fd00:20::17 11:02 talks to 2001:db8:bad::66 (in 2001:db8:bad::/48)  -> one incident
  syslog/mail-gw.log.gz (gzip, two members, RFC 3339 timestamps as rsyslog writes them)
    mail-gw    13:00-13:10 sshd failures from 203.0.113.45, a message for a
               paypa1-login.test recipient, a malware hash in a clamd line      -> one incident
  syslog/fw01.log (plain, RFC 5424)
    fw01       09:05 logs 10.0.0.23 -> 203.0.113.45                           -> one incident
"""
import gzip
import io
import os
import random
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "SampleData")
BASE = 1772442000  # 2026-03-02T09:00:00Z

rng = random.Random(20260302)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    ident = rng.randrange(65536)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def v6bytes(text: str) -> bytes:
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def ipv6(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, v6bytes(src), v6bytes(dst)) + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp_syn(sport: int, dport: int) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, rng.randrange(1 << 32), 0, 5 << 4, 0x02, 64240, 0, 0)


def dns_query(name: str, qtype: int = 1) -> bytes:
    header = struct.pack("!HHHHHH", rng.randrange(65536), 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    return header + qname + struct.pack("!HH", qtype, 1)


def ethernet(payload: bytes, ethertype: int = 0x0800, vlan: int = None) -> bytes:
    dst, src = bytes.fromhex("00163e0a0001"), bytes.fromhex("00163e0a0017")
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload
    return dst + src + struct.pack("!H", ethertype) + payload


def write_pcap(path: str, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame in packets:
            sec, usec = int(t), int(round((t - int(t)) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


def write_pcapng(path: str, packets):
    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack("<II", kind, length) + body + struct.pack("<I", length)

    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(0x00000001, struct.pack("<HHI", 1, 0, 65535)))
        for t, frame in packets:
            micros = int(round(t * 1e6))
            f.write(block(0x00000006, struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF,
                                                   len(frame), len(frame)) + frame))


def office_lan():
    packets = []
    resolver = "10.0.0.2"
    # Benign background: lookups and HTTPS of two workstations all morning.
    for minute in range(0, 240, 7):
        host = rng.choice(["10.0.0.23", "10.0.0.31", "10.0.0.57"])
        name = rng.choice(["www.debian.org", "security.debian.org", "intranet.corp.example.net", "ntp.ubuntu.com"])
        t = BASE + minute * 60 + rng.random()
        packets.append((t, ethernet(ipv4(host, resolver, 17, udp(rng.randrange(1024, 65535), 53, dns_query(name))))))
        packets.append((t + 0.05, ethernet(ipv4(host, "151.101.2.132", 6, tcp_syn(rng.randrange(1024, 65535), 443)))))
    # 10.0.0.23: resolves the C2 domain, then beacons.
    t = BASE + 5
    packets.append((t, ethernet(ipv4("10.0.0.23", resolver, 17, udp(53001, 53, dns_query("cdn.update-check.example"))))))
    for beacon in range(6):
        bt = BASE + 6 + beacon * 300
        packets.append((bt, ethernet(ipv4("10.0.0.23", "203.0.113.45", 6, tcp_syn(49200 + beacon, 443)))))
    packets.append((BASE + 1200, ethernet(ipv4("10.0.0.23", "198.51.100.200", 6, tcp_syn(49300, 8080)))))
    # 10.0.0.57 on VLAN 20: two lookups of a phishing domain, 2 h 25 min apart.
    for offset in (4500, 13200):
        packets.append((BASE + offset, ethernet(
            ipv4("10.0.0.57", resolver, 17, udp(53100 + offset % 7, 53, dns_query("paypa1-login.test"))), vlan=20)))
    packets.sort(key=lambda p: p[0])
    write_pcap(os.path.join(OUT, "office-lan.pcap"), packets)


def branch_v6():
    packets = []
    for i in range(20):
        t = BASE + 7320 + i * 2.5
        packets.append((t, ethernet(ipv6("fd00:20::17", "2001:db8:bad::66", 6, tcp_syn(50000 + i, 443)), 0x86DD)))
        packets.append((t + 1, ethernet(ipv6("fd00:20::18", "2a00:1450:4001:80b::200e", 17,
                                             udp(51000 + i, 443, b"\0" * 32)), 0x86DD)))
    write_pcapng(os.path.join(OUT, "branch-v6.pcapng"), packets)


def iso(t: float) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def mail_gw():
    start = BASE + 4 * 3600
    first, second = [], []
    for i in range(6):
        t = start + i * 40
        first.append(f"{iso(t)} mail-gw sshd[{4100 + i}]: Failed password for invalid user admin from 203.0.113.45 port {40000 + i} ssh2")
        first.append(f"{iso(t + 3)} mail-gw sshd[{4100 + i}]: Connection closed by 192.0.2.10 port {41000 + i} [preauth]")
    second.append(f"{iso(start + 400)} mail-gw postfix/smtp[7781]: 4F1A2B3C: to=<billing@paypa1-login.test>, relay=none, status=deferred")
    second.append(f"{iso(start + 520)} mail-gw clamd[611]: /var/spool/quarantine/invoice.zip: Win.Trojan.Agent FOUND sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    second.append(f"{iso(start + 600)} mail-gw postfix/smtpd[7790]: connect from mail.debian.org[82.195.75.100]")
    data = gzip.compress(("\n".join(first) + "\n").encode(), mtime=0) + \
        gzip.compress(("\n".join(second) + "\n").encode(), mtime=0)
    os.makedirs(os.path.join(OUT, "syslog"), exist_ok=True)
    with open(os.path.join(OUT, "syslog", "mail-gw.log.gz"), "wb") as f:
        f.write(data)


def fw01():
    lines = []
    for i, (src, dst, port) in enumerate([("10.0.0.31", "151.101.2.132", 443), ("10.0.0.23", "203.0.113.45", 443),
                                          ("10.0.0.31", "91.189.91.157", 123)]):
        t = BASE + 300 + i * 20
        stamp = iso(t).replace("+00:00", "Z")
        lines.append(f"<134>1 {stamp} fw01 filterlog 2211 - - 5,,,1000000103,igb1,match,pass,out,4,0x0,,64,0,0,DF,6,tcp,60,{src},{dst},{41000 + i},{port},0,S")
    with open(os.path.join(OUT, "syslog", "fw01.log"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        OUT = sys.argv[2]
    os.makedirs(OUT, exist_ok=True)
    office_lan()
    branch_v6()
    mail_gw()
    fw01()
    print("wrote", OUT)
