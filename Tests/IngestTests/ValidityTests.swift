import CaseStore
import Foundation
import Testing
@testable import Ingest

/// An indicator's validity is judged at the time of the observation, not of the run.
@Suite struct ValidityTests {
    @Test func onlyObservationsInsideTheValidityWindowAreSighted() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // fw01.log has 203.0.113.45 at 2026-03-02T09:05:20Z; mail-gw.log.gz has it
        // from 2026-03-02T13:00:00Z on. A window ending at noon takes only the first.
        let rules = directory.appendingPathComponent("window.csv")
        try """
            indicator,type,valid_from,valid_until
            203.0.113.45,ipv4,2026-03-01T00:00:00Z,2026-03-02T12:00:00Z
            paypa1-login.test,domain,2026-03-03T00:00:00Z,
            """.write(to: rules, atomically: true, encoding: .utf8)
        let database = directory.appendingPathComponent("case.sqlite").path
        let options = IngestOptions(
            rulePaths: [rules.path], databasePath: database, jobs: 1, filter: nil, year: 2026,
            commandLine: "test", version: "test")
        let report = try Ingestor(options: options).run(
            paths: [Fixtures.sampleData + "/syslog/fw01.log", Fixtures.sampleData + "/syslog/mail-gw.log.gz"])
        #expect(report.ruleErrors.isEmpty, "\(report.ruleErrors)")
        let rows = try CaseDatabase(location: database).sightings(incident: nil)
        #expect(rows.map(\.observed) == ["203.0.113.45"])
        #expect(rows.first?.sourcePath.hasSuffix("fw01.log") == true)
    }
}
