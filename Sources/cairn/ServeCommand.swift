import ArgumentParser
import Foundation
import Hummingbird
import CaseStore
import Serve

struct ServeCase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the case to analysts' browsers: incidents, triage, sources, custody, export.",
        discussion: """
            Listens on 127.0.0.1:8080 unless told otherwise. Listening on any other address needs \
            --token-file: one analyst per line, a token of at least 32 characters, then the analyst's \
            name, which their triage records (make a token with `openssl rand -hex 16`). With a token \
            file, browsers sign in with their token once per session, and scripts send it as \
            `Authorization: Bearer TOKEN` (the pages' JSON is under /api/). --tls-cert and --tls-key \
            serve HTTPS. Pages only read the case; triage is appended, as `cairn triage` does. \
            Uploaded captures and logs are stored under their SHA-256 in --upload-dir, read-only, \
            then ingested one at a time with the reading options below.
            """)

    @Option(name: .long, help: ArgumentHelp("Case database file or postgresql:// URL.", valueName: "CASE"))
    var db = "cairn.sqlite"

    @Option(name: .long, help: ArgumentHelp("Address and port to listen on.", valueName: "ADDRESS:PORT"))
    var listen = "127.0.0.1:8080"

    @Option(name: .long, help: ArgumentHelp("Analysts' tokens and names, one per line.", valueName: "FILE"))
    var tokenFile: String?

    @Option(name: .long, help: ArgumentHelp("PEM certificate (chain) for HTTPS.", valueName: "FILE"))
    var tlsCert: String?

    @Option(name: .long, help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(name: .long, help: ArgumentHelp(
        "Where uploads are stored (default: evidence/uploaded beside an SQLite case).", valueName: "DIR"))
    var uploadDir: String?

    @Option(name: .long, help: "The largest upload accepted (K, M, G suffixes).")
    var uploadLimit = ByteCount(UInt64(4) << 30)

    @Flag(name: .long, help: "Turn the upload page off.")
    var noUpload = false

    /// How uploads are read, and the rules the Explain page explains against.
    @OptionGroup(title: "Reading uploads (as cairn ingest reads)")
    var reading: ReadingOptions

    @Option(name: .long, help: ArgumentHelp("The CERT's name, recorded as the source of exported packages.", valueName: "NAME"))
    var organisation = "CERT"

    func run() async throws {
        var options = ServeOptions(database: db)
        guard let (host, port) = ServeCase.address(listen) else {
            throw ValidationError("--listen takes ADDRESS:PORT, such as 127.0.0.1:8080 or [::1]:8080")
        }
        (options.host, options.port) = (host, port)
        options.tlsCertificate = tlsCert
        options.tlsKey = tlsKey
        options.rulePaths = reading.rules
        options.ingest = noUpload ? nil : reading.ingestOptions(database: db)
        options.uploadDirectory = uploadDir
        options.uploadLimit = uploadLimit.bytes
        options.organisation = organisation
        options.toolVersion = cairnVersion
        do {
            if let tokenFile { options.tokens = try TokenFile.read(tokenFile) }
            let server = try CaseServer(options: options, database: try openDatabase(db))
            let shown = PostgresLocation.redactingPasswords(in: db)
            let application = try server.application { address in
                // Written at once, not buffered: scripts wait for the address.
                var text = "cairn serve: \(shown) at \(address)\n"
                if server.options.tokens != nil { text += "sign in with a token of the token file\n" }
                FileHandle.standardOutput.write(Data((text + "stop with Ctrl-C\n").utf8))
            }
            try await application.runService()
        } catch let error as TokenFile.Problem {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        } catch let error as ServeError {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
    }

    /// `host:port`, `[v6]:port`, or `:port` (on 127.0.0.1).
    static func address(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }
}
