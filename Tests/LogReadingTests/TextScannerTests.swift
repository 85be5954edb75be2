import Observations
import Testing
@testable import LogReading

struct ScanCase: CustomStringConvertible, Sendable {
    var text: String
    /// "ip:…", "domain:…", "hash:…" in order of appearance.
    var found: [String]
    var description: String { text }
}

let md5 = "d41d8cd98f00b204e9800998ecf8427e"
let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

let scanCases: [ScanCase] = [
    ScanCase(text: "Invalid user pascal from 35.188.49.176 port 53502", found: ["ip:35.188.49.176"]),
    ScanCase(text: "proto UDP, 186.26.78.68:44355->81.82.202.145:53, len 65", found: ["ip:186.26.78.68", "ip:81.82.202.145"]),
    ScanCase(text: "SRC=195.54.160.107 DST=51.15.166.67 LEN=40", found: ["ip:195.54.160.107", "ip:51.15.166.67"]),
    ScanCase(
        text: "refused connect from ::ffff:192.168.1.1 (192.168.1.2)",
        found: ["ip:192.168.1.1", "ip:192.168.1.2", "ip6:::ffff:c0a8:101"]),
    ScanCase(text: "client: fdfd:ace:ace:7::17a, server: ", found: ["ip6:fdfd:ace:ace:7::17a"]),
    ScanCase(text: "from 2001:DB8:0:0:0:0:0:1 and fe80::1%eth0 to [2001:db8::2]:443.", found: ["ip6:2001:db8::1", "ip6:fe80::1", "ip6:2001:db8::2"]),
    ScanCase(text: "from fe80::abcd: error, to 2001:db8::3.", found: ["ip6:fe80::abcd", "ip6:2001:db8::3"]),
    ScanCase(text: "v6(en0+:2607:f140:6000:8:c6b3:1ff:fecd:467f) at :fe80::2 :::1", found: ["ip6:2607:f140:6000:8:c6b3:1ff:fecd:467f", "ip6:fe80::2"]),
    ScanCase(
        text: "listening on :: at 12:01:01 MAC=00:08:a2:0c:1f:12:00:c8:8b:e2:d6:87:08:00 std::string 1:2::3::4 12345::1 [/0:0:0:0:0:0:0:0:2181",
        found: []),
    ScanCase(text: "Connection from 10.0.0.1.", found: ["ip:10.0.0.1"]),
    ScanCase(text: "[/10.10.34.11:3888:QuorumCnxManager", found: ["ip:10.10.34.11"]),
    // Five numbers, the last a port: an address and its port (AddressNotationTests).
    ScanCase(text: "version 1.2.3.4.5 installed", found: ["ip:1.2.3.4"]),
    ScanCase(text: "999.1.1.1 and 1.1.1.256", found: []),
    ScanCase(text: "01.2.3.4 1.2.3 v1.2.3.4 1.2.3.4x", found: []),
    ScanCase(text: "0.0.0.0 255.255.255.255", found: ["ip:0.0.0.0", "ip:255.255.255.255"]),
    ScanCase(
        text: "see http://www.example.com/path?q=1", found: ["url:http://www.example.com/path?q=1", "domain:www.example.com"]),
    ScanCase(
        text: "from=<first.last@mail.example.org>", found: ["email:first.last@mail.example.org", "domain:mail.example.org"]),
    ScanCase(text: "refused connect from example.com (192.168.1.1)", found: ["domain:example.com", "ip:192.168.1.1"]),
    ScanCase(text: "proxy.cse.cuhk.edu.hk:5070 open", found: ["domain:proxy.cse.cuhk.edu.hk"]),
    ScanCase(text: "query 'ricreig.com/NS/IN' denied", found: ["domain:ricreig.com"]),
    ScanCase(text: "resolved Example.COM. ok", found: ["domain:Example.COM"]),
    ScanCase(text: "a..b.com x.y1 host.c localhost", found: []),
    ScanCase(text: "file -AirPort_Logs-001.txt_ and --evil.example.net--", found: ["domain:AirPort_Logs-001.txt", "domain:evil.example.net"]),
    ScanCase(text: "md5 \(md5) done", found: ["hash:\(md5)"]),
    ScanCase(text: "sha1=\(sha1.uppercased()),", found: ["hash:\(sha1.uppercased())"]),
    ScanCase(text: "sum \(sha256)", found: ["hash:\(sha256)"]),
    ScanCase(text: "file-\(md5).bin", found: ["hash:\(md5)", "domain:file-\(md5).bin"]),
    ScanCase(text: "33 hex \(md5)a and 31 \(md5.dropLast())", found: []),
    ScanCase(text: "0x\(md5) g\(md5)", found: []),
    ScanCase(text: "32 digits 12345678901234567890123456789012", found: ["hash:12345678901234567890123456789012"]),
    ScanCase(text: "", found: []),
]

