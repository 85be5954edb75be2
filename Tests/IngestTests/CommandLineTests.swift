import Foundation
import Testing
import TestSupport

/// `cairn rules check` covers correlation rules too: their errors are `file:line:column`
/// and fail the check; indicator files beside them still load.
@Test func rulesCheckReportsCorrelationRuleErrors() throws {
    guard let cairn = Fixtures.cairnExecutable else {
        Issue.record("the cairn executable was not found beside the test bundle")
        return
    }
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let correlation = directory.appendingPathComponent("correlation")
    try FileManager.default.createDirectory(at: correlation, withIntermediateDirectories: true)
    try "203.0.113.7\n".write(to: directory.appendingPathComponent("ips.txt"), atomically: true, encoding: .utf8)
    try """
        title: too many failures
        id: failures
        severity: high
        correlation:
          type: event_count
          rules: [no-such-rule]
          group-by: log.src
          timespan: 5m
          condition: {gte: 20}
        """.write(to: correlation.appendingPathComponent("bad.yml"), atomically: true, encoding: .utf8)

    let process = Process()
    process.executableURL = cairn
    process.arguments = ["rules", "check", directory.path]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 1)
    #expect(text.contains(correlation.path + "/bad.yml:6:"), "\(text)")
    #expect(text.contains("no-such-rule"), "\(text)")
    #expect(text.contains("ips.txt: plain list, 1 indicator"), "\(text)")
}

/// `cairn sources` lists every file of the case with its hash, counts and status.
@Test func sourcesCommandListsTheCaseFiles() throws {
    guard let cairn = Fixtures.cairnExecutable else {
        Issue.record("the cairn executable was not found beside the test bundle")
        return
    }
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let database = directory.appendingPathComponent("case.sqlite").path
    func run(_ arguments: [String]) throws -> (Int32, Data) { try Fixtures.run(cairn, arguments) }
    #expect(try run(["ingest", "--rules", Fixtures.rules, "--db", database, Fixtures.sampleData, "/no/such/file"]).0 == 1)
    let (status, data) = try run(["sources", "--db", database, "--format", "json"])
    #expect(status == 0)
    let sources = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    #expect(sources.count == 5)
    let complete = sources.filter { $0["status"] as? String == "complete" }
    #expect(complete.count == 4)
    #expect(complete.allSatisfy { ($0["sha256"] as? String)?.count == 64 })
    #expect(complete.reduce(0) { $0 + (($1["packets"] as? Int) ?? 0) } == 120)
    let failed = try #require(sources.first { $0["status"] as? String == "failed" })
    #expect(failed["path"] as? String == "/no/such/file")
    #expect((failed["error"] as? String)?.isEmpty == false)
}

/// `--line-limit` and `--decompressed-limit` take sizes with units, refuse values out of
/// range before reading anything, and reach the reader and the run's record.
@Test func ingestTakesTheLogLimitsWithUnits() throws {
    guard let cairn = Fixtures.cairnExecutable else {
        Issue.record("the cairn executable was not found beside the test bundle")
        return
    }
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let log = Fixtures.sampleData + "/syslog/mail-gw.log.gz"
    func settings(_ limits: [String]) throws -> (status: Int32, settings: [String: Any]?) {
        let database = directory.appendingPathComponent("\(UUID().uuidString).sqlite").path
        let status = try Fixtures.run(cairn, ["ingest", "--rules", Fixtures.rules, "--db", database] + limits + [log]).status
        guard status != 64 else { return (status, nil) }
        let data = try Fixtures.run(cairn, ["sources", "--db", database, "--format", "json"]).output
        let sources = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return (status, sources.first?["log_settings"] as? [String: Any])
    }

    let defaults = try settings([])
    #expect(defaults.status == 0)
    #expect(defaults.settings?["line_limit"] as? Int == 1 << 20)
    #expect(defaults.settings?["decompressed_limit"] as? Int == 64 << 30)
    #expect(defaults.settings?["timezone"] as? String == "+00:00")
    #expect(defaults.settings?["year"] is NSNull)

    let binary = try settings(["--line-limit", "2k", "--decompressed-limit", "3GiB", "--timezone", "+01:00"])
    #expect(binary.status == 0)
    #expect(binary.settings?["line_limit"] as? Int == 2048)
    #expect(binary.settings?["decompressed_limit"] as? Int == 3 << 30)
    #expect(binary.settings?["timezone"] as? String == "+01:00")

    // The sample log is 1812 bytes decompressed: a 1 kB limit stops it, and the run fails.
    let decimal = try settings(["--line-limit", "64", "--decompressed-limit", "1KB", "--year", "2023"])
    #expect(decimal.status == 1)
    #expect(decimal.settings?["line_limit"] as? Int == 64)
    #expect(decimal.settings?["decompressed_limit"] as? Int == 1000)
    #expect(decimal.settings?["year"] as? Int == 2023)

    for refused in [["--line-limit", "63"], ["--line-limit", "65MiB"], ["--line-limit", "1X"],
                    ["--decompressed-limit", "0"], ["--decompressed-limit", "-1"],
                    ["--decompressed-limit", "99999999999T"]] {
        #expect(try settings(refused).status == 64, "\(refused)")
    }
}

/// `cairn case copy`: an ingested case into PostgreSQL (SQLite when this machine has no
/// server) and from there into the file handed to investigators, whose custody log
/// `cairn custody verify` checks and whose incidents are the original's.
@Test func caseCopyMakesAHandoffFileThatVerifies() throws {
    guard let cairn = Fixtures.cairnExecutable else {
        Issue.record("the cairn executable was not found beside the test bundle")
        return
    }
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    func run(_ arguments: [String]) throws -> (status: Int32, text: String) {
        let (status, output) = try Fixtures.run(cairn, arguments)
        return (status, String(decoding: output, as: UTF8.self))
    }
    let database = directory.appendingPathComponent("case.sqlite").path
    #expect(try run(["ingest", "--rules", Fixtures.rules, "--db", database, Fixtures.sampleData]).status == 0)
    let shared = ThrowawayPostgres.binaries == nil
        ? directory.appendingPathComponent("shared.sqlite").path : try ThrowawayPostgres.shared.get().newDatabaseURL()
    let handoff = directory.appendingPathComponent("handoff.sqlite").path

    let toShared = try run(["case", "copy", "--from", database, "--to", shared])
    #expect(toShared.status == 0, "\(toShared.text)")
    #expect(toShared.text.contains("\nsightings "), "\(toShared.text)")
    #expect(toShared.text.contains("custody log ok"), "\(toShared.text)")
    let toHandoff = try run(["case", "copy", "--from", shared, "--to", handoff])
    #expect(toHandoff.status == 0, "\(toHandoff.text)")

    let verify = try run(["custody", "verify", "--db", handoff])
    #expect(verify.status == 0 && verify.text.contains("custody log ok"), "\(verify.text)")
    let list = try run(["custody", "list", "--db", handoff, "--format", "json"])
    let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.text.utf8)) as? [[String: Any]])
    #expect(entries.compactMap { $0["action"] as? String } == ["ingest", "copy", "copy"])
    let incidents = ["incidents", "--format", "tsv", "--db"]
    #expect(try run(incidents + [handoff]).text == run(incidents + [database]).text)

    // The handoff file holds a case now: a second copy into it is refused.
    #expect(try run(["case", "copy", "--from", database, "--to", handoff]).status == 1)
    #expect(try run(["custody", "list", "--db", handoff, "--format", "json"]).text == list.text)
}
