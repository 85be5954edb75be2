import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL case is: `--db postgresql://user@host:port/dbname?sslmode=…`, read
/// the way libpq reads it (the URL forms analysts already use with `psql`).
///
/// - The user defaults to `PGUSER`, then the operating-system user; the database to the
///   user's name; the port to 5432. No host (`postgresql:///case`) or a `host=` of a
///   directory connects over that directory's Unix socket (default
///   `/var/run/postgresql`, Debian's).
/// - The password comes from the URL, `PGPASSWORD`, or the password file (`PGPASSFILE`,
///   default `~/.pgpass`, `host:port:database:user:password` lines with `*` wildcards,
///   ignored unless only its owner can read it, as libpq does). It is never part of
///   `location`, and `redactingPasswords(in:)` removes it from a command line before
///   the line is recorded.
/// - `sslmode`: `disable`, `prefer` (the default: TLS if the server offers it, without
///   checking its certificate), `require` (TLS, unchecked), `verify-ca` (the certificate
///   chains to `sslrootcert`), `verify-full` (and names the host). `sslrootcert` is a
///   PEM file of trusted CAs; without it the system's roots are used.
public struct PostgresLocation: Sendable, Equatable {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    /// The Unix socket's directory, when connecting without TCP.
    public var socketDirectory: String?
    public var user: String
    public var database: String
    public var tls: TLSMode
    public var rootCertificatePath: String?
    var password: String?

    /// The URL without its password: what the case is called in messages and records.
    public var location: String {
        var text = "postgresql://\(user)@"
        if socketDirectory == nil { text += "\(host):\(port)" }
        text += "/\(database)"
        var parameters: [String] = []
        if let socketDirectory { parameters.append("host=\(socketDirectory)") }
        if socketDirectory != nil, port != 5432 { parameters.append("port=\(port)") }
        if tls != .prefer { parameters.append("sslmode=\(tls.rawValue)") }
        if let rootCertificatePath { parameters.append("sslrootcert=\(rootCertificatePath)") }
        return parameters.isEmpty ? text : text + "?" + parameters.joined(separator: "&")
    }

