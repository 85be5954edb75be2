@testable import CaseStore
import Foundation
import Observations
import TestSupport
import Testing
@testable import Evidence

/// SampleData ingested once per test into its own database, all incidents exported.
private struct ExportedSample {
    let directory: TemporaryDirectory
    let database: CaseDatabase
    let bag: String
    let result: ExportResult

    init(paths: [String]? = nil) throws {
        directory = try TemporaryDirectory()
        database = try ingest(paths ?? [Fixtures.sampleData], into: directory)
        bag = directory.file("package")
        let ids = try database.incidents().map(\.id)
        result = try EvidenceExporter(database: database).export(
            ExportOptions(incidentIDs: ids, commandLine: "cairn export (test)", toolVersion: "test",
                          exportedAt: Timestamp(seconds: 1_780_000_000)),
            to: bag)
    }

    func text(_ name: String) throws -> String {
        try String(contentsOfFile: bag + "/" + name, encoding: .utf8)
    }
}

@Test("an exported SampleData package is a complete BagIt bag and verifies")
func exportVerifies() throws {
    let sample = try ExportedSample()
    #expect(try sample.database.incidents().count > 0)
    let verification = PackageVerifier.verify(directory: sample.bag)
    #expect(verification.problems == [])
    #expect(verification.holds.count == 6)

    let names = try FileManager.default.contentsOfDirectory(atPath: sample.bag).sorted()
    #expect(names == ["bag-info.txt", "bagit.txt", "data", "manifest-sha256.txt", "tagmanifest-sha256.txt"])
    let payload = try FileManager.default.contentsOfDirectory(atPath: sample.bag + "/data").sorted()
    let fixed = EvidenceExporter.payloadFiles.filter { $0 != "evidence.pcap" }
    #expect(Set(fixed).isSubset(of: Set(payload)))
    #expect(payload.filter { !fixed.contains($0) }.allSatisfy {
        ($0.hasPrefix("evidence") && $0.hasSuffix(".pcap")) || ($0.hasPrefix("preservation-request-") && $0.hasSuffix(".txt"))
    }, "\(payload)")
    #expect(payload.contains { $0.hasPrefix("evidence") && $0.hasSuffix(".pcap") })
    #expect(try sample.text("bagit.txt") == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")

    // Payload-Oxum counts the payload's bytes and files.
    let sizes = try payload.map { try FileManager.default.attributesOfItem(atPath: sample.bag + "/data/" + $0)[.size] as? Int ?? -1 }
    #expect(try sample.text("bag-info.txt").contains("Payload-Oxum: \(sizes.reduce(0, +)).\(payload.count)\n"))
    #expect(try sample.text("bag-info.txt").contains("Bagging-Date: 2026-05-28\n"))

    // The custody log gained an export entry whose outputs are the package's files.
    let entries = try sample.database.custodyEntries()
    #expect(entries.last == sample.result.custodyEntry)
    #expect(entries.last?.action == "export")
    #expect(entries.last?.outputs.count == sample.result.files.count)
    #expect(sample.result.files.count == payload.count + 4)
    #expect(entries.last?.inputs.isEmpty == false)
    #expect(try sample.database.verifyCustody().ok)

    // The incident document carries every sighting with its provenance.
    let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sample.bag + "/data/incident.json"))) as? [String: Any]
    let incidents = document?["incidents"] as? [[String: Any]] ?? []
    let sightingCount = incidents.reduce(0) { $0 + (($1["sightings"] as? [Any])?.count ?? 0) }
    #expect(sightingCount == sample.result.sightingCount)
    #expect(document?["tlp"] as? String == "TLP:AMBER")
    let first = (incidents.first?["sightings"] as? [[String: Any]])?.first
    #expect((first?["source"] as? [String: Any])?["sha256"] as? String != nil)
    #expect((first?["indicator"] as? [String: Any])?["rule"] as? String != nil)
}

@Test("sha256sum -c accepts both manifests from inside the bag", .enabled(if: Tool.sha256sum, "sha256sum is not installed"))
func standardToolsAgree() throws {
    let sample = try ExportedSample()
    for manifest in ["manifest-sha256.txt", "tagmanifest-sha256.txt"] {
        let result = try #require(run("sh", ["-c", "cd '\(sample.bag)' && sha256sum -c --strict \(manifest)"]))
        #expect(result.status == 0, "\(result.output)")
    }
}

