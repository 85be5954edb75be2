import Observations
import Testing
@testable import CaptureDecoding

/// What `Craft.dnsQueryV4` and `Craft.dnsQueryV6` yield, whatever link layer carries them.
let expectedV4: Set<String> = [
    "ip.src=192.0.2.1 host=198.51.100.2 packet(1)",
    "ip.dst=198.51.100.2 host=192.0.2.1 packet(1)",
    "dns.query=example.com host=192.0.2.1 packet(1)",
]
let expectedV6: Set<String> = [
    "ipv6.src=2001:db8::1 host=2001:db8::53 packet(1)",
    "ipv6.dst=2001:db8::53 host=2001:db8::1 packet(1)",
    "dns.query=example.com host=2001:db8::1 packet(1)",
]

struct LinkCase: CustomTestStringConvertible, Sendable {
    var name: String
    var link: LinkLayer
    var packet: [UInt8]
    var expected: Set<String>
    var testDescription: String { name }
}

@Test(arguments: [
    LinkCase(name: "ethernet ipv4", link: .ethernet, packet: Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "ethernet ipv6", link: .ethernet, packet: Craft.ethernet(type: 0x86DD, payload: Craft.dnsQueryV6), expected: expectedV6),
    LinkCase(name: "802.1Q", link: .ethernet, packet: Craft.ethernet(type: 0x0800, tags: [0x8100], payload: Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "QinQ 802.1ad+802.1Q", link: .ethernet, packet: Craft.ethernet(type: 0x86DD, tags: [0x88A8, 0x8100], payload: Craft.dnsQueryV6), expected: expectedV6),
    LinkCase(name: "four tags", link: .ethernet, packet: Craft.ethernet(type: 0x0800, tags: [0x88A8, 0x8100, 0x8100, 0x8100], payload: Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "PPPoE session", link: .ethernet, packet: Craft.ethernet(type: 0x8864, payload: [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV4.count + 2) + [0, 0x21] + Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "PPPoE compressed protocol", link: .ethernet, packet: Craft.ethernet(type: 0x8864, payload: [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV4.count + 1) + [0x21] + Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "MPLS two labels", link: .ethernet, packet: Craft.ethernet(type: 0x8847, payload: [0, 1, 0, 64, 0, 2, 1, 64] + Craft.dnsQueryV6), expected: expectedV6),
    LinkCase(name: "VLAN then MPLS", link: .ethernet, packet: Craft.ethernet(type: 0x8847, tags: [0x8100], payload: [0, 2, 1, 64] + Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "VNTag", link: .ethernet, packet: [UInt8](repeating: 2, count: 12) + [0x89, 0x26, 0, 0, 0, 0, 0x08, 0x00] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "802.1ah PBB", link: .ethernet, packet: [UInt8](repeating: 2, count: 12) + [0x88, 0xE7, 0, 0, 0, 1] + [UInt8](repeating: 4, count: 12) + [0x86, 0xDD] + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "null little-endian AF_INET", link: .loopback, packet: Craft.le32(2) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "null big-endian AF_INET", link: .loopback, packet: Craft.be32(2) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "null AF_INET6 10", link: .loopback, packet: Craft.le32(10) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "null AF_INET6 24", link: .loopback, packet: Craft.be32(24) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "null AF_INET6 28", link: .loopback, packet: Craft.le32(28) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "null AF_INET6 30", link: .loopback, packet: Craft.le32(30) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "null unknown family", link: .loopback, packet: Craft.le32(7) + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "SLL", link: .linuxCooked, packet: [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0xAA, count: 8) + [0x08, 0x00] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "SLL2", link: .linuxCooked2, packet: [0x86, 0xDD, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6] + [UInt8](repeating: 0xAA, count: 8) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "raw ipv4", link: .rawIP, packet: Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "raw ipv6", link: .rawIP, packet: Craft.dnsQueryV6, expected: expectedV6),
])
func linkLayersReachIPAndDNS(_ test: LinkCase) {
    let result = decodeOne(test.packet, link: test.link)
    #expect(Set(result.seen.map(\.description)) == test.expected)
    #expect(result.seen.count == test.expected.count)
    #expect(result.anomalies.isEmpty)
}

@Test(arguments: [
    (LinkLayer.ethernet, 1), (.loopback, 0), (.loopback, 108), (.linuxCooked, 113), (.linuxCooked2, 276),
    (.rawIP, 12), (.rawIP, 14), (.rawIP, 101), (.rawIP, 228), (.rawIP, 229),
] as [(LinkLayer, Int32)])
func linkTypesMapToDecoders(_ link: LinkLayer, _ dlt: Int32) {
    #expect(LinkLayer(dataLinkType: dlt) == link)
}

@Test func undecodedLinkTypesAreNil() {
    for dlt: Int32 in [147, 8, 6, 11, 3_145_728] { #expect(LinkLayer(dataLinkType: dlt) == nil) }
}

struct HostileCase: CustomTestStringConvertible, Sendable {
    var name: String
    var link: LinkLayer = .rawIP
    var packet: [UInt8]
    var anomaly: String
    /// Observations still expected (e.g. the addresses of a packet whose DNS is bad).
    var observations: Int

    var testDescription: String { name }
}

/// A query whose question bytes are given raw.
private func rawQuestion(_ bytes: [UInt8], response: Bool = false) -> [UInt8] {
    Craft.ipv4(payload: Craft.udp(payload: Craft.dns(response: response, questionCount: 1, questions: [bytes])))
}

private let longLabel = [UInt8](repeating: 0x61, count: 63)

@Test(arguments: [
    HostileCase(name: "ethernet shorter than its header", link: .ethernet, packet: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8], anomaly: "ethernet.truncated", observations: 0),
    HostileCase(name: "129 VLAN tags", link: .ethernet, packet: Craft.ethernet(type: 0x0800, tags: [Int](repeating: 0x8100, count: 129), payload: Craft.dnsQueryV4), anomaly: "vlan.too_many_tags", observations: 0),
    HostileCase(name: "VLAN tag cut short", link: .ethernet, packet: [UInt8](repeating: 0, count: 12) + [0x81, 0x00, 0, 1], anomaly: "vlan.truncated", observations: 0),
    HostileCase(name: "SLL cut short", link: .linuxCooked, packet: [0, 0, 0, 1], anomaly: "sll.truncated", observations: 0),
    HostileCase(name: "SLL2 cut short", link: .linuxCooked2, packet: [0x08, 0x00, 0, 0], anomaly: "sll2.truncated", observations: 0),
    HostileCase(name: "loopback cut short", link: .loopback, packet: [2, 0], anomaly: "loopback.truncated", observations: 0),
    HostileCase(name: "raw with version 5", packet: [0x50] + [UInt8](repeating: 0, count: 30), anomaly: "raw.bad_version", observations: 0),
    HostileCase(name: "IPv4 header cut at 19 bytes", packet: Array(Craft.dnsQueryV4.prefix(19)), anomaly: "ipv4.truncated", observations: 1),
    HostileCase(name: "IPv4 header cut inside the source", packet: Array(Craft.dnsQueryV4.prefix(15)), anomaly: "ipv4.truncated", observations: 0),
    HostileCase(name: "IPv4 version 6 behind EtherType 0x0800", link: .ethernet, packet: Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV6), anomaly: "ipv4.bad_version", observations: 0),
    HostileCase(name: "IPv4 IHL 4", packet: Craft.ipv4(payload: Craft.udp(payload: []), ihl: 4), anomaly: "ipv4.bad_header_length", observations: 0),
    HostileCase(name: "IPv4 IHL 0", packet: Craft.ipv4(payload: Craft.udp(payload: []), ihl: 0), anomaly: "ipv4.bad_header_length", observations: 0),
    HostileCase(name: "IPv4 total length below header", packet: Craft.ipv4(payload: Craft.udp(payload: []), totalLength: 12), anomaly: "ipv4.bad_total_length", observations: 0),
    HostileCase(name: "IPv4 total length beyond captured bytes", packet: Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.question("example.com")])), totalLength: 1400), anomaly: "ipv4.truncated", observations: 3),
    HostileCase(name: "IPv4 options beyond captured bytes", packet: Array(Craft.ipv4(payload: [], ihl: 15).prefix(40)), anomaly: "ipv4.truncated", observations: 2),
    HostileCase(name: "IPv6 header cut at 39 bytes", packet: Array(Craft.dnsQueryV6.prefix(39)), anomaly: "ipv6.truncated", observations: 1),
    HostileCase(name: "IPv6 header cut inside the source", packet: Array(Craft.dnsQueryV6.prefix(23)), anomaly: "ipv6.truncated", observations: 0),
    HostileCase(name: "MPLS labels without bottom of stack", link: .ethernet, packet: Craft.ethernet(type: 0x8847, payload: (0..<17).flatMap { _ in [0, 1, 0, 64] as [UInt8] }), anomaly: "mpls.too_many_labels", observations: 0),
    HostileCase(name: "MPLS label cut short", link: .ethernet, packet: Craft.ethernet(type: 0x8847, payload: [0, 1, 0]), anomaly: "mpls.truncated", observations: 0),
    HostileCase(name: "PPPoE header cut short", link: .ethernet, packet: Craft.ethernet(type: 0x8864, payload: [0x11, 0, 0, 1, 0]), anomaly: "pppoe.truncated", observations: 0),
    HostileCase(name: "IPv6 payload length beyond captured bytes", packet: Craft.ipv6(payload: Craft.udp(destination: 5000, payload: []), payloadLength: 900), anomaly: "ipv6.truncated", observations: 2),
    HostileCase(name: "IPv6 extension header past the end", packet: Craft.ipv6(next: 0, payload: [17, 200, 0, 0, 0, 0, 0, 0]), anomaly: "ipv6.truncated", observations: 2),
    HostileCase(name: "IPv6 endless destination options", packet: Craft.ipv6(next: 60, payload: (0..<12).flatMap { _ in [60, 0, 0, 0, 0, 0, 0, 0] as [UInt8] }), anomaly: "ipv6.too_many_extension_headers", observations: 2),
    HostileCase(name: "UDP length below 8", packet: Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.question("example.com")]), length: 4)), anomaly: "udp.bad_length", observations: 2),
    HostileCase(name: "UDP header cut short", packet: Craft.ipv4(payload: [0, 53, 0, 53, 0]), anomaly: "udp.truncated", observations: 2),
    HostileCase(name: "DNS header cut short", packet: Craft.ipv4(payload: Craft.udp(payload: [0x12, 0x34, 1, 0, 0, 1])), anomaly: "dns.malformed", observations: 2),
    HostileCase(name: "DNS question without type and class", packet: Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.wireName("example.com")]))), anomaly: "dns.malformed", observations: 3),
    HostileCase(name: "DNS pointer to itself", packet: rawQuestion([0xC0, 12, 0, 1, 0, 1]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS forward pointer", packet: rawQuestion([0xC0, 14, 3, 0x63, 0x6F, 0x6D, 0, 0, 1, 0, 1]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS pointer loop through a label", packet: rawQuestion([1, 0x61, 0xC0, 12, 0, 1, 0, 1]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS label of 64 (0x40 type)", packet: rawQuestion([64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS reserved 0x80 label type", packet: rawQuestion([0x80, 0x61, 0, 0, 1, 0, 1]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS name over 255 bytes", packet: rawQuestion((0..<4).flatMap { _ in [63] + longLabel } + [0, 0, 1, 0, 1]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS name running past the message", packet: rawQuestion([7, 0x65, 0x78]), anomaly: "dns.malformed_name", observations: 2),
    HostileCase(name: "DNS question count larger than the message", packet: Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questionCount: 65535, questions: [Craft.question("example.com")]))), anomaly: "dns.malformed_name", observations: 3),
])
func hostileInputIsCountedNotFatal(_ test: HostileCase) {
    expectCountedNotFatal(test)
}

