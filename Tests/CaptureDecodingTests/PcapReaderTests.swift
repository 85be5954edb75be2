import ByteParsing
import CPcap
import Foundation
import Observations
import Testing
@testable import CaptureDecoding
#if canImport(Glibc)
import Glibc
#endif

// Cairn's pcap record reader (Pcap.swift) against libpcap itself: on crafted files
// (both byte orders, nanoseconds, odd versions, snapshot lengths, truncations, absurd
// lengths) and on every pcap of the corpus, the same records (lengths, timestamps,
// bytes, file offsets) and the same end, in libpcap's words.

/// One record as a reader hands it out, with the file offset just past it.
private struct Record: Equatable, CustomStringConvertible {
    var time: Int64
    var originalLength: UInt32
    var bytes: [UInt8]
    var end: UInt64
    var description: String { "(t \(time), len \(originalLength), caplen \(bytes.count), end \(end))" }
}

/// What a reader makes of a file.
private struct Outcome: Equatable {
    /// Why the file cannot be opened at all.
    var openError: String? = nil
    var linkType: Int32 = -1
    var records: [Record] = []
    /// Why reading stopped early; nil at a clean end.
    var damage: String? = nil
}

private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The reference: libpcap reading the file by its path, as tcpdump does, once its header
/// is read as tshark reads it (`PcapReader.readHeaderAsTsharkDoes`, itself checked
/// against tshark's verdicts in `pcapHeadersAreReadAsTsharkReadsThem`): a version
/// libpcap refuses and tshark reads is handed to libpcap as 2.4, a link-type field
/// with reserved bits set is refused.
private func libpcapReading(_ path: String) -> Outcome {
    guard var bytes = FileManager.default.contents(atPath: path).map([UInt8].init) else {
        return Outcome(openError: "unreadable")
    }
    let original = bytes
    var header = Array(bytes.prefix(24))
    let reading = PcapReader.readHeaderAsTsharkDoes(&header)
    bytes.replaceSubrange(0..<header.count, with: header)
    if let refusal = reading.refusal { return Outcome(openError: refusal) }
    guard bytes != original, let patched = try? Craft.temporaryFile(bytes) else { return libpcapReadingAsIs(path) }
    defer { try? FileManager.default.removeItem(atPath: patched) }
    return libpcapReadingAsIs(patched)
}

/// libpcap reading the file by its path, as tcpdump does.
private func libpcapReadingAsIs(_ path: String) -> Outcome {
    var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
    let opened = errorBuffer.withUnsafeMutableBufferPointer { buffer in
        pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer.baseAddress)
    }
    guard let handle = opened else { return Outcome(openError: text(errorBuffer)) }
    defer { pcap_close(handle) }
    var outcome = Outcome(linkType: pcap_datalink(handle))
    var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
    var data: UnsafePointer<UInt8>? = nil
    while true {
        let status = pcap_next_ex(handle, &header, &data)
        if status == -2 { break }
        guard status == 1, let header, let data else {
            outcome.damage = pcap_geterr(handle).map { String(cString: $0) } ?? "?"
            break
        }
        let time = Timestamp(seconds: Int64(header.pointee.ts.tv_sec), nanoseconds: Int64(header.pointee.ts.tv_usec))
        outcome.records.append(Record(
            time: time.nanoseconds, originalLength: header.pointee.len,
            bytes: Array(UnsafeBufferPointer(start: data, count: Int(header.pointee.caplen))),
            end: UInt64(ftell(pcap_file(handle)))))
    }
    return outcome
}

/// Cairn's reader, through an `InputFile` with a ring of `slotSize`-byte buffers (small
/// ones put records across buffer boundaries).
private func cairnReading(_ path: String, slotSize: Int) throws -> Outcome {
    let file = try InputFile(path: path, ringSlotSize: slotSize, ringSlotCount: 3)
    let prefix = try CaptureReader.firstFourBytes(of: file)
    let reader: PcapReader
    do {
        reader = try PcapReader(file: file, prefix: prefix)
    } catch {
        let lead = "cannot open as a pcap or pcapng capture: "
        return Outcome(openError: error.message.hasPrefix(lead) ? String(error.message.dropFirst(lead.count)) : error.message)
    }
    var outcome = Outcome(linkType: reader.linkType)
    let ending = reader.read { record in
        outcome.records.append(Record(
            time: record.time.nanoseconds, originalLength: record.originalLength, bytes: record.bytes.array,
            end: reader.consumedOffset))
        return true
    }
    if case .damage(let reason) = ending { outcome.damage = reason }
    return outcome
}

