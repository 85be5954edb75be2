import ArgumentParser
import CaseStore
import Foundation

/// `cairn custody list|verify`: the append-only custody log of the case database.
struct Custody: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or check the custody log (who ran which ingest or export, when, on which files).",
        subcommands: [CustodyList.self, CustodyVerify.self]
    )
}

struct CustodyList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the custody entries, oldest first.")

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: "table or json.")
    var format: OutputFormat = .table

    func run() throws {
        let entries = try openDatabase(db).custodyEntries()
        switch format {
        case .json:
            try Listing.printJSON(entries)
        case .table, .tsv:
            let columns = ["ID", "RECORDED AT", "USER", "HOST", "ACTION", "INPUTS", "OUTPUTS", "HASH", "COMMAND"]
            let rows = entries.map { entry in
                [String(entry.id), entry.recordedAt, entry.user, entry.host, entry.action, String(entry.inputs.count),
                 String(entry.outputs.count), String(entry.entryHash.prefix(16)), entry.commandLine]
            }
            if format == .tsv {
                print(Listing.tsv(columns: columns.map { $0.lowercased().replacingOccurrences(of: " ", with: "_") }, rows: rows), terminator: "")
            } else if entries.isEmpty {
                print("no custody entries")
            } else {
                print(Listing.table(columns: columns, rows: rows), terminator: "")
            }
        }
    }
}

struct CustodyVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the custody log's hash chain; exit 1 and name the first broken entry if it does not hold.")

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    func run() throws {
        let result = try openDatabase(db).verifyCustody()
        if result.ok {
            print("custody log ok: \(result.entryCount) entries, hash chain intact")
        } else {
            print("custody log BROKEN at entry \(result.firstBrokenID.map(String.init) ?? "?"): \(result.problem ?? "")")
            throw ExitCode(exitSomethingFailed)
        }
    }
}
