// The hostile-input catalogue of issue 9, for captures: one case (at least) per line
// of the issue's list, each asserting the exact outcome — the anomaly kinds and counts,
// what the bad packet still yields, and that a valid packet after it is decoded in full.
//
// Packets are decoded from allocations of exactly their size (never from an Array,
// whose capacity may run past its count), so that a read past a packet's end is a
// heap-buffer-overflow under `-sanitize=address`, not a silent read of slack.
import ByteParsing
import Foundation
import Observations
import Testing
@testable import CaptureDecoding

// MARK: helpers

private let later = IPv4Address("203.0.113.5")!

/// The packet after each hostile one: a DNS query for after.example from `later`.
private let validAfter = Craft.ipv4(
    source: later, payload: Craft.udp(payload: Craft.dns(questions: [Craft.question("after.example")])))

private func expectedAfter(_ number: UInt64) -> [String] {
    [
        "ip.src=203.0.113.5 host=198.51.100.2 packet(\(number))",
        "ip.dst=198.51.100.2 host=203.0.113.5 packet(\(number))",
        "dns.query=after.example host=203.0.113.5 packet(\(number))",
    ]
}

/// Decodes `packets` in order through one decoder, as a reader does (packet numbers
/// from 1), each from an exactly-sized heap allocation.
private func decodeSequence(_ packets: [[UInt8]], link: LinkLayer = .rawIP) -> (seen: [Seen], anomalies: [String: UInt64]) {
    decodePackets(packets, link: link)
}

private func seen(_ all: [Seen], packet number: UInt64) -> [String] {
    all.filter { $0.locator == .packet(number) }.map(\.description)
}

/// A TCP segment from port 40000: `dataOffset` words of header (options are NOPs).
private func tcpSegment(source: Int = 40000, destination: Int, sequence: UInt32 = 1, payload: [UInt8], dataOffset: Int = 5, headerBytes: Int? = nil) -> [UInt8] {
    let header = Craft.be16(source) + Craft.be16(destination) + Craft.be32(sequence) + Craft.be32(0)
        + [UInt8(dataOffset << 4), 0x18] + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0)
    let options = [UInt8](repeating: 1, count: max(0, (headerBytes ?? dataOffset * 4) - 20))
    return header + options + payload
}

private func overTCP(_ segment: [UInt8], totalLength: Int? = nil) -> [UInt8] {
    Craft.ipv4(proto: 6, payload: segment, totalLength: totalLength)
}

/// A DNS message (over UDP) whose first question's bytes are given raw.
private func dnsQuestion(_ bytes: [UInt8]) -> [UInt8] {
    Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questionCount: 1, questions: [bytes])))
}

/// A DNS response with no question and one answer record given raw.
private func dnsAnswer(_ record: [UInt8]) -> [UInt8] {
    let header = Craft.be16(0x1234) + Craft.be16(0x8180) + Craft.be16(0) + Craft.be16(1) + Craft.be16(0) + Craft.be16(0)
    return Craft.ipv4(source: Craft.server, destination: Craft.client,
                      payload: Craft.udp(source: 53, destination: 40000, payload: header + record))
}

private let label63 = [63] + [UInt8](repeating: 0x61, count: 63)

/// A TLS record holding a ClientHello with the given extensions; `extensionsLength`
/// overrides the extensions block's length field.
private func clientHello(_ extensions: [(Int, [UInt8])], extensionsLength: Int? = nil) -> [UInt8] {
    let encoded = extensions.flatMap { Craft.be16($0.0) + Craft.be16($0.1.count) + $0.1 }
    let body = Craft.be16(0x0303) + [UInt8](repeating: 0xAB, count: 32) + [32] + [UInt8](repeating: 0xCD, count: 32)
        + Craft.be16(4) + [0x13, 0x01, 0x13, 0x02] + [1, 0] + Craft.be16(extensionsLength ?? encoded.count) + encoded
    let handshake = [1, 0] + Craft.be16(body.count) + body
    return [0x16, 3, 1] + Craft.be16(handshake.count) + handshake
}