/// A classic pcap file, written field by field.
private struct CraftedPcap {
    var magic: UInt32 = 0xA1B2_C3D4
    var bigEndian = false
    var version: (UInt16, UInt16) = (2, 4)
    var snapLength: UInt32 = 65_535
    var linkType: UInt32 = 1
    /// Records: header fields and how many data bytes follow (normally caplen).
    var records: [(seconds: UInt32, fraction: UInt32, caplen: UInt32, length: UInt32, data: Int)] = [
        (1_700_000_000, 123_456, 60, 60, 60), (1_700_000_001, 999_999, 1514, 1514, 1514), (1_700_000_002, 0, 0, 0, 0),
    ]
    /// Bytes dropped from the end of the file.
    var cut = 0

    var bytes: [UInt8] {
        func u32(_ value: UInt32) -> [UInt8] {
            let little = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
            return bigEndian ? little.reversed() : little
        }
        func u16(_ value: UInt16) -> [UInt8] {
            bigEndian ? [UInt8(value >> 8), UInt8(value & 0xFF)] : [UInt8(value & 0xFF), UInt8(value >> 8)]
        }
        var out = u32(magic) + u16(version.0) + u16(version.1) + u32(0) + u32(0) + u32(snapLength) + u32(linkType)
        for (index, record) in records.enumerated() {
            out += u32(record.seconds) + u32(record.fraction) + u32(record.caplen) + u32(record.length)
            if magic == 0xA1B2_CD34 { out += [UInt8](repeating: 0xEE, count: 8) }  // ifindex, protocol, type, pad
            out += (0..<record.data).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        }
        return Array(out.dropLast(cut))
    }
}

private let craftedCases: [(String, CraftedPcap)] = {
    var cases: [(String, CraftedPcap)] = []
    for (name, magic) in [("micro", UInt32(0xA1B2_C3D4)), ("nano", 0xA1B2_3C4D), ("kuznetzov", 0xA1B2_CD34)] {
        for bigEndian in [false, true] {
            var file = CraftedPcap(magic: magic, bigEndian: bigEndian)
            let label = "\(name) \(bigEndian ? "big" : "little")-endian"
            cases.append((label, file))
            file.cut = 5
            cases.append((label + ", truncated record data", file))
            file.cut = 16 + 60 + 5
            cases.append((label + ", cut inside a record", file))
            file.cut = 0
            file.records.append((1, 2, 3, 4, 0))
            file.records[3].data = 0
            file.cut = 9
            cases.append((label + ", truncated record header", file))
        }
    }
    var file = CraftedPcap()
    file.records = [(1, 2, 60, 60, 60), (3, 4, 300_000, 300_000, 300_000), (5, 6, 60, 60, 60)]
    cases.append(("caplen over 256 KiB", file))
    file.snapLength = 400_000
    cases.append(("caplen over 256 KiB, within the snapshot length", file))
    file.snapLength = 64
    file.records = [(1, 2, 60, 60, 60), (3, 4, 200, 1000, 200), (5, 6, 64, 64, 64)]
    cases.append(("caplen over the snapshot length", file))
    file.cut = 100
    cases.append(("caplen over the snapshot length, cut in the skipped part", file))
    file.cut = 64 + 16 + 150
    cases.append(("caplen over the snapshot length, cut in the kept part", file))
    for snapLength: UInt32 in [0, 0x8000_0000, 0xFFFF_FFFF, 262_144, 262_145] {
        var file = CraftedPcap(snapLength: snapLength)
        file.records = [(1, 2, 60, 60, 60), (3, 4, 262_144, 262_144, 262_144), (5, 6, 262_145, 262_145, 262_145)]
        cases.append(("snapshot length \(snapLength)", file))
    }
    for (linkType, caplen) in [(UInt32(249), UInt32(300_000)), (231, 2_000_000), (279, 300_000), (1, 100)] {
        var file = CraftedPcap(snapLength: 0, linkType: linkType)
        file.records = [(1, 2, caplen, caplen, Int(caplen)), (3, 4, 10, 10, 10)]
        cases.append(("link type \(linkType), caplen \(caplen)", file))
    }
    for version: (UInt16, UInt16) in [(2, 0), (2, 2), (2, 3), (543, 0), (543, 1), (1, 0), (2, 5), (3, 0), (0xFFFF, 0xFFFF)] {
        var file = CraftedPcap(version: version)
        // caplen > len in two records: exchanged before 2.3 and, in 2.3, when caplen > len.
        file.records = [(1, 2, 60, 100, 60), (3, 4, 100, 60, 100), (5, 6, 100, 60, 60), (7, 8, 60, 100, 100)]
        cases.append(("version \(version.0).\(version.1)", file))
    }
    for linkType: UInt32 in [0, 1, 12, 14, 100, 101, 102, 103, 104, 105, 106, 113, 147, 228, 246, 258, 276, 0x0400_0001, 0xFFFF, 0x3000_0032, 0x0030_0001] {
        cases.append(("link type \(linkType)", CraftedPcap(linkType: linkType)))
    }
    var odd = CraftedPcap()
    odd.records = [(0xFFFF_FFFF, 0xFFFF_FFFF, 10, 10, 10), (0x8000_0000, 5_000_000, 10, 10, 10), (0, 4_294_967, 10, 10, 10)]
    cases.append(("out-of-range timestamps", odd))
    odd.magic = 0xA1B2_3C4D
    cases.append(("out-of-range timestamps, nanoseconds", odd))
    var empty = CraftedPcap()
    empty.records = []
    cases.append(("header only", empty))
    for cut in [1, 10, 20, 21, 24] {
        empty.cut = cut
        cases.append(("header cut by \(cut)", empty))
    }
    cases.append(("unknown magic", CraftedPcap(magic: 0x1234_5678)))
    return cases
}()

