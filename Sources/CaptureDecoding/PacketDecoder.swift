import Observations

/// The link layers this module decodes, from libpcap's `pcap_datalink` value (a DLT_
/// number, which libpcap has already mapped from the file's LINKTYPE_ number).
enum LinkLayer: Equatable {
    /// DLT_EN10MB (1): Ethernet II, with 802.1Q / 802.1ad tags.
    case ethernet
    /// DLT_NULL (0, family in the capturing host's byte order) and DLT_LOOP (108,
    /// network order): a 4-byte address family, then the packet.
    case loopback
    /// DLT_LINUX_SLL (113): Linux "cooked" capture, version 1.
    case linuxCooked
    /// DLT_LINUX_SLL2 (276): Linux "cooked" capture, version 2.
    case linuxCooked2
    /// Raw IP: DLT_RAW (12; libpcap maps LINKTYPE_RAW 101 to it on Linux), 14 (DLT_RAW
    /// on OpenBSD, which Linux libpcap passes through unnamed), DLT_IPV4 (228) and
    /// DLT_IPV6 (229). The version nibble decides, as libpcap's own filters do, so an
    /// IPv4 packet in a DLT_IPV6 file is still read.
    case rawIP
    /// DLT_PPP (9) and DLT_PPP_SERIAL (50, PPP in HDLC-like framing).
    case ppp
    /// DLT_PPP_WITH_DIR (204): a direction byte, then PPP.
    case pppWithDirection
    /// DLT_PPP_ETHER (51): a PPPoE session header without the Ethernet header.
    case pppoe
    /// DLT_C_HDLC (104): Cisco HDLC.
    case ciscoHDLC
    /// DLT_FDDI (10).
    case fddi
    /// DLT_IEEE802_11 (105): 802.11 frames without a radio header.
    case ieee80211
    /// DLT_IEEE802_11_RADIO (127): radiotap, then 802.11.
    case radiotap
    /// DLT_PRISM_HEADER (119): a Prism (or AVS) header, then 802.11.
    case prism
    /// DLT_IEEE802_11_RADIO_AVS (163): an AVS header, then 802.11.
    case avs
    /// DLT_PPI (192): Per-Packet Information, then 802.11 or Ethernet.
    case ppi
    /// DLT_IPNET (226): Solaris ipnet.
    case ipnet
    /// DLT_IPOIB (242): IP over InfiniBand.
    case ipoib
    /// DLT_NFLOG (239): Linux netfilter log.
    case nflog
    /// DLT_PKTAP (258): Apple's packet tap, then the packet's own link type.
    case pktap
    /// DLT_ARCNET_LINUX (129): ARCNET as Linux captures it.
    case arcnet
    /// A link type that carries no IP at all (`carriesNoIP`): nothing to decode.
    case noIP

    init?(dataLinkType: Int32) {
        switch dataLinkType {
        case 1: self = .ethernet
        case 0, 108: self = .loopback
        case 113: self = .linuxCooked
        case 276: self = .linuxCooked2
        case 12, 14, 101, 228, 229: self = .rawIP
        case 9, 50: self = .ppp
        case 204: self = .pppWithDirection
        case 51: self = .pppoe
        case 104: self = .ciscoHDLC
        case 10: self = .fddi
        case 105: self = .ieee80211
        case 127: self = .radiotap
        case 119: self = .prism
        case 163: self = .avs
        case 192: self = .ppi
        case 226: self = .ipnet
        case 242: self = .ipoib
        case 239: self = .nflog
        case 258: self = .pktap
        case 129: self = .arcnet
        default:
            guard LinkLayer.carriesNoIP(dataLinkType) else { return nil }
            self = .noIP
        }
    }

    /// Link types that cannot carry an IP packet Cairn could read, so that their
    /// packets are not reported as undecodable: USB (DLT_USB_LINUX 189,
    /// DLT_USB_LINUX_MMAPPED 220, DLT_USBPCAP 249, DLT_USB_2_0 288), Bluetooth HCI and
    /// LE link layer (187, 201, 251, 254, 256), SocketCAN (227), D-Bus (231), netlink
    /// (253), vsock (271). A small explicit list: anything else not decoded is noted as
    /// such.
    static func carriesNoIP(_ dataLinkType: Int32) -> Bool {
        switch dataLinkType {
        case 189, 220, 249, 288, 187, 201, 251, 254, 256, 227, 231, 253, 271: true
        default: false
        }
    }

