import Observations
import Testing
@testable import CaptureDecoding

private let outerA = IPv4Address("10.0.0.1")!
private let outerB = IPv4Address("10.0.0.2")!
private let outer6A = IPv6Address("2001:db8:ffff::1")!
private let outer6B = IPv6Address("2001:db8:ffff::2")!

/// Wraps `inner` in an outer IPv4 header of protocol `proto`.
private func overIPv4(_ proto: UInt8, _ inner: [UInt8]) -> [UInt8] {
    Craft.ipv4(source: outerA, destination: outerB, proto: proto, payload: inner)
}

private func gre(flags: Int = 0, proto: Int, extra: [UInt8] = [], _ payload: [UInt8]) -> [UInt8] {
    Craft.be16(flags) + Craft.be16(proto) + extra + payload
}

private let innerEthernet = Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4)

/// An AYIYA header: identity of 2^4 bytes (an integer), a SHA-1 signature of 5 words,
/// shared-secret authentication, forward opcode, next header, epoch.
private func ayiya(next: UInt8, _ payload: [UInt8]) -> [UInt8] {
    [0x41, 0x52, 0x11, next] + Craft.be32(1_257_655_293) + [UInt8](repeating: 0x20, count: 16)
        + [UInt8](repeating: 0xE1, count: 20) + payload
}

/// A VXLAN-GPE header with the P flag and `next`, or without it (Ethernet).
private func vxlanGPE(next: UInt8?, _ payload: [UInt8]) -> [UInt8] {
    Craft.udp(source: 4790, destination: 4790, payload: [next == nil ? 0x08 : 0x0C, 0, 0, next ?? 0, 0, 0, 1, 0] + payload)
}

