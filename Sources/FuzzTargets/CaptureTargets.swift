import ByteParsing
import CaptureDecoding
import Observations

extension FuzzTargets {
    /// A whole capture file as given: libpcap's header and record checks (for pcap),
    /// Cairn's pcapng reader (for input starting with the pcapng magic), then every
    /// packet through the decoders.
    public static func pcapFile(_ data: [UInt8]) {
        _ = withTemporaryFile(data) { path in readCapture(path) }
    }

    /// A pcapng file: the input as given when it starts with the Section Header
    /// Block's type (`0A 0D 0D 0A`), else that type followed by the input, so that the
    /// fuzzer spends its time on Cairn's pcapng block reader rather than on libpcap's
    /// refusal of a bad magic.
    public static func pcapngFile(_ data: [UInt8]) {
        let magic: [UInt8] = [0x0A, 0x0D, 0x0D, 0x0A]
        if data.count >= 4, data.prefix(4).elementsEqual(magic) {
            _ = withTemporaryFile(data) { path in readCapture(path) }
        } else {
            _ = withTemporaryFile(magic + data) { path in readCapture(path) }
        }
    }

    /// The input as one Ethernet frame (with VLAN tags, PPPoE, MPLS, IP, tunnels, UDP,
    /// TCP, DNS, QUIC, TLS and HTTP above it as the bytes say).
    public static func packetEthernet(_ data: [UInt8]) {
        readPackets(linkType: 1, [data])
    }

    /// The input as one raw IP packet (LINKTYPE_RAW: IPv4 or IPv6 by the version nibble).
    public static func packetRawIP(_ data: [UInt8]) {
        readPackets(linkType: 101, [data])
    }

    /// The link types `packetOtherLink` chooses from with the input's first byte:
    /// BSD loopback (0, 108), Linux cooked v1 and v2 (113, 276), raw IPv4/IPv6 (228,
    /// 229), OpenBSD raw (14), PPP (9, 50), PPP with direction (204), PPPoE without
    /// Ethernet (51), Cisco HDLC (104), FDDI (10), 802.11 (105) and behind radiotap
    /// (127), Prism (119), AVS (163) and PPI (192), Solaris ipnet (226), IPoIB (242),
    /// NFLOG (239), PKTAP (258), ARCNET (129), one that carries no IP (USB, 220) and one Cairn does
    /// not decode (USER0, 147). The first eight keep their places, so that kept inputs
    /// whose first byte is below 8 mean what they meant before the list grew.
    static let otherLinkTypes: [UInt32] = [
        0, 108, 113, 276, 228, 229, 14, 9, 50, 204, 51, 104, 10, 105, 127, 119, 163, 192, 226, 242, 239, 258, 220, 147,
        129,
    ]

    /// The input's first byte chooses a link type (`otherLinkTypes`), the rest is one
    /// packet of it.
    public static func packetOtherLink(_ data: [UInt8]) {
        guard let first = data.first else { return }
        let linkType = otherLinkTypes[Int(first) % otherLinkTypes.count]
        readPackets(linkType: linkType, [Array(data.dropFirst())])
    }

    /// The input as the payload of one UDP datagram from 10.0.0.1:40000 to
    /// 10.0.0.2:53 (Ethernet, IPv4): DNS messages — names, compression pointers,
    /// records — without the fuzzer having to build the headers around them.
    public static func dnsMessage(_ data: [UInt8]) {
        readPackets(linkType: 1, [udpFrame(data, destinationPort: 53)])
    }

    /// An Ethernet/IPv4/UDP frame from 10.0.0.1:40000 to 10.0.0.2 carrying `payload`.
    static func udpFrame(_ payload: [UInt8], destinationPort: UInt16) -> [UInt8] {
        let udpLength = UInt16(truncatingIfNeeded: 8 + payload.count)
        let totalLength = UInt16(truncatingIfNeeded: 28 + payload.count)
        var ip: [UInt8] = [0x45, 0, UInt8(totalLength >> 8), UInt8(totalLength & 0xFF), 0, 1, 0x40, 0, 64, 17, 0, 0,
                           10, 0, 0, 1, 10, 0, 0, 2]
        let checksum = TCPFlow.checksum(ip)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + ip
        frame += [0x9C, 0x40, UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF),
                  UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
        return frame + payload
    }