private func serverName(_ name: String) -> [UInt8] {
    let entry = [0] + Craft.be16(name.utf8.count) + Array(name.utf8)
    return Craft.be16(entry.count) + entry
}

private let groups: (Int, [UInt8]) = (10, [0, 2, 0, 0x1D])
private let alpn: (Int, [UInt8]) = (16, [0, 3, 2, 0x68, 0x32])

// MARK: one bad packet, then a good one

struct CatalogueCase: CustomTestStringConvertible, Sendable {
    var name: String
    var link: LinkLayer = .rawIP
    var packet: [UInt8]
    /// The exact anomaly counts the bad packet leaves.
    var anomalies: [String: UInt64]
    /// What the bad packet still yields (addresses of a packet whose upper layer is bad).
    var observations: Int
    var testDescription: String { name }
}

private let ipv4Cases: [CatalogueCase] = (0...4).map { ihl in
    CatalogueCase(name: "IPv4 IHL \(ihl)", packet: Craft.ipv4(payload: Craft.udp(payload: []), ihl: ihl),
                  anomalies: ["ipv4.bad_header_length": 1], observations: 0)
} + [
    CatalogueCase(name: "IPv4 total length 1400 beyond the captured bytes",
                  packet: Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.question("example.com")])), totalLength: 1400),
                  anomalies: ["ipv4.truncated": 1], observations: 3),
    CatalogueCase(name: "IPv4 total length 65535 on a bare header",
                  packet: Craft.ipv4(payload: [], totalLength: 65535), anomalies: ["ipv4.truncated": 1, "udp.truncated": 1], observations: 2),
    CatalogueCase(name: "IPv4 IHL 15 with the options cut",
                  packet: Array(Craft.ipv4(payload: [], ihl: 15).prefix(44)), anomalies: ["ipv4.truncated": 1], observations: 2),
]

