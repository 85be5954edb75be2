import ArgumentParser
import Correlation
import Foundation
import Indicators

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with rule files.", subcommands: [Check.self, Stats.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate rule files.",
            discussion: """
                Prints file:line:column: error|warning: message for each problem, then a summary per file \
                (its format, indicators by type, skipped lines, warnings). Exits 1 when there is any error; \
                warnings (lines skipped on purpose) never fail.
                """)

        @Argument(help: "Rule files or directories (default: Rules).")
        var paths: [String] = ["Rules"]

        func run() throws {
            let rules = RuleSet.load(paths: paths)
            var diagnostics: [(file: String, line: Int, column: Int, text: String)] = []
            diagnostics += rules.errors.map { ($0.file, $0.line, $0.column, $0.description) }
            diagnostics += rules.warnings.map { ($0.file, $0.line, $0.column, $0.description) }
            diagnostics.sort { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
            let correlation = CorrelationRuleFiles.load(rulePaths: paths)
            diagnostics += correlation.diagnostics.map { ($0.file, $0.line, $0.column, $0.description) }
            diagnostics.sort { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
            for diagnostic in diagnostics { print(diagnostic.text) }
            for summary in rules.fileSummaries { print(RuleReport.fileLine(summary)) }
            for directory in correlation.directories {
                print("\(directory): correlation rules, \(count(correlation.rules.correlations.count, "correlation")), "
                      + "\(count(correlation.rules.baseRules.count, "base rule"))")
            }
            var totals = [count(rules.files.count, "file"), count(rules.indicators.count, "indicator")]
            if !rules.allowEntries.isEmpty { totals.append(count(rules.allowEntries.count, "allow entry", plural: "allow entries")) }
            totals += [count(rules.errors.count, "error"), count(rules.warnings.count, "warning")]
            let total = totals.joined(separator: ", ")
            if rules.errors.isEmpty && correlation.diagnostics.isEmpty {
                print(total)
            } else {
                printError(total)
                throw ExitCode(exitSomethingFailed)
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count indicators by type and show the memory the compiled tables take.")

        @Argument(help: "Rule files or directories (default: Rules).")
        var paths: [String] = ["Rules"]

        func run() throws {
            let rules = RuleSet.load(paths: paths)
            var byType: [IndicatorType: Int] = [:]
            for position in rules.indicators.indices { byType[rules.indicators.type(at: position), default: 0] += 1 }
            let table = rules.compile()
            print("type      indicators")
            for type in IndicatorType.allCases {
                print(type.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0) + String(byType[type] ?? 0))
            }
            print("total     \(rules.indicators.count) (from \(count(rules.files.count, "file")))")
            print("allow     \(rules.allowEntries.count) entries")
            print("tables    \(RuleReport.bytes(table.memoryBytes))")
            if !rules.errors.isEmpty {
                printError("\(count(rules.errors.count, "error")): run cairn rules check")
                throw ExitCode(exitSomethingFailed)
            }
        }
    }
}

func count(_ number: Int, _ noun: String, plural: String? = nil) -> String {
    "\(number) \(number == 1 ? noun : plural ?? noun + "s")"
}

enum RuleReport {
    /// `Rules/c2.txt: plain list, 12 indicators (ipv4 10, cidr 2), 1 skipped, 2 warnings`
    static func fileLine(_ summary: RuleFileSummary) -> String {
        let types = IndicatorType.allCases.compactMap { type in
            summary.indicatorsByType[type].map { "\(type.rawValue) \($0)" }
        }
        var parts = summary.isAllowList
            ? ["\(summary.format.rawValue) (allow list)", count(summary.allowEntries, "allow entry", plural: "allow entries")]
            : ["\(summary.format.rawValue)", count(summary.indicatorCount, "indicator")
                + (types.isEmpty ? "" : " (" + types.joined(separator: ", ") + ")")]
        if summary.conflicts > 0 { parts.append(count(summary.conflicts, "conflict")) }
        if summary.duplicates > 0 { parts.append(count(summary.duplicates, "duplicate")) }
        parts.append("\(summary.errors) skipped")
        parts.append(count(summary.warnings, "warning"))
        return "\(summary.path): " + parts.joined(separator: ", ")
    }

    static func bytes(_ value: Int) -> String {
        if value < 1024 { return "\(value) bytes" }
        if value < 1024 * 1024 { return String(format: "%.1f KiB", Double(value) / 1024) }
        return String(format: "%.1f MiB", Double(value) / 1024 / 1024)
    }
}