@Test(arguments: craftedCases.indices)
func pcapRecordsAreReadAsLibpcapReadsThem(_ index: Int) throws {
    let (name, crafted) = craftedCases[index]
    let bytes = crafted.bytes
    let path = try Craft.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let expected = libpcapReading(path)
    for slotSize in [7, 100, 4096, 1 << 20] {
        let got = try cairnReading(path, slotSize: slotSize)
        #expect(got.openError == expected.openError, "\(name), \(slotSize)-byte buffers")
        #expect(got.linkType == expected.linkType, "\(name), \(slotSize)-byte buffers")
        #expect(got.records == expected.records, "\(name), \(slotSize)-byte buffers")
        #expect(got.damage == expected.damage, "\(name), \(slotSize)-byte buffers")
    }
    // The capture reader's accounts: packets, bytes taken apart and left unread, the hash.
    let file = try InputFile(path: path, ringSlotSize: 100, ringSlotCount: 3)
    guard let reader = try? CaptureReader(file: file, filter: nil) else {
        #expect(expected.openError != nil, "\(name)")
        return
    }
    let summary = reader.read(observe: { _ in }, progress: { _ in })
    #expect(summary.packets == UInt64(expected.records.count), "\(name)")
    #expect(summary.packets == summary.packetsDecoded + summary.packetsAnomalous + summary.packetsUndecodable
            + summary.packetsFiltered, "\(name)")
    #expect(summary.bytesConsumed == expected.records.last?.end ?? 24, "\(name)")
    #expect(summary.bytes == UInt64(bytes.count) && summary.bytesConsumed + summary.bytesUnread == summary.bytes, "\(name)")
    #expect((summary.damage != nil) == (expected.damage != nil), "\(name)")
    if let damage = expected.damage {
        #expect(summary.damage == "reading stopped at packet \(expected.records.count + 1) (\(expected.records.count) read): "
                + damage, "\(name)")
    }
    let reference = try InputFile(path: path)
    try reference.drain()
    #expect(file.sha256Hex == reference.sha256Hex, "\(name)")
}

@Test func aFilterIsAppliedPerRecord() throws {
    var crafted = CraftedPcap(linkType: 101)
    // Raw IPv4 headers: protocol 17 (UDP) in the first and third, 6 (TCP) in the second.
    func ipv4(_ proto: UInt8) -> [UInt8] { [0x45, 0, 0, 20, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2] }
    crafted.records = [(1, 0, 20, 20, 20), (2, 0, 20, 20, 20), (3, 0, 20, 20, 20)]
    var bytes = crafted.bytes
    for (index, proto) in [UInt8(17), 6, 17].enumerated() {
        let start = 24 + index * 36 + 16
        bytes.replaceSubrange(start..<(start + 20), with: ipv4(proto))
    }
    let path = try Craft.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reader = try CaptureReader(file: try InputFile(path: path), filter: "tcp")
    var packets: [Locator] = []
    let summary = reader.read(observe: { if $0.field == .ipSource { packets.append($0.locator) } }, progress: { _ in })
    #expect(packets == [.packet(2)], "packet numbers stay those of the file")
    #expect(summary.packets == 3 && summary.packetsFiltered == 2)
    #expect(throws: CaptureError.self) { try CaptureReader(file: try InputFile(path: path), filter: "tcp port nonsense") }
}