func describe(_ found: TextObservable, in text: UnsafeRawBufferPointer) -> String {
    switch found {
    case .ipv4(let address, let range):
        "ip:\(address)" + (String(decoding: text[range], as: UTF8.self) == "\(address)" ? "" : " MISPLACED")
    case .ipv6(let address, _): "ip6:\(address)"
    case .url(let range): "url:" + String(decoding: text[range], as: UTF8.self)
    case .email(let range): "email:" + String(decoding: text[range], as: UTF8.self)
    case .domain(let range): "domain:" + String(decoding: text[range], as: UTF8.self)
    case .hexDigest(let range): "hash:" + String(decoding: text[range], as: UTF8.self)
    }
}

/// Cases that need the public suffix list (Debian's `publicsuffix`).
let suffixCases: [ScanCase] = [
    ScanCase(
        text: "config.php libc.so.6 dfs.DataNode chrome.exe workers2.properties AirPort_Logs-001.txt co.uk",
        found: []),
    ScanCase(text: "bundle com.apple.ncplugin.weather org.example.shop net.example.com", found: []),
    ScanCase(text: "to=<billing@paypa1-login.test> x.onion", found: ["email:billing@paypa1-login.test", "domain:paypa1-login.test", "domain:x.onion"]),
    ScanCase(
        text: "to evil.example.co.uk via cdn.xn--p1ai and user.github.io, dyndns.org",
        found: ["domain:evil.example.co.uk", "domain:cdn.xn--p1ai", "domain:user.github.io", "domain:dyndns.org"]),
    ScanCase(text: "GET HTTPS://Example.com/a.php?x=(1)), done", found: ["url:HTTPS://Example.com/a.php?x=(1)", "domain:Example.com"]),
    ScanCase(
        text: "\"hxxp://198.51.100.7:8080/x.exe\" ftp://[2001:db8::5]/pub.",
        found: ["url:hxxp://198.51.100.7:8080/x.exe", "ip:198.51.100.7", "url:ftp://[2001:db8::5]/pub", "ip6:2001:db8::5"]),
    ScanCase(text: "(see http://example.org/wiki/A_(b))", found: ["url:http://example.org/wiki/A_(b)", "domain:example.org"]),
    ScanCase(text: "http:// x http://-bad mailto:http", found: []),
    ScanCase(
        text: "to=<a.b+tag@Mail.Example.com>, from=root@localhost nobody@config.php @example.com",
        found: ["email:a.b+tag@Mail.Example.com", "domain:Mail.Example.com", "domain:example.com"]),
]

@Test(.enabled(if: PublicSuffixList.system != nil, "the public suffix list is absent (Debian package publicsuffix)"),
      arguments: suffixCases)
func scansWithThePublicSuffixList(_ testCase: ScanCase) throws {
    let suffixes = try #require(PublicSuffixList.system)
    let bytes = Array(testCase.text.utf8)
    var found: [String] = []
    bytes.withUnsafeBytes { text in
        TextScanner.scan(bytes.span, in: 0..<text.count, suffixes: suffixes) { found.append(describe($0, in: text)) }
    }
    #expect(found == testCase.found)
}

@Test(arguments: scanCases)
func scansObservables(_ testCase: ScanCase) {
    let bytes = Array(testCase.text.utf8)
    var found: [String] = []
    bytes.withUnsafeBytes { text in
        TextScanner.scan(bytes.span, in: 0..<text.count) { found.append(describe($0, in: text)) }
    }
    #expect(found == testCase.found)
}

