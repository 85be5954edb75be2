import Concurrency
import Foundation
import Testing
@testable import Ingest

/// `cairn ingest`'s progress line: sightings counted as they are found, not when a file
/// ends, and the percentage and time left the line shows.
@Suite struct ProgressTests {
    /// Records what a run tells its progress, in order.
    final class Recorder: IngestProgress {
        enum Event: Equatable {
            case found(UInt64)
            case finished(path: String, sightings: UInt64)
        }

        let events = Lock<[Event]>([])

        func begin(files: Int, bytes: UInt64) {}
        func read(bytes: UInt64, path: String) {}
        func found(sightings count: UInt64) { events.withLock { $0.append(.found(count)) } }
        func finished(_ result: SourceResult) {
            events.withLock { $0.append(.finished(path: result.path, sightings: result.sightings)) }
        }
        func end() {}
    }

    @Test func sightingsAreToldAsTheyAreFoundBeforeTheirFileEnds() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: directory.appendingPathComponent("case.sqlite").path, jobs: 1,
            filter: nil, year: 2026, commandLine: "test", version: "test")
        let recorder = Recorder()
        let report = try Ingestor(options: options).run(paths: [Fixtures.sampleData], progress: recorder)

        // One file at a time: the sightings told since the last file ended are this file's.
        var sinceLastFile: UInt64 = 0
        var perFile: [String: UInt64] = [:]
        for event in recorder.events.withLock({ $0 }) {
            switch event {
            case .found(let count): sinceLastFile += count
            case .finished(let path, let sightings):
                #expect(sinceLastFile == sightings, "\(path)")
                perFile[path] = sinceLastFile
                sinceLastFile = 0
            }
        }
        #expect(perFile.values.reduce(0, +) == report.sightings)
        #expect(report.sightings > 0)
    }

    @Test func theLineShowsThePercentageAndTheTimeLeft() {
        let line = ProgressLine(
            filesDone: 3, files: 12, bytesRead: 250_000_000, totalBytes: 1_000_000_000, seconds: 10, sightings: 1520)
        #expect(line.text == "files 3/12  25%  250.0/1000.0 MB  25.0 MB/s  about 30s left  sightings 1520")
        var early = line
        early.seconds = 0.5
        #expect(!early.text.contains("left"), "no estimate in the first second")
        var done = line
        done.bytesRead = done.totalBytes
        #expect(done.text.contains("100%") && !done.text.contains("left"))
        #expect(ProgressLine.duration(232) == "3m52s")
        #expect(ProgressLine.duration(7500) == "2h05m")
        #expect(ProgressLine(filesDone: 0, files: 0, bytesRead: 0, totalBytes: 0, seconds: 0, sightings: 0).text
            == "files 0/0  100%  0.0/0.0 MB  0.0 MB/s  sightings 0")
    }
}