    /// The layer a packet of this link type starts at; nil when there is nothing to
    /// decode (`noIP`).
    var firstLayer: Layer? {
        switch self {
        case .ethernet: .ethernet
        case .loopback: .loopback
        case .linuxCooked: .linuxCooked
        case .linuxCooked2: .linuxCooked2
        case .rawIP: .rawIP
        case .ppp: .ppp
        case .pppWithDirection: .pppWithDirection
        case .pppoe: .pppoeSession
        case .ciscoHDLC: .ciscoHDLC
        case .fddi: .fddi
        case .ieee80211: .ieee80211
        case .radiotap: .radiotap
        case .prism: .prism
        case .avs: .avs
        case .ppi: .ppi
        case .ipnet: .ipnet
        case .ipoib: .ipoib
        case .nflog: .nflog
        case .pktap: .pktap
        case .arcnet: .arcnet
        case .noIP: nil
        }
    }
}

/// A protocol layer the dispatch can hand bytes to.
enum Layer {
    case ethernet, pppoeSession, mpls, loopback, linuxCooked, linuxCooked2, rawIP
    case ppp, pppWithDirection, ciscoHDLC, fddi, llc
    case ieee80211, radiotap, prism, avs, ppi
    case ipnet, ipoib, nflog, pktap, arcnet
    case ipv4, ipv6
    case gre, vxlan, vxlanGPE, geneve, ayiya, nsh, ciscoMetaData, ciscoMetaDataInGRE
    case sflow
    case udp, tcp, icmp, icmpv6
    case dns, dnsOverTCP, tls, http
    case quic
    case dhcp

    /// TCP, UDP, ICMP and ICMPv6: where a sampled packet's decoding stops.
    var isTransport: Bool {
        switch self {
        case .udp, .tcp, .icmp, .icmpv6: true
        default: false
        }
    }

    /// The layer an EtherType (also used by Linux cooked captures) announces; nil for
    /// the ones not decoded.
    static func forEtherType(_ type: UInt16) -> Layer? {
        switch type {
        case 0x0800: .ipv4
        case 0x86DD: .ipv6
        case 0x8864: .pppoeSession
        case 0x8847, 0x8848: .mpls
        case 0x8909: .ciscoMetaData
        default: nil
        }
    }
}

/// What a layer decoder returns: the next layer and where its bytes are among the bytes
/// the decoder was given (offsets, so that a step holds no borrowed memory), or the end.
enum Step {
    case next(Layer, Range<Int>)
    case done

    static func etherType(_ type: UInt16, _ payload: Range<Int>) -> Step {
        guard let layer = Layer.forEtherType(type) else { return .done }
        return .next(layer, payload)
    }
}

/// Per-packet facts a layer hands to the layers above it.
struct PacketContext {
    let locator: Locator
    let time: Timestamp
    /// The innermost IP header's addresses read so far (the client and server of
    /// what the packet carries).
    var source: HostAddress = .none
    var destination: HostAddress = .none
    /// IP headers read so far: more than one means tunnels.
    var ipHeaders = 0
    /// The packet's original length on the wire (0 for a datagram put together from
    /// fragments or a reassembled stream, whose IP headers were observed already).
    var wireLength: UInt32 = 0
    /// The bytes are the first bytes of another packet that an sFlow agent sampled, cut
    /// on purpose: they are read to their IP headers only (addresses observed, length 0
    /// since that packet was not on this capture's wire), with no fragment reassembled,
    /// no cut counted, and no transport decoded, so that a cut copy makes no TCP stream
    /// and no DNS, TLS or HTTP observation.
    var isSampled = false
    /// Only the link layers are walked (`PacketHeaderReader`): the dispatch hands the
    /// first IPv4 or IPv6 layer back instead of decoding it, so nothing is observed and
    /// no fragment or stream is kept.
    var stopsAtIP = false
}