@Test func scansOnlyTheGivenRange() {
    let bytes = Array("host.example.com 192.0.2.1 tail.example.net".utf8)
    var found: [String] = []
    bytes.withUnsafeBytes { text in
        TextScanner.scan(bytes.span, in: 17..<26) { found.append(describe($0, in: text)) }
    }
    #expect(found == ["ip:192.0.2.1"])
}

@Test func overlongDomainsAndLabelsAreRejected() {
    let longLabel = String(repeating: "x", count: 64) + ".com"
    let longName = Array(repeating: "abcdefghi", count: 26).joined(separator: ".") + ".com"
    for text in [longLabel, longName] {
        var found: [String] = []
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in TextScanner.scan(bytes.span, in: 0..<raw.count) { found.append(describe($0, in: raw)) } }
        #expect(found == [], "\(text.count) bytes")
    }
}

@Test func observationsCarryFieldsHostAndLocator() throws {
    let text = "first line\nMar  5 21:44:43 srv scanlogd: 192.0.2.123 to evil.example.net sum \(md5)\n"
    let (seen, summary) = try Fixture.observe(Array(text.utf8))
    #expect(summary.lines == 2)
    #expect(seen.map(\.field) == [.logIP, .logDomain, .logHash])
    #expect(seen.map(\.value) == [.ipv4(IPv4Address(0xC000_027B)), .domain("evil.example.net"), .hexDigest(md5)])
    #expect(seen.allSatisfy { $0.host == "srv" && $0.line == 2 && $0.offset == 11 })
    #expect(seen.allSatisfy { $0.time.iso8601 == "2024-03-05T21:44:43Z" })
}

@Test(arguments: [
    ("kernel: IN=eth0 SRC=195.54.160.107 DST=51.15.166.67 LEN=40", ["log.src 195.54.160.107", "log.dst 51.15.166.67"]),
    ("ip6tables: SRC=2001:db8::1 DST=2001:db8::2 LEN=40", ["log.src 2001:db8::1", "log.dst 2001:db8::2"]),
    ("sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2", ["log.src 203.0.113.9"]),
    (
        "sshd[1]: refused connect from ::ffff:192.0.2.1 (192.0.2.1)",
        ["log.src 192.0.2.1", "log.ip 192.0.2.1", "log.src ::ffff:c000:201"]
    ),
    ("sshd[1]: pam_unix(sshd:auth): authentication failure; rhost=198.51.100.4  user=root", ["log.src 198.51.100.4"]),
    ("postfix/smtpd[2]: connect from unknown[192.0.2.33]", ["log.src 192.0.2.33"]),
    ("postfix/smtpd[2]: 4F1: client=mail.example.net[192.0.2.34]", ["log.domain mail.example.net", "log.src 192.0.2.34"]),
    ("nginx: open() failed, client: 192.0.2.35, server: x", ["log.src 192.0.2.35"]),
    ("named[3]: resolver 192.0.2.36#53 to 192.0.2.37", ["log.ip 192.0.2.36", "log.ip 192.0.2.37"]),
    // Not pf's CSV shape: a version field that is not 4 or 6.
    ("filterlog: 5,,,1,em0,match,block,in,5,0x0,,64,0,0,DF,6,tcp,60,192.0.2.1,192.0.2.2,1,2", ["log.ip 192.0.2.1", "log.ip 192.0.2.2"]),
    ("filterlog: 5,,,1,em0,match,pass,out,4,0x0,,64,0,0,DF,17,udp,60,192.0.2.1,192.0.2.2,1,2", ["log.src 192.0.2.1", "log.dst 192.0.2.2"]),
] as [(String, [String])])
func tagsSourceAndDestination(message: String, expected: [String]) throws {
    let (seen, _) = try Fixture.observe(Array("Mar  5 21:44:43 srv \(message)\n".utf8))
    #expect(seen.map { "\($0.field.rawValue) \($0.value)" } == expected)
}
