import Foundation
import Testing

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