/// Packets whose outer addresses are tunnel ones and whose inner DNS query is seen.
private let tunnels: [(String, [UInt8])] = [
    ("IP-in-IP", overIPv4(4, Craft.dnsQueryV4)),
    ("6in4", overIPv4(41, Craft.dnsQueryV6)),
    ("4in6", Craft.ipv6(source: outer6A, destination: outer6B, next: 4, payload: Craft.dnsQueryV4)),
    ("6in6", Craft.ipv6(source: outer6A, destination: outer6B, next: 41, payload: Craft.dnsQueryV6)),
    ("GRE IPv4, key and sequence", overIPv4(47, gre(flags: 0x3000, proto: 0x0800, extra: [UInt8](repeating: 7, count: 8), Craft.dnsQueryV4))),
    ("GRE checksum, IPv6", overIPv4(47, gre(flags: 0x8000, proto: 0x86DD, extra: [0, 0, 0, 0], Craft.dnsQueryV6))),
    ("GRE Ethernet", overIPv4(47, gre(proto: 0x6558, innerEthernet))),
    ("ERSPAN I", overIPv4(47, gre(proto: 0x88BE, innerEthernet))),
    ("ERSPAN II", overIPv4(47, gre(flags: 0x1000, proto: 0x88BE, extra: [0, 0, 0, 1], [UInt8](repeating: 0x10, count: 8) + innerEthernet))),
    ("ERSPAN III", overIPv4(47, gre(flags: 0x1000, proto: 0x22EB, extra: [0, 0, 0, 1], [UInt8](repeating: 0x20, count: 12) + innerEthernet))),
    ("ERSPAN III platform", overIPv4(47, gre(flags: 0x1000, proto: 0x22EB, extra: [0, 0, 0, 1],
                                            [UInt8](repeating: 0x20, count: 11) + [1] + [UInt8](repeating: 0, count: 8) + innerEthernet))),
    ("PPTP", overIPv4(47, gre(flags: 0x3081, proto: 0x880B, extra: [0, 50, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0],
                             [0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4))),
    ("PPTP compressed", overIPv4(47, gre(flags: 0x2001, proto: 0x880B, extra: [0, 50, 0, 9], [0x57] + Craft.dnsQueryV6))),
    ("VXLAN", overIPv4(17, Craft.udp(source: 51000, destination: 4789, payload: [8, 0, 0, 0, 0, 0, 1, 0] + innerEthernet))),
    ("Geneve, options", overIPv4(17, Craft.udp(source: 51000, destination: 6081,
                                               payload: [0x02, 0] + Craft.be16(0x6558) + [0, 0, 1, 0] + [UInt8](repeating: 0, count: 8) + innerEthernet))),
    ("GRE in UDP", overIPv4(17, Craft.udp(source: 51000, destination: 4754, payload: gre(proto: 0x0800, Craft.dnsQueryV4)))),
    ("Teredo, origin", overIPv4(17, Craft.udp(source: 3544, destination: 51000,
                                              payload: [0, 0, 0x12, 0x34, 1, 2, 3, 4] + Craft.dnsQueryV6))),
    ("AYIYA IPv6", overIPv4(17, Craft.udp(source: 5072, destination: 53796, payload: ayiya(next: 41, Craft.dnsQueryV6)))),
    ("AYIYA IPv4", overIPv4(17, Craft.udp(source: 53796, destination: 5072, payload: ayiya(next: 4, Craft.dnsQueryV4)))),
    ("VXLAN-GPE IPv4", overIPv4(17, vxlanGPE(next: 1, Craft.dnsQueryV4))),
    ("VXLAN-GPE IPv6", overIPv4(17, vxlanGPE(next: 2, Craft.dnsQueryV6))),
    ("VXLAN-GPE Ethernet", overIPv4(17, vxlanGPE(next: 3, innerEthernet))),
    ("VXLAN-GPE without P", overIPv4(17, vxlanGPE(next: nil, innerEthernet))),
    ("VXLAN-GPE MPLS", overIPv4(17, vxlanGPE(next: 5, [0, 0, 0x11, 64] + Craft.dnsQueryV4))),
    // NSH MD type 2 with one empty TLV (3 words), MD type 1 (6 words: 4 context words).
    ("NSH MD 2", overIPv4(17, vxlanGPE(next: 4, [0x30, 0x03, 0x02, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 2, 0] + Craft.dnsQueryV4))),
    ("NSH MD 1, IPv6", overIPv4(17, vxlanGPE(next: 4, [0x0F, 0xC6, 0x01, 0x02, 0, 0, 42, 255]
                                                        + [UInt8](repeating: 9, count: 16) + Craft.dnsQueryV6))),
    ("NSH, Ethernet", overIPv4(17, vxlanGPE(next: 4, [0x00, 0x02, 0x02, 0x03, 0, 0, 42, 255] + innerEthernet))),
    ("Cisco MetaData in GRE", overIPv4(47, gre(flags: 0x2000, proto: 0x8909, extra: [0, 0, 0, 0x28],
                                               [0x08, 0x00, 1, 1, 0, 1, 0, 0] + Craft.dnsQueryV4))),
    ("Cisco MetaData on Ethernet", overIPv4(47, gre(proto: 0x6558, Craft.ethernet(type: 0x8909,
                                                                                 payload: [1, 1, 0, 1, 0, 7] + Craft.be16(0x86DD) + Craft.dnsQueryV6)))),
]

@Test(arguments: tunnels)
func tunnelsAreUnwrappedWithOuterAndInnerAddressesObserved(_ name: String, _ packet: [UInt8]) {
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    #expect(anomalies.isEmpty, "\(name): \(anomalies)")
    // The outermost header keeps the ip fields; the one inside the tunnel has tunnel ones.
    let outer = packet.first == 0x60 ? [Field.ipv6Source, .ipv6Destination] : [.ipSource, .ipDestination]
    #expect(Array(seen.prefix(2).map(\.field)) == outer, "\(name): \(seen)")
    let inner = seen.dropFirst(2).prefix(2).map(\.field)
    #expect(inner == [.tunnelIPSource, .tunnelIPDestination] || inner == [.tunnelIPv6Source, .tunnelIPv6Destination],
            "\(name): \(seen)")
    // The inner packet's client is the querier, not a tunnel endpoint.
    let query = seen.first { $0.field == .dnsQuery }
    #expect(query?.value == .domain("example.com"), "\(name)")
    #expect(query?.host == Craft.client.description || query?.host == Craft.client6.description, "\(name)")
    #expect(seen.count == 5, "\(name): \(seen)")
}

@Test func plainPacketsKeepIPFields() {
    let (seen, _) = decodeOne(Craft.dnsQueryV4, link: .rawIP)
    #expect(Set(seen.map(\.field)) == [.ipSource, .ipDestination, .dnsQuery])
    // UDP on the Teredo port that is not Teredo: not a tunnel.
    let (other, _) = decodeOne(Craft.ipv4(payload: Craft.udp(source: 3544, destination: 9, payload: [1, 2, 3])), link: .rawIP)
    #expect(Set(other.map(\.field)) == [.ipSource, .ipDestination])
}

