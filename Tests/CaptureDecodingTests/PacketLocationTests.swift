import ByteParsing
import Foundation
import Observations
import Testing
import TestSupport
@testable import CaptureDecoding

// Locating a packet's outermost IP header and flow for the evidence extract: the walk
// goes through PacketDecoder's own link-layer dispatch, so every link type the ingest
// decodes locates, and the offsets count from the packet's first byte.

private let tsharkInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")

/// One packet, its DLT_ value, and the flow and header end it must locate to (nil:
/// no IP header the decoder reads).
struct LocationCase: CustomTestStringConvertible, Sendable {
    var name: String
    var linkType: Int32
    var packet: [UInt8]
    var flow: String?
    var headersEnd: Int

    var testDescription: String { name }
}

private let udpV4 = "udp 192.0.2.1:40000 <-> 198.51.100.2:53"
private let udpV6 = "udp [2001:db8::1]:40000 <-> [2001:db8::53]:53"
/// IPv4 (20) + UDP (8), IPv6 (40) + UDP (8).
private let v4Headers = 28
private let v6Headers = 48

/// An 802.11 data frame header (FromDS), then LLC/SNAP for IPv4.
private let wlanData: [UInt8] = [0x08, 0x02, 0, 0] + [UInt8](repeating: 2, count: 18) + [0, 0]
private let snapIPv4: [UInt8] = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]
/// A TCP header with 12 bytes of options (data offset 8: 32 bytes), 10.0.0.1:1234 -> 10.0.0.2:80.
private let tcpWithOptions: [UInt8] = Craft.be16(1234) + Craft.be16(80) + [UInt8](repeating: 0, count: 8) + [0x80, 0x02, 0xFF, 0xFF]
    + [0, 0, 0, 0] + [UInt8](repeating: 1, count: 12)