@Test("flipping one byte of any file of the package is reported against that file")
func everyFlipIsNamed() throws {
    let sample = try ExportedSample()
    let files = sample.result.files.map(\.path)
    #expect(files.count > 11)
    for file in files {
        let path = sample.bag + "/" + file
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        for offset in Set([0, size / 2, size - 1]) {
            try flipByte(path, at: offset)
            let verification = PackageVerifier.verify(directory: sample.bag)
            #expect(!verification.ok, "\(file) byte \(offset)")
            if file == "tagmanifest-sha256.txt" {
                // Nothing inside a bag vouches for the tag manifest: a listed hash that
                // differs may mean either file changed, and the problem names both.
                #expect(verification.problems.contains { $0.file == file || $0.detail.contains(file) }, "\(file) byte \(offset): \(verification.problems)")
            } else {
                #expect(verification.problems.contains { $0.file == file }, "\(file) byte \(offset): \(verification.problems)")
                if file.hasPrefix("data/") {
                    // A payload change is not blamed on another payload file.
                    #expect(!verification.problems.contains { $0.file.hasPrefix("data/") && $0.file != file }, "\(verification.problems)")
                }
            }
            try flipByte(path, at: offset)
            #expect(PackageVerifier.verify(directory: sample.bag).ok)
        }
    }
}

@Test("a removed, added or renamed payload file, and a wrong Payload-Oxum, are reported")
func structuralChanges() throws {
    let sample = try ExportedSample()
    let data = sample.bag + "/data/"
    try "extra\n".write(toFile: data + "extra.txt", atomically: false, encoding: .utf8)
    var problems = PackageVerifier.verify(directory: sample.bag).problems
    #expect(problems.contains { $0.file == "data/extra.txt" && $0.detail.contains("not listed") })
    #expect(problems.contains { $0.file == "bag-info.txt" && $0.detail.contains("Payload-Oxum") })
    try FileManager.default.removeItem(atPath: data + "extra.txt")

    try FileManager.default.moveItem(atPath: data + "sightings.csv", toPath: data + "sightings2.csv")
    problems = PackageVerifier.verify(directory: sample.bag).problems
    #expect(problems.contains { $0.file == "data/sightings.csv" && $0.detail.contains("does not exist") })
    #expect(problems.contains { $0.file == "data/sightings2.csv" })
    try FileManager.default.moveItem(atPath: data + "sightings2.csv", toPath: data + "sightings.csv")
    #expect(PackageVerifier.verify(directory: sample.bag).ok)

    try FileManager.default.createSymbolicLink(atPath: data + "link", withDestinationPath: "/etc/hostname")
    problems = PackageVerifier.verify(directory: sample.bag).problems
    #expect(problems.contains { $0.file == "data/link" && $0.detail.contains("not a regular file") })
}

@Test("a manifest line naming a path outside the bag is a problem of the manifest, never read")
func escapingPathRejected() throws {
    let sample = try ExportedSample()
    let manifest = sample.bag + "/manifest-sha256.txt"
    let text = try String(contentsOfFile: manifest, encoding: .utf8)
        + String(repeating: "0", count: 64) + "  data/../../outside\n"
    try text.write(toFile: manifest, atomically: false, encoding: .utf8)
    let problems = PackageVerifier.verify(directory: sample.bag).problems
    #expect(problems.contains { $0.file == "manifest-sha256.txt" && $0.detail.contains("leaves the bag") })
}

@Test("export refuses a non-empty directory and an unknown incident, and writes nothing then")
func exportRefuses() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let exporter = EvidenceExporter(database: database)
    let busy = directory.file("busy")
    try FileManager.default.createDirectory(atPath: busy, withIntermediateDirectories: true)
    try "x".write(toFile: busy + "/keep", atomically: false, encoding: .utf8)
    let before = try database.custodyEntries().count
    #expect(throws: EvidenceError.self) {
        try exporter.export(ExportOptions(incidentIDs: [1], commandLine: "", toolVersion: ""), to: busy)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: busy) == ["keep"])
    #expect(throws: EvidenceError.unknownIncident(999_999)) {
        try exporter.export(ExportOptions(incidentIDs: [999_999], commandLine: "", toolVersion: ""), to: directory.file("new"))
    }
    #expect(!FileManager.default.fileExists(atPath: directory.file("new")))
    #expect(try database.custodyEntries().count == before)
    // An existing empty directory is fine.
    let empty = directory.file("empty")
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    _ = try exporter.export(ExportOptions(incidentIDs: [1], commandLine: "", toolVersion: ""), to: empty)
    #expect(PackageVerifier.verify(directory: empty).ok)
}