/// A hostile packet gives exactly its one anomaly and the observations before it.
func expectCountedNotFatal(_ test: HostileCase) {
    let result = decodeOne(test.packet, link: test.link)
    #expect(result.anomalies[test.anomaly] == 1, "anomalies: \(result.anomalies)")
    #expect(result.anomalies.count == 1, "anomalies: \(result.anomalies)")
    #expect(result.seen.count == test.observations, "\(result.seen)")
}

@Test func everyTruncationOfAPacketIsSafe() {
    // Cutting a valid packet at every length must never trap, whatever it reports.
    let packets: [(LinkLayer, [UInt8])] = [
        (.ethernet, Craft.ethernet(type: 0x0800, tags: [0x8100], payload: Craft.dnsQueryV4)),
        (.ethernet, Craft.ethernet(type: 0x86DD, payload: Craft.ipv6(next: 0, payload: [44, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 1] + Craft.udp(payload: Craft.dns(questions: [Craft.question("a.example")]))))),
        (.linuxCooked2, [0x08, 0x00] + [UInt8](repeating: 0, count: 18) + Craft.dnsQueryV4),
    ]
    for (link, packet) in packets {
        for cut in 0...packet.count {
            _ = decodeOne(Array(packet.prefix(cut)), link: link)
        }
        #expect(decodeOne(packet, link: link).seen.count == 3)
    }
}