@Test(.enabled(if: corpusPresent, "../shared/corpus is absent"))
func corpusPcapFilesAreReadAsLibpcapReadsThem() throws {
    let directory = try #require(corpusDirectory) + "/pcap"
    let names = try FileManager.default.contentsOfDirectory(atPath: directory)
    var compared = 0
    for name in names.sorted() {
        let path = directory + "/" + name
        let head = try InputFile.prefix(of: path, count: 4)
        guard head != CaptureReader.pcapngMagic else { continue }
        let expected = libpcapReading(path)
        let got = try cairnReading(path, slotSize: 1 << 20)
        let message = "\(name): \(got.records.count) records, \(got.damage ?? got.openError ?? "-"); "
            + "libpcap \(expected.records.count), \(expected.damage ?? expected.openError ?? "-")"
        #expect(got == expected, "\(message)")
        compared += 1
    }
    #expect(compared > 100)
}

/// tshark 4.0's verdicts on crafted headers (`tshark -r` on each, an Ethernet frame in
/// one record): the versions and link-type fields it reads, and those it refuses.
@Test(arguments: [
    ((UInt16(2), UInt16(4)), UInt32(1), nil as String?, [] as [String]),
    ((2, 0), 1, nil, []),
    ((543, 0), 1, nil, []),
    ((2, 5), 1, nil, ["pcap version 2.5 is not one libpcap reads (2.0 to 2.4); read as 2.4, as tshark reads it"]),
    ((3, 0), 1, nil, ["pcap version 3.0 is not one libpcap reads (2.0 to 2.4); read as 2.4, as tshark reads it"]),
    ((543, 1), 1, nil, ["pcap version 543.1 is not one libpcap reads (2.0 to 2.4); read as 2.4, as tshark reads it"]),
    ((65535, 65535), 1, nil, ["pcap version 65535.65535 is not one libpcap reads (2.0 to 2.4); read as 2.4, as tshark reads it"]),
    ((1, 0), 1, "archaic pcap savefile format", []),
    ((0, 0), 1, "archaic pcap savefile format", []),
    ((2, 4), 0x3000_0001, nil, ["the link-type field 0x30000001 has FCS-length bits set; read as link type 1, frame check sequences left in place"]),
    ((2, 4), 0x0400_0001, nil, ["the link-type field 0x04000001 has FCS-length bits set; read as link type 1, frame check sequences left in place"]),
    ((2, 4), 0xF000_0001, nil, ["the link-type field 0xf0000001 has FCS-length bits set; read as link type 1, frame check sequences left in place"]),
    ((2, 4), 0x0030_0001, "network type reserved field not zero (0x00300000), as tshark refuses it", []),
    ((2, 4), 0x0200_0001, "network type reserved field not zero (0x02000000), as tshark refuses it", []),
    ((2, 4), 0x0001_0001, "network type reserved field not zero (0x00010000), as tshark refuses it", []),
] as [((UInt16, UInt16), UInt32, String?, [String])])
func pcapHeadersAreReadAsTsharkReadsThem(_ version: (UInt16, UInt16), _ linkField: UInt32, _ refusal: String?, _ notes: [String]) throws {
    for bigEndian in [false, true] {
        var crafted = CraftedPcap(bigEndian: bigEndian, version: version, linkType: linkField)
        crafted.records = [(1, 0, UInt32(ethernetQuery.count), UInt32(ethernetQuery.count), ethernetQuery.count)]
        var bytes = crafted.bytes
        bytes.replaceSubrange((bytes.count - ethernetQuery.count)..., with: ethernetQuery)
        let path = try Craft.temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let reader = try CaptureReader(file: try InputFile(path: path), filter: nil)
            #expect(refusal == nil, "read, where tshark refuses: \(refusal ?? "")")
            var addresses = 0
            let summary = reader.read(observe: { if $0.field == .ipSource || $0.field == .ipDestination { addresses += 1 } },
                                      progress: { _ in })
            #expect(summary.notes == notes)
            #expect(addresses == 2 && summary.packetsDecoded == 1)
        } catch let error as CaptureError {
            #expect(error.message == "cannot open as a pcap or pcapng capture: " + (refusal ?? "-"))
        }
    }
}

private let ethernetQuery = Craft.ethernet(type: 0x0800, payload: Craft.dnsQueryV4)
