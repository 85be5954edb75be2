import ArgumentParser
import CaseStore
import Foundation
import Indicators
import Ingest
import LogReading
import Observations

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read captures and logs, match them against the rules, store sightings and incidents.",
        discussion: """
            PATHs are files or directories (walked recursively). The kind of each file is \
            detected from its first bytes: pcap, pcapng, gzip, otherwise text.
            Exit status: 0 when every file was read and every rule line was valid, 1 otherwise.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Case database: a file, or a postgresql:// URL.", valueName: "CASE"))
    var db = "cairn.sqlite"

    @OptionGroup var reading: ReadingOptions

    @Argument(help: "Capture and log files or directories.")
    var paths: [String]

    func run() throws {
        // Past a file size limit (`ulimit -f`), a write fails with EFBIG instead of the
        // process being killed: SQLite then rolls the transaction back and says so.
        signal(SIGXFSZ, SIG_IGN)
        let options = reading.ingestOptions(database: db)
        let progress: ProgressTally? = isatty(STDERR_FILENO) == 1 ? TerminalProgress.make() : nil
        let report: IngestReport
        do {
            report = try Ingestor(options: options).run(paths: paths, progress: progress)
        } catch {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
        printRuleProblems(report)
        for source in report.sources { printOutcome(source) }
        printCorrelationNotes(report)
        print(Summary(report).text)
        if report.hadProblems { throw ExitCode(exitSomethingFailed) }
    }
}

/// The problems of the rules a run loaded, on standard error.
func printRuleProblems(_ report: IngestReport) {
    for error in report.ruleErrors { printError(error.description) }
    for error in report.correlationErrors { printError(error) }
}

/// What went wrong with a file, or what to know about it; nothing for a file read whole.
func printOutcome(_ source: SourceResult) {
    switch source.status {
    case .complete: break
    case .failed(let reason): printError("error: \(reason)")
    case .duplicate(let existing):
        let same = existing == source.path ? "" : " as \(existing)"
        print("\(source.path): already in the case (same SHA-256\(same)); nothing added")
    }
    if let line = source.summary.unverifiedFromLine {
        printError("note: \(source.path): \(ReadSummary.unverifiedLinesText(from: line, to: source.summary.lines))")
    }
    for note in source.summary.notes { printError("note: \(source.path): \(note)") }
}

/// The DNS-chain problems and host-name notes of the stage after reading.
func printCorrelationNotes(_ report: IngestReport) {
    for problem in report.chainProblems { printError("error: \(problem)") }
    for name in report.hostNames.resolved {
        printError("note: host \(name.name) is \(name.address) by the DHCP leases in the case: "
                   + "\(name.sightings) log sighting(s) of it are grouped under that address")
    }
    for name in report.hostNames.ambiguous {
        printError("note: host \(name.name) was leased \(name.addresses.joined(separator: ", ")) in the case: "
                   + "its log sightings keep the name")
    }
}

/// The end-of-run summary printed on standard output.
struct Summary {
    let report: IngestReport

    init(_ report: IngestReport) { self.report = report }

    /// Bad and skipped rule lines, when there are any.
    var ruleProblems: String {
        var parts: [String] = []
        if !report.ruleErrors.isEmpty { parts.append("\(report.ruleErrors.count) bad rule lines skipped") }
        if report.ruleWarningCount > 0 {
            parts.append("\(report.ruleWarningCount) rule lines skipped with a warning: see cairn rules check")
        }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    /// Where the compiled rules came from, and how long that took.
    var ruleSource: String {
        let time = String(format: "%.2f s", report.ruleSeconds)
        switch report.ruleCache {
        case .hit: return "\(time), from the table cache" + String(format: " (checking it %.2f s)", report.ruleKeyingSeconds)
        case .written(_, nil): return "\(time), loaded and compiled; written to the table cache"
        case .written(_, let rejected?):
            return "\(time), loaded and compiled; the cached copy was not usable (\(rejected)); written again"
        case .notWritten(let reason): return "\(time), loaded and compiled; not cached: \(reason)"
        case .disabled: return "\(time), loaded and compiled (no table cache)"
        case .notNeeded: return "\(time), loaded and compiled (too few to need the table cache)"
        }
    }

    var text: String {
        let read = report.sources.filter { $0.status == .complete }.count
        let duplicates = report.sources.filter { if case .duplicate = $0.status { true } else { false } }.count
        let seconds = max(report.elapsedSeconds, 0.001)
        let megabytes = Double(report.bytes) / 1_000_000
        var lines = [
            "files        \(report.sources.count) (\(read) read, \(report.failed.count) failed, \(duplicates) already in the case)",
            "packets      \(report.packets)",
            "lines        \(report.lines)",
            String(format: "bytes        %llu (%.1f MB, %.1f MB/s)", report.bytes, megabytes, megabytes / seconds),
            "indicators   \(report.indicatorCount)" + ruleProblems,
            "rules        " + ruleSource,
            "sightings    \(report.sightings)"
                + (report.suppressed > 0 ? " (\(report.suppressed) suppressed by allow lists)" : "")
                + (report.derivedSightings > 0 ? " (and \(report.derivedSightings) derived from DNS answers)" : ""),
            "incidents    \(report.incidentCount)",
            String(
                format: "time         %.2f s (storing sightings %.2f s, correlation %.2f s)", report.elapsedSeconds,
                report.storeSeconds, report.correlationSeconds),
        ]
        let anomalies = report.sources.reduce(UInt64(0)) { $0 + $1.summary.anomalies.total }
        if anomalies > 0 { lines.insert("anomalies    \(anomalies) (malformed packets or lines, skipped)", at: 3) }
        return lines.joined(separator: "\n")
    }
}

/// A fixed offset from UTC: `UTC`, `Z`, `+01:00`, `-0530`.
struct UTCOffset: ExpressibleByArgument {
    var seconds: Int

    init(seconds: Int) { self.seconds = seconds }

    /// How `--help` shows the default: `UTC`, not the struct.
    var defaultValueDescription: String {
        seconds == 0 ? "UTC" : LogSettings.offsetText(seconds)
    }

    init?(argument: String) {
        if argument == "UTC" || argument == "Z" || argument == "utc" {
            seconds = 0
            return
        }
        let digits = argument.dropFirst().filter { $0 != ":" }
        guard let sign = argument.first, sign == "+" || sign == "-", digits.count == 4,
              digits.allSatisfy(\.isASCII), let hours = Int(digits.prefix(2)), let minutes = Int(digits.suffix(2)),
              hours <= 14, minutes < 60
        else { return nil }
        seconds = (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}

/// A size in bytes as typed: `1048576`, or a number with a unit: `K`, `M`, `G`, `T` and
/// `KiB`, `MiB`, `GiB`, `TiB` are powers of 1024 (as `head -c 1M` reads them), `KB`,
/// `MB`, `GB`, `TB` powers of 1000; the case of the unit does not matter.
struct ByteCount: ExpressibleByArgument, Equatable {
    var bytes: UInt64

    /// The shortest line limit `cairn ingest` takes: room for any syslog header.
    static let smallestLineLimit: UInt64 = 64

    init(_ bytes: Int) { self.bytes = UInt64(bytes) }
    init(_ bytes: UInt64) { self.bytes = bytes }

    /// How `--help` shows the default: `1MiB`, `64GiB`, or bytes when no unit divides it.
    var defaultValueDescription: String {
        for (unit, size) in [("TiB", UInt64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return String(bytes)
    }

    init?(argument: String) {
        let digits = argument.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = UInt64(digits) else { return nil }
        let multiplier: UInt64
        switch argument.dropFirst(digits.count).lowercased() {
        case "": multiplier = 1
        case "k", "kib": multiplier = 1 << 10
        case "m", "mib": multiplier = 1 << 20
        case "g", "gib": multiplier = 1 << 30
        case "t", "tib": multiplier = 1 << 40
        case "kb": multiplier = 1_000
        case "mb": multiplier = 1_000_000
        case "gb": multiplier = 1_000_000_000
        case "tb": multiplier = 1_000_000_000_000
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        bytes = product
    }
}
