import ArgumentParser
import CaseStore
import Foundation

struct Sources: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the files of the case: what was read, how much, and what went wrong.")

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: "table, json or tsv.")
    var format: OutputFormat = .table

    func run() throws {
        let rows = try openDatabase(db).sources()
        let columns = ["id", "path", "kind", "status", "size", "sha256", "packets", "lines", "bytes", "anomalies",
                       "error", "started_at", "finished_at"]
        let values = rows.map { row in
            // The last value, the anomalies in all, shows in the table only.
            [String(row.id), row.path, row.kind?.rawValue ?? "", row.status, row.size.map(String.init) ?? "",
             row.sha256 ?? "", String(row.packets), String(row.lines), String(row.bytes),
             row.anomalies.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
             row.error ?? "", row.startedAt, row.finishedAt ?? "", String(row.anomalies.total)]
        }
        switch format {
        case .tsv: print(Listing.tsv(columns: columns, rows: values.map { Array($0.prefix(columns.count)) }), terminator: "")
        case .table:
            if rows.isEmpty { print("no sources") } else {
                print(Listing.table(
                    columns: ["ID", "KIND", "STATUS", "PACKETS", "LINES", "BYTES", "ANOMALIES", "PATH"],
                    rows: values.map { [$0[0], $0[2], $0[3], $0[6], $0[7], $0[8], $0[13], $0[1]] }), terminator: "")
                for row in rows where row.error != nil {
                    print("source \(row.id): \(row.path): \(row.error ?? "")")
                }
            }
        case .json:
            try Listing.printJSON(rows.map(SourceJSON.init))
        }
    }
}

struct SourceJSON: Encodable {
    var id: Int64
    var path: String
    var kind: String?
    var status: String
    var size: UInt64?
    var sha256: String?
    var packets: UInt64
    var lines: UInt64
    var bytes: UInt64
    var anomalies: [String: UInt64]
    var notes: [String]
    var error: String?
    var startedAt: String
    var finishedAt: String?

    init(_ row: SourceRow) {
        id = row.id
        path = row.path
        kind = row.kind?.rawValue
        status = row.status
        size = row.size
        sha256 = row.sha256
        packets = row.packets
        lines = row.lines
        bytes = row.bytes
        anomalies = row.anomalies.counts
        notes = row.notes
        error = row.error
        startedAt = row.startedAt
        finishedAt = row.finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, path, kind, status, size, sha256, packets, lines, bytes, anomalies, notes, error
        case startedAt = "started_at", finishedAt = "finished_at"
    }
}