@Test("log excerpts quote the lines behind log sightings verbatim, plain and gzip")
func logExcerptsVerbatim() throws {
    let sample = try ExportedSample()
    let excerpts = try sample.text("data/log-excerpts.txt")
    #expect(excerpts.hasPrefix("TLP:AMBER\n"))
    let logSightings = try sample.database.sightings(incident: nil).filter {
        if case .line = $0.locator { true } else { false }
    }
    #expect(!logSightings.isEmpty)
    var gzipSeen = false
    for sighting in logSightings {
        guard case .line(let number, _) = sighting.locator else { continue }
        let text: String
        if sighting.sourcePath.hasSuffix(".gz") {
            gzipSeen = true
            text = run("gzip", ["-dc", sighting.sourcePath])?.output ?? ""
        } else {
            text = try String(contentsOfFile: sighting.sourcePath, encoding: .utf8)
        }
        let line = text.split(separator: "\n", omittingEmptySubsequences: false)[Int(number) - 1]
        let expected = "\(sighting.sourcePath) sha256=\(sighting.sourceSHA256) line \(number): \(line)\n"
        #expect(excerpts.contains(expected), "\(expected)")
    }
    #expect(gzipSeen)
    #expect(sample.result.notes.isEmpty)
}

@Test("log excerpts say, before a source's lines, the time zone and year its times were read with")
func logExcerptsSayHowTheSourceWasRead() throws {
    let directory = try TemporaryDirectory()
    let log = directory.file("fw01.log")
    try FileManager.default.copyItem(atPath: Fixtures.sampleData + "/syslog/fw01.log", toPath: log)
    let database = try ingest([log], utcOffsetSeconds: -(4 * 3600 + 30 * 60), into: directory)
    let ids = try database.incidents().map(\.id)
    #expect(!ids.isEmpty)
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: ids, commandLine: "", toolVersion: ""), to: bag)
    #expect(PackageVerifier.verify(directory: bag).ok)
    let excerpts = try String(contentsOfFile: bag + "/data/log-excerpts.txt", encoding: .utf8)
    let said = "# \(log): read by cairn ingest with times without a zone at -04:30, the RFC 3164 year 2026 for "
        + "each file's first time, lines cut past 1048576 bytes, gzip read up to 68719476736 decompressed bytes\n"
    let settings = try #require(excerpts.range(of: said), "\(excerpts)")
    let firstLine = try #require(excerpts.range(of: "\(log) sha256="))
    #expect(settings.upperBound <= firstLine.lowerBound)
}

@Test("sightings on lines of a gzip member whose CRC-32 failed are marked unverified in the package")
func unverifiedSightingsAreMarked() throws {
    let directory = try TemporaryDirectory()
    let log = directory.file("mail.log.gz")
    func line(_ second: Int) -> String { "2026-03-02T13:00:0\(second)Z mail-gw sshd[1]: from 203.0.113.45 port 4000\(second)\n" }
    var input = try gzipCompressed(Array((line(1) + line(2)).utf8)) + gzipCompressed(Array((line(3) + line(4)).utf8))
    input[input.count - 8] ^= 0x55
    try Data(input).write(to: URL(fileURLWithPath: log))
    let database = try ingest([log], into: directory)
    #expect(try database.sources().first?.unverifiedFromLine == 3)
    let ids = try database.incidents().map(\.id)
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: ids, commandLine: "", toolVersion: ""), to: bag)
    #expect(PackageVerifier.verify(directory: bag).ok)

    let document = try #require(
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bag + "/data/incident.json")))
            as? [String: Any])
    let sightings = (document["incidents"] as? [[String: Any]] ?? []).flatMap { $0["sightings"] as? [[String: Any]] ?? [] }
    let marks = sightings.map { (($0["locator"] as? [String: Any])?["line"] as? Int ?? 0, $0["unverified"] as? Bool) }
    #expect(marks.map(\.0).sorted() == [1, 2, 3, 4])
    for (number, unverified) in marks { #expect(unverified == (number >= 3 ? true : nil), "line \(number)") }

    let csv = try String(contentsOfFile: bag + "/data/sightings.csv", encoding: .utf8).components(separatedBy: "\r\n")
    #expect(csv.first?.hasSuffix(",host,unverified,host_name") == true)
    // The sample rows have no quoted commas: the unverified column is the second last.
    #expect(csv.dropFirst().filter { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast().last == "1" }.count == 2)
    let excerpts = try String(contentsOfFile: bag + "/data/log-excerpts.txt", encoding: .utf8)
    #expect(excerpts.contains("# \(log): lines from 3 on are unverified: reading stopped inside their gzip member, "
                              + "whose CRC-32 was never checked\n"))
    #expect(try String(contentsOfFile: bag + "/data/report.html", encoding: .utf8).contains("<strong>unverified</strong>"))
}

