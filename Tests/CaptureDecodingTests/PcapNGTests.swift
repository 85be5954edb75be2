import ByteParsing
import Foundation
import Observations
import Testing
@testable import CaptureDecoding

/// pcapng blocks, little- or big-endian.
struct NG: Sendable {
    var big = false

    func u16(_ value: Int) -> [UInt8] { big ? Craft.be16(value) : Craft.le16(value) }
    func u32(_ value: UInt32) -> [UInt8] { big ? Craft.be32(value) : Craft.le32(value) }

    func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        let length = UInt32(padded.count + 12)
        return u32(type) + u32(length) + padded + u32(length)
    }

    func section() -> [UInt8] {
        block(0x0A0D_0D0A, u32(0x1A2B_3C4D) + u16(1) + u16(0) + [UInt8](repeating: 0xFF, count: 8))
    }

    /// An IDB; `options` are (code, value) pairs.
    func interface(linkType: Int, snapLength: UInt32 = 0, options: [(Int, [UInt8])] = []) -> [UInt8] {
        var body = u16(linkType) + u16(0) + u32(snapLength)
        for (code, value) in options {
            body += u16(code) + u16(value.count) + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }
        if !options.isEmpty { body += u16(0) + u16(0) }
        return block(1, body)
    }

    func enhanced(interface: UInt32 = 0, units: UInt64 = 0, _ packet: [UInt8]) -> [UInt8] {
        block(6, u32(interface) + u32(UInt32(units >> 32)) + u32(UInt32(units & 0xFFFF_FFFF))
              + u32(UInt32(packet.count)) + u32(UInt32(packet.count)) + packet)
    }

    func simple(_ packet: [UInt8]) -> [UInt8] { block(3, u32(UInt32(packet.count)) + packet) }

    func obsolete(interface: Int = 0, units: UInt64 = 0, _ packet: [UInt8]) -> [UInt8] {
        block(2, u16(interface) + u16(0) + u32(UInt32(units >> 32)) + u32(UInt32(units & 0xFFFF_FFFF))
              + u32(UInt32(packet.count)) + u32(UInt32(packet.count)) + packet)
    }

    func custom(_ type: UInt32 = 0x0BAD) -> [UInt8] { block(type, u32(32473) + [1, 2, 3, 4]) }
}

private func readNG(_ bytes: [UInt8], filter: String? = nil) throws -> (seen: [Seen], summary: ReadSummary, reader: CaptureReader) {
    let path = try Craft.temporaryFile(bytes, suffix: ".pcapng")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try InputFile(path: path)
    let reader = try CaptureReader(file: file, filter: filter)
    var seen: [Seen] = []
    let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
    #expect(summary.bytes == UInt64(bytes.count) && file.bytesRead == UInt64(bytes.count))
    return (seen, summary, reader)
}

private func queryFrames(_ seen: [Seen]) -> [Locator] {
    seen.filter { $0.field == .dnsQuery }.map(\.locator)
}

@Test func sectionsOfBothByteOrdersInterfacesOfDifferentLinkTypesAndCustomBlocks() throws {
    let le = NG(big: false), be = NG(big: true)
    let raw = Craft.dnsQueryV4
    let bytes = le.section() + le.interface(linkType: 1, snapLength: 128) + le.interface(linkType: 101, snapLength: 9000)
        + le.enhanced(interface: 0, Craft.ethernet(type: 0x0800, payload: raw))
        + le.custom() + le.block(0x0000_0004, [0, 0, 0, 0])  // NRB: skipped, no frame
        + le.enhanced(interface: 1, raw)
        + be.section() + be.interface(linkType: 0) + be.custom(0x4000_0BAD)
        + be.enhanced(interface: 0, be.u32(2) + raw) + be.block(0x1234_5678, [9, 9, 9, 9])
        + be.simple(be.u32(2) + raw) + be.obsolete(be.u32(2) + raw)
    let (seen, summary, reader) = try readNG(bytes)
    #expect(summary.damage == nil, "\(summary.damage ?? "")")
    #expect(summary.packets == 5)
    #expect(reader.frames == 7)
    #expect(reader.linkType == 1)
    #expect(queryFrames(seen) == [.packet(1), .packet(3), .packet(5), .packet(6), .packet(7)])
    #expect(summary.anomalies.total == 0)
}

