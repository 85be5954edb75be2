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