@Test("a log sighting whose host name a DHCP lease resolved carries the name beside the address")
func resolvedHostNamesAreInThePackage() throws {
    let directory = try TemporaryDirectory()
    let log = directory.file("web01.log")
    try """
        2026-03-02T08:00:00Z dhcp1 dhcpd[1]: DHCPACK on 10.0.0.23 to 00:11:22:33:44:55 (web01) via eth0
        2026-03-02T09:05:00Z web01 sshd[1]: Accepted password for root from 203.0.113.45 port 4000 ssh2

        """.write(toFile: log, atomically: true, encoding: .utf8)
    let database = try ingest([log, Fixtures.sampleData + "/office-lan.pcap"], into: directory)
    let incident = try #require(try database.sightings(incident: nil).first { $0.hostName == "web01" }?.incidentID)
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: [incident], commandLine: "", toolVersion: ""), to: bag)
    #expect(PackageVerifier.verify(directory: bag).ok)
    let document = try #require(
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bag + "/data/incident.json")))
            as? [String: Any])
    let sightings = (document["incidents"] as? [[String: Any]] ?? []).flatMap { $0["sightings"] as? [[String: Any]] ?? [] }
    let fromLog = sightings.filter { ($0["locator"] as? [String: Any])?["kind"] as? String == "line" }
    #expect(fromLog.count == 1)
    #expect(fromLog.first?["host"] as? String == "10.0.0.23")
    #expect(fromLog.first?["host_name"] as? String == "web01")
    // The capture's sightings of the same address are in the same incident, without a name.
    #expect(sightings.count > 1)
    #expect(sightings.filter { $0["host_name"] != nil }.count == 1)
    let csv = try String(contentsOfFile: bag + "/data/sightings.csv", encoding: .utf8).components(separatedBy: "\r\n")
    #expect(csv.filter { $0.hasSuffix(",10.0.0.23,,web01") }.count == 1)
}

@Test("a log source that changed after ingest is not quoted, and the excerpt file says why")
func changedSourceNotQuoted() throws {
    let directory = try TemporaryDirectory()
    let log = directory.file("fw01.log")
    try FileManager.default.copyItem(atPath: Fixtures.sampleData + "/syslog/fw01.log", toPath: log)
    let database = try ingest([log], into: directory)
    let handle = try #require(FileHandle(forWritingAtPath: log))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data("appended later\n".utf8))
    try handle.close()
    let ids = try database.incidents().map(\.id)
    #expect(!ids.isEmpty)
    let bag = directory.file("package")
    let result = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: ids, commandLine: "", toolVersion: ""), to: bag)
    let excerpts = try String(contentsOfFile: bag + "/data/log-excerpts.txt", encoding: .utf8)
    #expect(excerpts.contains("# NOT QUOTED: \(log): its SHA-256 is now "))
    #expect(!excerpts.contains("\(log) sha256="))
    #expect(result.notes.count == 1)
}

@Test("the line collector numbers lines like the log reader, whatever the chunking",
      arguments: [1, 2, 3, 7, 16, 1000])
