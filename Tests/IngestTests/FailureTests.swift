import CaseStore
import Foundation
import Observations
import Testing
@testable import Ingest

/// Bad input gets a clear error naming the file, the other files are still read, and
/// the failed source is recorded with its reason.
@Suite struct FailureTests {
    @Test func badFilesAreReportedAndTheRestIsRead() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = directory.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        let pcap = try Data(contentsOf: URL(fileURLWithPath: Fixtures.sampleData + "/office-lan.pcap"))
        let gzip = try Data(contentsOf: URL(fileURLWithPath: Fixtures.sampleData + "/syslog/mail-gw.log.gz"))
        try pcap.write(to: inputs.appendingPathComponent("good.pcap"))
        // Cut inside the last record: libpcap reports a truncated file after the others.
        try pcap.prefix(pcap.count - 10).write(to: inputs.appendingPathComponent("cut.pcap"))
        // A gzip stream missing its end (the second member's tail and trailer).
        try gzip.prefix(gzip.count - 30).write(to: inputs.appendingPathComponent("cut.log.gz"))
        // pcap magic, then nonsense: not a capture libpcap can open.
        try Data([0xD4, 0xC3, 0xB2, 0xA1, 0x09, 0x00, 0x09, 0x00] + [UInt8](repeating: 0x41, count: 40))
            .write(to: inputs.appendingPathComponent("fake.pcap"))
        let missing = directory.appendingPathComponent("no-such-file.pcap").path

        let database = directory.appendingPathComponent("case.sqlite").path
        let options = IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: database, jobs: 2, filter: nil, year: 2026,
            commandLine: "test", version: "test")
        let report = try Ingestor(options: options).run(paths: [inputs.path, missing])

        #expect(report.hadProblems)
        let failed = Dictionary(uniqueKeysWithValues: report.failed.map { (URL(fileURLWithPath: $0.path).lastPathComponent, $0) })
        #expect(Set(failed.keys) == ["cut.pcap", "cut.log.gz", "fake.pcap", "no-such-file.pcap"])
        for (name, result) in failed {
            guard case .failed(let reason) = result.status else { continue }
            #expect(reason.contains(name), "the reason names the file: \(reason)")
        }
        // What came before the damage is kept: the truncated capture still has its sightings.
        let cut = try #require(failed["cut.pcap"])
        // The cut record (packet 80) is benign: all 10 sightings of the whole file remain.
        #expect(cut.sightings == 10)
        let good = try #require(report.sources.first { $0.path.hasSuffix("good.pcap") })
        #expect(good.status == .complete)

        let store = try CaseDatabase(location: database)
        let sources = Set(try store.sightings(incident: nil).map { URL(fileURLWithPath: $0.sourcePath).lastPathComponent })
        #expect(sources.contains("good.pcap") && sources.contains("cut.pcap") && sources.contains("cut.log.gz"))
    }

    @Test func aFilterThatDoesNotCompileStopsTheRunBeforeAnyFile() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        let options = IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: database, jobs: 1, filter: "host and", year: 2026,
            commandLine: "test", version: "test")
        #expect(throws: IngestError.self) { try Ingestor(options: options).run(paths: [Fixtures.sampleData]) }
        #expect(!FileManager.default.fileExists(atPath: database), "nothing was recorded")
    }

    /// What stops a run keeps its cause: the case store's error comes back as it was
    /// thrown, and the line the user sees is the one `cairn ingest` printed before.
    @Test func aRunStoppedByTheCaseStoreKeepsItsError() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func stop(_ database: String, filter: String? = nil) -> IngestError? {
            let options = IngestOptions(
                rulePaths: [Fixtures.rules], databasePath: database, jobs: 1, filter: filter, year: 2026,
                commandLine: "test", version: "test")
            do {
                _ = try Ingestor(options: options).run(paths: [Fixtures.sampleData])
                return nil
            } catch {
                return error
            }
        }

        let missing = directory.appendingPathComponent("no/such/case.sqlite").path
        let unopened = try #require(stop(missing))
        guard case .cannotOpenCase(missing, _) = unopened, case .cannotCreate(missing, _)? = unopened.caseStoreError else {
            Issue.record("\(unopened)")
            return
        }
        #expect(unopened.description.hasPrefix("\(missing): cannot open the case database: cannot create case database \(missing): "))

        let database = directory.appendingPathComponent("case.sqlite").path
        let store = try CaseDatabase(location: database)
        let lock = try store.lockForWriting()
        let busy = try #require(stop(database))
        #expect(busy.caseStoreError == .busy(database))
        #expect(busy.description == CaseStoreError.busy(database).description)
        withExtendedLifetime(lock) {}

        let filter = try #require(stop(database, filter: "host and"))
        guard case .filterDoesNotCompile("host and", let problem) = filter else {
            Issue.record("\(filter)")
            return
        }
        #expect(filter.cause == nil)
        #expect(filter.description == "--filter \"host and\" does not compile: \(problem)")
    }
}
