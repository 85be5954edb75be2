import ArgumentParser
import CaseStore
import Foundation
import Observations

struct Sources: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the files of the case: what was read, how much, and what went wrong.")

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: "table, json or tsv.")
    var format: OutputFormat = .table

    func run() throws {
        let rows = try openDatabase(db).sources()
        // Columns are only ever appended (scripts read them by position too).
        let columns = ["id", "path", "kind", "status", "size", "sha256", "packets", "lines", "bytes", "anomalies",
                       "error", "started_at", "finished_at"] + SourceAccountText.columns + LogSettingsText.columns
            + ["unverified_from_line"]
        let values = rows.map { row in
            [String(row.id), row.path, row.kind?.rawValue ?? "", row.status, row.size.map(String.init) ?? "",
             row.sha256 ?? "", String(row.packets), String(row.lines), String(row.bytes),
             row.anomalies.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
             row.error ?? "", row.startedAt, row.finishedAt ?? ""] + SourceAccountText.values(row.account)
                + LogSettingsText.values(row.isLog ? row.logSettings : nil) + [row.unverifiedFromLine.map(String.init) ?? ""]
        }
        switch format {
        case .tsv: print(Listing.tsv(columns: columns, rows: values), terminator: "")
        case .table:
            if rows.isEmpty { print("no sources") } else {
                print(Listing.table(
                    columns: ["ID", "KIND", "STATUS", "PACKETS", "LINES", "BYTES", "ANOMALIES", "PATH"],
                    rows: zip(rows, values).map { row, value in
                        [value[0], value[2], value[3], value[6], value[7], value[8], String(row.anomalies.total), value[1]]
                    }), terminator: "")
                for row in rows {
                    if let account = SourceAccountText.summary(row) { print("source \(row.id): \(account)") }
                }
                for row in rows where row.error != nil {
                    print("source \(row.id): \(row.path): \(row.error ?? "")")
                }
                for row in rows {
                    if let line = row.unverifiedFromLine {
                        print("source \(row.id): \(ReadSummary.unverifiedLinesText(from: line, to: row.lines))")
                    }
                    for note in row.notes { print("source \(row.id): note: \(note)") }
                }
                var runsShown = Set<Int64>()
                for row in rows where row.isLog && runsShown.insert(row.runID).inserted {
                    if let settings = row.logSettings { print("run \(row.runID): logs read with \(settings.summary)") }
                }
            }
        case .json:
            try Listing.printJSON(rows.map(SourceJSON.init))
        }
    }
}

/// The read account of a source, as the analyst reads it and as columns.
enum SourceAccountText {
    /// The TSV columns, after the older ones; empty values when no account was kept.
    static let columns = [
        "packets_decoded", "packets_anomalous", "packets_undecodable", "packets_filtered",
        "bytes_consumed", "bytes_unread", "line_bytes", "separator_bytes", "cut_bytes",
    ]

    static func values(_ account: SourceAccount?) -> [String] {
        guard let account else { return columns.map { _ in "" } }
        return [
            account.packetsDecoded, account.packetsAnomalous, account.packetsUndecodable, account.packetsFiltered,
            account.bytesConsumed, account.bytesUnread, account.lineBytes, account.separatorBytes, account.cutBytes,
        ].map(String.init)
    }

    /// One line: `packets 1000 = 990 decoded + 8 anomalous + 2 undecodable; bytes 12345
    /// read + 0 unread of 12345` for a capture, `lines 2000: 150000 in lines + 2000 line
    /// ends + 0 cut = 152000 decompressed; compressed bytes …` for a log. A sum that does
    /// not add up says so. Nil when no account was kept.
    static func summary(_ row: SourceRow) -> String? {
        guard let account = row.account else { return nil }
        var parts: [String] = []
        if row.isLog {
            let total = row.kind == .gzip ? "decompressed" : "read"
            parts.append("lines \(row.lines): \(account.lineBytes) in lines + \(account.separatorBytes) line ends + "
                         + "\(account.cutBytes) cut = \(row.bytes) \(total)"
                         + mismatch(account.lineBytesAccounted, row.bytes))
        } else {
            var packets = "packets \(row.packets) = \(account.packetsDecoded) decoded + \(account.packetsAnomalous) "
                + "anomalous + \(account.packetsUndecodable) undecodable"
            if account.packetsFiltered > 0 { packets += " + \(account.packetsFiltered) filtered out" }
            parts.append(packets + mismatch(account.packetsAccounted, row.packets))
        }
        let bytes = row.kind == .gzip ? "compressed bytes" : "bytes"
        if let size = row.size {
            parts.append("\(bytes) \(account.bytesConsumed) read + \(account.bytesUnread) unread of \(size)"
                         + mismatch(account.fileBytesAccounted, size))
        } else {
            parts.append("\(bytes) \(account.bytesConsumed) read + \(account.bytesUnread) unread")
        }
        return parts.joined(separator: "; ")
    }

    private static func mismatch(_ sum: UInt64, _ total: UInt64) -> String {
        sum == total ? "" : " (DOES NOT ADD UP: the parts make \(sum))"
    }
}

/// How a run read its logs, as the analyst reads it and as columns.
enum LogSettingsText {
    /// The TSV columns, after the account's; empty values for a capture, or for a run
    /// recorded before the settings were kept.
    static let columns = ["log_timezone", "log_year", "line_limit", "decompressed_limit"]

    static func values(_ settings: LogSettings?) -> [String] {
        guard let settings else { return columns.map { _ in "" } }
        return [
            settings.timezoneText, settings.year.map(String.init) ?? "", String(settings.maximumLineLength),
            String(settings.maximumDecompressedBytes),
        ]
    }
}