func lineCollectorChunking(chunk: Int) {
    let text = Array("first\r\nsecond\n\nfourth line\nlast without newline".utf8)
    var collector = LineCollector(wanted: [1, 2, 3, 4, 5])
    var index = 0
    while index < text.count {
        _ = collector.feed(text[index..<min(index + chunk, text.count)])
        index += chunk
    }
    collector.finish()
    #expect(collector.found.mapValues { String(decoding: $0.bytes, as: UTF8.self) }
        == [1: "first", 2: "second", 3: "", 4: "fourth line", 5: "last without newline"])
    #expect(collector.found.mapValues(\.offset) == [1: 0, 2: 7, 3: 14, 4: 15, 5: 27])
}

@Test("CSV fields follow RFC 4180", arguments: [
    ("plain", "plain"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("two\nlines", "\"two\nlines\""),
    ("cr\rhere", "\"cr\rhere\""), ("", ""),
])
func csvField(value: String, expected: String) {
    #expect(SightingsCSV.field(value) == expected)
}

@Test("sightings.csv has a header and one CRLF-terminated row per sighting")
func sightingsCSV() throws {
    let sample = try ExportedSample()
    let text = try sample.text("data/sightings.csv")
    #expect(text.hasPrefix("incident_id,sighting_id,time,source_path,source_sha256,"))
    #expect(text.hasSuffix("\r\n"))
    #expect(text.components(separatedBy: "\r\n").count - 2 == sample.result.sightingCount)
}

@Test("TLP can only be raised above AMBER")
func tlpOnlyStricter() {
    #expect(ExportOptions(incidentIDs: [1], tlp: .green, commandLine: "", toolVersion: "").tlp == .amber)
    #expect(ExportOptions(incidentIDs: [1], tlp: .red, commandLine: "", toolVersion: "").tlp == .red)
    #expect(TLP(text: "amber+strict") == .amberStrict)
    #expect(TLP(text: "TLP:red") == .red)
    #expect(TLP(text: "purple") == nil)
}

@Test("report.html is one self-contained page: TLP, incidents, an SVG timeline, the sightings, how to verify")
func htmlReport() throws {
    let sample = try ExportedSample()
    let html = try sample.text("data/report.html")
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.components(separatedBy: "<p class=\"tlp\">TLP:AMBER</p>").count == 3)
    for incident in try sample.database.incidents() {
        #expect(html.contains("<tr><td>\(incident.id)</td>"))
    }
    #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(html.components(separatedBy: "<circle ").count > 6)
    #expect(html.contains("sha256sum -c manifest-sha256.txt"))
    // Nothing to fetch: no script, stylesheet link, image or frame.
    for forbidden in ["<script", "<link", "<img", "<iframe", "src=", "href=", "url("] {
        #expect(!html.contains(forbidden), "\(forbidden)")
    }
    if let xmllint = run("xmllint", ["--html", "--noout", sample.bag + "/data/report.html"]), xmllint.status != 127 {
        #expect(xmllint.status == 0, "\(xmllint.output)")
    }
}

@Test("the report lists at most its row limit of sightings and says where the rest are")
func htmlReportLimit() {
    let incident = IncidentRow(id: 1, firstSeen: Timestamp(seconds: 0), lastSeen: Timestamp(seconds: 9), host: "h",
                               severity: "low", indicators: ["x"], sightingCount: 2500, title: "t")
    let row = SightingRow(id: 1, incidentID: 1, sourcePath: "/p", sourceSHA256: "s", locator: .packet(1),
                          time: Timestamp(seconds: 5), indicatorType: "ipv4", indicatorValue: "192.0.2.1",
                          observed: "192.0.2.1", field: "ip.dst", host: "h", ruleFile: "r", ruleLine: 1)
    let html = String(decoding: HTMLReport.render(organisation: "c", tlp: .red, generated: Timestamp(seconds: 0),
                                                  incidents: [(incident, Array(repeating: row, count: 2500))]), as: UTF8.self)
    #expect(html.components(separatedBy: "<tr><td>1</td><td class=").count - 1 == HTMLReport.maximumTableRows)
    #expect(html.contains("all 2500 are in"))
    #expect(html.components(separatedBy: "<circle ").count == 2)
}

@Test(
    "the command line: export, verify (0, then 1 naming the file), custody verify and list",
    .enabled(if: Fixtures.cairnExecutable != nil, "the cairn executable is not built"))
