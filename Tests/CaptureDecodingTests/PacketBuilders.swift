import Foundation
import Observations
@testable import CaptureDecoding

/// The shared corpus, `<package root>/../shared/corpus`: its path, or nil when this
/// clone has none (the tests that need it skip through `.enabled(if: corpusPresent)`).
let corpusDirectory: String? = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let corpus = root.deletingLastPathComponent().appendingPathComponent("shared/corpus").path
    return FileManager.default.fileExists(atPath: corpus + "/pcap") ? corpus : nil
}()
let corpusPresent = corpusDirectory != nil

/// Crafts packets and capture files byte by byte, so each test states exactly what
/// is on the wire.
enum Craft {
    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
    static func le16(_ value: Int) -> [UInt8] { be16(value).reversed() }
    static func le32(_ value: UInt32) -> [UInt8] { be32(value).reversed() }

    static let client = IPv4Address("192.0.2.1")!
    static let server = IPv4Address("198.51.100.2")!
    static let client6 = IPv6Address("2001:db8::1")!
    static let server6 = IPv6Address("2001:db8::53")!

    /// A DNS message: header with `questions` count and the given question bytes.
    static func dns(response: Bool = false, questionCount: Int? = nil, questions: [[UInt8]]) -> [UInt8] {
        be16(0x1234) + be16(response ? 0x8180 : 0x0100) + be16(questionCount ?? questions.count)
            + be16(0) + be16(0) + be16(0) + questions.flatMap { $0 }
    }

    /// A question: the name in wire form plus QTYPE A, QCLASS IN.
    static func question(_ name: String) -> [UInt8] { wireName(name) + be16(1) + be16(1) }

    static func wireName(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        return bytes + [0]
    }

    static func udp(source: Int = 40000, destination: Int = 53, payload: [UInt8], length: Int? = nil) -> [UInt8] {
        be16(source) + be16(destination) + be16(length ?? payload.count + 8) + be16(0) + payload
    }

    static func ipv4(
        source: IPv4Address = client, destination: IPv4Address = server, proto: UInt8 = 17,
        payload: [UInt8], ihl: Int = 5, totalLength: Int? = nil, fragmentOffset: Int = 0
    ) -> [UInt8] {
        let options = [UInt8](repeating: 1, count: max(ihl - 5, 0) * 4)  // NOP options
        return [UInt8(0x40 | ihl & 0x0F), 0] + be16(totalLength ?? 20 + options.count + payload.count)
            + be16(1) + be16(fragmentOffset) + [64, proto] + be16(0)
            + be32(source.value) + be32(destination.value) + options + payload
    }

    static func ipv6(
        source: IPv6Address = client6, destination: IPv6Address = server6, next: UInt8 = 17,
        payload: [UInt8], payloadLength: Int? = nil
    ) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(payloadLength ?? payload.count) + [next, 64]
            + address(source) + address(destination) + payload
    }

    static func address(_ address: IPv6Address) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: address.high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: address.low >> (56 - 8 * UInt64($0))) }
    }

    static func ethernet(type: Int, tags: [Int] = [], payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]
        for tpid in tags { frame += be16(tpid) + be16(100) }
        return frame + be16(type) + payload
    }

    /// The standard test packet: an IPv4 DNS query for example.com.
    static var dnsQueryV4: [UInt8] { ipv4(payload: udp(payload: dns(questions: [question("example.com")]))) }
    static var dnsQueryV6: [UInt8] { ipv6(payload: udp(payload: dns(questions: [question("example.com")]))) }

    /// A classic pcap file (little-endian, nanosecond magic unless `micro`).
    static func pcap(linkType: UInt32, packets: [[UInt8]], micro: Bool = false, time: (UInt32, UInt32) = (1_700_000_000, 123_456_789)) -> [UInt8] {
        var bytes = le32(micro ? 0xA1B2_C3D4 : 0xA1B2_3C4D) + le16(2) + le16(4) + le32(0) + le32(0)
            + le32(262_144) + le32(linkType)
        for packet in packets {
            bytes += le32(time.0) + le32(time.1) + le32(UInt32(packet.count)) + le32(UInt32(packet.count)) + packet
        }
        return bytes
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func temporaryFile(_ bytes: [UInt8], suffix: String = ".pcap") throws -> String {
        let path = NSTemporaryDirectory() + "cairn-capture-\(UUID().uuidString)\(suffix)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// One observation, owned, for comparing.
struct Seen: Hashable, CustomStringConvertible {
    var value: OwnedValue
    var field: Field
    var host: String?
    var locator: Locator
    var time: Timestamp

    init(_ observation: Observation) {
        value = observation.value.owned
        field = observation.field
        host = observation.host.text
        locator = observation.locator
        time = observation.time
    }

    var description: String { "\(field.rawValue)=\(value) host=\(host ?? "-") \(locator)" }
}

/// Runs the decoder on one packet.
func decodeOne(_ bytes: [UInt8], link: LinkLayer) -> (seen: [Seen], anomalies: [String: UInt64]) {
    decodePackets([bytes], link: link)
}

/// Runs packets through one decoder, numbered from 1 and `spacing` seconds apart, then
/// ends the capture (what the flow table holds is parsed as far as it goes). Each packet
/// is copied into a buffer of exactly its size, so that a read past its end is caught
/// by the address sanitizer.
func decodePackets(
    _ packets: [[UInt8]], link: LinkLayer = .rawIP, options: DecodingOptions = DecodingOptions(), spacing: Int64 = 0
) -> (seen: [Seen], anomalies: [String: UInt64]) {
    var decoder = PacketDecoder(options: options)
    var seen: [Seen] = []
    for (index, packet) in packets.enumerated() {
        // The span covers exactly the packet: a read past its end traps.
        decoder.decode(packet: packet.span, link: link, locator: .packet(UInt64(index + 1)),
                       time: Timestamp(seconds: Int64(index) * spacing)) { seen.append(Seen($0)) }
    }
    decoder.finish { seen.append(Seen($0)) }
    return (seen, decoder.anomalies.counts)
}
