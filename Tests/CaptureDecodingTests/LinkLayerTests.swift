import ByteParsing
import Foundation
import Observations
import Testing
@testable import CaptureDecoding

// The link layers beyond Ethernet, loopback, Linux cooked and raw IP: PPP and its
// framings, Cisco HDLC, FDDI, 802.11 behind its capture headers, ipnet, IPoIB, NFLOG,
// PKTAP and ARCNET. Each header is laid out as in a capture tshark 4.0 reads to the same
// addresses (checked with `tshark -T fields -e ip.src -e ipv6.src` on the same bytes).


/// LLC/SNAP (RFC 1042) with an EtherType.
private func snap(_ type: Int, oui: [UInt8] = [0, 0, 0]) -> [UInt8] { [0xAA, 0xAA, 0x03] + oui + Craft.be16(type) }

/// An 802.11 data frame header: frame control (type and subtype byte, flags byte),
/// duration, three addresses, sequence control, and what the flags and subtype add.
private func wlan(subtype: UInt8 = 0, flags: UInt8 = 0x01, qos: [UInt8] = [0, 0]) -> [UInt8] {
    var header: [UInt8] = [0x08 | subtype << 4, flags, 0, 0]
    header += [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3, 0, 0]
    if flags & 0x03 == 0x03 { header += [2, 0, 0, 0, 0, 4] }
    if subtype & 0x8 != 0 {
        header += qos
        if flags & 0x80 != 0 { header += [0, 0, 0, 0] }
    }
    return header
}

private let wlanV4 = wlan() + snap(0x0800) + Craft.dnsQueryV4
private let radiotap: [UInt8] = [0, 0, 8, 0, 0, 0, 0, 0]
private let prism = Craft.le32(0x41) + Craft.le32(144) + [UInt8](repeating: 0, count: 136)
private let avs = Craft.be32(0x8021_1001) + Craft.be32(64) + [UInt8](repeating: 0, count: 56)

/// An NFLOG packet: family, version, resource id, a packet-header TLV, the payload TLV
/// (little-endian lengths, as a little-endian host writes them).
private func nflog(family: UInt8, _ payload: [UInt8], bigEndian: Bool = false) -> [UInt8] {
    func tlv(_ type: Int, _ value: [UInt8]) -> [UInt8] {
        let head = bigEndian ? Craft.be16(4 + value.count) + Craft.be16(type) : Craft.le16(4 + value.count) + Craft.le16(type)
        return head + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }
    return [family, 0, 0, 0] + tlv(1, [0x08, 0x00, 3, 0]) + tlv(10, [0]) + tlv(9, payload)
}

