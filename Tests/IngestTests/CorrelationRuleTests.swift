import CaseStore
import Foundation
import Testing
@testable import Ingest

/// The example correlation rules of Rules/correlation over a real sshd log: each source
/// address with 20 or more failed passwords within 5 minutes is an incident of its own,
/// holding exactly those lines, and a second run keeps the ids. With two jobs, the one
/// file's lines are scanned on two threads, and the lines the rules select come back
/// from them.
@Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent"), arguments: [1, 2]) func sshBruteForceIncidentsFromTheCorpus(jobs: Int) throws {
    let corpus = Fixtures.corpusURL
    let log = corpus.appendingPathComponent("syslog/loghub-OpenSSH_2k.log").path
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let database = directory.appendingPathComponent("case.sqlite").path
    func run() throws -> IngestReport {
        try Ingestor(options: IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: database, jobs: jobs, filter: nil, year: 2025,
            commandLine: "test", version: "test")
        ).run(paths: [log])
    }
    let report = try run()
    #expect(report.correlationErrors.isEmpty)
    let store = try CaseDatabase(location: database)
    let incidents = try store.incidents().filter { $0.ruleID == "ssh-brute-force" }
    #expect(Set(incidents.map(\.title)) == Set(["183.62.140.253", "187.141.143.180", "103.99.0.122", "112.95.230.3"].map {
        "SSH brute force from one address — log.src=\($0)"
    }))
    for incident in incidents {
        #expect(incident.severity == "high")
        #expect(incident.lineCount >= 20)
        let lines = try store.lineEvents(incident: incident.id)
        #expect(lines.count == incident.lineCount)
        #expect(lines.allSatisfy { incident.title.hasSuffix("=" + ($0.logSource ?? "?")) })
        #expect(incident.explanation.contains("Correlation rule `ssh-brute-force` (event_count)"))
    }
    // The same file again adds nothing and keeps every id.
    _ = try run()
    #expect(try store.incidents().filter { $0.ruleID == "ssh-brute-force" }.map(\.id).sorted() == incidents.map(\.id).sorted())
}
