@testable import CaseStore
import CaptureDecoding
import Foundation
import Observations
import Testing
@testable import Evidence

/// The streamed extract (pass 2 writing straight into the package), its roll-back of a
/// source that changed while read, the one-query sightings, and the stored TLP.

private func capturePlan(_ database: CaseDatabase) throws -> (plan: PacketExtract.Plan, sightings: [SightingRow]) {
    let sightings = try database.sightings(incident: nil).filter { row in
        if case .packet = row.locator { row.incidentID != nil } else { false }
    }
    let first = try #require(sightings.first)
    var wanted = PacketExtract.Wanted(path: first.sourcePath, sha256: first.sourceSHA256)
    for row in sightings where row.sourcePath == first.sourcePath {
        if case .packet(let frame) = row.locator { wanted.frames.insert(frame) }
    }
    let plan = try PacketExtract.locate(wanted, headersOnly: false).get()
    return (plan, sightings)
}

/// Copies `plans` into a fresh bag with one `Extract`; the pcap bytes, the index
/// bytes and the omissions.
private func copy(_ plans: [PacketExtract.Plan], layout: PacketExtract.Layout? = nil, in directory: TemporaryDirectory, name: String)
    throws -> (pcap: [UInt8], index: [UInt8], omissions: [String], needed: PacketExtract.Layout, layout: PacketExtract.Layout)
{
    let bag = try BagWriter(directory: directory.file(name))
    let index = try bag.stream(PacketExtract.indexFile)
    var header: [UInt8] = []
    SightingsCSV.line(PacketExtract.indexColumns, into: &header)
    try index.write(header)
    let used = layout ?? PacketExtract.Layout.guess(plans)
    let extract = PacketExtract.Extract(layout: used, bag: bag, index: index)
    var omissions: [String] = []
    for plan in plans {
        if let omission = try extract.copy(plan) { omissions.append(omission.reason) }
    }
    let needed = extract.neededLayout
    _ = try extract.finish()
    _ = try bag.finish(info: [])
    func bytes(_ file: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: directory.file(name) + "/data/" + file)))) ?? []
    }
    return (bytes(PacketExtract.singleFile), bytes(PacketExtract.indexFile), omissions, needed, used)
}

@Test("a capture whose SHA-256 differs in the second pass is cut off the pcap file and the index again")
func secondPassRollback() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let (plan, _) = try capturePlan(database)
    var changed = plan
    changed.sha256 = String(repeating: "0", count: 64)

    let alone = try copy([plan], in: directory, name: "alone")
    #expect(alone.omissions.isEmpty)
    #expect(alone.pcap.count > 24, "the extract holds packets")
    // The same source again under a digest it does not have: its packets are written,
    // then cut off again when the pass ends, leaving exactly the first copy.
    let both = try copy([plan, changed], in: directory, name: "both")
    #expect(both.omissions.count == 1)
    #expect(both.omissions.first?.contains("NOT INCLUDED: \(plan.path): its SHA-256") == true, "\(both.omissions)")
    #expect(both.pcap == alone.pcap)
    #expect(both.index == alone.index)
    // A source whose sighted packets are not in the flows the first pass found.
    var moved = plan
    moved.sightedFlows = [:]
    let shifted = try copy([plan, moved], in: directory, name: "shifted")
    #expect(shifted.omissions.first?.contains("changed while it was read") == true, "\(shifted.omissions)")
    #expect(shifted.pcap == alone.pcap)
    // And the bag's manifest holds the digests of what is on disk.
    let verification = PackageVerifier.verify(directory: directory.file("both"))
    #expect(verification.ok, "\(verification.problems)")
}

@Test("a pcap header guessed wrong is detected, and the export writes the files again with the right one")
func layoutRewrite() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let (plan, _) = try capturePlan(database)
    let right = try copy([plan], in: directory, name: "right")
    #expect(right.needed == right.layout)
    var wrong = right.layout
    wrong.nanoseconds.toggle()
    let guessed = try copy([plan], layout: wrong, in: directory, name: "wrong")
    #expect(guessed.needed == right.layout, "the packets written say which header they need")
    #expect(guessed.pcap != right.pcap)

    // Through the whole export: the layout loop ends with the right header, so the
    // pcap file is the one the right guess writes.
    let bag = try BagWriter(directory: directory.file("loop"))
    let sightings = try database.sightings(incident: nil).filter { $0.incidentID != nil }
    let output = try PacketExtract.write(sightings: sightings, headersOnly: false, into: bag)
    _ = try bag.finish(info: [])
    #expect(output.omitted.isEmpty)
    let loop = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory.file("loop") + "/data/" + PacketExtract.singleFile)))
    #expect(Array(loop.prefix(24)) == Array(right.pcap.prefix(24)), "same pcap header")
}

@Test("a failed export removes what it wrote and nothing else")
func failedExportDiscards() throws {
    let directory = try TemporaryDirectory()
    let target = directory.file("bag")
    let bag = try BagWriter(directory: target)
    try bag.add("incident.json", Array("{}\n".utf8))
    let file = try bag.stream("evidence.pcap")
    try file.write(Array(repeating: 7, count: 3 * BagFile.bufferSize + 5))
    bag.discard()
    #expect(!FileManager.default.fileExists(atPath: target))

    // An existing empty directory is kept, emptied.
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
    let again = try BagWriter(directory: target)
    try again.add("incident.json", Array("{}\n".utf8))
    again.discard()
    #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
}