@Test(arguments: [
    LinkCase(name: "PPP with address and control", link: .ppp, packet: [0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "PPP without address and control", link: .ppp, packet: [0x00, 0x57] + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "PPP compressed protocol", link: .ppp, packet: [0x21] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "PPP MPLS", link: .ppp, packet: [0xFF, 0x03, 0x02, 0x81, 0, 1, 0x11, 64] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "PPP LCP", link: .ppp, packet: [0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4], expected: []),
    LinkCase(name: "PPP with direction", link: .pppWithDirection, packet: [1, 0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "PPP_ETHER", link: .pppoe, packet: [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV6.count + 2) + [0, 0x57] + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "PPPoE MPLS", link: .ethernet, packet: Craft.ethernet(type: 0x8864, payload: [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV4.count + 6) + [0x02, 0x81, 0, 1, 0x11, 64] + Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "Cisco HDLC IPv4", link: .ciscoHDLC, packet: [0x0F, 0, 0x08, 0x00] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "Cisco HDLC IPv6", link: .ciscoHDLC, packet: [0x8F, 0, 0x86, 0xDD] + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "Cisco HDLC MPLS", link: .ciscoHDLC, packet: [0x0F, 0, 0x88, 0x47, 0, 1, 0x11, 64] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "Cisco HDLC SLARP", link: .ciscoHDLC, packet: [0x8F, 0, 0x80, 0x35] + [UInt8](repeating: 0, count: 20), expected: []),
    LinkCase(name: "FDDI LLC", link: .fddi, packet: [0x50] + [UInt8](repeating: 1, count: 12) + snap(0x0800) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "FDDI SMT", link: .fddi, packet: [0x41] + [UInt8](repeating: 1, count: 12) + snap(0x0800) + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "802.11 data", link: .ieee80211, packet: wlanV4, expected: expectedV4),
    LinkCase(name: "802.11 QoS data", link: .ieee80211, packet: wlan(subtype: 8) + snap(0x86DD) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "802.11 QoS data with HT Control", link: .ieee80211, packet: wlan(subtype: 8, flags: 0x81) + snap(0x0800) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "802.11 four addresses", link: .ieee80211, packet: wlan(flags: 0x03) + snap(0x0800) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "802.11 bridge-tunnel OUI", link: .ieee80211, packet: wlan() + snap(0x0800, oui: [0, 0, 0xF8]) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "802.11 protected", link: .ieee80211, packet: wlan(flags: 0x41) + snap(0x0800) + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "802.11 null function", link: .ieee80211, packet: wlan(subtype: 4) + snap(0x0800) + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "802.11 A-MSDU", link: .ieee80211, packet: wlan(subtype: 8, qos: [0x80, 0]) + snap(0x0800) + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "802.11 beacon", link: .ieee80211, packet: [0x80, 0] + [UInt8](repeating: 0, count: 22) + snap(0x0800) + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "radiotap", link: .radiotap, packet: radiotap + wlanV4, expected: expectedV4),
    LinkCase(name: "Prism", link: .prism, packet: prism + wlanV4, expected: expectedV4),
    LinkCase(name: "AVS under the Prism link type", link: .prism, packet: avs + wlanV4, expected: expectedV4),
    LinkCase(name: "AVS", link: .avs, packet: avs + wlanV4, expected: expectedV4),
    LinkCase(name: "PPI 802.11", link: .ppi, packet: [0, 0, 8, 0] + Craft.le32(105) + wlanV4, expected: expectedV4),
    LinkCase(name: "PPI Ethernet", link: .ppi, packet: [0, 0, 8, 0] + Craft.le32(1) + Craft.ethernet(type: 0x86DD, payload: Craft.dnsQueryV6), expected: expectedV6),
    LinkCase(name: "ipnet IPv4", link: .ipnet, packet: [1, 2, 0, 0] + Craft.be32(UInt32(Craft.dnsQueryV4.count)) + [UInt8](repeating: 0, count: 16) + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "ipnet IPv6", link: .ipnet, packet: [1, 26, 0, 0] + Craft.be32(UInt32(Craft.dnsQueryV6.count)) + [UInt8](repeating: 0, count: 16) + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "IPoIB", link: .ipoib, packet: [UInt8](repeating: 0, count: 40) + [0x08, 0x00, 0, 0] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "NFLOG IPv4", link: .nflog, packet: nflog(family: 2, Craft.dnsQueryV4), expected: expectedV4),
    LinkCase(name: "NFLOG IPv6", link: .nflog, packet: nflog(family: 10, Craft.dnsQueryV6), expected: expectedV6),
    LinkCase(name: "NFLOG big-endian host", link: .nflog, packet: nflog(family: 2, Craft.dnsQueryV4, bigEndian: true), expected: expectedV4),
    LinkCase(name: "ARCNET RFC 1051", link: .arcnet, packet: [1, 2, 0, 0, 0xF0] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "ARCNET RFC 1201", link: .arcnet, packet: [1, 2, 0, 0, 0xD4, 0, 0, 1] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "ARCNET RFC 1201 first fragment", link: .arcnet, packet: [1, 2, 0, 0, 0xD4, 3, 0, 1] + Craft.dnsQueryV4, expected: expectedV4),
    LinkCase(name: "ARCNET RFC 1201 later fragment", link: .arcnet, packet: [1, 2, 0, 0, 0xD4, 2, 0, 1] + Craft.dnsQueryV4, expected: []),
    LinkCase(name: "ARCNET IPv6", link: .arcnet, packet: [1, 2, 0, 0, 0xC4, 0, 0, 1] + Craft.dnsQueryV6, expected: expectedV6),
    LinkCase(name: "ARCNET ARP", link: .arcnet, packet: [1, 2, 0, 0, 0xF1, 0, 7, 8, 0], expected: []),
    LinkCase(name: "PKTAP Ethernet", link: .pktap, packet: Craft.le32(108) + Craft.le32(1) + Craft.le32(1) + [UInt8](repeating: 0, count: 96) + Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4), expected: expectedV4),
])
func moreLinkLayersReachIPAndDNS(_ test: LinkCase) {
    let result = decodeOne(test.packet, link: test.link)
    #expect(Set(result.seen.map(\.description)) == test.expected)
    #expect(result.seen.count == test.expected.count)
    #expect(result.anomalies.isEmpty, "\(result.anomalies)")
}

@Test(arguments: [
    (LinkLayer.ppp, 9), (.ppp, 50), (.pppWithDirection, 204), (.pppoe, 51), (.ciscoHDLC, 104), (.fddi, 10),
    (.ieee80211, 105), (.radiotap, 127), (.prism, 119), (.avs, 163), (.ppi, 192), (.ipnet, 226), (.ipoib, 242),
    (.nflog, 239), (.pktap, 258), (.arcnet, 129), (.noIP, 189), (.noIP, 220), (.noIP, 249), (.noIP, 187), (.noIP, 227),
] as [(LinkLayer, Int32)])
func moreLinkTypesMapToDecoders(_ link: LinkLayer, _ dlt: Int32) {
    #expect(LinkLayer(dataLinkType: dlt) == link)
}

@Test(arguments: [
    HostileCase(name: "PPP empty", link: .ppp, packet: [], anomaly: "ppp.truncated", observations: 0),
    HostileCase(name: "PPP address and control only", link: .ppp, packet: [0xFF, 0x03], anomaly: "ppp.truncated", observations: 0),
    HostileCase(name: "PPP half a protocol", link: .ppp, packet: [0xFF, 0x03, 0x00], anomaly: "ppp.truncated", observations: 0),
    HostileCase(name: "PPP with direction empty", link: .pppWithDirection, packet: [], anomaly: "ppp.truncated", observations: 0),
    HostileCase(name: "PPP_ETHER cut short", link: .pppoe, packet: [0x11, 0, 0, 1, 0], anomaly: "pppoe.truncated", observations: 0),
    HostileCase(name: "PPPoE length shorter than its protocol", link: .pppoe, packet: [0x11, 0, 0, 1, 0, 1, 0, 0x21] + Craft.dnsQueryV4, anomaly: "pppoe.bad_length", observations: 0),
    HostileCase(name: "Cisco HDLC cut short", link: .ciscoHDLC, packet: [0x0F, 0, 0x08], anomaly: "chdlc.truncated", observations: 0),
    HostileCase(name: "FDDI cut short", link: .fddi, packet: [0x50, 1, 2, 3], anomaly: "fddi.truncated", observations: 0),
    HostileCase(name: "LLC cut short", link: .fddi, packet: [0x50] + [UInt8](repeating: 1, count: 12) + [0xAA, 0xAA, 0x03, 0], anomaly: "llc.truncated", observations: 0),
    HostileCase(name: "802.11 one byte", link: .ieee80211, packet: [0x08], anomaly: "wlan.truncated", observations: 0),
    HostileCase(name: "802.11 header cut short", link: .ieee80211, packet: Array(wlan().prefix(20)), anomaly: "wlan.truncated", observations: 0),
    HostileCase(name: "802.11 QoS header cut before its HT Control", link: .ieee80211, packet: Array(wlan(subtype: 8, flags: 0x81).prefix(28)), anomaly: "wlan.truncated", observations: 0),
    HostileCase(name: "radiotap cut short", link: .radiotap, packet: [0, 0, 8], anomaly: "radiotap.truncated", observations: 0),
    HostileCase(name: "radiotap longer than the packet", link: .radiotap, packet: [0, 0, 0xFF, 0, 0, 0, 0, 0], anomaly: "radiotap.truncated", observations: 0),
    HostileCase(name: "radiotap version 1", link: .radiotap, packet: [1, 0, 8, 0, 0, 0, 0, 0] + wlanV4, anomaly: "radiotap.bad_header", observations: 0),
    HostileCase(name: "Prism cut short", link: .prism, packet: Array(prism.prefix(100)), anomaly: "prism.truncated", observations: 0),
    HostileCase(name: "AVS cut short", link: .avs, packet: Array(avs.prefix(6)), anomaly: "avs.truncated", observations: 0),
    HostileCase(name: "PPI cut short", link: .ppi, packet: [0, 0, 8, 0, 105], anomaly: "ppi.truncated", observations: 0),
    HostileCase(name: "PPI longer than the packet", link: .ppi, packet: [0, 0, 0x40, 0] + Craft.le32(105) + [1, 2], anomaly: "ppi.truncated", observations: 0),
    HostileCase(name: "ipnet cut short", link: .ipnet, packet: [1, 2, 0, 0, 0], anomaly: "ipnet.truncated", observations: 0),
    HostileCase(name: "IPoIB cut short", link: .ipoib, packet: [UInt8](repeating: 0, count: 42), anomaly: "ipoib.truncated", observations: 0),
    HostileCase(name: "NFLOG cut short", link: .nflog, packet: [2, 0], anomaly: "nflog.truncated", observations: 0),
    HostileCase(name: "NFLOG attribute of length 2", link: .nflog, packet: [2, 0, 0, 0, 2, 0, 9, 0] + Craft.dnsQueryV4, anomaly: "nflog.bad_length", observations: 0),
    HostileCase(name: "NFLOG attribute past the packet", link: .nflog, packet: [2, 0, 0, 0, 8, 0, 1, 0, 8, 0, 3, 0, 0xF0, 0, 4, 0, 1, 2], anomaly: "nflog.truncated", observations: 0),
    HostileCase(name: "NFLOG only empty attributes", link: .nflog, packet: [2, 0, 0, 0] + (0..<70).flatMap { _ in [4, 0, 1, 0] as [UInt8] }, anomaly: "nflog.too_many_attributes", observations: 0),
    HostileCase(name: "ARCNET cut short", link: .arcnet, packet: [1, 2, 0, 0], anomaly: "arcnet.truncated", observations: 0),
    HostileCase(name: "ARCNET RFC 1201 cut short", link: .arcnet, packet: [1, 2, 0, 0, 0xD4, 0, 0], anomaly: "arcnet.truncated", observations: 0),
    HostileCase(name: "PKTAP cut short", link: .pktap, packet: Craft.le32(108) + Craft.le32(1), anomaly: "pktap.truncated", observations: 0),
])
func hostileLinkHeadersAreCountedNotFatal(_ test: HostileCase) {
    expectCountedNotFatal(test)
}

@Test func payloadCutBySnapshotLengthIsStillDecoded() {
    // NFLOG's payload attribute says the whole packet; a snapshot length kept less.
    let packet = Array(nflog(family: 2, Craft.dnsQueryV4).dropLast(12))
    let result = decodeOne(packet, link: .nflog)
    #expect(result.seen.filter { $0.field == .ipSource || $0.field == .ipDestination }.count == 2)
}

@Test func everyTruncationOfANewLinkHeaderIsSafe() {
    let packets: [(LinkLayer, [UInt8])] = [
        (.ppp, [0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4),
        (.pppWithDirection, [0, 0x21] + Craft.dnsQueryV4),
        (.pppoe, [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV4.count + 2) + [0, 0x21] + Craft.dnsQueryV4),
        (.ciscoHDLC, [0x0F, 0, 0x08, 0x00] + Craft.dnsQueryV4),
        (.fddi, [0x50] + [UInt8](repeating: 1, count: 12) + snap(0x0800) + Craft.dnsQueryV4),
        (.radiotap, radiotap + wlan(subtype: 8, flags: 0x83) + snap(0x0800) + Craft.dnsQueryV4),
        (.prism, prism + wlanV4),
        (.prism, avs + wlanV4),
        (.ppi, [0, 0, 8, 0] + Craft.le32(105) + wlanV4),
        (.ipnet, [1, 2, 0, 0] + [UInt8](repeating: 0, count: 20) + Craft.dnsQueryV4),
        (.ipoib, [UInt8](repeating: 0, count: 40) + [0x08, 0x00, 0, 0] + Craft.dnsQueryV4),
        (.nflog, nflog(family: 2, Craft.dnsQueryV4)),
        (.pktap, Craft.le32(12) + Craft.le32(1) + Craft.le32(101) + Craft.dnsQueryV4),
        (.arcnet, [1, 2, 0, 0, 0xD4, 0, 0, 1] + Craft.dnsQueryV4),
    ]
    for (link, packet) in packets {
        for cut in 0...packet.count {
            _ = decodeOne(Array(packet.prefix(cut)), link: link)
        }
        #expect(decodeOne(packet, link: link).seen.count == 3, "\(link)")
    }
}

/// Writes a capture, reads it, removes it.
private func readCapture(_ bytes: [UInt8]) throws -> (seen: [Seen], summary: ReadSummary, reader: CaptureReader) {
    let path = try Craft.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try CaptureReader(file: try InputFile(path: path), filter: nil)
    var seen: [Seen] = []
    let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
    return (seen, summary, reader)
}

@Test(arguments: [
    (UInt32(9), [0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4),
    (50, [0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4),
    (204, [0, 0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4),
    (51, [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV4.count + 2) + [0, 0x21] + Craft.dnsQueryV4),
    (104, [0x0F, 0, 0x08, 0x00] + Craft.dnsQueryV4),
    (10, [0x50] + [UInt8](repeating: 1, count: 12) + snap(0x0800) + Craft.dnsQueryV4),
    (105, wlanV4),
    (127, radiotap + wlanV4),
    (119, prism + wlanV4),
    (163, avs + wlanV4),
    (192, [0, 0, 8, 0] + Craft.le32(105) + wlanV4),
    (226, [1, 2, 0, 0] + [UInt8](repeating: 0, count: 20) + Craft.dnsQueryV4),
    (242, [UInt8](repeating: 0, count: 40) + [0x08, 0x00, 0, 0] + Craft.dnsQueryV4),
    (239, nflog(family: 2, Craft.dnsQueryV4)),
    (129, [1, 2, 0, 0, 0xF0] + Craft.dnsQueryV4),
    (258, Craft.le32(12) + Craft.le32(1) + Craft.le32(1) + Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4)),
] as [(UInt32, [UInt8])])
func captureFilesOfTheNewLinkTypes(_ linkType: UInt32, _ packet: [UInt8]) throws {
    let (seen, summary, reader) = try readCapture(Craft.pcap(linkType: linkType, packets: [packet]))
    #expect(reader.linkType == Int32(linkType))
    #expect(reader.decodesLinkType)
    #expect(Set(seen.map(\.description)) == expectedV4)
    #expect(summary.packets == 1 && summary.packetsDecoded == 1)
    #expect(summary.notes.isEmpty && summary.anomalies.total == 0 && summary.damage == nil)
}

@Test func linkTypeWithoutIPIsNotedAndCountedAsDecoded() throws {
    let (seen, summary, reader) = try readCapture(Craft.pcap(linkType: 220, packets: [[1, 2, 3], [4, 5, 6]]))
    #expect(!reader.decodesLinkType)
    #expect(seen.isEmpty)
    #expect(summary.notes == ["link type 220 (USB_LINUX_MMAPPED) carries no IP; packets counted as decoded, with nothing to inspect"])
    #expect(summary.anomalies.total == 0)
    #expect(summary.packets == 2 && summary.packetsDecoded == 2 && summary.packetsUndecodable == 0)
}
