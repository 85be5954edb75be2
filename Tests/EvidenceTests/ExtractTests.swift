@testable import CaseStore
import CaptureDecoding
import Crypto
import Foundation
import Observations
import Testing
@testable import Evidence

/// One row of evidence-index.csv, by column name.
private struct IndexRow {
    var fields: [String: String]
    subscript(_ name: String) -> String { fields[name] ?? "" }
}

private func indexRows(_ bag: String) throws -> [IndexRow] {
    let text = try String(contentsOfFile: bag + "/data/evidence-index.csv", encoding: .utf8)
    let rows = CSVReader.rows(text)
    let header = try #require(rows.first)
    #expect(header == PacketExtract.indexColumns)
    return rows.dropFirst().map { IndexRow(fields: Dictionary(uniqueKeysWithValues: zip(header, $0))) }
}

private func export(_ database: CaseDatabase, to bag: String, headersOnly: Bool = false) throws -> ExportResult {
    var options = ExportOptions(incidentIDs: try database.incidents().map(\.id), commandLine: "cairn export (test)",
                                toolVersion: "test", exportedAt: Timestamp(seconds: 1_780_000_000))
    options.headersOnly = headersOnly
    return try EvidenceExporter(database: database).export(options, to: bag)
}

private func packetSightings(_ database: CaseDatabase) throws -> [SightingRow] {
    try database.sightings(incident: nil).filter { if case .packet = $0.locator { true } else { false } }
}

@Test("SampleData: the pcap extract holds every sighted packet, each indexed with its source, and verifies")
func sampleExtract() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let bag = directory.file("package")
    let result = try export(database, to: bag)
    #expect(result.omittedSources.isEmpty)
    let rows = try indexRows(bag)
    #expect(rows.count == result.packetCount)
    #expect(result.packetCount > 0)

    // Every sighted packet (of the exported incidents) is in the extract, marked sighted.
    let sighted = Set(try packetSightings(database).compactMap { row -> String? in
        guard row.incidentID != nil, case .packet(let frame) = row.locator else { return nil }
        return "\(row.sourcePath) \(row.sourceSHA256) \(frame)"
    })
    let extracted = Set(rows.filter { $0["sighted"] == "yes" }.map { "\($0["source_path"]) \($0["source_sha256"]) \($0["source_packet"])" })
    #expect(!sighted.isEmpty)
    #expect(sighted.isSubset(of: extracted))
    // Data minimisation: every extracted packet belongs to a flow of a sighted packet.
    let sightedFlows = Set(rows.filter { $0["sighted"] == "yes" }.map { $0["flow"] })
    #expect(rows.allSatisfy { sightedFlows.contains($0["flow"]) }, "\(rows.map { $0["flow"] })")
    // Packet numbers in each evidence file run 1, 2, 3…
    for (file, group) in Dictionary(grouping: rows, by: { $0["evidence_file"] }) {
        #expect(group.map { Int($0["evidence_packet"]) ?? 0 } == Array(1...group.count), "\(file)")
    }
    let verification = PackageVerifier.verify(directory: bag)
    #expect(verification.problems == [])
    #expect(verification.holds.contains { $0.hasPrefix("data/evidence-index.csv: \(rows.count) packets") })
    #expect(try String(contentsOfFile: bag + "/bag-info.txt", encoding: .utf8).contains("Cairn-Pcap-Extract: \(rows.count) packet(s)"))

    // capinfos and tshark read each extract file and count what the index lists.
    if available("capinfos") {
        for (file, group) in Dictionary(grouping: rows, by: { $0["evidence_file"] }) {
            let output = runQuiet("capinfos", ["-c", "-M", bag + "/data/" + file])?.output ?? ""
            #expect(output.contains("Number of packets:   \(group.count)"), "\(output)")
        }
    } else {
        print("skipped: capinfos is not installed")
    }
}

