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
            [row.sourcePath, Listing.locator(row.locator), row.time.iso8601, row.indicatorType, row.indicatorValue,
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

struct SightingJSON: Encodable {
    var source: String
    var sourceSHA256: String
    var locator: String
    var packet: UInt64?
    var line: UInt64?
    var byteOffset: UInt64?
    var time: String
    var indicatorType: String
    var indicator: String
    var observed: String
    var `where`: String
    var rule: String
    var host: String
    var incident: Int64?
    var feed: String?
    var suppressedBy: String?
    var context: [String]
    var derivedFrom: String?
    var packets: UInt64
    var bytes: UInt64?
    var lastTime: String?
    /// Present (true) only for a sighting on a line whose gzip member was never checked.
    var unverified: Bool?
    /// The host name a log line gave, when a DHCP lease resolved it to `host`.
    var hostName: String?

    init(_ row: SightingRow) {
        source = row.sourcePath
        sourceSHA256 = row.sourceSHA256
        locator = Listing.locator(row.locator)
        switch row.locator {
        case .packet(let number): packet = number
        case .line(let number, let offset): (line, byteOffset) = (number, offset)
        }
        time = row.time.iso8601
        indicatorType = row.indicatorType
        indicator = row.indicatorValue
        observed = row.observed
        `where` = row.field
        rule = "\(row.ruleFile):\(row.ruleLine)"
        host = row.host
        incident = row.incidentID
        feed = row.indicatorSource
        suppressedBy = row.suppressedBy
        context = row.context
        derivedFrom = row.derivedFrom?.description
        packets = row.packets
        bytes = row.bytes
        lastTime = row.lastTime?.iso8601
        unverified = row.unverified ? true : nil
        hostName = row.hostName
    }

    enum CodingKeys: String, CodingKey {
        case source, locator, packet, line, time, indicator, observed, `where`, rule, host, incident, feed, context
        case packets, bytes, unverified
        case suppressedBy = "suppressed_by", derivedFrom = "derived_from", lastTime = "last_time", hostName = "host_name"
        case sourceSHA256 = "source_sha256", byteOffset = "byte_offset", indicatorType = "indicator_type"
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
    /// `packet N` or `line N`.
    static func locator(_ locator: Locator) -> String {
        switch locator {
        case .packet(let number): "packet \(number)"
        case .line(let number, _): "line \(number)"
        }
    }

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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
