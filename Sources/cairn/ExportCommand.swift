import ArgumentParser
import CaseStore
import Evidence
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write incidents as an evidence package (a BagIt bag) that an investigator can verify.",
        discussion: """
            DIR must not exist or be empty. The package holds data/incident.json, data/sightings.csv, \
            data/log-excerpts.txt, data/stix-bundle.json, data/iodef.xml, data/report.html, data/custody.json, \
            data/evidence.pcap with data/evidence-index.csv (the packets of the sighted flows only) and one \
            data/preservation-request-<party>.txt per remote party, with SHA-256 manifests. The package's TLP is \
            the strictest of TLP:AMBER and the sighted indicators' TLPs; --tlp can only make it stricter. \
            The export is recorded in the custody log. Check a package with `cairn verify DIR`.

            Exit status: 0 when the package is complete; 1 when the export failed, or when a capture \
            source was left out of the pcap extract because its SHA-256 no longer matches the case \
            (the package is then written, says so in bag-info.txt, and each such source is printed).
            """
    )

    @Option(name: .long, help: ArgumentHelp("Case database file.", valueName: "FILE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: ArgumentHelp("The package directory to create.", valueName: "DIR"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("TLP of the package: amber (default), amber+strict or red; it can only be made stricter than the default and the indicators' TLPs.", valueName: "LEVEL"))
    var tlp: String?

    @Option(name: .long, help: ArgumentHelp("The CERT's name, recorded as the package's source.", valueName: "NAME"))
    var organisation = "CERT"

    @Flag(name: .long, help: "Cut every extracted packet after its transport header, except packets sighted in their payload (DNS, TLS, HTTP…).")
    var headersOnly = false

    @Option(name: .long, help: ArgumentHelp("Sign the tag manifest with this Ed25519 private key (PEM PKCS#8, see `cairn keys generate`).", valueName: "KEYFILE"))
    var sign: String?

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
        var options = ExportOptions(
            incidentIDs: ids, tlp: tlp.flatMap(TLP.init(text:)), organisation: organisation,
            commandLine: CommandLine.arguments.joined(separator: " "), toolVersion: cairnVersion)
        options.headersOnly = headersOnly
        let result: ExportResult
        do {
            if let sign {
                options.signingKey = try PackageSigning.privateKey(pem: PackageSigning.readKeyFile(sign))
            }
            result = try EvidenceExporter(database: database).export(options, to: out)
        } catch {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
        for note in result.notes where !result.omittedSources.contains(note) { printError("note: \(note)") }
        for omitted in result.omittedSources { printError("warning: \(omitted)") }
        let tlpLine = (try? String(contentsOfFile: out + "/bag-info.txt", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("Cairn-TLP: ") }?.dropFirst("Cairn-TLP: ".count)
        print("wrote \(result.directory): \(ids.count) incident(s), \(result.sightingCount) sighting(s), \(result.packetCount) packet(s), \(result.files.count) files, \(tlpLine.map(String.init) ?? options.tlp.rawValue)\(sign == nil ? "" : ", signed")")
        print("custody entry \(result.custodyEntry.id) (\(result.custodyEntry.entryHash))")
        if !result.omittedSources.isEmpty {
            printError("error: \(result.omittedSources.count) capture source(s) left out of the pcap extract: the package is incomplete")
            throw ExitCode(exitSomethingFailed)
        }
    }
}
