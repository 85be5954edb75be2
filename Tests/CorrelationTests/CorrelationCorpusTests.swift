import Foundation
import Observations
import Testing
@testable import Correlation

/// The shipped SSH brute-force rule on a real sshd log (loghub's OpenSSH sample),
/// with events built as the ingest builds them, checked against a naive count.
@Suite struct CorrelationCorpusTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The log, and whether this clone has it (it is in ../shared/corpus).
    static let sshLog = packageRoot.appendingPathComponent("../shared/corpus/syslog/loghub-OpenSSH_2k.log").path
    static let sshLogPresent = FileManager.default.fileExists(atPath: sshLog)

    @Test(
        "ssh-brute-force on loghub-OpenSSH_2k.log agrees with a naive window count",
        .enabled(if: CorrelationCorpusTests.sshLogPresent, "../shared/corpus is absent"))
    func sshBruteForce() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.sshLog))
        let (rules, diagnostics) = CorrelationRules.load(
            directory: Self.packageRoot.appendingPathComponent("Rules/correlation").path)
        #expect(diagnostics.isEmpty)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var events: [CorrelationEvent] = []
        var naive: [(time: Int64, source: String, line: UInt64)] = []
        var offset: UInt64 = 0
        var lineNumber: UInt64 = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            defer { offset += UInt64(line.count) + 1 }
            let matched = rules.baseRules(matchingLine: line.span)
            let text = String(decoding: line, as: UTF8.self)
            #expect(!matched.isEmpty == text.contains("Failed password"), "line \(lineNumber)")
            guard !matched.isEmpty else { continue }
            // "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password … from 173.234.31.186 port …"
            let fields = text.split(separator: " ")
            let clock = fields[2].split(separator: ":").compactMap { Int($0) }
            guard let month = months.firstIndex(of: String(fields[0])), let day = Int(fields[1]), clock.count == 3,
                  let time = Timestamp(year: 2024, month: month + 1, day: day, hour: clock[0], minute: clock[1], second: clock[2]),
                  let from = fields.firstIndex(of: "from"), from + 1 < fields.count
            else { continue }
            let source = String(fields[from + 1])
            events.append(.logLine(
                .init(sourceID: 1, lineNumber: lineNumber, offset: offset, program: "sshd", baseRules: matched),
                time: time, host: String(fields[3]), logSource: source))
            naive.append((time.nanoseconds, source, lineNumber))
        }
        #expect(events.count == 520)
        // Naive: a line is in a satisfying window when some window [t - 5m, t] of its
        // source, with t an event time at or after it, holds 20 or more lines.
        let span: Int64 = 300 * 1_000_000_000
        var expected: [String: Set<UInt64>] = [:]
        for end in naive {
            let window = naive.filter { $0.source == end.source && $0.time <= end.time && $0.time >= end.time - span }
            if window.count >= 20 { expected[end.source, default: []].formUnion(window.map(\.line)) }
        }
        let matches = rules.evaluate(events: events).filter { $0.ruleID == "ssh-brute-force" }
        #expect(!matches.isEmpty)
        var found: [String: Set<UInt64>] = [:]
        for match in matches {
            #expect(match.peak >= 20)
            for reference in match.events {
                if case .logLine(_, let number, _) = reference { found[match.groupValues[0], default: []].insert(number) }
            }
        }
        #expect(found == expected)
        print("ssh-brute-force on loghub-OpenSSH_2k.log: \(matches.count) matches, sources \(found.keys.sorted())")
    }
}
