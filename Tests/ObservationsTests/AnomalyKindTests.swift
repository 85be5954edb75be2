import Foundation
import Testing
@testable import Observations

/// The package's root directory, found from this file's path (Tests/ObservationsTests/…).
private let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct AnomalyKindTests {
    @Test func everyKindIsDocumentedForAnalysts() throws {
        let fields = try String(contentsOf: packageRoot.appendingPathComponent("docs/fields.md"), encoding: .utf8)
        let undocumented = AnomalyKind.allCases.map(\.rawValue).filter { !fields.contains("`\($0)`") }
        #expect(undocumented.isEmpty, "not in docs/fields.md: \(undocumented.joined(separator: ", "))")
    }

    @Test func namesAreUniqueAndLayerDotWhat() throws {
        let names = AnomalyKind.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        // The layer part may join words with `_` (`vxlan_gpe`), as stored cases already
        // name it; nothing else but lower-case letters, digits and the dot.
        let shape = try Regex("^[a-z0-9]+(_[a-z0-9]+)*(\\.[a-z0-9_]+)+$")
        for name in names {
            #expect(name.wholeMatch(of: shape) != nil, "\(name) is not layer.what")
            #expect(name == name.lowercased())
        }
    }

    @Test func countsRecordedByKindReadBackByName() throws {
        var counts = AnomalyCounts()
        for (index, kind) in AnomalyKind.allCases.enumerated() {
            counts.record(kind, count: UInt64(index + 1))
        }
        counts.record(.ipv4Truncated)
        #expect(counts.counts.count == AnomalyKind.allCases.count)
        for (index, kind) in AnomalyKind.allCases.enumerated() {
            let expected = UInt64(index + 1) + (kind == .ipv4Truncated ? 1 : 0)
            #expect(counts.counts[kind.rawValue] == expected, "\(kind.rawValue)")
            #expect(AnomalyKind(rawValue: kind.rawValue) == kind)
        }
        let n = UInt64(AnomalyKind.allCases.count)
        #expect(counts.total == n * (n + 1) / 2 + 1)
        let ipv4Truncated = try #require(AnomalyKind.allCases.firstIndex(of: .ipv4Truncated))
        #expect(counts.counts["ipv4.truncated"] == UInt64(ipv4Truncated + 2))
    }

    @Test func storedCountsKeepNamesNoKindHas() {
        // A case written by another version may name a kind this one does not record.
        var counts = AnomalyCounts(counts: ["ipv4.truncated": 2, "retired.kind": 5])
        counts.record(.ipv4Truncated)
        var other = AnomalyCounts()
        other.record(.logLineTooLong, count: 3)
        counts.merge(other)
        #expect(counts.counts == ["ipv4.truncated": 3, "retired.kind": 5, "log.line_too_long": 3])
        #expect(counts.total == 11)
    }

    @Test func sourcesRecordKindsNotStringLiterals() throws {
        let sources = packageRoot.appendingPathComponent("Sources")
        let enumerator = try #require(FileManager.default.enumerator(atPath: sources.path))
        // `record(` whose first argument holds a `layer.what` string literal, on one line
        // or across lines (a ternary choosing between two literals).
        let literal = try Regex(#"\brecord\((?:[^()"]|\([^()]*\))*"[a-z0-9_]+(?:\.[a-z0-9_]+)+""#)
        var found: [String] = []
        var scanned = 0
        for case let path as String in enumerator where path.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(path), encoding: .utf8)
            scanned += 1
            for match in text.matches(of: literal) {
                let line = text[..<match.range.lowerBound].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                found.append("Sources/\(path):\(line)")
            }
        }
        #expect(scanned > 40)
        #expect(found.isEmpty, "record an AnomalyKind, not a string: \(found.joined(separator: ", "))")
    }
}