    /// One TCP connection (Ethernet, IPv4, 10.0.0.1:40000 to 10.0.0.2) cut into segments
    /// by a plan at the front of the input, so that reassembly, DNS over TCP, TLS
    /// ClientHello and HTTP see their bytes split at every place the fuzzer likes.
    ///
    /// Byte 0 (flags): bits 0–1 the server port (53, 80, 443, 8080); bit 2 open with a
    /// handshake (SYN, SYN-ACK, ACK); bit 3 send each pair of segments in swapped order;
    /// bit 4 send the first segment again at the end (a retransmission); bit 5 close
    /// both directions with FIN; bit 6 shift the initial sequence numbers so the stream
    /// wraps around 2^32; bit 7 a RST instead of FIN. Byte 1: the number of segments
    /// less one (mod 32). Then one byte per segment but the last: bits 0–6 its length
    /// (0 is an empty segment), bit 7 its direction (set: server to client). The rest is
    /// the payload, consumed in order by each direction's segments; the last segment
    /// takes what remains.
    public static func tcpStream(_ data: [UInt8]) {
        guard data.count >= 2 else { return }
        let flags = data[0]
        let segmentCount = Int(data[1] % 32) + 1
        let planEnd = min(data.count, 2 + segmentCount - 1)
        let plan = Array(data[2..<planEnd])
        var payload = data[planEnd...][...]
        let ports: [UInt16] = [53, 80, 443, 8080]
        let serverPort = ports[Int(flags & 3)]
        var flow = TCPFlow(serverPort: serverPort, wraps: flags & 0x40 != 0)
        var frames: [[UInt8]] = []
        if flags & 0x04 != 0 { frames += flow.handshake() }
        var segments: [[UInt8]] = []
        for index in 0..<segmentCount {
            let toClient: Bool
            let length: Int
            if index < plan.count {
                toClient = plan[index] & 0x80 != 0
                length = min(Int(plan[index] & 0x7F), payload.count)
            } else {
                toClient = false
                length = payload.count
            }
            let bytes = Array(payload.prefix(length))
            payload = payload.dropFirst(length)
            segments.append(flow.segment(bytes, toClient: toClient))
        }
        if flags & 0x08 != 0 {
            var index = 0
            while index + 1 < segments.count {
                segments.swapAt(index, index + 1)
                index += 2
            }
        }
        frames += segments
        if flags & 0x10 != 0, let first = segments.first { frames.append(first) }
        if flags & 0x80 != 0 {
            frames.append(flow.close(flag: TCPFlow.rst, toClient: false))
        } else if flags & 0x20 != 0 {
            frames.append(flow.close(flag: TCPFlow.fin, toClient: false))
            frames.append(flow.close(flag: TCPFlow.fin, toClient: true))
        }
        readPackets(linkType: 1, frames)
    }

    /// Opens and reads a capture file, touching every observation.
    static func readCapture(_ path: String) {
        guard let file = try? InputFile(path: path) else { return }
        guard let reader = try? CaptureReader(file: file, filter: nil) else { return }
        _ = reader.read(observe: { touch($0) }, progress: { _ in })
    }

    /// Writes `packets` as the records of a little-endian microsecond pcap file of
    /// `linkType` (one millisecond apart) and reads it. Packets longer than the
    /// snapshot length are cut to it, as a capture would have them.
    static func readPackets(linkType: UInt32, _ packets: [[UInt8]]) {
        let snapshotLength = 262_144
        var file: [UInt8] = []
        file.reserveCapacity(24 + packets.reduce(0) { $0 + 16 + min($1.count, snapshotLength) })
        append32(&file, 0xA1B2_C3D4)
        append16(&file, 2)
        append16(&file, 4)
        append32(&file, 0)
        append32(&file, 0)
        append32(&file, UInt32(snapshotLength))
        append32(&file, linkType)
        for (index, packet) in packets.enumerated() {
            let captured = min(packet.count, snapshotLength)
            append32(&file, 1_700_000_000)
            append32(&file, UInt32(index) * 1000)
            append32(&file, UInt32(captured))
            append32(&file, UInt32(packet.count))
            file += packet.prefix(captured)
        }
        _ = withTemporaryFile(file) { path in readCapture(path) }
    }

