import Observations
import Testing
@testable import CaptureDecoding

// ICMP errors quote the packet that caused them: its addresses are observed as
// `icmp.quoted.*`; a cut quote is counted.

private func decode(_ packet: [UInt8]) -> (seen: [Seen], anomalies: [String: UInt64]) {
    var decoder = PacketDecoder()
    var seen: [Seen] = []
    decoder.decode(packet: packet.span, link: .rawIP, locator: .packet(1), time: Timestamp(seconds: 0)) { seen.append(Seen($0)) }
    return (seen, decoder.anomalies.counts)
}

@Test func icmpErrorsQuoteAddresses() throws {
    let quoted = Craft.ipv4(source: Craft.client, destination: IPv4Address("203.0.113.9")!, payload: Craft.udp(payload: []))
    // Time exceeded (11), from a router to the client, quoting the client's packet.
    let timeExceeded = Craft.ipv4(source: IPv4Address("192.0.2.254")!, destination: Craft.client, proto: 1,
                                  payload: [11, 0, 0, 0, 0, 0, 0, 0] + quoted)
    let v4 = decode(timeExceeded).seen.filter { $0.field == .quotedIPSource || $0.field == .quotedIPDestination }
    #expect(v4.map(\.value.description).sorted() == ["192.0.2.1", "203.0.113.9"])
    #expect(v4.first { $0.field == .quotedIPDestination }?.host == "192.0.2.1")
    // ICMPv6 destination unreachable (1) quoting an IPv6 packet.
    let quoted6 = Craft.ipv6(destination: IPv6Address("2001:db8::bad")!, payload: Craft.udp(payload: []))
    let unreachable = Craft.ipv6(source: Craft.server6, destination: Craft.client6, next: 58,
                                 payload: [1, 4, 0, 0, 0, 0, 0, 0] + quoted6)
    let v6 = decode(unreachable).seen.filter { $0.field == .quotedIPv6Source || $0.field == .quotedIPv6Destination }
    #expect(v6.map(\.value.description).sorted() == ["2001:db8::1", "2001:db8::bad"])
    // An echo request quotes nothing; a cut quote is counted.
    let echo = Craft.ipv4(proto: 1, payload: [8, 0, 0, 0, 0, 1, 0, 1] + quoted)
    #expect(decode(echo).seen.allSatisfy { $0.field == .ipSource || $0.field == .ipDestination })
    let cut = Craft.ipv4(proto: 1, payload: [3, 1, 0, 0, 0, 0, 0, 0] + Array(quoted[0..<14]))
    #expect(decode(cut).anomalies == ["icmp.quote_truncated": 1])
}
