import CaseStore
import Foundation
import TestSupport
import Testing
@testable import Ingest

/// The line limit and the decompression-bomb guard as `cairn ingest` sets them
/// (`--line-limit`, `--decompressed-limit`), on a real syslog of ../shared/corpus, and
/// how the run records them with the time zone and year.
@Suite struct LogLimitTests {
    /// The lines of a plain text file, without their line ends.
    static func lines(of path: String) throws -> [[UInt8]] {
        var lines = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            .split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func theLineLimitCutsTheLinesLongerThanItAndTheRunRecordsIt() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = corpus.appendingPathComponent("syslog/cs-sshd-logs.log").path
        let limit = 100
        let long = try Self.lines(of: plain).filter { $0.count > limit }
        #expect(long.count >= 2, "the log should have lines longer than the limit")

        let (report, database) = try Fixtures.ingest([plain], indicators: "203.0.113.1\n", in: directory, jobs: 1) {
            $0.utcOffsetSeconds = -(3 * 3600 + 30 * 60)
            $0.maximumLineLength = limit
        }
        #expect(report.failed.isEmpty)

        let source = try #require(try CaseDatabase(location: database).sources().first)
        #expect(source.anomalies.counts["log.line_too_long"] == UInt64(long.count))
        #expect(source.account?.cutBytes == UInt64(long.reduce(0) { $0 + $1.count - limit }))
        #expect(source.logSettings == LogSettings(
            utcOffsetSeconds: -(3 * 3600 + 30 * 60), year: nil, maximumLineLength: limit,
            maximumDecompressedBytes: 64 << 30))
        #expect(source.logSettings?.timezoneText == "-03:30")
        // The year was not given: the source's notes say which was inferred.
        #expect(source.notes.count == 1)
        #expect(source.notes.first?.hasPrefix("RFC 3164 times carry no year: the first was taken to be in ") == true)
    }

    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func theDecompressedLimitStopsAGzipLogAndKeepsTheLinesBefore() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = corpus.appendingPathComponent("syslog/cs-sshd-logs.log").path
        let compressed = plain + ".gz"
        // An address of lines 6 and 12: the limit falls between them.
        let lines = try Self.lines(of: plain)
        let limit = 1_000
        var offset = 0
        var linesBefore = 0
        var hitsBefore = 0
        for line in lines where offset < limit {
            linesBefore += 1
            if String(decoding: line.prefix(limit - offset), as: UTF8.self).contains("206.81.24.125") { hitsBefore += 1 }
            offset += line.count + 1
        }
        let hitsInAll = lines.filter { String(decoding: $0, as: UTF8.self).contains("206.81.24.125") }.count
        #expect(hitsBefore > 0 && hitsBefore < hitsInAll)

        let (report, database) = try Fixtures.ingest(
            [compressed, plain], indicators: "206.81.24.125\n", in: directory, year: 2024
        ) { $0.maximumDecompressedBytes = UInt64(limit) }
        // The gzip form stops at the limit and says so; the plain form is not limited.
        #expect(report.failed.count == 1)
        let sources = try CaseDatabase(location: database).sources()
        let stopped = try #require(sources.first { $0.path == compressed })
        #expect(stopped.status == "failed")
        #expect(stopped.error?.contains("decompressed size limit of 1000 bytes") == true, "\(stopped.error ?? "")")
        #expect(stopped.bytes == UInt64(limit))
        #expect(stopped.lines == UInt64(linesBefore))
        let whole = try #require(sources.first { $0.path == plain })
        #expect(whole.status == "complete")
        #expect(whole.lines == UInt64(lines.count))
        let sightings = try CaseDatabase(location: database).sightings(incident: nil)
        #expect(sightings.filter { $0.sourcePath == compressed }.count == hitsBefore)
        #expect(sightings.filter { $0.sourcePath == plain }.count == hitsInAll)
        #expect(stopped.logSettings?.maximumDecompressedBytes == UInt64(limit))
        #expect(stopped.logSettings?.year == 2024)
        #expect(stopped.notes.isEmpty && whole.notes.isEmpty)
    }
}

/// A real syslog split into two gzip members, the second with a bad CRC-32: the lines
/// before it are kept and verified, its lines are kept and marked unverified, and so is
/// every sighting on them.
@Suite struct UnverifiedMemberTests {
    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func theSightingsOfAMemberWhoseCRCFailsAreMarked() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lines = try LogLimitTests.lines(of: corpus.appendingPathComponent("syslog/cs-sshd-logs.log").path)
        let split = 10
        func text(_ part: ArraySlice<[UInt8]>) -> [UInt8] { part.flatMap { $0 + [UInt8(ascii: "\n")] } }
        var input = try gzipCompressed(text(lines[..<split])) + gzipCompressed(text(lines[split...]))
        input[input.count - 8] ^= 0x55
        let log = directory.appendingPathComponent("sshd.log.gz")
        try Data(input).write(to: log)
        // Addresses of lines 6 and 12, and of lines 17, 23 and 24.
        let (report, database) = try Fixtures.ingest(
            [log.path], indicators: "206.81.24.125\n192.168.1.1\n", in: directory, year: 2024)
        #expect(report.failed.count == 1)
        let source = try #require(try CaseDatabase(location: database).sources().first)
        #expect(source.error?.contains("incorrect data check") == true, "\(source.error ?? "")")
        #expect(source.lines == UInt64(lines.count))
        #expect(source.unverifiedFromLine == UInt64(split + 1))

        let sightings = try CaseDatabase(location: database).sightings(incident: nil)
        let marked = sightings.compactMap { row -> (UInt64, Bool)? in
            guard case .line(let number, _) = row.locator else { return nil }
            return (number, row.unverified)
        }.sorted { $0.0 < $1.0 }
        #expect(Set(marked.map(\.0)) == [6, 12, 17, 23, 24])
        for (line, unverified) in marked {
            #expect(unverified == (line > UInt64(split)), "line \(line)")
        }
    }
}