/// The longest values observed: longer ones are counted, not observed.
enum ValueCapacity {
    /// RFC 1035 §2.3.4: a name is at most 255 bytes on the wire, so its dotted text
    /// (no trailing dot) is at most 253 bytes.
    static let name = 255
    /// Longer URLs are counted (`http.url_too_long`), not observed: 8 KiB is the request
    /// line limit of common servers (Apache's LimitRequestLine, nginx's default buffer).
    static let url = 8192
}

/// Decodes one packet at a time from its link layer up, handing every observation to
/// the caller. Pure: it knows nothing of matching or storage; malformed input is
/// counted in `anomalies` and never stops the next packet.
struct PacketDecoder {
    /// A packet without tunnels is at most link → (PPPoE or MPLS) → IP → UDP → DNS (a
    /// capture header such as PKTAP, PPI, Prism or radiotap adds up to three more: AVS,
    /// 802.11, LLC), and each tunnel adds at most four layers (IP, UDP, VXLAN, Ethernet);
    /// the bound only guards the dispatch loop against a layer that would hand on forever.
    static let maxLayers = 28
    /// IP headers in one packet: the packet's own and up to three tunnels around it
    /// (real captures nest two at most). Deeper nesting is an anomaly, not decoded.
    static let maxIPHeaders = 4

    var anomalies = PacketAnomalies()
    /// QUIC Initial CRYPTO reassembly (QUIC.swift); its memory is taken on first use.
    let quicHandshakes = QUICHandshakes()
    /// The dotted text of the DNS name read last (DNS.swift): at most 253 bytes, its
    /// capacity kept so that reading a name does not allocate.
    var nameBuffer: [UInt8] = {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(ValueCapacity.name)
        return buffer
    }()

    /// The host names DHCP clients gave in their requests, by transaction, until the
    /// server's acknowledgement (DHCP.swift).
    var dhcpClientNames = DHCPClientNames()

    /// TCP streams being reassembled (TCPReassembly.swift).
    var flows: FlowTable
    /// IP datagrams being reassembled from fragments (Fragments.swift).
    let fragments: FragmentTable

    init(options: DecodingOptions = DecodingOptions()) {
        self.flows = FlowTable(options: options)
        self.fragments = FragmentTable(options: options)
    }

    /// Ends the capture: every TCP stream is finished (what it buffered is parsed as far
    /// as it goes, incomplete units counted by their parsers), and datagrams whose
    /// fragments never all came are counted (`ip.fragments_incomplete`) and their first
    /// fragment's bytes decoded alone.
    mutating func finish(observe: (Observation) -> Void) {
        finishAllStreams(observe: observe)
        finishFragments(observe: observe)
    }

    /// The single dispatch: each layer checks its length, reads its header and says
    /// which layer gets the rest.
    mutating func decode(
        packet: Span<UInt8>, link: LinkLayer, locator: Locator, time: Timestamp, wireLength: UInt32 = 0,
        observe: (Observation) -> Void
    ) {
        var context = PacketContext(locator: locator, time: time)
        context.wireLength = wireLength
        guard let first = link.firstLayer else { return }
        run(first, packet, context: &context, observe: observe)
    }

    /// The dispatch loop, from any layer: a packet from its link layer, or a datagram
    /// put together from fragments from its transport layer.
    mutating func run(
        _ firstLayer: Layer, _ firstBytes: Span<UInt8>, context: inout PacketContext, observe: (Observation) -> Void
    ) {
        _ = dispatch(firstLayer, firstBytes, context: &context, observe: observe)
    }

