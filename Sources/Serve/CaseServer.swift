import CaseStore
import Concurrency
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Indicators
import Logging
import NIOPosix
import NIOSSL

/// `cairn serve`: the web interface to one case. Every page reads the case through the
/// store interface in a read-only transaction; triage appends, as `cairn triage` does.
public struct CaseServer: Sendable {
    public let options: ServeOptions
    let database: CaseDatabase
    let rules: LoadedExplainRules
    let sessions: Sessions
    let uploads: Uploads?

    /// Serves `database` (opened from `options.database` when not given) and loads the
    /// rules `/explain` uses. Throws the options' problem (`ServeOptions.problem`) as
    /// `ServeError.refused`, before opening anything.
    public init(
        options: ServeOptions, database: CaseDatabase? = nil, localAnalyst: String = CustodyChain.currentUser()
    ) throws {
        if let problem = options.problem { throw ServeError.refused(problem) }
        self.options = options
        self.database = try database ?? CaseDatabase(location: options.database)
        rules = LoadedExplainRules(paths: options.rulePaths, cacheDirectory: options.ingest?.tableCacheDirectory)
        sessions = Sessions(tokens: options.tokens, localAnalyst: localAnalyst)
        uploads = options.ingest.map { ingest in
            Uploads(settings: Uploads.Settings(
                directory: options.uploadDirectoryOrDefault, limit: options.uploadLimit, ingest: ingest))
        }
    }

    /// The routes, behind the gate (`Gate`).
    public func router() -> Router<CairnContext> {
        let router = Router(context: CairnContext.self)
        router.add(middleware: Gate(sessions: sessions, secureCookies: options.tlsCertificate != nil))
        Routes(database: database, rules: rules, sessions: sessions, options: options, uploads: uploads).add(to: router)
        return router
    }

    /// The server, listening where the options say; `onListening` is called with the
    /// address once it accepts connections.
    public func application(
        onListening: @escaping @Sendable (String) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        var logger = Logger(label: "cairn-serve")
        logger.logLevel = .warning
        let scheme = options.tlsCertificate == nil ? "http" : "https"
        return Application(
            router: router(),
            server: try serverBuilder(),
            configuration: ApplicationConfiguration(
                address: .hostname(options.host, port: options.port), serverName: "Cairn"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.port
                let host = options.host.contains(":") ? "[\(options.host)]" : options.host
                await onListening("\(scheme)://\(host):\(port)/")
            },
            logger: logger)
    }

    private func serverBuilder() throws -> HTTPServerBuilder {
        guard let certificate = options.tlsCertificate, let key = options.tlsKey else { return .http1() }
        let chain: [NIOSSLCertificate]
        let privateKey: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw ServeError.refused("\(certificate): not a PEM certificate (\(error))")
        }
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw ServeError.refused("\(key): not a PEM private key (\(error))")
        }
        guard !chain.isEmpty else { throw ServeError.refused("\(certificate): no certificate in the file") }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        return try .tls(.http1(), tlsConfiguration: configuration)
    }
}

public enum ServeError: Error, CustomStringConvertible {
    case refused(String)

    public var description: String {
        switch self {
        case .refused(let reason): reason
        }
    }
}

/// The rules `/explain` explains against, loaded once when the server starts.
struct LoadedExplainRules: Sendable {
    let paths: [String]
    let ruleSet: RuleSet?
    let compiled: IndicatorTable?
    /// The rule files' problems, as `cairn explain` prints them.
    let problems: [String]

    /// Loads the rules as an ingest does, through the table cache when there is one (a
    /// feed of millions of indicators compiles once, not at every start).
    init(paths: [String], cacheDirectory: String?) {
        self.paths = paths
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        guard !existing.isEmpty else {
            (ruleSet, compiled, problems) = (nil, nil, [])
            return
        }
        let (ruleSet, table, _, _) = RuleSet.loadCompiled(paths: existing, cacheDirectory: cacheDirectory)
        self.ruleSet = ruleSet
        compiled = table
        problems = ruleSet.errors.map(\.description)
    }
}

/// The case page's summary (`CaseDatabase.summary`), kept until the case changes
/// (`changeMark`): counting a case of millions of sightings takes most of a second.
final class SummaryCache: Sendable {
    private let kept = Lock<(mark: String, summary: CaseSummary)?>(nil)

    func summary(of database: CaseDatabase) throws -> CaseSummary {
        let mark = try database.changeMark()
        if let kept = kept.withLock({ $0 }), kept.mark == mark { return kept.summary }
        let summary = try database.summary()
        kept.withLock { $0 = (mark, summary) }
        return summary
    }
}

/// Runs blocking case-store work off the server's event loops and Swift's cooperative
/// threads.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}