@Test func nestingIsBounded() {
    var packet = Craft.dnsQueryV4
    for _ in 0..<6 { packet = overIPv4(4, packet) }
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    #expect(anomalies == ["tunnel.too_deep": 1])
    #expect(seen.count == 2 * PacketDecoder.maxIPHeaders)
    #expect(seen.prefix(2).map(\.field) == [.ipSource, .ipDestination])
    #expect(seen.dropFirst(2).allSatisfy { $0.field == .tunnelIPSource || $0.field == .tunnelIPDestination })
}

@Test(arguments: [
    ("GRE cut", overIPv4(47, [0x30, 0, 8, 0, 1]), "gre.truncated"),
    ("GRE routing", overIPv4(47, gre(flags: 0x4000, proto: 0x0800, Craft.dnsQueryV4)), "gre.routing_unsupported"),
    ("GRE version 3", overIPv4(47, gre(flags: 3, proto: 0x0800, Craft.dnsQueryV4)), "gre.bad_version"),
    ("PPTP without key", overIPv4(47, gre(flags: 1, proto: 0x880B, Craft.dnsQueryV4)), "gre.bad_pptp_header"),
    ("ERSPAN II cut", overIPv4(47, gre(flags: 0x1000, proto: 0x88BE, extra: [0, 0, 0, 1], [1, 2, 3])), "erspan.truncated"),
    ("VXLAN cut", overIPv4(17, Craft.udp(source: 1, destination: 4789, payload: [8, 0, 0])), "vxlan.truncated"),
    ("Geneve options past the end", overIPv4(17, Craft.udp(source: 1, destination: 6081, payload: [0x3F, 0, 0x65, 0x58, 0, 0, 0, 0])), "geneve.truncated"),
    ("AYIYA cut", overIPv4(17, Craft.udp(source: 5072, destination: 9, payload: [0x41, 0x52, 0x11])), "ayiya.truncated"),
    ("AYIYA identity past the end", overIPv4(17, Craft.udp(source: 5072, destination: 9, payload: Array(ayiya(next: 41, []).prefix(30)))), "ayiya.truncated"),
    ("VXLAN-GPE cut", overIPv4(17, Craft.udp(source: 1, destination: 4790, payload: [0x0C, 0, 0, 1])), "vxlan_gpe.truncated"),
    ("VXLAN-GPE version 1", overIPv4(17, Craft.udp(source: 1, destination: 4790, payload: [0x1C, 0, 0, 1, 0, 0, 1, 0] + Craft.dnsQueryV4)), "vxlan_gpe.bad_version"),
    ("NSH cut", overIPv4(17, vxlanGPE(next: 4, [0, 6, 1, 1])), "nsh.truncated"),
    ("NSH length past the end", overIPv4(17, vxlanGPE(next: 4, [0, 0x3F, 2, 1, 0, 0, 0, 0] + Craft.dnsQueryV4)), "nsh.truncated"),
    ("NSH length 1", overIPv4(17, vxlanGPE(next: 4, [0, 1, 2, 1, 0, 0, 0, 0] + Craft.dnsQueryV4)), "nsh.bad_length"),
    ("NSH version 1", overIPv4(17, vxlanGPE(next: 4, [0x40, 2, 2, 1, 0, 0, 0, 0] + Craft.dnsQueryV4)), "nsh.bad_version"),
    ("Cisco MetaData in GRE cut", overIPv4(47, gre(proto: 0x8909, [0x08, 0, 1, 1, 0])), "cmd.truncated"),
    ("Cisco MetaData cut", overIPv4(47, gre(proto: 0x6558, Craft.ethernet(type: 0x8909, payload: [1, 1, 0, 1, 0, 0, 8]))), "cmd.truncated"),
] as [(String, [UInt8], String)])
func damagedTunnelHeadersAreCounted(_ name: String, _ packet: [UInt8], _ anomaly: String) {
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    #expect(anomalies == [anomaly: 1], "\(name)")
    #expect(Set(seen.map(\.field)) == [.ipSource, .ipDestination], "\(name)")
}
