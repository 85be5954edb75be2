import CaseStore
import Foundation
@testable import Ingest
import Testing

/// Logs read with the run's scanning pool (`Ingestor.makeScanningPool`: with more than
/// one job, the logs' lines are scanned and looked up on the pool's threads, or on the
/// reading thread when every job has a reader, and only the hits come back to the
/// collector) make the same case as logs read on one thread each: the same sightings in
/// the same order, the same incidents and the same event range per source.
@Suite struct ScanningPoolTests {
    struct Outcome: Equatable {
        /// Per source, its sightings in the order they were stored (by row id).
        var sightingsInOrder: [String]
        var incidents: [String]
        /// Per source: its path and the event range stored for it.
        var eventRanges: [String]
    }

    func ingest(_ inputs: [String], rules: String, jobs: Int, into directory: URL) throws -> Outcome {
        let database = directory.appendingPathComponent("case-\(jobs).sqlite").path
        let ingestor = Ingestor(options: IngestOptions(
            rulePaths: [rules], databasePath: database, jobs: jobs, filter: nil, year: 2026,
            commandLine: "test", version: "test"))
        #expect(ingestor.makeScanningPool()?.threadCount == (jobs > 1 ? jobs : nil))
        let report = try ingestor.run(paths: inputs)
        #expect(report.sources.allSatisfy { $0.status == .complete })
        let store = try CaseDatabase(location: database)
        let sightings = try store.sightings(incident: nil)
            .sorted { ($0.sourcePath, $0.id) < ($1.sourcePath, $1.id) }
            .map { "\($0.sourcePath) \($0.locator) \($0.indicatorValue) \($0.field) \($0.host) \($0.time.nanoseconds)" }
        return Outcome(
            sightingsInOrder: sightings, incidents: try InterruptionTests().incidentKeys(store),
            eventRanges: try eventRanges(database))
    }

    /// `path first last` per source, read with Python's sqlite3 module (the case
    /// database's API does not show the range; the DNS chain search uses it).
    func eventRanges(_ database: String) throws -> [String] {
        let script = """
            import sqlite3, sys
            for row in sqlite3.connect(sys.argv[1]).execute(
                    "SELECT path, first_event_ns, last_event_ns FROM sources ORDER BY path"):
                print(*row)
            """
        let result = try Fixtures.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, database])
        #expect(result.status == 0)
        return String(decoding: result.output, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Every corpus syslog and a capture, read with a pool of two jobs (two readers at a
    /// time, each scanning its own lines, and the last log left using the pool) and
    /// with jobs twice the files (every reader at once, all sharing the pool), against
    /// one job.
    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func theCorpusLogsMakeTheSameCaseWithTheScanningPool() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rules = try SightingWriterTests.corpusRules(corpus, into: directory)
        let logs = corpus.appendingPathComponent("syslog")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: logs.path)
            .filter { !$0.hasPrefix(".") && $0 != "expected" }.sorted().map { logs.appendingPathComponent($0).path }
            + [corpus.appendingPathComponent("pcap/elx-dns-tunnel-iodine.pcap").path]
        #expect(inputs.count > 20)
        let reference = try ingest(inputs, rules: rules, jobs: 1, into: directory)
        #expect(reference.sightingsInOrder.count > 500, "the corpus rules match the logs")
        #expect(reference.eventRanges.count == inputs.count)
        #expect(reference.eventRanges.allSatisfy { $0.split(separator: " ").count == 3 && !$0.hasSuffix("None") })
        #expect(try ingest(inputs, rules: rules, jobs: 2, into: directory) == reference)
        #expect(try ingest(inputs, rules: rules, jobs: 2 * inputs.count, into: directory) == reference)
    }
}
