import Observations
import Testing
@testable import CaptureDecoding

// IP fragment reassembly: a datagram's payload is decoded once all its fragments have
// come, in whatever order, within bounded memory and time.

/// An IPv4 fragment: `data` at byte `offset` (a multiple of 8 but for hostile cases)
/// of the datagram's payload.
private func fragment4(id: Int = 7, proto: UInt8 = 17, offset: Int, more: Bool, data: [UInt8]) -> [UInt8] {
    [0x45, 0] + Craft.be16(20 + data.count) + Craft.be16(id) + Craft.be16((more ? 0x2000 : 0) | offset / 8)
        + [64, proto] + Craft.be16(0) + Craft.be32(Craft.server.value) + Craft.be32(Craft.client.value) + data
}

/// An IPv6 fragment (fragment header, then `data`).
private func fragment6(id: UInt32 = 9, next: UInt8 = 17, offset: Int, more: Bool, data: [UInt8]) -> [UInt8] {
    let header = [next, 0] + Craft.be16((offset / 8) << 3 | (more ? 1 : 0)) + Craft.be32(id)
    return Craft.ipv6(source: Craft.server6, destination: Craft.client6, next: 44, payload: header + data)
}

/// A DNS response (UDP from port 53) with a long question name and an A record.
private let response: [UInt8] = {
    let name = "fragmented-" + String(repeating: "x", count: 50) + ".example"
    let header = Craft.be16(0x1234) + Craft.be16(0x8180) + Craft.be16(1) + Craft.be16(1) + Craft.be16(0) + Craft.be16(0)
    let answer: [UInt8] = [0xC0, 12] + Craft.be16(1) + Craft.be16(1) + Craft.be32(60) + Craft.be16(4) + [192, 0, 2, 99]
    let padding = [UInt8](repeating: 0, count: 40)  // trailing bytes, ignored by DNS
    return Craft.udp(source: 53, destination: 40000, payload: header + Craft.question(name) + answer + padding)
}()
private let responseValues: Set<String> = [
    "dns.query=fragmented-\(String(repeating: "x", count: 50)).example",
    "dns.answer=fragmented-\(String(repeating: "x", count: 50)).example", "dns.answer=192.0.2.99",
]

/// Cuts at 8-byte multiples: [0, 48), [48, 96), [96, end).
private func pieces(_ payload: [UInt8]) -> [(offset: Int, more: Bool, data: [UInt8])] {
    [(0, true, Array(payload[0..<48])), (48, true, Array(payload[48..<96])), (96, false, Array(payload[96...]))]
}

private func run(_ packets: [[UInt8]], options: DecodingOptions = DecodingOptions(), spacing: Int64 = 1)
    -> (seen: [Seen], anomalies: [String: UInt64])
{
    let (seen, anomalies) = decodePackets(packets, options: options, spacing: spacing)
    return (seen.filter { $0.field == .dnsQuery || $0.field == .dnsAnswer || $0.field == .tlsSNI }, anomalies)
}

private func values(_ seen: [Seen]) -> Set<String> { Set(seen.map { "\($0.field.rawValue)=\($0.value)" }) }

@Test(arguments: [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]])
func fragmentedDNSAnswerIsDecodedInAnyOrder(_ order: [Int]) {
    let parts = pieces(response)
    let v4 = run(order.map { fragment4(offset: parts[$0].offset, more: parts[$0].more, data: parts[$0].data) })
    #expect(values(v4.seen) == responseValues)
    #expect(v4.anomalies.isEmpty)
    // Observed in the packet of the fragment that completed the datagram.
    #expect(Set(v4.seen.map(\.locator)) == [.packet(3)])
    #expect(v4.seen.allSatisfy { $0.host == Craft.client.description })
    let v6 = run(order.map { fragment6(offset: parts[$0].offset, more: parts[$0].more, data: parts[$0].data) })
    #expect(values(v6.seen) == responseValues)
    #expect(v6.anomalies.isEmpty)
    #expect(v6.seen.allSatisfy { $0.host == Craft.client6.description })
}

@Test func overlappingFragmentsAreCountedAndTheFirstDataWins() {
    let parts = pieces(response)
    // A fragment overlapping both neighbours-to-be, same bytes: each later one overlaps it.
    let same = run([fragment4(offset: 0, more: true, data: parts[0].data),
                    fragment4(offset: 40, more: true, data: Array(response[40..<104])),
                    fragment4(offset: 48, more: true, data: parts[1].data),
                    fragment4(offset: 96, more: false, data: parts[2].data)])
    #expect(values(same.seen) == responseValues)
    #expect(same.anomalies == ["ip.fragment_overlap": 3])
    // A forged copy of the second part after the real one: counted, ignored.
    var forged = parts[1].data
    for index in forged.indices { forged[index] = 0x41 }
    let conflict = run([fragment4(offset: 0, more: true, data: parts[0].data),
                        fragment4(offset: 48, more: true, data: parts[1].data),
                        fragment4(offset: 48, more: true, data: forged),
                        fragment4(offset: 96, more: false, data: parts[2].data)])
    #expect(values(conflict.seen) == responseValues)
    #expect(conflict.anomalies == ["ip.fragment_overlap": 1, "ip.fragment_conflict": 1])
}

