import CaseStore
import Foundation
import Observations
import Testing
@testable import Ingest

/// End to end on real syslogs of ../shared/corpus: the plain and gzip forms of a log
/// give the same sightings, at the lines where the values really are.
@Suite struct SyslogCorpusTests {
    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func sshdLogSightingsPointAtTheirLines() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = corpus.appendingPathComponent("syslog/cs-sshd-logs.log").path
        let compressed = plain + ".gz"
        // An address that attacks in this log, and one that never appears.
        let (report, database) = try Fixtures.ingest(
            [plain, compressed], indicators: "35.188.49.176\n203.0.113.1\n", in: directory, year: 2024)
        #expect(report.failed.isEmpty)

        let rows = try CaseDatabase(location: database).sightings(incident: nil)
        let text = try String(contentsOfFile: plain, encoding: .utf8)
        let expectedLines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .filter { $0.element.contains("35.188.49.176") }.map { UInt64($0.offset + 1) }
        #expect(!expectedLines.isEmpty)
        for path in [plain, compressed] {
            let lines = rows.filter { $0.sourcePath == path }.compactMap(\.locator.lineNumber)
            #expect(lines.sorted() == expectedLines, "\(path)")
        }
        // sshd's "from <address>" names the remote side: the source.
        #expect(rows.allSatisfy { $0.field == "log.src" && $0.host == "sd-126005" })
    }
}
