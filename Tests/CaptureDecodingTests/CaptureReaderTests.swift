import ByteParsing
import Foundation
import Observations
import Testing
@testable import CaptureDecoding

/// Writes a capture, reads it, removes it.
private func readCapture(
    _ bytes: [UInt8], filter: String? = nil, progress: (ReadSummary) -> Void = { _ in }
) throws -> (seen: [Seen], summary: ReadSummary, reader: CaptureReader) {
    let path = try Craft.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try CaptureReader(file: try InputFile(path: path), filter: filter)
    var seen: [Seen] = []
    let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: progress)
    return (seen, summary, reader)
}

@Test(arguments: [
    (UInt32(1), Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4), Int32(1)),
    (0, Craft.le32(2) + Craft.dnsQueryV4, 0),
    (108, Craft.be32(2) + Craft.dnsQueryV4, 108),
    (113, [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + [8, 0] + Craft.dnsQueryV4, 113),
    (276, [8, 0] + [UInt8](repeating: 0, count: 18) + Craft.dnsQueryV4, 276),
    (12, Craft.dnsQueryV4, 12),
    (14, Craft.dnsQueryV4, 14),
    (101, Craft.dnsQueryV4, 12),  // libpcap maps LINKTYPE_RAW to DLT_RAW
    (228, Craft.dnsQueryV4, 228),
    (229, Craft.dnsQueryV6, 229),
])
func captureFilesOfEachLinkType(_ linkType: UInt32, _ packet: [UInt8], _ dlt: Int32) throws {
    let (seen, summary, reader) = try readCapture(Craft.pcap(linkType: linkType, packets: [packet]))
    #expect(reader.linkType == dlt)
    #expect(seen.count == 3)
    #expect(seen.contains { $0.value == .domain("example.com") })
    #expect(summary.packets == 1)
    #expect(summary.notes.isEmpty && summary.anomalies.total == 0 && summary.damage == nil)
}

@Test func timestampsKeepNanoseconds() throws {
    let nano = try readCapture(Craft.pcap(linkType: 12, packets: [Craft.dnsQueryV4], time: (1_700_000_000, 123_456_789)))
    #expect(nano.seen.first?.time == Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789))
    let micro = try readCapture(Craft.pcap(linkType: 12, packets: [Craft.dnsQueryV4], micro: true, time: (1_700_000_000, 654_321)))
    #expect(micro.seen.first?.time == Timestamp(seconds: 1_700_000_000, nanoseconds: 654_321_000))
}

@Test func filterKeepsFilePacketNumbers() throws {
    let other = IPv4Address("203.0.113.9")!
    let packets = [
        Craft.ipv4(source: other, destination: Craft.server, proto: 6, payload: []),
        Craft.ipv4(source: other, destination: Craft.server, proto: 6, payload: []),
        Craft.dnsQueryV4,
        Craft.ipv4(source: other, destination: Craft.server, proto: 6, payload: []),
        Craft.dnsQueryV4,
    ]
    let (seen, summary, _) = try readCapture(Craft.pcap(linkType: 12, packets: packets), filter: "udp port 53")
    #expect(Set(seen.map(\.locator)) == [.packet(3), .packet(5)])
    #expect(seen.count == 6)
    #expect(summary.packets == 5)
    let unfiltered = try readCapture(Craft.pcap(linkType: 12, packets: packets))
    #expect(unfiltered.seen.count == 12)
}

@Test func filterThatDoesNotCompileIsAnError() throws {
    let path = try Craft.temporaryFile(Craft.pcap(linkType: 1, packets: []))
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect {
        _ = try CaptureReader(file: try InputFile(path: path), filter: "port nonsense ((")
    } throws: { error in
        guard let error = error as? CaptureError else { return false }
        return error.path == path && error.message.contains("port nonsense ((") && error.message.contains("compile")
    }
}

@Test(arguments: [
    ("text", Array("2024-03-01 host sshd[1]: hello\n".utf8)),
    ("empty", []),
    ("gzip", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0, count: 40)),
    // tshark reads any version from 2.0 on (version 9.4 too); 1.0 it refuses, as libpcap does.
    ("pcap version 1", Craft.le32(0xA1B2_C3D4) + Craft.le16(1) + Craft.le16(0) + [UInt8](repeating: 0, count: 16)),
] as [(String, [UInt8])])
func nonCaptureFilesAreRejected(_ name: String, _ bytes: [UInt8]) throws {
    let path = try Craft.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect {
        _ = try CaptureReader(file: try InputFile(path: path), filter: nil)
    } throws: { error in
        guard let error = error as? CaptureError else { return false }
        return error.message.hasPrefix("cannot open as a pcap or pcapng capture: ") && error.message.count > 45
    }
}

@Test func truncatedFileKeepsWhatCameBefore() throws {
    var bytes = Craft.pcap(linkType: 12, packets: [Craft.dnsQueryV4, Craft.dnsQueryV4, Craft.dnsQueryV4])
    bytes.removeLast(10)
    let (seen, summary, _) = try readCapture(bytes)
    #expect(summary.packets == 2)
    #expect(summary.damage?.hasPrefix("reading stopped at packet 3 (2 read): ") == true, "\(summary.damage ?? "nil")")
    #expect(seen.count == 6)
    #expect(summary.bytes == UInt64(bytes.count))
}

@Test func undecodedLinkTypeIsNotedOnceAndCounted() throws {
    let (seen, summary, reader) = try readCapture(Craft.pcap(linkType: 147, packets: [[1, 2, 3], [4, 5, 6], [7]]))
    #expect(!reader.decodesLinkType)
    #expect(seen.isEmpty)
    #expect(summary.notes == ["link type 147 (unknown) is not decoded; packets counted but not inspected"])
    #expect(summary.anomalies.counts == ["link.unsupported": 3])
    #expect(summary.packets == 3)
}

@Test func progressIsReportedEvery16384Packets() throws {
    let packets = [[UInt8]](repeating: [0x45], count: Int(CaptureReader.progressInterval) * 2 + 5)
    var reports: [UInt64] = []
    let (_, summary, _) = try readCapture(Craft.pcap(linkType: 12, packets: packets)) { reports.append($0.packets) }
    #expect(reports == [16_384, 32_768])
    #expect(summary.packets == 32_773)
    #expect(summary.anomalies.counts == ["ipv4.truncated": 32_773])
}

@Test func readingTwiceReturnsTheSameSummary() throws {
    let path = try Craft.temporaryFile(Craft.pcap(linkType: 12, packets: [Craft.dnsQueryV4]))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try InputFile(path: path)
    let reader = try CaptureReader(file: file, filter: nil)
    var count = 0
    let first = reader.read(observe: { _ in count += 1 }, progress: { _ in })
    let second = reader.read(observe: { _ in count += 1 }, progress: { _ in })
    #expect(first == second && count == 3)
    #expect(file.bytesRead == file.size)
}
