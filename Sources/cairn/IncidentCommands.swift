import ArgumentParser
import CaseStore
import Correlation
import Foundation
import Observations

struct Incidents: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the incidents, newest first.",
        discussion: """
            Filters combine: every one given must hold. Times are UTC, as 2024-03-01 or
            2024-03-01T12:00:00Z. Merged incidents (joined to an older one by a later run) are
            not listed; `cairn show ID` tells where they went.
            """)

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: "table, json or tsv.")
    var format: OutputFormat = .table

    @Option(name: .long, help: ArgumentHelp("Only incidents still going at or after this time.", valueName: "TIME"))
    var since: TimeArgument?

    @Option(name: .long, help: ArgumentHelp("Only incidents begun at or before this time.", valueName: "TIME"))
    var until: TimeArgument?

    @Option(name: .long, help: "Only incidents at least this severe: info, low, medium, high, critical.")
    var severity: Severity?

    @Option(name: .long, help: "Only the incidents of this host.")
    var host: String?

    @Option(name: .long, help: ArgumentHelp("Only incidents with a sighting of this indicator (or observed value).",
                                            valueName: "VALUE"))
    var indicator: String?

    @Option(name: .long, help: "Only incidents with this triage status: new, investigating, escalated, closed.")
    var status: TriageStatus?

    @Option(name: .long, help: ArgumentHelp("Only incidents with a sighting from this source (path, file name or SHA-256).",
                                            valueName: "SOURCE"))
    var source: String?

    func run() throws {
        var filter = IncidentFilter()
        filter.since = since?.timestamp
        filter.until = until?.timestamp
        filter.minimumSeverity = severity
        filter.host = host
        filter.indicator = indicator
        filter.status = status
        filter.source = source
        let rows = try openDatabase(db).incidents(filter)
        let columns = ["id", "first_seen", "last_seen", "host", "severity", "confidence", "status", "indicators",
                       "sightings", "title"]
        let values = rows.map { row in
            [String(row.id), row.firstSeen.iso8601, row.lastSeen.iso8601, row.host, row.severity,
             String(row.confidence), row.status.rawValue, row.indicators.joined(separator: ","),
             String(row.sightingCount) + (row.lineCount > 0 ? " +\(row.lineCount) lines" : ""), row.title]
        }
        switch format {
        case .tsv: print(Listing.tsv(columns: columns, rows: values), terminator: "")
        case .table:
            if rows.isEmpty { print("no incidents") } else {
                print(Listing.table(
                    columns: ["ID", "FIRST SEEN", "LAST SEEN", "HOST", "SEVERITY", "STATUS", "SIGHTINGS", "TITLE"],
                    rows: values.map { [$0[0], $0[1], $0[2], $0[3], $0[4], $0[6], $0[8], $0[9]] }), terminator: "")
            }
        case .json:
            try Listing.printJSON(rows.map(IncidentJSON.init))
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one incident as a timeline of its sightings, with how it was made and its triage history.")

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: "text or json.")
    var format: ShowFormat = .text

    @Argument(help: "The incident id.")
    var id: Int64

    enum ShowFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() throws {
        let database = try openDatabase(db)
        guard let incident = try database.incident(id) else {
            printError("error: no incident \(id) in \(db) (see `cairn incidents`)")
            throw ExitCode(exitSomethingFailed)
        }
        let sightings = try database.sightings(incident: id)
        let lines = try database.lineEvents(incident: id)
        let history = try database.triageHistory(incident: id)
        if format == .json {
            try Listing.printJSON(ShowJSON(
                incident: IncidentJSON(incident), sightings: sightings.map(SightingJSON.init),
                triage: history))
            return
        }
        print(IncidentReport.text(incident: incident, sightings: sightings, lines: lines, history: history), terminator: "")
    }
}

