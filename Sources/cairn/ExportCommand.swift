import ArgumentParser
import CaseStore
import Evidence
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write incidents as an evidence package (a BagIt bag) that an investigator can verify.",
        discussion: """
            DIR must not exist or be empty. The package holds data/incident.json, data/sightings.csv, \
            data/log-excerpts.txt, data/stix-bundle.json and data/custody.json, with SHA-256 manifests. \
            The export is recorded in the custody log. Check a package with `cairn verify DIR`.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: ArgumentHelp("The package directory to create.", valueName: "DIR"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("TLP of the package: amber (default), amber+strict or red; it can only be made stricter.", valueName: "LEVEL"))
    var tlp: String?

    @Option(name: .long, help: ArgumentHelp("The CERT's name, recorded as the package's source.", valueName: "NAME"))
    var organisation = "CERT"

    @Argument(help: "Incident ids (see `cairn incidents`).")
    var ids: [Int64]

    func validate() throws {
        if let tlp {
            guard let level = TLP(text: tlp) else {
                throw ValidationError("--tlp must be one of clear, green, amber, amber+strict, red")
            }
            guard level >= ExportOptions.defaultTLP else {
                throw ValidationError("--tlp can only make the package stricter than \(ExportOptions.defaultTLP.rawValue)")
            }
        }
    }

    func run() throws {
        let database = try openDatabase(db)
        let options = ExportOptions(
            incidentIDs: ids, tlp: tlp.flatMap(TLP.init(text:)), organisation: organisation,
            commandLine: CommandLine.arguments.joined(separator: " "), toolVersion: cairnVersion)
        let result: ExportResult
        do {
            result = try EvidenceExporter(database: database).export(options, to: out)
        } catch {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
        for note in result.notes { printError("note: \(note)") }
        print("wrote \(result.directory): \(ids.count) incident(s), \(result.sightingCount) sighting(s), \(result.files.count) files, \(options.tlp.rawValue)")
        print("custody entry \(result.custodyEntry.id) (\(result.custodyEntry.entryHash))")
    }
}