@Test("a byte flipped inside a packet of evidence.pcap is named, with the packet, by verify")
func extractFlipNamed() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData + "/office-lan.pcap"], into: directory)
    let bag = directory.file("package")
    _ = try export(database, to: bag)
    let pcap = bag + "/data/evidence.pcap"
    #expect(FileManager.default.fileExists(atPath: pcap))
    // 24-byte file header, 16-byte record header, then packet 1's bytes.
    try flipByte(pcap, at: 24 + 16 + 3)
    let problems = PackageVerifier.verify(directory: bag).problems
    #expect(problems.contains { $0.file == "data/evidence.pcap" && $0.detail.contains("SHA-256 is") })
    #expect(problems.contains { $0.file == "data/evidence.pcap" && $0.detail.hasPrefix("packet 1 ") && $0.detail.contains("SHA-256 of its bytes") },
            "\(problems)")
    #expect(!problems.contains { $0.file.hasPrefix("data/") && $0.file != "data/evidence.pcap" })
    try flipByte(pcap, at: 24 + 16 + 3)
    // A flipped timestamp byte of packet 1 (its record header) is named too.
    try flipByte(pcap, at: 24 + 4)
    let timeProblems = PackageVerifier.verify(directory: bag).problems
    #expect(timeProblems.contains { $0.file == "data/evidence.pcap" && $0.detail.contains("time is") }, "\(timeProblems)")
    try flipByte(pcap, at: 24 + 4)
    #expect(PackageVerifier.verify(directory: bag).ok)
}

@Test("a capture that changed after ingest is left out of the extract, and the package says so")
func changedCaptureOmitted() throws {
    let directory = try TemporaryDirectory()
    let capture = directory.file("office-lan.pcap")
    try FileManager.default.copyItem(atPath: Fixtures.sampleData + "/office-lan.pcap", toPath: capture)
    let database = try ingest([capture], into: directory)
    #expect(try !packetSightings(database).isEmpty)
    // Flip one byte of the last packet: the file still parses, its SHA-256 differs.
    let size = try FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int ?? 0
    try flipByte(capture, at: size - 1)
    let bag = directory.file("package")
    let result = try export(database, to: bag)
    #expect(result.omittedSources.count == 1)
    #expect(result.omittedSources.first?.contains("NOT INCLUDED: \(capture): its SHA-256 is now") == true)
    #expect(try indexRows(bag).isEmpty)
    #expect(!FileManager.default.fileExists(atPath: bag + "/data/evidence.pcap"))
    #expect(try String(contentsOfFile: bag + "/bag-info.txt", encoding: .utf8).contains("Cairn-Omitted-Source: NOT INCLUDED: \(capture)"))
    #expect(PackageVerifier.verify(directory: bag).ok)
}