@Test func aMissingFragmentLeavesTheFirstDecodedAloneAtTheEnd() {
    let parts = pieces(response)
    let result = run([fragment4(offset: 0, more: true, data: parts[0].data),
                      fragment4(offset: 96, more: false, data: parts[2].data)])
    #expect(result.anomalies["ip.fragments_incomplete"] == 1)
    // The first 48 bytes hold the UDP header and the start of the question only.
    #expect(!values(result.seen).contains("dns.answer=192.0.2.99"))
    // Without the first fragment, nothing is decoded.
    let noFirst = run([fragment4(offset: 48, more: true, data: parts[1].data),
                       fragment4(offset: 96, more: false, data: parts[2].data)])
    #expect(noFirst.seen.isEmpty)
    #expect(noFirst.anomalies == ["ip.fragments_incomplete": 1])
}

@Test func fragmentBoundsAreHitAndCounted() {
    let parts = pieces(response)
    // Past 65 535 bytes of payload.
    let large = run([fragment4(offset: 65_528, more: false, data: [UInt8](repeating: 0, count: 16))])
    #expect(large.anomalies == ["ip.fragment_too_large": 1])
    // Timeout in packet time: the last fragment comes 40 s after the first.
    let late = run([fragment4(offset: 0, more: true, data: parts[0].data),
                    fragment4(offset: 48, more: true, data: parts[1].data),
                    fragment4(offset: 96, more: false, data: parts[2].data)], spacing: 20)
    #expect(late.anomalies["ip.fragments_timeout"] == 1)
    #expect(!values(late.seen).contains("dns.answer=192.0.2.99"))
    // One datagram at a time: a second one evicts the first.
    var options = DecodingOptions()
    options.maxFragmentedDatagrams = 1
    let interleaved = run([fragment4(id: 1, offset: 0, more: true, data: parts[0].data),
                           fragment4(id: 2, offset: 0, more: true, data: parts[0].data),
                           fragment4(id: 2, offset: 48, more: true, data: parts[1].data),
                           fragment4(id: 2, offset: 96, more: false, data: parts[2].data),
                           fragment4(id: 1, offset: 48, more: true, data: parts[1].data)], options: options)
    #expect(interleaved.anomalies["ip.fragments_evicted", default: 0] >= 1)
    #expect(values(interleaved.seen).contains("dns.answer=192.0.2.99"))
    // All fragment buffers together.
    options = DecodingOptions()
    options.maxFragmentBytesTotal = 100
    let memory = run([fragment4(id: 1, offset: 0, more: true, data: parts[0].data),
                      fragment4(id: 2, offset: 0, more: true, data: parts[0].data),
                      fragment4(id: 3, offset: 0, more: true, data: parts[0].data)], options: options)
    #expect(memory.anomalies["ip.fragments_memory_cap"] == 1)
}

@Test func aFragmentedTCPSegmentIsReassembledToo() {
    // A ClientHello in one TCP segment, in an IPv4 datagram cut in two.
    let name = "frag.example"
    let entry = [0] + Craft.be16(name.utf8.count) + Array(name.utf8)
    let sni = Craft.be16(0) + Craft.be16(entry.count + 2) + Craft.be16(entry.count) + entry
    let body = Craft.be16(0x0303) + [UInt8](repeating: 1, count: 32) + [0] + Craft.be16(2) + [0x13, 0x01] + [1, 0]
        + Craft.be16(sni.count) + sni
    let hello = [0x16, 3, 1] + Craft.be16(body.count + 4) + [1, 0] + Craft.be16(body.count) + body
    let segment = Craft.be16(40000) + Craft.be16(443) + Craft.be32(1) + Craft.be32(0) + [0x50, 0x18]
        + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0) + hello
    let result = run([fragment4(proto: 6, offset: 24, more: false, data: Array(segment[24...])),
                      fragment4(proto: 6, offset: 0, more: true, data: Array(segment[..<24]))])
    #expect(values(result.seen) == ["tls.sni=frag.example"])
    #expect(result.seen.first?.locator == .packet(2))
}
