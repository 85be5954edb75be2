import CaseStore
import Foundation
@testable import Ingest
import Testing

/// The sighting writer (`SightingWriter`): readers hand their hits over in batches and
/// go on reading while a thread of its own writes them. However small the batches and
/// however many readers share the writer, the case must end the same.
@Suite struct SightingWriterTests {
    /// The corpus captures and syslogs, with rules naming their addresses (tshark's
    /// `ip.addr`) and the DNS names they query (`dns.qry.name`), so that there are
    /// thousands of sightings, DNS resolutions and derived sightings. Read with batches
    /// of 1 and 5 sightings (every batch waits for a free slot of the writer's queue,
    /// and most batches name indicators an earlier batch stored) by one reader and two,
    /// and with the default batches: the same sightings, derived sightings and
    /// incidents each time.
    /// Rules naming the corpus captures' addresses (tshark's `ip.addr`) and DNS names
    /// (`dns.qry.name`), in `directory`; returns the rules directory.
    static func corpusRules(_ corpus: URL, into directory: URL) throws -> String {
        let rules = try InterruptionTests().corpusRules(corpus, into: directory)
        var names = Set<String>()
        let truth = corpus.appendingPathComponent("truth")
        for file in try FileManager.default.contentsOfDirectory(atPath: truth.path) where file.hasSuffix(".tsv") {
            let text = try String(contentsOf: truth.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("dns.qry.name\t") {
                let name = line.dropFirst("dns.qry.name\t".count)
                if name.contains("."), !name.contains(" ") { names.insert(String(name)) }
            }
        }
        try names.sorted().joined(separator: "\n").write(
            toFile: rules + "/corpus-names.txt", atomically: true, encoding: .utf8)
        return rules
    }

    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func batchesOfAnySizeWriteTheSameCase() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rules = try Self.corpusRules(corpus, into: directory)
        let inputs = [corpus.appendingPathComponent("pcap").path, corpus.appendingPathComponent("syslog").path]

        struct Outcome: Equatable {
            var sightings: [String]
            var derived: Int
            var incidents: [String]
            var sightingCount: UInt64
        }
        func ingest(batchSize: Int, jobs: Int) throws -> Outcome {
            let database = directory.appendingPathComponent("case-\(batchSize)-\(jobs).sqlite").path
            var ingestor = Ingestor(options: IngestOptions(
                rulePaths: [rules], databasePath: database, jobs: jobs, filter: nil, year: 2026,
                commandLine: "test", version: "test"))
            ingestor.sightingBatchSize = batchSize
            let report = try ingestor.run(paths: inputs)
            let store = try CaseDatabase(location: database)
            let sightings = try store.sightings(incident: nil)
            return Outcome(
                sightings: try InterruptionTests().sightingKeys(store),
                derived: sightings.filter { $0.derivedFrom != nil }.count,
                incidents: try InterruptionTests().incidentKeys(store),
                sightingCount: report.sources.reduce(0) { $0 + $1.sightings })
        }

        let reference = try ingest(batchSize: SightingCollector.batchSize, jobs: 1)
        #expect(reference.sightings.count > 1000, "the corpus rules make thousands of sightings")
        #expect(reference.derived > 0, "DNS answers of the corpus start chains")
        #expect(UInt64(reference.sightings.count - reference.derived) == reference.sightingCount)
        for (batchSize, jobs) in [(1, 1), (1, 2), (5, 2)] {
            #expect(try ingest(batchSize: batchSize, jobs: jobs) == reference, "batches of \(batchSize), \(jobs) jobs")
        }
    }
}