@Test("--headers-only cuts the other packets after the transport header and keeps sighted packets whole",
      .enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent"))
func headersOnly() throws {
    // SampleData's flows are sighted in every packet; a corpus HTTP stream has unsighted ones.
    let corpus = Fixtures.corpusPath
    let directory = try TemporaryDirectory()
    let rules = directory.file("rules.txt")
    try "bits.wikimedia.org\n".write(toFile: rules, atomically: false, encoding: .utf8)
    let database = try ingest([corpus + "/pcap/zk-wikipedia.pcap"], rules: [rules], into: directory)
    let full = try indexRows({ let bag = directory.file("full"); _ = try export(database, to: bag); return bag }())
    let bag = directory.file("headers")
    _ = try export(database, to: bag, headersOnly: true)
    let cut = try indexRows(bag)
    #expect(cut.count == full.count)
    var shortened = 0
    for (whole, short) in zip(full, cut) {
        #expect(whole["source_packet"] == short["source_packet"])
        #expect(whole["original_length"] == short["original_length"])
        let wholeLength = Int(whole["captured_length"]) ?? 0
        let shortLength = Int(short["captured_length"]) ?? 0
        if short["sighted"] == "yes" {
            #expect(shortLength == wholeLength)
        } else {
            #expect(shortLength <= wholeLength)
            // Ethernet + IPv4/IPv6 + TCP/UDP headers are at most this long.
            #expect(shortLength <= 14 + 8 + 60 + 60 + 40)
            if shortLength < wholeLength { shortened += 1 }
        }
    }
    #expect(shortened > 0)
    #expect(PackageVerifier.verify(directory: bag).ok)

    // Packets sighted only by their IP addresses need no payload: they are cut too.
    let byAddress = try TemporaryDirectory()
    let addressRules = byAddress.file("rules.txt")
    try "208.80.152.3\n".write(toFile: addressRules, atomically: false, encoding: .utf8)
    let addressDatabase = try ingest([corpus + "/pcap/zk-wikipedia.pcap"], rules: [addressRules], into: byAddress)
    let addressBag = byAddress.file("package")
    _ = try export(addressDatabase, to: addressBag, headersOnly: true)
    // The 6 TCP streams to the address (60 packets, tshark); the DNS answers naming it
    // are sighted in dns.answer and kept whole.
    let addressRows = try indexRows(addressBag).filter { $0["flow"].hasPrefix("tcp ") }
    #expect(addressRows.count == 60)
    #expect(addressRows.allSatisfy { $0["sighted"] == "yes" })
    #expect(addressRows.contains { (Int($0["captured_length"]) ?? 0) < (Int($0["original_length"]) ?? 0) })
    #expect(addressRows.allSatisfy { (Int($0["captured_length"]) ?? 0) <= 14 + 60 + 60 })
}

@Test("corpus: an HTTP Host sighting extracts exactly that TCP stream, as tshark numbers its frames",
      .enabled(if: Fixtures.corpusPresent && tsharkInstalled, "needs tshark and ../shared/corpus"))
func corpusExtract() throws {
    let capture = Fixtures.corpusPath + "/pcap/zk-wikipedia.pcap"
    let directory = try TemporaryDirectory()
    let rules = directory.file("rules.txt")
    try "bits.wikimedia.org\n".write(toFile: rules, atomically: false, encoding: .utf8)
    let database = try ingest([capture], rules: [rules], into: directory)
    let frames = try packetSightings(database).compactMap { row -> UInt64? in
        if case .packet(let frame) = row.locator { frame } else { nil }
    }
    #expect(!frames.isEmpty)
    // The TCP/UDP streams of the sighted frames, and every frame of those streams, by tshark.
    // Display-filter sets are comma-separated (Wireshark 4.0 refuses spaces).
    let filter = "frame.number in {\(frames.map(String.init).joined(separator: ","))}"
    let streams = try #require(
        runQuiet("tshark", ["-r", capture, "-Y", filter, "-T", "fields", "-e", "tcp.stream", "-e", "udp.stream"])).output
    var tcp = Set<String>(), udp = Set<String>()
    for line in streams.split(separator: "\n") {
        let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        if let first = parts.first, !first.isEmpty { tcp.insert(first) }
        if parts.count > 1, !parts[1].isEmpty { udp.insert(parts[1]) }
    }
    var clauses: [String] = []
    if !tcp.isEmpty { clauses.append("tcp.stream in {\(tcp.sorted().joined(separator: ","))}") }
    if !udp.isEmpty { clauses.append("udp.stream in {\(udp.sorted().joined(separator: ","))}") }
    #expect(!clauses.isEmpty, "tshark names the streams of the sighted frames")
    let expected = (runQuiet("tshark", ["-r", capture, "-Y", clauses.joined(separator: " or "), "-T", "fields", "-e", "frame.number"])?.output ?? "")
        .split(separator: "\n").map(String.init)
    #expect(expected.count > frames.count)

    let bag = directory.file("package")
    let result = try export(database, to: bag)
    let rows = try indexRows(bag)
    #expect(rows.map { $0["source_packet"] } == expected)
    #expect(result.packetCount == expected.count)
    #expect(rows.allSatisfy { $0["evidence_file"] == "evidence.pcap" && $0["source_path"] == capture })
    // Timestamps and lengths agree with tshark's view of the source.
    let fields = runQuiet("tshark", ["-r", bag + "/data/evidence.pcap", "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len"])?.output ?? ""
    let source = runQuiet("tshark", ["-r", capture, "-Y", clauses.joined(separator: " or "), "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len"])?.output ?? ""
    #expect(!fields.isEmpty && fields == source)
    #expect(PackageVerifier.verify(directory: bag).ok)

    // The remote party gets a preservation request naming the service it was seen on.
    let request = try String(contentsOfFile: bag + "/data/preservation-request-bits.wikimedia.org.txt", encoding: .utf8)
    #expect(request.hasPrefix("TLP:AMBER\n"))
    #expect(request.contains("bits.wikimedia.org"))
}