    static func append16(_ bytes: inout [UInt8], _ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    static func append32(_ bytes: inout [UInt8], _ value: UInt32) {
        append16(&bytes, UInt16(truncatingIfNeeded: value))
        append16(&bytes, UInt16(truncatingIfNeeded: value >> 16))
    }
}

/// Builds the Ethernet/IPv4/TCP frames of one connection, keeping each direction's
/// sequence number.
struct TCPFlow {
    static let fin: UInt8 = 0x01
    static let syn: UInt8 = 0x02
    static let rst: UInt8 = 0x04
    static let psh: UInt8 = 0x08
    static let ack: UInt8 = 0x10

    let serverPort: UInt16
    let clientPort: UInt16 = 40_000
    var clientSequence: UInt32
    var serverSequence: UInt32
    var identification: UInt16 = 1

    init(serverPort: UInt16, wraps: Bool) {
        self.serverPort = serverPort
        clientSequence = wraps ? 0xFFFF_FF00 : 1000
        serverSequence = wraps ? 0xFFFF_FFF0 : 5000
    }

    mutating func handshake() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        frames.append(frame(toClient: false, flags: TCPFlow.syn, sequence: clientSequence, payload: []))
        clientSequence &+= 1
        frames.append(frame(toClient: true, flags: TCPFlow.syn | TCPFlow.ack, sequence: serverSequence, payload: []))
        serverSequence &+= 1
        frames.append(frame(toClient: false, flags: TCPFlow.ack, sequence: clientSequence, payload: []))
        return frames
    }

    mutating func segment(_ payload: [UInt8], toClient: Bool) -> [UInt8] {
        let sequence = toClient ? serverSequence : clientSequence
        let built = frame(toClient: toClient, flags: TCPFlow.ack | TCPFlow.psh, sequence: sequence, payload: payload)
        if toClient { serverSequence &+= UInt32(payload.count) } else { clientSequence &+= UInt32(payload.count) }
        return built
    }

    mutating func close(flag: UInt8, toClient: Bool) -> [UInt8] {
        let sequence = toClient ? serverSequence : clientSequence
        if toClient { serverSequence &+= 1 } else { clientSequence &+= 1 }
        return frame(toClient: toClient, flags: flag | TCPFlow.ack, sequence: sequence, payload: [])
    }

    mutating func frame(toClient: Bool, flags: UInt8, sequence: UInt32, payload: [UInt8]) -> [UInt8] {
        let client: [UInt8] = [10, 0, 0, 1]
        let server: [UInt8] = [10, 0, 0, 2]
        let clientMAC: [UInt8] = [0x02, 0, 0, 0, 0, 1]
        let serverMAC: [UInt8] = [0x02, 0, 0, 0, 0, 2]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(54 + payload.count)
        bytes += toClient ? clientMAC : serverMAC
        bytes += toClient ? serverMAC : clientMAC
        bytes += [0x08, 0x00]
        let totalLength = UInt16(truncatingIfNeeded: 40 + payload.count)
        var ip: [UInt8] = [0x45, 0, UInt8(totalLength >> 8), UInt8(totalLength & 0xFF),
                           UInt8(identification >> 8), UInt8(identification & 0xFF), 0x40, 0, 64, 6, 0, 0]
        identification &+= 1
        ip += toClient ? server : client
        ip += toClient ? client : server
        let checksum = TCPFlow.checksum(ip)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        bytes += ip
        let sourcePort = toClient ? serverPort : clientPort
        let destinationPort = toClient ? clientPort : serverPort
        let acknowledgement = toClient ? clientSequence : serverSequence
        bytes += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
        bytes += [UInt8(sequence >> 24), UInt8((sequence >> 16) & 0xFF), UInt8((sequence >> 8) & 0xFF), UInt8(sequence & 0xFF)]
        bytes += [UInt8(acknowledgement >> 24), UInt8((acknowledgement >> 16) & 0xFF),
                  UInt8((acknowledgement >> 8) & 0xFF), UInt8(acknowledgement & 0xFF)]
        // Data offset 5 (no options), the flags, a 64 KiB window, checksum left zero
        // (offloaded, as in most captures), no urgent pointer.
        bytes += [0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        bytes += payload
        return bytes
    }

    static func checksum(_ header: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < header.count {
            sum += UInt32(header[index]) << 8 | UInt32(header[index + 1])
            index += 2
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