private let ipv6Cases: [CatalogueCase] = [
    CatalogueCase(name: "IPv6 hop-by-hop length past the packet",
                  packet: Craft.ipv6(next: 0, payload: [17, 200, 0, 0, 0, 0, 0, 0]), anomalies: ["ipv6.truncated": 1], observations: 2),
    CatalogueCase(name: "IPv6 chain ends where a routing header should start",
                  packet: Craft.ipv6(next: 0, payload: [43, 0, 0, 0, 0, 0, 0, 0]), anomalies: ["ipv6.truncated": 1], observations: 2),
    CatalogueCase(name: "IPv6 fragment header cut",
                  packet: Craft.ipv6(next: 44, payload: [17, 0, 0]), anomalies: ["ipv6.truncated": 1], observations: 2),
    CatalogueCase(name: "IPv6 authentication header past the packet",
                  packet: Craft.ipv6(next: 51, payload: [17, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), anomalies: ["ipv6.truncated": 1], observations: 2),
    CatalogueCase(name: "IPv6 chain past the payload length though within the captured bytes",
                  packet: Craft.ipv6(next: 0, payload: [60, 0, 0, 0, 0, 0, 0, 0] + [17, 0, 0, 0, 0, 0, 0, 0] + Craft.udp(payload: Craft.dns(questions: [Craft.question("hidden.example")])), payloadLength: 8),
                  anomalies: ["ipv6.truncated": 1], observations: 2),
    CatalogueCase(name: "IPv6 endless destination options",
                  packet: Craft.ipv6(next: 60, payload: (0..<12).flatMap { _ in [60, 0, 0, 0, 0, 0, 0, 0] as [UInt8] }),
                  anomalies: ["ipv6.too_many_extension_headers": 1], observations: 2),
]

private let tcpCases: [CatalogueCase] = (0...4).map { offset in
    CatalogueCase(name: "TCP data offset \(offset)", packet: overTCP(tcpSegment(destination: 80, payload: Array("GET / HTTP/1.1\r\n".utf8), dataOffset: offset)),
                  anomalies: ["tcp.bad_header_length": 1], observations: 2)
} + [
    CatalogueCase(name: "TCP data offset 15 in a 20-byte segment",
                  packet: overTCP(tcpSegment(destination: 80, payload: [], dataOffset: 15, headerBytes: 20)), anomalies: ["tcp.truncated": 1], observations: 2),
    CatalogueCase(name: "TCP data offset 6 in a 22-byte segment",
                  packet: overTCP(tcpSegment(destination: 80, payload: [], dataOffset: 6, headerBytes: 22)), anomalies: ["tcp.truncated": 1], observations: 2),
    CatalogueCase(name: "TCP data offset past the IPv4 total length (bytes after it are padding)",
                  packet: overTCP(tcpSegment(destination: 80, payload: [], dataOffset: 8), totalLength: 40), anomalies: ["tcp.truncated": 1], observations: 2),
    CatalogueCase(name: "TCP header of 19 bytes",
                  packet: overTCP(Array(tcpSegment(destination: 80, payload: []).prefix(19))), anomalies: ["tcp.truncated": 1], observations: 2),
]

private let dnsCases: [CatalogueCase] = [
    CatalogueCase(name: "DNS pointer to itself", packet: dnsQuestion([0xC0, 12, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS pointer forward", packet: dnsQuestion([0xC0, 14, 1, 0x61, 0, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS pointer out of the message", packet: dnsQuestion([0xFF, 0xFF, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS pointer cut after its first byte", packet: dnsQuestion([1, 0x61, 0xC0]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS pointers looping a→b→a", packet: dnsQuestion([0xC0, 14, 0xC0, 12, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS answer owner pointing to itself", packet: dnsAnswer([0xC0, 12] + Craft.be16(1) + Craft.be16(1) + Craft.be32(60) + Craft.be16(4) + [192, 0, 2, 9]),
                  anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS CNAME data pointing forward", packet: dnsAnswer(Craft.wireName("a.example") + Craft.be16(5) + Craft.be16(1) + Craft.be32(60) + Craft.be16(2) + [0xC0, 0x7F]),
                  anomalies: ["dns.bad_rdata": 1], observations: 3),
    CatalogueCase(name: "DNS over TCP pointer to itself", packet: overTCP(tcpSegment(destination: 53, payload: { let message = Craft.dns(questionCount: 1, questions: [[0xC0, 12, 0, 1, 0, 1]]); return Craft.be16(message.count) + message }())),
                  anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS label of 64 (0x40 type)", packet: dnsQuestion([64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS label of 127 (0x40 type)", packet: dnsQuestion([127] + [UInt8](repeating: 0x61, count: 127) + [0, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS label length 0x80 (reserved type)", packet: dnsQuestion([0x80] + [UInt8](repeating: 0x61, count: 128) + [0, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS label of 63 running past the message", packet: dnsQuestion(Array(label63.prefix(40))), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS name of 257 bytes in labels", packet: dnsQuestion(label63 + label63 + label63 + label63 + [0, 0, 1, 0, 1]), anomalies: ["dns.malformed_name": 1], observations: 2),
    CatalogueCase(name: "DNS name over 255 bytes through a pointer",
                  // q1: three 63-byte labels (193 bytes, legal); q2: two more labels, then a pointer to q1.
                  packet: Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questionCount: 2, questions: [label63 + label63 + label63 + [0, 0, 1, 0, 1], label63 + label63 + [0xC0, 12, 0, 1, 0, 1]]))),
                  anomalies: ["dns.malformed_name": 1], observations: 3),
]

private let tlsCases: [CatalogueCase] = [
    CatalogueCase(name: "TLS extensions block length 65535 in a whole ClientHello",
                  packet: overTCP(tcpSegment(destination: 443, payload: clientHello([groups, (0, serverName("tls.example"))], extensionsLength: 65535))),
                  anomalies: ["tls.bad_extension_length": 1], observations: 2),
    CatalogueCase(name: "TLS extensions block one byte longer than the ClientHello",
                  packet: overTCP(tcpSegment(destination: 443, payload: clientHello([groups, (0, serverName("tls.example"))], extensionsLength: 4 + 4 + 4 + 16 + 1))),
                  anomalies: ["tls.bad_extension_length": 1], observations: 2),
    CatalogueCase(name: "TLS one extension longer than the ClientHello, the server name after it",
                  packet: overTCP(tcpSegment(destination: 443, payload: { var hello = clientHello([groups, (0, serverName("tls.example"))]); hello[5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2 + 2 + 2] = 0xFF; return hello }())),
                  anomalies: ["tls.bad_extension_length": 1], observations: 2),
    CatalogueCase(name: "TLS server name extension longer than the extensions block",
                  packet: overTCP(tcpSegment(destination: 443, payload: { var hello = clientHello([groups, (0, serverName("tls.example"))]); let at = hello.count - 16 - 2; hello[at] = 0; hello[at + 1] = 17; return hello }())),
                  anomalies: ["tls.bad_extension_length": 1], observations: 2),
]

@Test(arguments: ipv4Cases + ipv6Cases + tcpCases + dnsCases + tlsCases)
func hostilePacketIsCountedAndTheNextIsDecoded(_ test: CatalogueCase) {
    let result = decodeSequence([test.packet, validAfter], link: test.link)
    #expect(result.anomalies == test.anomalies)
    #expect(seen(result.seen, packet: 1).count == test.observations, "\(seen(result.seen, packet: 1))")
    #expect(!result.seen.contains { $0.field == .tlsSNI || $0.value == .domain("hidden.example") }, "nothing invented")
    #expect(seen(result.seen, packet: 2) == expectedAfter(2))
}

// MARK: split across two segments at every byte offset

/// A hello whose server name is its last extension (so every cut loses it), and one
/// whose server name comes first (so a cut after it keeps the real name).
private let helloNameLast = clientHello([groups, alpn, (0, serverName("tls.example"))])
private let helloNameFirst = clientHello([(0, serverName("tls.example")), groups, alpn])
/// The offset just past the server name in `helloNameFirst`.
private let nameFirstEnd = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2 + 2 + 4 + 16

@Test(arguments: [(helloNameLast, Int.max), (helloNameFirst, nameFirstEnd)])
func clientHelloSplitAtEveryOffsetIsReassembled(_ hello: [UInt8], _ nameEnd: Int) {
    // The next connection's hello, from another port.
    let after = overTCP(tcpSegment(source: 40001, destination: 443, payload: clientHello([groups, (0, serverName("after.example"))])))
    for cut in 1..<hello.count {
        let first = overTCP(tcpSegment(destination: 443, payload: Array(hello[..<cut])))
        let second = overTCP(tcpSegment(destination: 443, sequence: 1 + UInt32(cut), payload: Array(hello[cut...])))
        let result = decodeSequence([first, second, after])
        let names = result.seen.filter { $0.field == .tlsSNI }.map(\.description)
        // Wherever the cut, the record is read whole in the packet that completes it.
        #expect(result.anomalies.isEmpty, "cut at \(cut)")
        #expect(names == ["tls.sni=tls.example host=192.0.2.1 packet(2)", "tls.sni=after.example host=192.0.2.1 packet(3)"], "cut at \(cut)")
        let fingerprints = result.seen.filter { $0.field == .tlsJA3 || $0.field == .tlsJA4 }.count
        #expect(fingerprints == 4, "JA3 and JA4 of both hellos, cut at \(cut)")
        #expect(result.seen.count - fingerprints == 2 * 3 + names.count, "addresses of all three packets, cut at \(cut)")
        // Only the first part: the hello is parsed as far as it goes when the capture ends.
        let alone = decodeSequence([first])
        let named = cut >= nameEnd
        #expect(alone.seen.contains { $0.field == .tlsSNI } == named, "cut at \(cut)")
        #expect(alone.anomalies == (named || cut == 1 ? [:] : ["tls.client_hello_segmented": 1]), "cut at \(cut)")
    }
}

@Test func httpRequestSplitAtEveryOffset() {
    let request = Array("GET /index.html?q=1 HTTP/1.1\r\nUser-Agent: catalogue\r\nHost: split.example\r\nAccept: */*\r\n\r\n".utf8)
    let after = overTCP(tcpSegment(source: 40001, destination: 80, payload: Array("GET /next HTTP/1.1\r\nHost: after.example\r\n\r\n".utf8)))
    let expectedAfter = ["http.host=after.example host=192.0.2.1 packet(3)", "http.url=http://after.example/next host=192.0.2.1 packet(3)"]
    for cut in 1..<request.count {
        let first = overTCP(tcpSegment(destination: 80, payload: Array(request[..<cut])))
        let second = overTCP(tcpSegment(destination: 80, sequence: 1 + UInt32(cut), payload: Array(request[cut...])))
        let result = decodeSequence([first, second, after])
        let http = result.seen.filter { $0.field == .httpHost || $0.field == .httpURL }.map(\.description)
        // The head is read whole in the packet that completes it.
        #expect(result.anomalies.isEmpty, "cut at \(cut)")
        #expect(http == ["http.host=split.example host=192.0.2.1 packet(2)",
                         "http.url=http://split.example/index.html?q=1 host=192.0.2.1 packet(2)"] + expectedAfter, "cut at \(cut)")
    }
}

// MARK: pcap files

/// A little-endian nanosecond pcap with the given snapshot length and records given
/// as (caplen field, len field, bytes).
private func pcap(snapLength: UInt32 = 262_144, linkType: UInt32 = 12, records: [(UInt32, UInt32, [UInt8])]) -> [UInt8] {
    var bytes = Craft.le32(0xA1B2_3C4D) + Craft.le16(2) + Craft.le16(4) + Craft.le32(0) + Craft.le32(0)
        + Craft.le32(snapLength) + Craft.le32(linkType)
    for (captured, original, data) in records {
        bytes += Craft.le32(1_700_000_000) + Craft.le32(0) + Craft.le32(captured) + Craft.le32(original) + data
    }
    return bytes
}

private func record(_ packet: [UInt8]) -> (UInt32, UInt32, [UInt8]) { (UInt32(packet.count), UInt32(packet.count), packet) }

private func readFile(_ bytes: [UInt8], suffix: String = ".pcap") throws -> (seen: [Seen], summary: ReadSummary) {
    let path = try Craft.temporaryFile(bytes, suffix: suffix)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try InputFile(path: path)
    let reader = try CaptureReader(file: file, filter: nil)
    var seen: [Seen] = []
    let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
    #expect(summary.bytes == UInt64(bytes.count), "the whole file is consumed and hashed")
    return (seen, summary)
}

private let firstQuery = Craft.dnsQueryV4

@Test func pcapRecordLargerThanTheSnapshotLengthIsCutToItAndTheNextIsRead() throws {
    // caplen 200 in a file whose snapshot length is 64: libpcap keeps the first 64
    // bytes and skips the rest, so the next record is still in step.
    let big = Craft.ipv4(payload: Craft.udp(payload: Craft.dns(questions: [Craft.question([String](repeating: String(repeating: "x", count: 50), count: 3).joined(separator: ".") + ".example")])))
    let (seen, summary) = try readFile(pcap(snapLength: 64, records: [record(big), record(validAfter)]))
    #expect(summary.damage == nil, "\(summary.damage ?? "")")
    #expect(summary.packets == 2)
    // The first 64 bytes hold both addresses; the question is cut (the UDP length is a lie now).
    #expect(Seen.fields(seen, packet: 1) == ["ip.src", "ip.dst"])
    #expect(summary.anomalies.counts == ["ipv4.truncated": 1, "dns.malformed_name": 1])
    #expect(seen.filter { $0.locator == .packet(2) }.map(\.description) == expectedAfter(2))
}

@Test(arguments: [UInt32(262_145), 1 << 20, .max])
func pcapRecordOver256KiBIsDamageAfterTheEarlierPackets(_ captured: UInt32) throws {
    // libpcap refuses a record over its 256 KiB maximum: the file cannot be followed
    // past it, so reading stops there, with what came before kept.
    let data = [UInt8](repeating: 0x45, count: captured == 262_145 ? 262_145 : 64)
    let (seen, summary) = try readFile(pcap(records: [record(firstQuery), (captured, captured, data), record(validAfter)]))
    #expect(summary.packets == 1)
    let damage = try #require(summary.damage)
    #expect(damage.hasPrefix("reading stopped at packet 2 (1 read): "), "\(damage)")
    #expect(damage.contains("\(captured)"), "the damage names the bad length: \(damage)")
    #expect(seen.map(\.locator) == [.packet(1), .packet(1), .packet(1)])
    #expect(summary.anomalies.total == 0)
}

@Test func pcapCutAtEveryOffsetOfItsLastRecordKeepsTheEarlierPackets() throws {
    let whole = pcap(records: [record(firstQuery), record(validAfter), record(firstQuery)])
    let lastRecord = whole.count - 16 - firstQuery.count
    for cut in lastRecord..<whole.count {
        let (seen, summary) = try readFile(Array(whole[..<cut]))
        #expect(summary.packets == 2, "cut at \(cut)")
        #expect(seen.count == 6, "cut at \(cut)")
        #expect(seen.filter { $0.locator == .packet(2) }.map(\.description) == expectedAfter(2), "cut at \(cut)")
        #expect(summary.anomalies.total == 0, "cut at \(cut)")
        if cut == lastRecord {
            #expect(summary.damage == nil, "a cut at a record boundary is a shorter file")
        } else {
            #expect(summary.damage?.hasPrefix("reading stopped at packet 3 (2 read): truncated dump file") == true,
                    "cut at \(cut): \(summary.damage ?? "nil")")
        }
    }
    let (_, full) = try readFile(whole)
    #expect(full.packets == 3 && full.damage == nil)
}

// MARK: pcapng files

private let le = NG()

struct DamagedBlockCase: CustomTestStringConvertible, Sendable {
    var name: String
    var block: [UInt8]
    var damage: String
    var testDescription: String { name }
}

/// Each damaged block sits after two good packets (the section starts at offset 0,
/// the IDB at 28, the packets at 48 and 48 + 12 + 20 + padded size).
private let damagedBlockCases: [DamagedBlockCase] = {
    let good = le.enhanced(Craft.dnsQueryV4)
    var trailer = good
    trailer.replaceSubrange((trailer.count - 4)..., with: Craft.le32(UInt32(good.count + 4)))
    var notMultipleOfFour = good
    notMultipleOfFour.replaceSubrange(4..<8, with: Craft.le32(UInt32(good.count - 2)))
    var tooShort = good
    tooShort.replaceSubrange(4..<8, with: Craft.le32(8))
    var pastTheFile = good
    pastTheFile.replaceSubrange(4..<8, with: Craft.le32(UInt32(good.count + 400)))
    var capturedPastBlock = good
    capturedPastBlock.replaceSubrange(20..<24, with: Craft.le32(UInt32(good.count)))
    var huge = good
    huge.replaceSubrange(4..<8, with: Craft.le32(0xFFFF_FFF0))
    return [
        DamagedBlockCase(name: "trailer length differs from header length", block: trailer, damage: "total length \(good.count) in the header but \(good.count + 4) in the trailer"),
        DamagedBlockCase(name: "length not a multiple of 4", block: notMultipleOfFour, damage: "invalid total length \(good.count - 2)"),
        DamagedBlockCase(name: "length below the 12-byte minimum", block: tooShort, damage: "invalid total length 8"),
        DamagedBlockCase(name: "length past the end of the file", block: pastTheFile, damage: "\(good.count + 400) bytes announced"),
        DamagedBlockCase(name: "captured length past the block", block: capturedPastBlock, damage: "claims \(good.count) captured bytes"),
        DamagedBlockCase(name: "length of 4 GiB", block: huge, damage: "over the 16 MiB limit"),
    ]
}()

@Test(arguments: damagedBlockCases)
func pcapngBlockWithBadLengthsIsDamageAfterTheEarlierPackets(_ test: DamagedBlockCase) throws {
    let head = le.section() + le.interface(linkType: 101) + le.enhanced(Craft.dnsQueryV4) + le.enhanced(validAfter)
    let (seen, summary) = try readFile(head + test.block + le.enhanced(validAfter), suffix: ".pcapng")
    #expect(summary.packets == 2)
    let damage = try #require(summary.damage)
    #expect(damage.hasPrefix("reading stopped after frame 2 (2 packets read): "), "\(damage)")
    #expect(damage.contains("byte offset \(head.count)"), "\(damage)")
    #expect(damage.contains(test.damage), "\(damage)")
    #expect(seen.filter { $0.locator == .packet(2) }.map(\.description) == expectedAfter(2))
    #expect(seen.count == 6)
}

@Test func pcapngUnknownBlockTypesAreSkipped() throws {
    let unknown: [[UInt8]] = [
        le.block(0x1234_5678, [1, 2, 3, 4, 5]),        // unassigned
        le.block(0x8000_0001, []),                      // local use, empty body
        le.block(5, [UInt8](repeating: 0, count: 24)),   // Interface Statistics
        le.block(4, [0, 0, 0, 0]),                       // Name Resolution
        le.block(0x0000_000A, Craft.le32(0x4B53_4C4B) + Craft.le32(8) + [UInt8](repeating: 7, count: 8)),  // Decryption Secrets
        le.block(0x0000_0009, [UInt8](repeating: 0x41, count: 100)),  // systemd journal export
        le.block(0x0A0D_0A00, [9, 9, 9, 9]),            // "0x0A0D0D0A"-like, reserved for corruption detection
    ]
    var bytes = le.section() + le.interface(linkType: 101)
    for block in unknown { bytes += block + le.enhanced(Craft.dnsQueryV4) }
    bytes += le.enhanced(validAfter)
    let (seen, summary) = try readFile(bytes, suffix: ".pcapng")
    #expect(summary.damage == nil, "\(summary.damage ?? "")")
    #expect(summary.anomalies.total == 0)
    #expect(summary.packets == UInt64(unknown.count + 1))
    #expect(seen.filter { $0.field == .dnsQuery }.count == unknown.count + 1)
    #expect(seen.filter { $0.locator == .packet(UInt64(unknown.count + 1)) }.map(\.description) == expectedAfter(UInt64(unknown.count + 1)))
}

@Test func pcapngWithSeveralLinkTypesReadsEveryPacket() throws {
    // Ethernet, raw IP, BSD loopback, Linux cooked v1 and v2, then 802.11 (not decoded).
    let bytes = le.section()
        + le.interface(linkType: 1) + le.interface(linkType: 101) + le.interface(linkType: 0)
        + le.interface(linkType: 113) + le.interface(linkType: 276) + le.interface(linkType: 147)
        + le.enhanced(interface: 0, Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4))
        + le.enhanced(interface: 1, Craft.dnsQueryV6)
        + le.enhanced(interface: 2, Craft.le32(2) + Craft.dnsQueryV4)
        + le.enhanced(interface: 3, [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + [0x86, 0xDD] + Craft.dnsQueryV6)
        + le.enhanced(interface: 4, [0x08, 0x00] + [UInt8](repeating: 0, count: 18) + Craft.dnsQueryV4)
        + le.enhanced(interface: 5, [UInt8](repeating: 0, count: 30))
        + le.enhanced(interface: 1, validAfter)
    let (seen, summary) = try readFile(bytes, suffix: ".pcapng")
    #expect(summary.damage == nil, "\(summary.damage ?? "")")
    #expect(summary.packets == 7)
    #expect(seen.filter { $0.field == .dnsQuery }.map(\.locator) == [.packet(1), .packet(2), .packet(3), .packet(4), .packet(5), .packet(7)])
    #expect(summary.anomalies.counts == ["link.unsupported": 1])
    #expect(summary.notes == ["link type 147 (unknown) is not decoded; packets counted but not inspected"])
    #expect(seen.filter { $0.locator == .packet(7) }.map(\.description) == expectedAfter(7))
}

extension Seen {
    fileprivate static func fields(_ all: [Seen], packet number: UInt64) -> [String] {
        all.filter { $0.locator == .packet(number) }.map(\.field.rawValue)
    }
}