@Test func compressedNamesFollowBackwardPointers() {
    // Question 1: www.example.com; question 2: mail + pointer to "example.com" in q1.
    let first = Craft.question("www.example.com")
    let second: [UInt8] = [4] + Array("mail".utf8) + [0xC0, 12 + 4] + Craft.be16(1) + Craft.be16(1)
    let third: [UInt8] = [0xC0, 12] + Craft.be16(28) + Craft.be16(1)
    let packet = Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [first, second, third])))
    let result = decodeOne(packet, link: .rawIP)
    let names = result.seen.filter { $0.field == .dnsQuery }.map { $0.value.description }
    #expect(names == ["www.example.com", "mail.example.com", "www.example.com"])
    #expect(result.anomalies.isEmpty)
}

@Test func responsesAttributeTheQueryToTheDestination() {
    let packet = Craft.ipv4(source: Craft.server, destination: Craft.client,
                            payload: Craft.udp(source: 53, destination: 40000, payload: Craft.dns(response: true, questions: [Craft.question("Example.COM")])))
    let query = decodeOne(packet, link: .rawIP).seen.filter { $0.field == .dnsQuery }
    #expect(query.map(\.description) == ["dns.query=Example.COM host=192.0.2.1 packet(1)"])
}

@Test func rootGivesNoNameAndOtherPortsNeedADNSShape() {
    let root = Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [[0, 0, 2, 0, 1]])))
    #expect(decodeOne(root, link: .rawIP).seen.count == 2)
    // On another port a query is read only when it is shaped as one (as tshark's
    // heuristic reads DNS on 8053): one question of plain labels, nothing after it.
    func onPort5000(_ message: [UInt8]) -> [String] {
        decodeOne(Craft.ipv4(payload: Craft.udp(source: 40000, destination: 5000, payload: message)), link: .rawIP)
            .seen.filter { $0.field == .dnsQuery }.map { $0.value.description }
    }
    #expect(onPort5000(Craft.dns(questions: [Craft.question("example.com")])) == ["example.com"])
    #expect(onPort5000(Craft.dns(questions: [Craft.question("example.com"), Craft.question("example.org")])).isEmpty)
    #expect(onPort5000(Craft.dns(questions: [Craft.question("example.com")]) + [0, 0, 0, 0]).isEmpty)
    #expect(onPort5000(Craft.dns(questions: [Craft.wireName("exa mple.com") + Craft.be16(1) + Craft.be16(1)])).isEmpty)
    #expect(onPort5000(Craft.dns(questions: [[0xC0, 12] + Craft.be16(1) + Craft.be16(1)])).isEmpty)
    let mdns = Craft.ipv4(payload: Craft.udp(source: 5353, destination: 5353, payload: Craft.dns(questions: [Craft.question("printer.local")])))
    #expect(decodeOne(mdns, link: .rawIP).seen.map { $0.value.description }.last == "printer.local")
}

