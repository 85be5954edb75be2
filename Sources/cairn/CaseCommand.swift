import ArgumentParser
import CaseStore
import Foundation

/// `cairn case copy`: a whole case from one store into another.
struct Case: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work on a case as a whole.",
        subcommands: [CaseCopyCommand.self]
    )
}

struct CaseCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a whole case into a new or empty case database, SQLite or PostgreSQL, with its ids and custody log.",
        discussion: """
            The source is read in one transaction and not changed. The destination gets every table of the \
            case, row counts checked against the source, and a custody entry recording the copy; its custody \
            log is verified. A destination that already holds a case is refused and left unchanged.
            """)

    @Option(name: .long, help: ArgumentHelp("The case to copy: an SQLite file or a postgresql:// URL.", valueName: "SRC"))
    var from: String

    @Option(name: .long, help: ArgumentHelp("A new or empty case: an SQLite file or a postgresql:// URL.", valueName: "DST"))
    var to: String

    func run() throws {
        // Opening a path that does not exist would create an empty case there.
        guard PostgresLocation.isURL(from) || FileManager.default.fileExists(atPath: from) else {
            printError("error: \(from): no such case database")
            throw ExitCode(exitSomethingFailed)
        }
        let copy: CaseCopy
        do {
            let source = try CaseDatabase(location: from)
            let destination = try CaseDatabase(location: to)
            copy = try source.copy(
                to: destination, commandLine: CommandLine.arguments.joined(separator: " "), toolVersion: cairnVersion)
        } catch {
            printError("error: \(PostgresLocation.redactingPasswords(in: CaseDatabase.describe(error)))")
            throw ExitCode(exitSomethingFailed)
        }
        print("copied \(copy.source) to \(copy.destination)")
        print(Listing.table(columns: ["TABLE", "ROWS"], rows: copy.tables.map { [$0.table, String($0.rows)] }), terminator: "")
        if copy.custody.ok {
            print("custody log ok: \(copy.custody.entryCount) entries, hash chain intact; entry \(copy.entry.id) records this copy")
        } else {
            print("custody log BROKEN at entry \(copy.custody.firstBrokenID.map(String.init) ?? "?"): \(copy.custody.problem ?? "")")
            throw ExitCode(exitSomethingFailed)
        }
    }
}