@Test(arguments: [
    // (if_tsresol byte, units, if_tsoffset, expected nanoseconds since the epoch)
    (nil, UInt64(1_700_000_000_123_456), Int64(0), Int64(1_700_000_000_123_456_000)),
    (UInt8(9), 1_700_000_000_123_456_789, 0, 1_700_000_000_123_456_789),
    (3, 1_700_000_000_123, 0, 1_700_000_000_123_000_000),
    (12, 1_700_000_000_123_456_789, 0, 1_700_000_000_123_456),  // picoseconds, truncated to ns
    (0x80 | 10, 1_700_000_000 << 10 | 512, 0, 1_700_000_000_500_000_000),  // 2^-10 s
    (0x80 | 0, 1_700_000_000, 0, 1_700_000_000_000_000_000),
    (nil, 5_000_000, 1_700_000_000, 1_700_000_005_000_000_000),  // if_tsoffset
] as [(UInt8?, UInt64, Int64, Int64)])
func interfaceTimestampResolutionAndOffset(_ resolution: UInt8?, _ units: UInt64, _ offset: Int64, _ expected: Int64) throws {
    let ng = NG()
    var options: [(Int, [UInt8])] = []
    if let resolution { options.append((9, [resolution])) }
    if offset != 0 { options.append((14, ng.u32(UInt32(offset & 0xFFFF_FFFF)) + ng.u32(UInt32(offset >> 32)))) }
    let bytes = ng.section() + ng.interface(linkType: 101, options: options) + ng.enhanced(units: units, Craft.dnsQueryV4)
    let (seen, summary, _) = try readNG(bytes)
    #expect(summary.damage == nil)
    #expect(seen.first?.time == Timestamp(nanoseconds: expected))
}

/// Damage placed after one good packet block.
enum BlockDamage: String, CaseIterable, Sendable {
    case trailer, huge, oddLength, cut, cutHeader, interface, captured

    func bytes(_ ng: NG) -> [UInt8] {
        switch self {
        case .trailer:
            var block = ng.enhanced(Craft.dnsQueryV4)
            block[block.count - (ng.big ? 1 : 4)] ^= 4
            return block
        case .huge: return ng.u32(6) + ng.u32(32 << 20) + [UInt8](repeating: 0, count: 64)
        case .oddLength: return ng.u32(6) + ng.u32(30) + [UInt8](repeating: 0, count: 64)
        case .cut: return Array(ng.enhanced(Craft.dnsQueryV4).dropLast(8))
        case .cutHeader: return [6, 0, 0]
        case .interface: return ng.enhanced(interface: 3, Craft.dnsQueryV4)
        case .captured: return ng.block(6, ng.u32(0) + ng.u32(0) + ng.u32(0) + ng.u32(500) + ng.u32(500) + [1, 2, 3, 4])
        }
    }

    /// The reason, for a block at byte offset `at`.
    func reason(at offset: Int) -> String {
        let length = NG().enhanced(Craft.dnsQueryV4).count
        return switch self {
        case .trailer: "block at byte offset \(offset): total length \(length) in the header but \(length ^ 4) in the trailer"
        case .huge: "block at byte offset \(offset) is 33554432 bytes, over the 16 MiB limit"
        case .oddLength: "block at byte offset \(offset) has an invalid total length 30"
        case .cut: "truncated block at byte offset \(offset): \(length) bytes announced, \(length - 8) left"
        case .cutHeader: "truncated block header at byte offset \(offset) (3 bytes left)"
        case .interface: "packet block at byte offset \(offset) names interface 3, but the section has 1"
        case .captured: "packet block at byte offset \(offset) claims 500 captured bytes in a 36-byte block"
        }
    }
}

@Test(arguments: BlockDamage.allCases)
func damagedBlocksStopTheReadWithTheirOffset(_ damage: BlockDamage) throws {
    for ng in [NG(big: false), NG(big: true)] {
        let good = ng.enhanced(Craft.dnsQueryV4)
        let head = ng.section() + ng.interface(linkType: 101) + good
        // Cut blocks end the file; the others are followed by a good block never read.
        let tail = damage == .cut || damage == .cutHeader ? [] : good
        let (seen, summary, _) = try readNG(head + damage.bytes(ng) + tail)
        #expect(summary.damage == "reading stopped after frame 1 (1 packets read): " + damage.reason(at: head.count),
                "\(damage) big-endian \(ng.big)")
        #expect(queryFrames(seen) == [.packet(1)], "\(damage)")
    }
}