@Test func fragmentsAndExtensionHeaders() {
    let dns = Craft.udp(payload: Craft.dns(questions: [Craft.question("example.com")]))
    // A non-first IPv4 fragment: addresses only, its bytes are not a UDP header; the
    // datagram never completes (counted at the end of the capture).
    let later = decodeOne(Craft.ipv4(payload: dns, fragmentOffset: 185), link: .rawIP)
    #expect(later.seen.count == 2 && later.anomalies == ["ip.fragments_incomplete": 1])
    // A first fragment (MF set, offset 0) whose datagram never completes is decoded
    // alone at the end.
    #expect(decodeOne(Craft.ipv4(payload: dns, fragmentOffset: 0x2000), link: .rawIP).seen.count == 3)
    // IPv6: hop-by-hop, destination options, first fragment, then UDP.
    let chain: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0] + [44, 0, 1, 4, 0, 0, 0, 0] + [17, 0, 0, 1, 0, 0, 0, 9]
    #expect(decodeOne(Craft.ipv6(next: 0, payload: chain + dns), link: .rawIP).seen.count == 3)
    // A later IPv6 fragment stops after the addresses.
    let laterChain: [UInt8] = [17, 0, 0x05, 0x00, 0, 0, 0, 9]
    let later6 = decodeOne(Craft.ipv6(next: 44, payload: laterChain + dns), link: .rawIP)
    #expect(later6.seen.count == 2 && later6.anomalies == ["ip.fragments_incomplete": 1])
    // Other transports are not handed to DNS.
    #expect(decodeOne(Craft.ipv4(proto: 6, payload: dns), link: .rawIP).seen.count == 2)
}

@Test func ethernetPaddingIsNotPartOfTheDatagram() {
    // A minimal frame padded to 60 bytes: the padding must not be read as DNS data.
    let packet = Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.question("a.b")])))
    let frame = Craft.ethernet(type: 0x0800, payload: packet + [UInt8](repeating: 0xC0, count: 20))
    let result = decodeOne(frame, link: .ethernet)
    #expect(result.seen.count == 3)
    #expect(result.anomalies.isEmpty)
}

@Test func longestLegalNameIsAccepted() {
    // 63+1+63+1+63+1+61 = 253 characters, 255 bytes on the wire.
    let labels = [String(repeating: "a", count: 63), String(repeating: "b", count: 63),
                  String(repeating: "c", count: 63), String(repeating: "d", count: 61)]
    let name = labels.joined(separator: ".")
    let packet = Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.question(name)])))
    let result = decodeOne(packet, link: .rawIP)
    #expect(result.seen.last?.value == .domain(name))
    #expect(result.anomalies.isEmpty)
}