let locationCases: [LocationCase] = [
    // Link types the extract's own table did not know.
    LocationCase(name: "PPP", linkType: 9, packet: [0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4, flow: udpV4, headersEnd: 4 + v4Headers),
    LocationCase(name: "PPP serial, compressed protocol", linkType: 50, packet: [0x57] + Craft.dnsQueryV6, flow: udpV6, headersEnd: 1 + v6Headers),
    LocationCase(name: "PPP with direction", linkType: 204, packet: [1, 0xFF, 0x03, 0x00, 0x21] + Craft.dnsQueryV4, flow: udpV4, headersEnd: 5 + v4Headers),
    LocationCase(name: "Cisco HDLC IPv6", linkType: 104, packet: [0x8F, 0, 0x86, 0xDD] + Craft.dnsQueryV6, flow: udpV6, headersEnd: 4 + v6Headers),
    LocationCase(name: "802.11", linkType: 105, packet: wlanData + snapIPv4 + Craft.dnsQueryV4, flow: udpV4, headersEnd: 24 + 8 + v4Headers),
    LocationCase(name: "radiotap 802.11", linkType: 127, packet: [0, 0, 12, 0] + [UInt8](repeating: 0, count: 8) + wlanData + snapIPv4 + Craft.dnsQueryV4,
                 flow: udpV4, headersEnd: 12 + 24 + 8 + v4Headers),
    LocationCase(name: "PPI Ethernet", linkType: 192, packet: [0, 0, 8, 0] + Craft.le32(1) + Craft.ethernet(type: 0x86DD, payload: Craft.dnsQueryV6),
                 flow: udpV6, headersEnd: 8 + 14 + v6Headers),
    LocationCase(name: "NFLOG", linkType: 239,
                 packet: [2, 0, 0, 0] + Craft.le16(8) + Craft.le16(1) + [0x08, 0, 3, 0] + Craft.le16(4 + Craft.dnsQueryV4.count) + Craft.le16(9) + Craft.dnsQueryV4,
                 flow: udpV4, headersEnd: 4 + 8 + 4 + v4Headers),
    LocationCase(name: "PKTAP Ethernet", linkType: 258,
                 packet: Craft.le32(108) + Craft.le32(1) + Craft.le32(1) + [UInt8](repeating: 0, count: 96) + Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4),
                 flow: udpV4, headersEnd: 108 + 14 + v4Headers),
    LocationCase(name: "IPoIB", linkType: 242, packet: [UInt8](repeating: 0, count: 40) + [0x08, 0x00, 0, 0] + Craft.dnsQueryV4, flow: udpV4, headersEnd: 44 + v4Headers),
    LocationCase(name: "PPP_ETHER", linkType: 51, packet: [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV6.count + 2) + [0, 0x57] + Craft.dnsQueryV6,
                 flow: udpV6, headersEnd: 8 + v6Headers),
    // Stacks the old table read, and deeper ones.
    LocationCase(name: "QinQinQ", linkType: 1, packet: Craft.ethernet(type: 0x0800, tags: [0x88A8, 0x8100, 0x8100], payload: Craft.dnsQueryV4),
                 flow: udpV4, headersEnd: 14 + 12 + v4Headers),
    LocationCase(name: "nine VLAN tags", linkType: 1, packet: Craft.ethernet(type: 0x0800, tags: Array(repeating: 0x8100, count: 9), payload: Craft.dnsQueryV4),
                 flow: udpV4, headersEnd: 14 + 36 + v4Headers),
    LocationCase(name: "MPLS, two labels", linkType: 1, packet: Craft.ethernet(type: 0x8847, payload: [0, 1, 0x10, 64, 0, 2, 0x11, 64] + Craft.dnsQueryV4),
                 flow: udpV4, headersEnd: 14 + 8 + v4Headers),
    LocationCase(name: "MPLS in VLAN", linkType: 1, packet: Craft.ethernet(type: 0x8847, tags: [0x8100], payload: [0, 1, 0x11, 64] + Craft.dnsQueryV6),
                 flow: udpV6, headersEnd: 14 + 4 + 4 + v6Headers),
    LocationCase(name: "PPPoE over QinQ", linkType: 1,
                 packet: Craft.ethernet(type: 0x8864, tags: [0x88A8, 0x8100], payload: [0x11, 0, 0, 1] + Craft.be16(Craft.dnsQueryV4.count + 2) + [0, 0x21] + Craft.dnsQueryV4),
                 flow: udpV4, headersEnd: 14 + 8 + 8 + v4Headers),
    LocationCase(name: "Linux cooked v1, TCP with options", linkType: 113,
                 packet: [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + [0x08, 0x00]
                    + Craft.ipv4(source: IPv4Address(0x0A00_0002), destination: IPv4Address(0x0A00_0001), proto: 6, payload: tcpWithOptions + [1, 2, 3]),
                 flow: "tcp 10.0.0.1:80 <-> 10.0.0.2:1234", headersEnd: 16 + 20 + 32),
    LocationCase(name: "loopback IPv6 (macOS family)", linkType: 0, packet: [30, 0, 0, 0] + Craft.dnsQueryV6, flow: udpV6, headersEnd: 4 + v6Headers),
    LocationCase(name: "raw IPv4, non-first fragment: no ports", linkType: 12,
                 packet: Craft.ipv4(payload: Craft.udp(payload: [1, 2, 3]), fragmentOffset: 0x0010),
                 flow: "udp 192.0.2.1:0 <-> 198.51.100.2:0", headersEnd: 20),
    // Nothing to locate.
    LocationCase(name: "802.11 protected", linkType: 105, packet: [0x08, 0x42, 0, 0] + [UInt8](repeating: 2, count: 20) + snapIPv4 + Craft.dnsQueryV4, flow: nil, headersEnd: 0),
    LocationCase(name: "PPP LCP", linkType: 9, packet: [0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4], flow: nil, headersEnd: 0),
    LocationCase(name: "USB", linkType: 189, packet: [UInt8](repeating: 0, count: 64), flow: nil, headersEnd: 0),
    LocationCase(name: "a link type not decoded", linkType: 147, packet: Craft.dnsQueryV4, flow: nil, headersEnd: 0),
    LocationCase(name: "ARP", linkType: 1, packet: Craft.ethernet(type: 0x0806, payload: [UInt8](repeating: 0, count: 28)), flow: nil, headersEnd: 0),
]

@Test("the flow and header end of a packet are found on every link type the decoder reads", arguments: locationCases)
func locatesThroughTheDecoderDispatch(_ test: LocationCase) {
    let headers = PacketHeaders.locate(packet: test.packet.span, linkType: test.linkType)
    #expect(headers?.flow.description == test.flow)
    if test.flow != nil { #expect(headers?.headersEnd == test.headersEnd) }
    // The reader kept for a whole capture gives the same answer, packet after packet.
    var reader = PacketHeaderReader()
    for _ in 0..<2 {
        let again = reader.locate(packet: test.packet.span, linkType: test.linkType)
        #expect(again == headers)
    }
}

@Test("a packet cut anywhere locates to nothing or to headers within what is left, and never traps", arguments: locationCases)
func cutPacketsLocateWithinTheirBytes(_ test: LocationCase) {
    var reader = PacketHeaderReader()
    for count in 0...test.packet.count {
        let headers = reader.locate(packet: Array(test.packet.prefix(count)).span, linkType: test.linkType)
        if let headers { #expect(headers.headersEnd <= count, "cut at \(count)") }
    }
}

@Test("the locating walk counts no anomaly: the ingest counted the packet already")
func locatingCountsNoAnomaly() {
    var decoder = PacketDecoder()
    // Decoded, a cut NFLOG packet counts one anomaly; the walk leaves that count as it is.
    let truncated: [UInt8] = [2, 0]
    decoder.decode(packet: truncated.span, link: .nflog, locator: .packet(1), time: Timestamp(nanoseconds: 0)) { _ in }
    #expect(decoder.anomalies.counts == ["nflog.truncated": 1])
    let hostile: [(LinkLayer, [UInt8])] = [
        (.radiotap, [0, 0, 0xFF, 0, 0, 0, 0, 0]),
        (.nflog, [2, 0]),
        (.ethernet, Craft.ethernet(type: 0x0800, tags: Array(repeating: 0x8100, count: 200), payload: [])),
        (.rawIP, [0x50, 0, 0]),
    ]
    for (link, packet) in hostile {
        let located = decoder.outermostIP(of: packet.span, link: link)
        if located != nil { Issue.record("\(link) located an IP layer") }
    }
    #expect(decoder.anomalies.counts == ["nflog.truncated": 1])
    #expect(decoder.anomalies.total == 1)
}


/// Captures of link types the extract's own table did not know (PPP with MPLS, 802.11
/// with and without radiotap, NFLOG, PKTAP, PPI, IPoIB, ipnet, Cisco HDLC, ARCNET) and
/// of VLAN, QinQ, MPLS and PPPoE stacks, and a pcapng of two link types.
private let locationCaptures = [
    "tcpd-mpls-traceroute.pcap", "tcpd-lspping-fec-ldp.pcap", "zk-quic-interop-quic-go_quic-go-handshake.pcap",
    "zk-radiotap.pcap", "zk-wlanmon.pcap", "tcpd-nflog.pcap", "zk-nflog-http.pcap", "tcpd-LINKTYPE_PKTAP.pcap",
    "lpcap-http_PPI.pcap", "tcpd-ipoib.pcap", "tcpd-e1000g.pcap", "sv-decode-chdlc-01-hdlc-http_1tx.pcap",
    "tcpd-arcnet-rfc1051-arp-icmp-http.pcap", "zk-vlan-qinqinq.pcap", "zk-mpls-in-vlan.pcap", "zk-mixed-vlan-mpls.pcap",
    "zk-pppoe-over-qinq.pcap", "zk-vlan-pcp-dei.pcapng", "pngtg-le-difficult-test202.pcapng",
]

@Test("every frame locates to tshark's outermost IP addresses and transport ports",
      .enabled(if: tsharkInstalled && corpusPresent, "needs tshark and ../shared/corpus"), arguments: locationCaptures)
func locationAgreesWithTshark(_ name: String) throws {
    let path = try #require(corpusDirectory) + "/pcap/" + name
    // Per frame: tshark's protocol stack and its first IPv4/IPv6/TCP/UDP fields.
    let fields = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
                  "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]
    let tshark = try #require(ExternalCommand.run("tshark", ["-r", path, "-T", "fields", "-E", "occurrence=f"] + fields.flatMap { ["-e", $0] }))
    #expect(tshark.status == 0)
    let output = tshark.output
    var expected: [UInt64: [String]] = [:]
    for line in output.split(separator: "\n") {
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard columns.count == fields.count, let frame = UInt64(columns[0]) else { continue }
        expected[frame] = columns
    }
    #expect(!expected.isEmpty)

    let reader = try CaptureRecordReader(file: InputFile(path: path))
    var headerReader = PacketHeaderReader()
    var located = 0
    var frames: UInt64 = 0
    _ = reader.forEachPacket { record in
        frames = record.frame
        let headers = headerReader.locate(packet: record.bytes, linkType: record.linkType)
        guard let columns = expected[record.frame] else {
            Issue.record("frame \(record.frame) is not one tshark numbers")
            return true
        }
        let stack = columns[1].split(separator: ":")
        guard let ip = stack.firstIndex(where: { $0 == "ip" || $0 == "ipv6" }) else {
            #expect(headers == nil, "frame \(record.frame) (\(columns[1])): \(headers.map { "\($0.flow)" } ?? "")")
            return true
        }
        guard let headers else {
            Issue.record("frame \(record.frame) (\(columns[1])) has no located IP header")
            return true
        }
        located += 1
        let (source, destination) = stack[ip] == "ip" ? (columns[2], columns[3]) : (columns[4], columns[5])
        let addresses = Set([headers.flow.addressA, headers.flow.addressB].map { address in
            headers.flow.ipVersion == 4 ? IPv4Address(UInt32(truncatingIfNeeded: address.low)).description : address.description
        })
        #expect(addresses == [source, destination], "frame \(record.frame): \(headers.flow)")
        let recordLength = record.bytes.count
        #expect(headers.headersEnd <= recordLength)
        // The transport right after the outer IP header (not a tunnelled one's, not an
        // ICMP error's quoted one): its ports, unless a fragment hides them.
        if ip + 1 < stack.count, headers.flow.hasPorts {
            let ports: (String, String)? = switch stack[ip + 1] {
            case "tcp": (columns[6], columns[7])
            case "udp": (columns[8], columns[9])
            default: nil
            }
            if let ports {
                #expect(Set([String(headers.flow.portA), String(headers.flow.portB)]) == Set([ports.0, ports.1]),
                        "frame \(record.frame): \(headers.flow)")
            }
        }
        return true
    }
    #expect(frames == UInt64(expected.count), "frames numbered as tshark numbers them")
    #expect(located > 0)
}