@Test func filesWithoutAValidFirstSectionAreRejected() throws {
    let ng = NG()
    var version = ng.section()
    version[12] = 0  // major version 0
    for bytes in [version, Array(ng.section().dropLast(4)), [0x0A, 0x0D, 0x0D, 0x0A, 1]] {
        let path = try Craft.temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: CaptureError.self) { _ = try CaptureReader(file: try InputFile(path: path), filter: nil) }
    }
}

@Test func filterIsCompiledPerLinkType() throws {
    let ng = NG()
    let other = Craft.ipv4(source: IPv4Address("203.0.113.9")!, destination: Craft.server, proto: 6, payload: [])
    let bytes = ng.section() + ng.interface(linkType: 1) + ng.interface(linkType: 101)
        + ng.enhanced(interface: 0, Craft.ethernet(type: 0x0800, payload: other))
        + ng.enhanced(interface: 1, Craft.dnsQueryV4)
        + ng.enhanced(interface: 0, Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4))
        + ng.enhanced(interface: 1, other)
    let (seen, summary, _) = try readNG(bytes, filter: "udp port 53")
    #expect(Set(seen.map(\.locator)) == [.packet(2), .packet(3)])
    #expect(summary.packets == 4)
}

@Test func undecodedLinkTypesAreNotedOncePerType() throws {
    let ng = NG()
    let bytes = ng.section() + ng.interface(linkType: 148) + ng.interface(linkType: 147)
        + ng.enhanced(interface: 0, [1]) + ng.enhanced(interface: 1, [2]) + ng.enhanced(interface: 0, [3])
    let (_, summary, _) = try readNG(bytes)
    #expect(summary.notes.count == 2)
    #expect(summary.anomalies.counts == ["link.unsupported": 3])
}

/// Frame numbers, times and IPv4 sources as `tshark -r F -T fields -e frame.number
/// -e frame.time_epoch -e ip.src` prints them (frames without an address omitted;
/// Simple Packet Blocks have no time: 0 here).
@Test(.enabled(if: corpusPresent, "../shared/corpus is absent"), arguments: [
    ("pngtg-be-difficult-test202.pcapng", [
        (2, "1340954905.298858000", "0.0.0.0"), (3, "1340954905.298858000", "192.168.0.1"),
        (4, "1340954905.301858000", "192.168.1.139"), (5, "", "0.0.0.0"), (6, "1340954905.298858000", "192.168.0.1"),
        (8, "", "0.0.0.0"), (9, "1340954905.298858000", "192.168.0.1"), (11, "1340954905.301858000", "192.168.1.139"),
    ]),
    ("pngtg-le-advanced-test102.pcapng", [
        (2, "1340954905.298858000", "0.0.0.0"), (4, "1340954905.298858000", "192.168.0.1"), (5, "", "0.0.0.0"),
        (6, "1340954905.300858000", "192.168.0.1"), (7, "1340954905.301858000", "192.168.1.139"),
    ]),
    ("pngtg-le-basic-test008.pcapng", [
        (1, "1340954.905298858", "0.0.0.0"), (2, "1340954.905299858", "192.168.0.1"),
        (3, "1340954.905300858", "0.0.0.0"), (4, "1340954.905301858", "192.168.0.1"),
    ]),
] as [(String, [(Int, String, String)])])
func pcapngFramesAreNumberedAndTimedAsTsharkDoes(_ name: String, _ expected: [(Int, String, String)]) throws {
    let path = try #require(corpusDirectory) + "/pcap/" + name
    let reader = try CaptureReader(file: try InputFile(path: path), filter: nil)
    var got: [String] = []
    _ = reader.read(observe: { observation in
        guard observation.field == .ipSource, case .packet(let frame) = observation.locator else { return }
        let ns = observation.time.nanoseconds
        let time = ns == 0 ? "" : "\(ns / 1_000_000_000).\(String(String(ns % 1_000_000_000 + 1_000_000_000).dropFirst()))"
        got.append("\(frame) \(time) \(observation.value.owned)")
    }, progress: { _ in })
    let want = expected.map { frame, time, address -> String in
        // tshark prints the epoch with 9 decimals; a 6-decimal time has 3 trailing zeros.
        "\(frame) \(time) \(address)"
    }
    #expect(got == want)
}
