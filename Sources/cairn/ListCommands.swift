import ArgumentParser
import CaseStore
import Foundation
import Observations

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, tsv
}

struct Sightings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List sightings with their provenance (source, locator, rule).")

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: "Only the sightings of this incident.")
    var incident: Int64?

    @Option(name: .long, help: "table, json or tsv.")
    var format: OutputFormat = .table

    @Flag(name: .long, help: "Also list the sightings an allow list suppressed, with the entry that did.")
    var includeSuppressed = false

    func run() throws {
        let rows = try openDatabase(db).sightings(incident: incident, includeSuppressed: includeSuppressed)
        let columns = ["source", "locator", "time", "indicator_type", "indicator", "observed", "where", "rule",
                       "host", "incident", "source_sha256", "suppressed_by", "context", "derived_from", "packets", "bytes",
                       "last_time", "unverified", "host_name"]
        let values = rows.map { row in
            [row.sourcePath, row.locator.shortText, row.time.iso8601, row.indicatorType, row.indicatorValue,
             row.observed, row.field, "\(row.ruleFile):\(row.ruleLine)", row.host,
             row.incidentID.map(String.init) ?? "", row.sourceSHA256, row.suppressedBy ?? "",
             row.context.joined(separator: ","), row.derivedFrom?.description ?? "", String(row.packets),
             row.bytes.map(String.init) ?? "", row.lastTime?.iso8601 ?? "", row.unverified ? "1" : "",
             row.hostName ?? ""]
        }
        switch format {
        case .tsv: print(Listing.tsv(columns: columns, rows: values), terminator: "")
        case .table:
            if rows.isEmpty { print("no sightings") } else {
                let suppressed = includeSuppressed ? ["SUPPRESSED BY"] : []
                print(Listing.table(
                    columns: ["SOURCE", "LOCATOR", "TIME", "TYPE", "INDICATOR", "OBSERVED", "WHERE", "RULE", "HOST"]
                        + suppressed,
                    rows: values.map { Array($0[0..<9]) + (includeSuppressed ? [$0[11]] : []) }), terminator: "")
                let unverified = rows.filter(\.unverified).count
                if unverified > 0 {
                    print("\(unverified) sighting(s) on lines of a gzip member whose CRC-32 was never checked "
                          + "(reading stopped inside it): unverified; see cairn sources")
                }
            }
        case .json:
            try Listing.printJSON(rows.map(SightingJSON.init))
        }
    }
}


/// Opens an existing case for reading: an SQLite file (a missing file is a clear error
/// rather than a new empty database) or a `postgresql://` URL.
func openDatabase(_ location: String) throws -> CaseDatabase {
    let shown = PostgresLocation.redactingPasswords(in: location)
    guard PostgresLocation.isURL(location) || FileManager.default.fileExists(atPath: location) else {
        printError("error: \(shown): no such case database (run `cairn ingest` first, or pass --db)")
        throw ExitCode(exitSomethingFailed)
    }
    do {
        return try CaseDatabase(location: location)
    } catch {
        printError("error: \(shown): \(CaseDatabase.describe(error))")
        throw ExitCode(exitSomethingFailed)
    }
}

/// Renders rows as TSV, aligned text or JSON.
enum Listing {
    /// A header line and one line per row, fields separated by single tabs. Backslash,
    /// tab, CR and LF inside values are escaped as `\\`, `\t`, `\r`, `\n` so that every
    /// row stays one line with the same number of fields.
    static func tsv(columns: [String], rows: [[String]]) -> String {
        var out = columns.joined(separator: "\t") + "\n"
        for row in rows { out += row.map(escape).joined(separator: "\t") + "\n" }
        return out
    }

    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\t" || $0 == "\n" || $0 == "\r" }) else { return value }
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(character)
            }
        }
        return out
    }

    /// Columns padded to their widest value, two spaces apart; long titles are not cut.
    static func table(columns: [String], rows: [[String]]) -> String {
        let cleaned = rows.map { $0.map(escape) }
        var widths = columns.map(\.count)
        for row in cleaned {
            for (index, value) in row.enumerated() { widths[index] = max(widths[index], value.count) }
        }
        func render(_ row: [String]) -> String {
            row.enumerated().map { index, value in
                index == row.count - 1 ? value : value.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        return render(columns) + cleaned.map(render).joined()
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        // Through print, as the rest of the output, so that the two keep their order.
        print(String(decoding: try JSONForms.encoded(value), as: UTF8.self), terminator: "")
    }
}
