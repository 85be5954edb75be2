import Observations
import Testing
@testable import LogReading

/// One way servers' logs write an address: a line, the addresses the scanner must find
/// in it (in Cairn's text form, in the order found), and what it must not find.
struct NotationCase: CustomStringConvertible, Sendable {
    var notation: String
    var text: String
    var addresses: [String]
    var absent: [String] = []
    var description: String { "\(notation): \(text)" }
}

let notationCases: [NotationCase] = [
    // A port after a dot: dante (`1.2.3.4.50550`), tcpdump (`IP 1.2.3.4.80 > …`).
    NotationCase(
        notation: "IPv4.port (dante)",
        text: "danted[1]: info: block(1): tcp/accept ]: 192.0.2.10.50550 0.0.0.0.1080: error after reading 3 bytes",
        addresses: ["192.0.2.10", "0.0.0.0"]),
    NotationCase(
        notation: "IPv4.port (tcpdump)", text: "IP 10.0.0.1.80 > 192.0.2.7.50550: Flags [S], seq 1",
        addresses: ["10.0.0.1", "192.0.2.7"]),
    NotationCase(
        notation: "IPv4.port after user%method@ (dante)",
        text: "pass(1): tcp/accept [: username%alice@192.0.2.22.50550 192.0.2.23.1080",
        addresses: ["192.0.2.22", "192.0.2.23"]),
    NotationCase(
        notation: "host:IPv4::port (qmail tcpserver)",
        text: "tcpserver: ok 1234 mail.example.com:10.0.0.1:25 remote.example.net:192.0.2.24::54321",
        addresses: ["10.0.0.1", "192.0.2.24"]),
    NotationCase(notation: "IPv4.port, full stop", text: "from 198.51.100.3.65535.", addresses: ["198.51.100.3"]),
    NotationCase(notation: "IPv4.port in a word", text: "peer=host-192.0.2.4.22_x", addresses: ["192.0.2.4"]),
    NotationCase(
        notation: "IPv4.port in a long word",
        text: "conn_192.0.2.5.50550_to_198.51.100.6.443_established",
        addresses: ["192.0.2.5", "198.51.100.6"]),
    // Decided: five numbers whose first four are octets and whose last is a port are an
    // address and its port, a version string among them (docs/fields.md).
    NotationCase(notation: "five numbers", text: "version 1.2.3.4.5 installed", addresses: ["1.2.3.4"]),
    NotationCase(
        notation: "not a port", text: "1.2.3.4.65536 1.2.3.4.080 1.2.3.4.123456 1.2.3.4.5a v1.2.3.4.5",
        addresses: [], absent: ["1.2.3.4"]),
    NotationCase(
        notation: "six or more numbers (OIDs)", text: "oid 1.3.6.1.4.1.2021.10.1.3.1 and 1.2.3.4.5.6 or 10.0.0.1.2.80",
        addresses: [], absent: ["1.3.6.1", "1.2.3.4", "10.0.0.1"]),
    NotationCase(notation: "dates and times", text: "on 2024.01.15.10 at 15.01.2024.10 12:30:45.123", addresses: []),
    // Separators before an IPv4 address.
    NotationCase(
        notation: "dovecot auth(user,address,session)",
        text: "dovecot: auth: passwd-file(user@example.com,192.0.2.110,<sasl:login>): unknown user",
        addresses: ["192.0.2.110"]),
    NotationCase(
        notation: "dovecot auth(user@domain,address,sasl:mech)",
        text: "auth(user@example.com,192.0.2.110,sasl:login): Password mismatch", addresses: ["192.0.2.110"]),
    NotationCase(
        notation: "after = ( @ < / : ' \" ,",
        text: "rhost=192.0.2.1 (192.0.2.2) ?@192.0.2.3 <192.0.2.4> host:/192.0.2.5 ip4:192.0.2.6 '192.0.2.7' "
            + "\"192.0.2.8\",192.0.2.9",
        addresses: [
            "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7", "192.0.2.8",
            "192.0.2.9",
        ]),
    NotationCase(
        notation: "IPv4 address literal and ports",
        text: "helo=<[192.0.2.11]> H=(x) [192.0.2.12]:25 from 192.0.2.13:50550 proftpd (192.0.2.14[192.0.2.14])",
        addresses: ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14", "192.0.2.14"]),
    NotationCase(
        notation: "BIND addr#port", text: "client @0x7f7c95c76968 192.0.2.15#60683 (example.com): query denied",
        addresses: ["192.0.2.15"]),
    NotationCase(
        notation: "strongswan addr[port]", text: "received packet: from 192.0.2.16[500] to 2001:db8::16[4500]",
        addresses: ["192.0.2.16", "2001:db8::16"]),
    // RFC 5321 IPv6 address literals (postfix HELO, sendmail relay=, exim).
    NotationCase(notation: "[IPv6:…]", text: "helo=<[IPv6:2001:DB8::1]>", addresses: ["2001:db8::1"]),
    NotationCase(
        notation: "[IPv6:::ffff:a.b.c.d]", text: "relay=[IPv6:::ffff:192.0.2.17] (may be forged)",
        addresses: ["192.0.2.17", "::ffff:c000:211"]),
    NotationCase(notation: "[ipv6:…] lower case", text: "from [ipv6:fe80::17%eth0]", addresses: ["fe80::17"]),
    NotationCase(
        notation: "label:IPv6", text: "v6(en0:2607:f140:6000:8::1) client:2001:db8::18 ip6:2001:db8::/32",
        addresses: ["2607:f140:6000:8::1", "2001:db8::18", "2001:db8::"]),
    NotationCase(
        notation: "identifiers stay identifiers",
        text: "CCFile::captureLogRun std::string Class::add IPv6 en0::IO80211Interface eth0:52:54:00:12:34:56",
        addresses: [], absent: ["::add", "::1"]),
    // Decided: the unspecified address before a port is not reported (never an indicator).
    NotationCase(notation: "unspecified:port", text: "binding to port [/0:0:0:0:0:0:0:0:2181", addresses: []),
    // IPv6 with ports, zones and embedded IPv4.
    NotationCase(
        notation: "[IPv6]:port and %zone", text: "to [2001:db8::2]:443 from [fe80::1%eth0]:22 and fe80::2%25en0",
        addresses: ["2001:db8::2", "fe80::1", "fe80::2"]),
    NotationCase(notation: "IPv6#port", text: "client 2001:db8::3#53: query denied", addresses: ["2001:db8::3"]),
    NotationCase(
        notation: "IPv6.port (tcpdump, dante)", text: "IP6 2001:db8::4.50550 > 2001:db8::5.80: Flags [S]",
        addresses: ["2001:db8::4", "2001:db8::5"]),
    // Decided: a last group of five digits is a port; one of up to four stays a group.
    NotationCase(
        notation: "IPv6:port, five-digit port", text: "haproxy: 2001:db8::1234:58430 [07/Dec/2026:02:11:21.123]",
        addresses: ["2001:db8::1234"], absent: ["2001:db8::1:2345:8430"]),
    NotationCase(
        notation: "IPv6:port, ambiguous", text: "[client 2001:db8::1:443] and 2001:db8::1234:5843",
        addresses: ["2001:db8::1:443", "2001:db8::1234:5843"], absent: ["2001:db8::1"]),
    NotationCase(
        notation: "IPv6:port, nine groups", text: "from 2001:db8:1:2:3:4:5:6:443 ok",
        addresses: ["2001:db8:1:2:3:4:5:6"]),
    NotationCase(
        notation: "IPv4-mapped and its port", text: "from ::ffff:192.0.2.19:8080 and ::ffff:192.0.2.20.50550",
        addresses: ["192.0.2.19", "192.0.2.20", "::ffff:c000:213", "::ffff:c000:214"]),
    NotationCase(
        notation: "IPv6 with embedded IPv4", text: "nat64 64:ff9b::192.0.2.21 and 2001:db8::1.2.3.4",
        addresses: ["192.0.2.21", "1.2.3.4", "64:ff9b::c000:215", "2001:db8::102:304"]),
    NotationCase(
        notation: "IPv6 after = ( @ < / ' ,",
        text: "rip=2001:db8::6, (2001:db8::7) sip:100@2001:db8::8 <2001:db8::9> /2001:db8::a/ '::1',2001:db8::b",
        addresses: ["2001:db8::6", "2001:db8::7", "2001:db8::8", "2001:db8::9", "2001:db8::a", "::1", "2001:db8::b"]),
]

/// The text form the notation tests compare: addresses only.
func addressText(_ found: TextObservable) -> String? {
    switch found {
    case .ipv4(let address, _): address.description
    case .ipv6(let address, _): address.description
    default: nil
    }
}

@Test(arguments: notationCases)
func extractsAddressNotations(_ testCase: NotationCase) {
    let bytes = Array(testCase.text.utf8)
    var found: [String] = []
    var twin: [String] = []
    var misplaced: [String] = []
    bytes.withUnsafeBytes { text in
        TextScanner.scan(bytes.span, in: 0..<text.count) { observable in
            guard let address = addressText(observable) else { return }
            found.append(address)
            // An IPv4 address's range holds its text.
            if case .ipv4(_, let range) = observable, String(decoding: text[range], as: UTF8.self) != address {
                misplaced.append(address)
            }
        }
        ByteAtATimeScanner.scan(text, in: 0..<text.count) { observable in
            if let address = addressText(observable) { twin.append(address) }
        }
    }
    #expect(found == testCase.addresses)
    #expect(found.filter(testCase.absent.contains).isEmpty)
    #expect(misplaced.isEmpty)
    #expect(twin == found, "the byte-at-a-time twin")
}

/// Each notation at every offset of the first two blocks, as the block scanner meets it
/// in a longer line: the same addresses.
@Test(arguments: notationCases)
func extractsAddressNotationsAtEveryOffset(_ testCase: NotationCase) {
    for padding in 0..<33 {
        let bytes = Array((String(repeating: " ", count: padding) + testCase.text + " tail").utf8)
        var found: [String] = []
        bytes.withUnsafeBytes { text in
            TextScanner.scan(bytes.span, in: 0..<text.count) { if let address = addressText($0) { found.append(address) } }
        }
        #expect(found == testCase.addresses, "after \(padding) spaces")
    }
}

/// Whole syslog lines as fail2ban's test logs have them, through the reader: the
/// offending address is observed (whatever field the line gives it).
@Test(arguments: [
    (
        "dovecot: auth-worker(1): pam(user@example.com,192.0.2.110,sasl:login): pam_authenticate() failed",
        "192.0.2.110"
    ),
    ("dovecot: auth: passwd-file(user@example.com,192.0.2.111,<Bp3k2Cq>): unknown user", "192.0.2.111"),
    (
        "danted[1]: info: block(1): tcp/accept ]: 192.0.2.112.50550 0.0.0.0.1080: error after reading 3 bytes",
        "192.0.2.112"
    ),
    (
        "postfix/smtpd[2]: warning: Illegal address syntax from unknown[2001:db8::113] in MAIL command: <[IPv6:2001:DB8::114]>",
        "2001:db8::114"
    ),
    (
        "sendmail[3]: x: ruleset=check_rcpt, arg1=<u@example.com>, relay=[IPv6:2001:db8::115], reject=550",
        "2001:db8::115"
    ),
    (
        "named[4]: client @0x7f7c95c76968 192.0.2.116#60683 (example.com): query (cache) 'example.com/A/IN' denied",
        "192.0.2.116"
    ),
    (
        "haproxy[5]: 2001:db8::117:58430 [07/Dec/2026:02:11:21.123] fe be/<NOSRV> -1/-1/-1/-1/0 401 0 - - PR-- 0/0/0/0/0 0/0",
        "2001:db8::117"
    ),
] as [(String, String)])
func readerSightsNotationsOnSyslogLines(message: String, address: String) throws {
    let (seen, _) = try Fixture.observe(Array("Mar  5 21:44:43 srv \(message)\n".utf8))
    #expect(seen.map(\.value.description).contains(address), "\(seen)")
}