@Test("flow keys are the same in both directions and differ between flows", arguments: [
    // Ethernet + IPv4 + TCP 10.0.0.1:1234 -> 10.0.0.2:80, and back.
    ("0800 45000028000000004006 0000 0a000001 0a000002 04d20050 00000000 00000000 50020000 00000000", 1, "tcp 10.0.0.1:1234 <-> 10.0.0.2:80", 14 + 20 + 20),
    ("0800 45000028000000004006 0000 0a000002 0a000001 005004d2 00000000 00000000 50020000 00000000", 1, "tcp 10.0.0.1:1234 <-> 10.0.0.2:80", 14 + 20 + 20),
    // 802.1Q tag, IPv4, UDP 53.
    ("8100 0064 0800 4500001c000000004011 0000 0a000001 08080808 d4310035 00080000", 1, "udp 8.8.8.8:53 <-> 10.0.0.1:54321", 14 + 4 + 20 + 8),
    // Raw IPv4 ICMP: address pair only.
    ("4500001c000000004001 0000 c0000201 c0000202 08000000 00000000", 12, "ip/1 192.0.2.1 <-> 192.0.2.2", 20),
])
func flowKeys(hex: String, linkType: Int32, expected: String, headersEnd: Int) throws {
    let body = hex.filter { !$0.isWhitespace }
    var bytes: [UInt8] = linkType == 1 ? Array(repeating: 0, count: 12) : []
    var index = body.startIndex
    while index < body.endIndex {
        let next = body.index(index, offsetBy: 2)
        bytes.append(UInt8(body[index..<next], radix: 16) ?? 0)
        index = next
    }
    let located = PacketHeaders.locate(packet: bytes.span, linkType: linkType)
    let headers = try #require(located)
    #expect(headers.flow.description == expected)
    #expect(headers.headersEnd == headersEnd)
    // A cut-short packet yields nothing, never a trap.
    for count in 0..<min(bytes.count, 14 + 20) where linkType == 1 {
        _ = PacketHeaders.locate(packet: Array(bytes.prefix(count)).span, linkType: linkType)
    }
}

@Test("corpus: sources of different link types give one pcap file per link type, each read by capinfos",
      .enabled(if: Fixtures.corpusPresent && capinfosInstalled, "needs capinfos and ../shared/corpus"))
func extractPerLinkType() throws {
    let corpus = Fixtures.corpusPath
    let directory = try TemporaryDirectory()
    let rules = directory.file("rules.txt")
    try "66.66.66.66\n".write(toFile: rules, atomically: false, encoding: .utf8)
    let captures = ["mt-dlt_raw.pcap", "mt-dlt_sll.pcap"].map { corpus + "/pcap/" + $0 }
    let database = try ingest(captures, rules: [rules], into: directory)
    let bag = directory.file("package")
    let result = try export(database, to: bag)
    #expect(result.omittedSources.isEmpty)
    let rows = try indexRows(bag)
    let files = Set(rows.map { $0["evidence_file"] })
    #expect(files == ["evidence-raw.pcap", "evidence-linux-sll.pcap"], "\(files)")
    #expect(!FileManager.default.fileExists(atPath: bag + "/data/evidence.pcap"))
    for (file, encapsulation) in [("evidence-raw.pcap", "Raw IP"), ("evidence-linux-sll.pcap", "Linux cooked-mode capture v1")] {
        #expect(rows.filter { $0["evidence_file"] == file }.count == 1)
        let output = try #require(runQuiet("capinfos", ["-E", bag + "/data/" + file])).output
        #expect(output.contains(encapsulation), "\(output)")
    }
    #expect(PackageVerifier.verify(directory: bag).ok)
    // A pcap file the index does not name is reported.
    try FileManager.default.moveItem(atPath: bag + "/data/evidence-raw.pcap", toPath: bag + "/data/evidence-raw2.pcap")
    let problems = PackageVerifier.verify(directory: bag).problems
    #expect(problems.contains { $0.file == "data/evidence-raw2.pcap" && $0.detail.contains("not listed in data/evidence-index.csv") })
}