struct Triage: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a triage decision on an incident: its status, a note, an assignee.",
        discussion: """
            Every change is kept, with its time and the operating-system user, and shown by
            `cairn show`; nothing is overwritten.
            """)

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Argument(help: "The incident id.")
    var id: Int64

    @Option(name: .long, help: "new, investigating, escalated or closed.")
    var status: TriageStatus

    @Option(name: .long, help: "Why, in a few words.")
    var note: String?

    @Option(name: .long, help: "Who is handling it.")
    var assignee: String?

    func run() throws {
        let database = try openDatabase(db)
        do {
            try database.triage(incident: id, status: status, note: note, assignee: assignee)
        } catch let error as CaseStoreError {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
        print("incident \(id): \(status.rawValue)")
    }
}

extension Severity: ExpressibleByArgument {}
extension TriageStatus: ExpressibleByArgument {}

/// A time given on the command line, as `Timestamp(typed:)` reads it.
struct TimeArgument: ExpressibleByArgument {
    var timestamp: Timestamp

    init?(argument: String) {
        guard let parsed = Timestamp(typed: argument) else { return nil }
        timestamp = parsed
    }
}

/// The text form of `cairn show`.
enum IncidentReport {
    static func text(
        incident: IncidentRow, sightings: [SightingRow], lines: [StoredLineEvent] = [], history: [TriageEvent]
    ) -> String {
        var out = "Incident \(incident.id): \(incident.title)\n"
        if let into = incident.mergedInto {
            out += "  merged into incident \(into) by a later run; see `cairn show \(into)`\n"
        }
        out += "  host        \(incident.host)\n"
        out += "  period      \(incident.firstSeen.iso8601) – \(incident.lastSeen.iso8601)\n"
        out += "  severity    \(incident.severity), confidence \(incident.confidence)\n"
        if let rule = incident.ruleID { out += "  rule        \(rule)\n" }
        out += "  status      \(incident.status.rawValue)"
        if let assignee = incident.assignee { out += ", assigned to \(assignee)" }
        out += "\n  sightings   \(incident.sightingCount)\n\nTimeline\n"
        let rows = sightings.map { row in
            let feed = row.indicatorSource.map { " [\($0)]" } ?? ""
            let span = row.lastTime.map { " (\(row.packets) packets until \($0.iso8601))" } ?? ""
            let derived = row.derivedFrom.map { " via DNS: \($0)" } ?? ""
            return [
                row.time.iso8601, row.field, row.observed + span + derived,
                "\(row.indicatorType) \(row.indicatorValue)\(feed) \(row.ruleFile):\(row.ruleLine)",
                "\((row.sourcePath as NSString).lastPathComponent) \(row.locator.shortText)",
            ]
        }
        out += rows.isEmpty ? "  (no sightings)\n" : Listing.table(columns: ["TIME", "WHERE", "OBSERVED", "INDICATOR (RULE)", "FOUND IN"], rows: rows)
            .split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        out = out.hasSuffix("  ") ? String(out.dropLast(2)) : out
        if !lines.isEmpty {
            out += "\nLog lines selected by the rule\n"
            let rows = lines.map { line in
                [line.time.iso8601, line.host, line.logSource ?? "", line.baseRules.joined(separator: ","),
                 "\((line.sourcePath as NSString).lastPathComponent) line \(line.line)"]
            }
            out += Listing.table(columns: ["TIME", "HOST", "LOG.SRC", "BASE RULE", "FOUND IN"], rows: rows)
                .split(separator: "\n").map { "  " + $0 + "\n" }.joined()
        }
        let sources = Set(sightings.map { "\($0.sourcePath) sha256:\($0.sourceSHA256)" }).sorted()
        out += "\nSources\n" + sources.map { "  \($0)\n" }.joined()
        out += "\nWhy this is an incident\n  \(incident.explanation.isEmpty ? "(not recorded)" : incident.explanation)\n"
        out += "\nTriage history\n"
        if history.isEmpty { out += "  (none: status new)\n" }
        for event in history {
            out += "  \(event.recordedAt)  \(event.user)  \(event.status.rawValue)"
            if let assignee = event.assignee { out += "  assignee: \(assignee)" }
            if let note = event.note { out += "  note: \(note)" }
            out += "\n"
        }
        return out
    }
}