func commandLine() throws {
    let cairn = try #require(Fixtures.cairnExecutable)
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let ids = try database.incidents().map { String($0.id) }
    let bag = directory.file("package")
    let export = try #require(run(cairn, ["export", "--db", database.location, "--out", bag, "--tlp", "red"] + ids))
    #expect(export.status == 0, "\(export.output)")
    #expect(try String(contentsOfFile: bag + "/data/log-excerpts.txt", encoding: .utf8).hasPrefix("TLP:RED\n"))
    #expect(run(cairn, ["export", "--db", database.location, "--out", bag, "1"])?.status == 1)
    #expect(run(cairn, ["export", "--db", database.location, "--out", directory.file("x"), "--tlp", "green", "1"])?.status == 64)

    #expect(run(cairn, ["verify", bag])?.status == 0)
    try flipByte(bag + "/data/sightings.csv", at: 10)
    let verify = try #require(run(cairn, ["verify", bag]))
    #expect(verify.status == 1)
    #expect(verify.output.contains("DIFFERS  data/sightings.csv: SHA-256 is "))

    let custody = try #require(run(cairn, ["custody", "verify", "--db", database.location]))
    // One entry for the ingest, one for the export.
    #expect(custody.status == 0 && custody.output.contains("2 entries"), "\(custody.output)")
    let list = run(cairn, ["custody", "list", "--db", database.location])?.output ?? ""
    #expect(list.contains("ingest") && list.contains("export"), "\(list)")
}

@Test("a truncated gzip log: the lines before the damage are quoted, the rest is said to be unreadable")
func truncatedGzipExcerpt() throws {
    let directory = try TemporaryDirectory()
    let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.sampleData + "/syslog/mail-gw.log.gz"))
    let log = directory.file("mail-gw.log.gz")
    try original.prefix(original.count * 2 / 3).write(to: URL(fileURLWithPath: log))
    let database = try ingest([log], into: directory)
    let sightings = try database.sightings(incident: nil)
    let ids = try database.incidents().map(\.id)
    // The first two thirds of the sample log hold sightings and incidents: without
    // them there would be nothing to quote.
    try #require(!sightings.isEmpty && !ids.isEmpty, "the truncated log yields no sighting")
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(ExportOptions(incidentIDs: ids, commandLine: "", toolVersion: ""), to: bag)
    let excerpts = try String(contentsOfFile: bag + "/data/log-excerpts.txt", encoding: .utf8)
    #expect(excerpts.contains("\(log) sha256="))
    #expect(PackageVerifier.verify(directory: bag).ok)
}

@Test("a rule incident's log lines (not sightings) are quoted in the log excerpts")
func ruleIncidentLinesQuoted() throws {
    let directory = try TemporaryDirectory()
    // 25 failed logins from one address in 4 minutes: the shipped ssh-brute-force rule.
    let log = directory.file("auth.log")
    var lines = ""
    for index in 0..<25 {
        let time = String(format: "13:%02d:%02d", index / 6, (index % 6) * 10)
        lines += "2026-03-02T\(time)+00:00 bastion sshd[\(4000 + index)]: Failed password for root from 192.0.2.200 port \(50000 + index) ssh2\n"
    }
    try lines.write(toFile: log, atomically: true, encoding: .utf8)
    let database = try ingest([log], into: directory)
    let incident = try #require(try database.incidents().first { $0.ruleID == "ssh-brute-force" })
    let events = try database.lineEvents(incident: incident.id)
    #expect(events.count == incident.lineCount && events.count == 25)
    let bag = directory.file("rule-bag")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: [incident.id], commandLine: "", toolVersion: ""), to: bag)
    #expect(PackageVerifier.verify(directory: bag).ok)
    let excerpts = try String(contentsOfFile: bag + "/data/log-excerpts.txt", encoding: .utf8)
    let quoted = excerpts.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains(" line ") }
    #expect(quoted.count == events.count)
    for event in events {
        let line = quoted.first { $0.contains("sha256=\(event.sourceSHA256) line \(event.line): ") }
        #expect(line?.contains("Failed password") == true, "line \(event.line) of \(event.sourcePath) is quoted")
    }
}