@Test("bagit.py validates a signed package with its pcap extract, and rejects it after one byte changes",
      .enabled(if: available("bagit.py"), "bagit.py is not installed (pip install bagit)"))
func bagitValidates() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let bag = directory.file("package")
    var options = ExportOptions(incidentIDs: try database.incidents().map(\.id), commandLine: "", toolVersion: "")
    options.signingKey = Curve25519.Signing.PrivateKey()
    _ = try EvidenceExporter(database: database).export(options, to: bag)
    let valid = try #require(run("bagit.py", ["--validate", bag]))
    #expect(valid.status == 0, "\(valid.output)")
    try flipByte(bag + "/data/evidence.pcap", at: 30)
    let invalid = try #require(run("bagit.py", ["--validate", bag]))
    #expect(invalid.status != 0 && invalid.output.contains("evidence.pcap"), "\(invalid.output)")
}

private let tsharkInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")
private let capinfosInstalled = available("capinfos")

@Test("corpus: the extract numbers frames as tshark does and finds flows on every link type the ingest decodes",
      .enabled(if: Fixtures.corpusPresent && tsharkInstalled, "needs tshark and ../shared/corpus"), arguments: [
    // NFLOG, radiotap 802.11, PKTAP, PPP with MPLS: link types the extract once could not read.
    ("zk-nflog-http.pcap", ["93.184.216.34"]),
    ("zk-radiotap.pcap", ["208.67.220.220"]),
    ("tcpd-LINKTYPE_PKTAP.pcap", ["10.32.100.15"]),
    ("tcpd-mpls-traceroute.pcap", ["12.1.1.1"]),
    // Three VLAN tags; VLAN and MPLS stacks.
    ("zk-vlan-qinqinq.pcap", ["192.150.187.43"]),
    ("zk-mixed-vlan-mpls.pcap", ["10.34.0.1"]),
    // A pcapng whose frames 1, 7 and 10 are not packets (tshark numbers them all), of
    // two link types (Ethernet and BSD loopback).
    ("pngtg-le-difficult-test202.pcapng", ["192.168.0.1", "192.168.1.139"]),
])
func extractFramesAreTsharks(_ name: String, _ indicators: [String]) throws {
    let capture = Fixtures.corpusPath + "/pcap/" + name
    let directory = try TemporaryDirectory()
    let rules = directory.file("rules.txt")
    try indicators.map { $0 + "\n" }.joined().write(toFile: rules, atomically: false, encoding: .utf8)
    let database = try ingest([capture], rules: [rules], into: directory)
    let sighted = Set(try packetSightings(database).compactMap { row -> String? in
        guard row.incidentID != nil, case .packet(let frame) = row.locator else { return nil }
        return String(frame)
    })
    #expect(!sighted.isEmpty)

    let bag = directory.file("package")
    let result = try export(database, to: bag)
    #expect(result.omittedSources.isEmpty)
    let rows = try indexRows(bag)
    #expect(sighted.isSubset(of: Set(rows.filter { $0["sighted"] == "yes" }.map { $0["source_packet"] })))
    #expect(rows.allSatisfy { $0["flow"] != "no IP header" }, "\(rows.map { $0["flow"] })")
    #expect(PackageVerifier.verify(directory: bag).ok)

    // Each extract file, read by tshark, holds the very frames of the source that the
    // index numbers: same times, lengths and addresses, in the same order.
    let fields = ["frame.time_epoch", "frame.len", "frame.cap_len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"].flatMap { ["-e", $0] }
    for (file, group) in Dictionary(grouping: rows, by: { $0["evidence_file"] }) {
        let frames = group.map { $0["source_packet"] }
        #expect(frames.map { UInt64($0) ?? 0 } == frames.compactMap { UInt64($0) }.sorted())
        let source = runQuiet("tshark", ["-r", capture, "-Y", "frame.number in {\(frames.joined(separator: ","))}", "-T", "fields"] + fields)?.output ?? ""
        let extracted = runQuiet("tshark", ["-r", bag + "/data/" + file, "-T", "fields"] + fields)?.output ?? ""
        #expect(source.split(separator: "\n").count == group.count, "\(file): \(source)")
        #expect(extracted == source, "\(file)")
    }
}