    /// Whether `text` names a PostgreSQL case rather than an SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Reads `url`; `environment` supplies `PGUSER`, `PGPASSWORD`, `PGPASSFILE` and `HOME`.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard PostgresLocation.isURL(url), let components = URLComponents(string: url) else {
            throw CaseStoreError.badLocation(url: PostgresLocation.redactingPasswords(in: url), reason: "not a postgresql:// URL")
        }
        let fail = { (reason: String) in
            CaseStoreError.badLocation(url: PostgresLocation.redactingPasswords(in: url), reason: reason)
        }
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] { parameters[item.name] = item.value ?? "" }
        let known: Set = ["host", "port", "user", "dbname", "sslmode", "sslrootcert", "application_name", "connect_timeout"]
        if let unknown = parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown parameter \(unknown) (known: \(known.sorted().joined(separator: ", ")))")
        }
        user = components.user.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
            ?? parameters["user"] ?? environment["PGUSER"] ?? CustodyChain.currentUser()
        let host = components.host.flatMap { $0.removingPercentEncoding } ?? ""
        if host.isEmpty || host.hasPrefix("/") {
            self.host = "localhost"
            socketDirectory = parameters["host"] ?? (host.isEmpty ? "/var/run/postgresql" : host)
        } else if let directory = parameters["host"], directory.hasPrefix("/") {
            self.host = host
            socketDirectory = directory
        } else {
            self.host = parameters["host"] ?? host
            socketDirectory = nil
        }
        let port = components.port ?? parameters["port"].map { Int($0) ?? -1 } ?? 5432
        guard (1...65535).contains(port) else { throw fail("the port is not a number from 1 to 65535") }
        self.port = port
        let path = components.path.removingPercentEncoding ?? components.path
        database = parameters["dbname"] ?? (path.count > 1 ? String(path.dropFirst()) : user)
        guard let tls = TLSMode(rawValue: parameters["sslmode"] ?? "prefer") else {
            throw fail("sslmode must be disable, prefer, require, verify-ca or verify-full")
        }
        self.tls = tls
        rootCertificatePath = parameters["sslrootcert"]
        if (tls == .verifyCA || tls == .verifyFull), socketDirectory != nil {
            throw fail("sslmode=\(tls.rawValue) needs a TCP host; a Unix socket has no certificate")
        }
        password = components.password.flatMap { $0.removingPercentEncoding }
            ?? environment["PGPASSWORD"]
            ?? PostgresLocation.passwordFromFile(
                environment["PGPASSFILE"] ?? (environment["HOME"].map { $0 + "/.pgpass" } ?? ""),
                host: socketDirectory == nil ? host : "localhost", port: port, database: database, user: user)
    }

    /// postgres-nio's configuration for this location.
    func configuration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        } else {
            configuration = .init(
                host: host, port: port, username: user, password: password, database: database, tls: try tlsSetting())
        }
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    private func tlsSetting() throws -> PostgresConnection.Configuration.TLS {
        guard tls != .disable else { return .disable }
        var settings = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable, .prefer, .require: settings.certificateVerification = .none
        case .verifyCA: settings.certificateVerification = .noHostnameVerification
        case .verifyFull: settings.certificateVerification = .fullVerification
        }
        if let rootCertificatePath { settings.trustRoots = .file(rootCertificatePath) }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: settings)
        } catch {
            throw CaseStoreError.badLocation(url: location, reason: "the TLS settings cannot be used: \(error)")
        }
        return tls == .prefer ? .prefer(context) : .require(context)
    }

    /// A connection's failure in words when TLS caused it: the server's certificate not
    /// signed by a CA the URL trusts, or not naming the host; nil when TLS is not the cause.
    /// BoringSSL says only `CERTIFICATE_VERIFY_FAILED` (and where in its source), so the
    /// words say what to do.
    static func describeTLSFailure(_ error: any Error) -> String? {
        switch error {
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            "the server's TLS certificate does not name the host of the URL (\(error)): connect through a name "
                + "or address the certificate holds, or use sslmode=verify-ca to check only who signed it"
        case NIOSSLError.handshakeFailed(let reason) where "\(reason)".contains("CERTIFICATE_VERIFY_FAILED"):
            "the server's TLS certificate could not be verified: no CA in sslrootcert (without it, the system's "
                + "CAs) signed it, or it has expired; name the CA that signed it in sslrootcert=, or use "
                + "sslmode=require to encrypt without checking the certificate"
        case NIOSSLError.handshakeFailed(let reason):
            "the TLS handshake with the server failed (\(reason)); check the server's TLS settings and sslmode"
        default:
            nil
        }
    }

    /// The password for this server, database and user in a libpq password file, if the
    /// file exists, only its owner may read it, and a line matches (the first that does).
    static func passwordFromFile(_ path: String, host: String, port: Int, database: String, user: String) -> String? {
        guard !path.isEmpty, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 == 0,
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        let wanted = [host, String(port), database, user]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = splitPasswordLine(String(line))
            guard fields.count == 5 else { continue }
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// A password-file line's fields: separated by `:`, with `\:` and `\\` escaped.
    private static func splitPasswordLine(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var escaped = false
        for character in line {
            if escaped {
                field.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
        }
        fields.append(field)
        return fields
    }

    /// `text` (a command line, a message) with the password of every PostgreSQL URL in it
    /// removed: `postgresql://analyst:secret@host/case` becomes
    /// `postgresql://analyst@host/case`. Also removes a `password=` URL parameter.
    public static func redactingPasswords(in text: String) -> String {
        var result = text.replacing(/(postgres(?:ql)?:\/\/[^:@\/\s]*):[^@\s]*@/) { match in "\(match.output.1)@" }
        result = result.replacing(/([?&]password=)[^&\s]*/) { match in "\(match.output.1)(removed)" }
        return result
    }
}