@Test("a streamed file's SHA-256 and size are those of its bytes, across buffer boundaries and a roll-back",
      arguments: [0, 1, 17, BagFile.bufferSize - 1, BagFile.bufferSize, BagFile.bufferSize + 1, 3 * BagFile.bufferSize + 7])
func bagFileDigest(size: Int) throws {
    let directory = try TemporaryDirectory()
    let bag = try BagWriter(directory: directory.file("bag"))
    let file = try bag.stream("payload.bin")
    let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    try file.write(Array(bytes.prefix(size / 2)))
    let mark = try file.mark()
    try file.write(Array(repeating: 0xEE, count: size + 100))
    try file.rollback(to: mark)
    try file.write(Array(bytes.dropFirst(size / 2)))
    let entry = try bag.finish(file)
    let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory.file("bag") + "/data/payload.bin")))
    #expect(onDisk == bytes)
    #expect(entry.bytes == UInt64(size))
    #expect(entry.sha256 == BagIt.sha256(bytes))
}

@Test("the index time is iso8601 cut to seconds, then nine fraction digits", arguments: [
    Int64(0), 1, 999, 1_000, 1_709_294_400_000_530_000, 1_709_294_400_123_456_789, -1, -1_000_000_001,
    9_223_372_036_854_775_807, -9_223_372_036_854_775_807,
])
func indexTime(nanoseconds: Int64) {
    let time = Timestamp(nanoseconds: nanoseconds)
    let fraction = ((nanoseconds % 1_000_000_000) + 1_000_000_000) % 1_000_000_000
    let digits = String(fraction)
    let expected = "\(time.iso8601.prefix(19)).\(String(repeating: "0", count: 9 - digits.count) + digits)Z"
    #expect(time.iso8601Nanoseconds == expected)
}

@Test("sightings of several incidents in one query equal each incident's own list")
func sightingsOfIncidents() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let ids = try database.incidents().map(\.id)
    #expect(!ids.isEmpty)
    let together = try database.sightings(incidents: ids + [999_999])
    for id in ids {
        #expect(together[id] == (try database.sightings(incident: id)))
    }
    #expect(together[999_999] == [])
}

@Test("the package TLP comes from the TLP the case stored, even when the rule file is gone")
func tlpFromStoredIndicators() throws {
    let directory = try TemporaryDirectory()
    let rules = directory.file("red.csv")
    try "indicator,type,tlp\n203.0.113.45,ipv4,red\n".write(toFile: rules, atomically: false, encoding: .utf8)
    let database = try ingest([Fixtures.sampleData], rules: [rules], into: directory)
    let ids = try database.incidents().map(\.id)
    guard !ids.isEmpty else {
        Issue.record("203.0.113.45 is not sighted in SampleData")
        return
    }
    #expect(try database.sightedIndicators(incidents: ids).contains { $0.tlp != nil })
    try FileManager.default.removeItem(atPath: rules)
    let result = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: ids, commandLine: "", toolVersion: ""), to: directory.file("package"))
    #expect(result.notes.allSatisfy { !$0.contains("rule file") }, "\(result.notes)")
    let info = try String(contentsOfFile: directory.file("package") + "/bag-info.txt", encoding: .utf8)
    #expect(info.contains("Cairn-TLP: TLP:RED\n"))
}

@Test("an indicator stored without metadata (an old case) still takes its TLP from the rule file")
func tlpFallbackToRuleFile() throws {
    let directory = try TemporaryDirectory()
    let rules = directory.file("red.csv")
    try "indicator,type,tlp\n203.0.113.45,ipv4,red\n".write(toFile: rules, atomically: false, encoding: .utf8)
    let row = SightingRow(id: 1, incidentID: 1, sourcePath: "/p", sourceSHA256: "s", locator: .packet(1),
                          time: Timestamp(seconds: 5), indicatorType: "ipv4", indicatorValue: "203.0.113.45",
                          observed: "203.0.113.45", field: "ip.dst", host: "h", ruleFile: rules, ruleLine: 2)
    let old = StoredIndicatorLabel(ruleFile: rules, ruleLine: 2, value: "203.0.113.45", tlp: nil, hasMetadata: false)
    #expect(IndicatorTLP.strictest(sightings: [row], stored: [old]).tlp == .red)
    // Stored with metadata and no TLP: the rule entry gave none then; the file is not read.
    let plain = StoredIndicatorLabel(ruleFile: rules, ruleLine: 2, value: "203.0.113.45", tlp: nil, hasMetadata: true)
    #expect(IndicatorTLP.strictest(sightings: [row], stored: [plain]).tlp == nil)
    let stored = StoredIndicatorLabel(ruleFile: rules, ruleLine: 2, value: "203.0.113.45", tlp: "amber+strict", hasMetadata: true)
    #expect(IndicatorTLP.strictest(sightings: [row], stored: [stored]).tlp == .amberStrict)
}