    /// `run`'s loop. When `context.stopsAtIP`, it stops at the first IPv4 or IPv6 layer
    /// and returns it with where its bytes are within `firstBytes`; otherwise nil.
    mutating func dispatch(
        _ firstLayer: Layer, _ firstBytes: Span<UInt8>, context: inout PacketContext, observe: (Observation) -> Void
    ) -> (layer: Layer, range: Range<Int>)? {
        var step = Step.next(firstLayer, 0..<firstBytes.count)
        var bytes = firstBytes
        // Where `bytes` starts within `firstBytes`: each step hands on a range of its own.
        var start = 0
        for _ in 0..<PacketDecoder.maxLayers {
            guard case .next(let layer, let range) = step else { return nil }
            if context.isSampled, layer.isTransport { return nil }
            bytes = bytes.extracting(range)
            start += range.lowerBound
            if context.stopsAtIP, layer == .ipv4 || layer == .ipv6 { return (layer, start..<(start + bytes.count)) }
            switch layer {
            case .ethernet: step = decodeEthernet(bytes)
            case .pppoeSession: step = decodePPPoESession(bytes)
            case .mpls: step = decodeMPLS(bytes)
            case .loopback: step = decodeLoopback(bytes)
            case .linuxCooked: step = decodeLinuxCooked(bytes)
            case .linuxCooked2: step = decodeLinuxCooked2(bytes)
            case .rawIP: step = decodeRawIP(bytes)
            case .ppp: step = decodePPP(bytes)
            case .pppWithDirection: step = decodePPPWithDirection(bytes)
            case .ciscoHDLC: step = decodeCiscoHDLC(bytes)
            case .fddi: step = decodeFDDI(bytes)
            case .llc: step = decodeLLC(bytes)
            case .ieee80211: step = decodeIEEE80211(bytes)
            case .radiotap: step = decodeRadiotap(bytes)
            case .prism: step = decodePrism(bytes)
            case .avs: step = decodeAVS(bytes)
            case .ppi: step = decodePPI(bytes)
            case .ipnet: step = decodeIPNet(bytes)
            case .ipoib: step = decodeIPoIB(bytes)
            case .nflog: step = decodeNFLOG(bytes)
            case .pktap: step = decodePKTAP(bytes)
            case .arcnet: step = decodeARCNET(bytes)
            case .ipv4: step = decodeIPv4(bytes, context: &context, observe: observe)
            case .ipv6: step = decodeIPv6(bytes, context: &context, observe: observe)
            case .gre: step = decodeGRE(bytes)
            case .vxlan: step = decodeVXLAN(bytes)
            case .vxlanGPE: step = decodeVXLANGPE(bytes)
            case .geneve: step = decodeGeneve(bytes)
            case .ayiya: step = decodeAYIYA(bytes)
            case .nsh: step = decodeNSH(bytes)
            case .ciscoMetaData: step = decodeCiscoMetaData(bytes)
            case .ciscoMetaDataInGRE: step = decodeCiscoMetaDataInGRE(bytes)
            case .sflow: step = decodeSFlow(bytes, context: context, observe: observe)
            case .udp: step = decodeUDP(bytes)
            case .tcp: step = decodeTCP(bytes, context: context, observe: observe)
            case .icmp: step = decodeICMP(bytes, isVersion6: false, context: context, observe: observe)
            case .icmpv6: step = decodeICMP(bytes, isVersion6: true, context: context, observe: observe)
            case .dns: step = decodeDNS(bytes, context: context, observe: observe)
            case .dhcp: step = decodeDHCP(bytes, context: context, observe: observe)
            case .dnsOverTCP: step = decodeDNSOverTCP(bytes, context: context, observe: observe)
            case .tls: step = decodeTLS(bytes, context: context, observe: observe)
            case .http: step = decodeHTTP(bytes, context: context, observe: observe)
            case .quic: step = decodeQUIC(bytes, context: context, observe: observe)
            }
        }
        if case .next = step { anomalies.record(.decoderTooManyLayers) }
        return nil
    }
}

/// The decoder's anomaly counts by kind, with a running total so that the reader can
/// tell whether decoding one packet counted any (`ReadSummary.packetsAnomalous`) by
/// comparing two integers rather than summing a dictionary per packet.
struct PacketAnomalies {
    /// The counts by kind.
    private(set) var byKind = AnomalyCounts()
    /// Every anomaly counted so far (the sum of `byKind`).
    private(set) var total: UInt64 = 0

    /// Counts `count` anomalies of `kind`.
    mutating func record(_ kind: AnomalyKind, count: UInt64 = 1) {
        byKind.record(kind, count: count)
        total += count
    }


    /// The counts by kind, as `AnomalyCounts.counts`.
    var counts: [String: UInt64] { byKind.counts }
}
