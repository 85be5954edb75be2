import Observations
import Testing
@testable import CaptureDecoding

private let agent = IPv4Address("10.0.0.9")!
private let collector = IPv4Address("10.0.0.10")!

/// An sFlow v5 datagram from an IPv4 agent, in UDP to the collector's port 6343.
private func sflow(_ samples: [[UInt8]], count: Int? = nil, addressType: UInt32 = 1) -> [UInt8] {
    let datagram = Craft.be32(5) + Craft.be32(addressType) + [192, 0, 2, 9] + Craft.be32(0) + Craft.be32(77)
        + Craft.be32(1000) + Craft.be32(UInt32(count ?? samples.count)) + samples.flatMap { $0 }
    return Craft.ipv4(source: agent, destination: collector, payload: Craft.udp(source: 50000, destination: 6343, payload: datagram))
}

/// A flow sample (format 1, or 3 expanded) holding `records`.
private func flowSample(_ records: [[UInt8]], expanded: Bool = false, count: Int? = nil) -> [UInt8] {
    let body = [UInt8](repeating: 0, count: expanded ? 40 : 28) + Craft.be32(UInt32(count ?? records.count))
        + records.flatMap { $0 }
    return Craft.be32(expanded ? 3 : 1) + Craft.be32(UInt32(body.count)) + body
}

/// A raw packet header record: header protocol, frame length, stripped, the header
/// (padded to 4 bytes).
private func rawHeader(_ proto: UInt32, _ header: [UInt8], length: Int? = nil) -> [UInt8] {
    let padding = [UInt8](repeating: 0, count: (4 - header.count % 4) % 4)
    let body = Craft.be32(proto) + Craft.be32(UInt32(header.count + 500)) + Craft.be32(4)
        + Craft.be32(UInt32(length ?? header.count)) + header + padding
    return Craft.be32(1) + Craft.be32(UInt32(body.count)) + body
}

/// A counter sample (format 2): no addresses.
private let counterSample = Craft.be32(2) + Craft.be32(8) + [UInt8](repeating: 0xC0, count: 8)

/// A sampled HTTP request's first bytes: a TCP segment cut inside its head.
private let sampledRequest = Array(Craft.ipv4(
    source: Craft.client, destination: Craft.server, proto: 6,
    payload: Craft.be16(51000) + Craft.be16(80) + Craft.be32(1) + Craft.be32(0) + [0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]
        + Array("GET /a HTTP/1.1\r\nHost: sampled.example\r\n\r\n".utf8) + [UInt8](repeating: 0x41, count: 400)
).prefix(128))

@Test func sampledHeadersAddressesAreObservedAndNothingAbove() {
    let packet = sflow([
        flowSample([rawHeader(1, Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4))]),
        counterSample,
        flowSample([rawHeader(99, [1, 2, 3]), rawHeader(12, Array(Craft.dnsQueryV6.prefix(60)))], expanded: true),
        flowSample([rawHeader(11, sampledRequest)]),
    ])
    // The same sampled request again, so that a stream would have two segments.
    let (seen, anomalies) = decodePackets([packet, packet])
    #expect(anomalies.isEmpty, "\(anomalies)")
    let first = seen.filter { $0.locator == .packet(1) }
    #expect(first.map(\.field) == [
        .ipSource, .ipDestination, .tunnelIPSource, .tunnelIPDestination, .tunnelIPv6Source, .tunnelIPv6Destination,
        .tunnelIPSource, .tunnelIPDestination,
    ], "\(first)")
    #expect(Array(first.map(\.value).dropFirst(2)) == [
        .ipv4(Craft.client), .ipv4(Craft.server), .ipv6(Craft.client6), .ipv6(Craft.server6),
        .ipv4(Craft.client), .ipv4(Craft.server),
    ] as [OwnedValue], "\(first)")
    // Cut copies make no DNS, TCP stream or HTTP observation.
    #expect(!seen.contains { $0.field == .dnsQuery || $0.field == .httpHost || $0.field == .httpURL }, "\(seen)")
}

@Test func sampledFragmentsAreNotReassembled() {
    let fragment = Craft.ipv4(payload: Craft.udp(payload: Craft.dnsQueryV4), fragmentOffset: 0x2000)
    let (seen, anomalies) = decodePackets([sflow([flowSample([rawHeader(11, fragment)])])])
    #expect(anomalies.isEmpty, "\(anomalies)")
    #expect(seen.count == 4, "\(seen)")
}

@Test(arguments: [
    ("sample past the end", sflow([Array(flowSample([]).dropLast(2))]), "sflow.truncated"),
    ("record past the end", sflow([flowSample([Array(rawHeader(11, Craft.dnsQueryV4).dropLast(4))])]), "sflow.truncated"),
    ("header past its record", sflow([flowSample([rawHeader(11, Craft.dnsQueryV4, length: 200)])]), "sflow.truncated"),
    ("more samples than sent", sflow([counterSample], count: 1_000_000), "sflow.truncated"),
    ("more records than sent", sflow([flowSample([], count: 4_000_000_000)]), "sflow.truncated"),
    ("agent address type 3", sflow([counterSample], addressType: 3), "sflow.bad_address_type"),
    ("cut in its header", Craft.ipv4(source: agent, destination: collector, payload: Craft.udp(
        source: 50000, destination: 6343, payload: Craft.be32(5) + Craft.be32(1) + [192, 0, 2, 9, 0, 0])), "sflow.truncated"),
] as [(String, [UInt8], String)])
func damagedSFlowIsCounted(_ name: String, _ packet: [UInt8], _ anomaly: String) {
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    #expect(anomalies == [anomaly: 1], "\(name): \(anomalies)")
    #expect(Set(seen.map(\.field)) == [.ipSource, .ipDestination], "\(name): \(seen)")
}
