import CaseStore
import Foundation
import Ingest

/// How `cairn serve` serves a case.
public struct ServeOptions: Sendable {
    /// The case: an SQLite file or a `postgresql://` URL.
    public var database: String
    public var host = "127.0.0.1"
    public var port = 8080
    /// Token → analyst name (`TokenFile`); nil serves without tokens, on loopback only.
    public var tokens: [String: String]?
    /// PEM files of the certificate (chain) and its private key; nil serves plain HTTP.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// The rule files `/explain` explains values against.
    public var rulePaths: [String] = ["Rules"]
    /// Recorded as the source of the evidence packages the Export button builds.
    public var organisation = "CERT"
    /// The version recorded with exports and triage.
    public var toolVersion = "0.1.0"
    /// How uploads are read (as `cairn ingest` would, with these rules and options);
    /// nil turns the upload page off.
    public var ingest: IngestOptions?
    /// Where uploads are stored: by default `evidence/uploaded/` beside an SQLite case,
    /// or under the working directory for a PostgreSQL one.
    public var uploadDirectory: String?
    /// The largest upload accepted.
    public var uploadLimit: UInt64 = 4 << 30

    /// `uploadDirectory`, or its default for the case.
    public var uploadDirectoryOrDefault: String {
        if let uploadDirectory { return uploadDirectory }
        let base = PostgresLocation.isURL(database) ? FileManager.default.currentDirectoryPath
            : (URL(fileURLWithPath: database).deletingLastPathComponent().path)
        return base + "/evidence/uploaded"
    }

    public init(database: String) {
        self.database = database
    }

    /// Whether `host` is a loopback address or name: the only addresses served without
    /// a token file.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Why these options cannot be served, or nil when they can.
    public var problem: String? {
        if tokens == nil && !ServeOptions.isLoopback(host) {
            return "refusing to listen on \(host) without --token-file: anyone who can reach it could read and "
                + "triage the case (listen on 127.0.0.1, or give each analyst a token)"
        }
        if (tlsCertificate == nil) != (tlsKey == nil) { return "--tls-cert and --tls-key go together" }
        if !(0...65535).contains(port) { return "port \(port) is not between 1 and 65535 (or 0: any free port)" }
        return nil
    }
}

/// The token file of `cairn serve --token-file`: one analyst per line, the token, then
/// blanks, then the analyst's name (what their triage records). Blank lines and lines
/// starting with `#` are skipped.
public enum TokenFile {
    /// The shortest token accepted: 128 bits as hex, or as much in any other alphabet.
    public static let minimumLength = 32

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Token → name. Throws `Problem` naming the file and line of the first bad line
    /// (a token too short, a missing name, a token given twice).
    public static func read(_ path: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Problem(description: "\(path): cannot read the token file (\(error.localizedDescription))")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> [String: String] {
        var tokens: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(file):\(index + 1)"
            let fields = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let token = String(fields[0])
            guard fields.count == 2, case let name = fields[1].trimmingCharacters(in: .whitespaces), !name.isEmpty else {
                throw Problem(description: "\(place): a token needs the analyst's name after it")
            }
            guard token.count >= minimumLength else {
                throw Problem(description: "\(place): the token is \(token.count) characters; at least \(minimumLength) are needed (`openssl rand -hex 16`)")
            }
            guard tokens[token] == nil else { throw Problem(description: "\(place): this token is already given to \(tokens[token] ?? "")") }
            tokens[token] = name
        }
        guard !tokens.isEmpty else { throw Problem(description: "\(file): no tokens in the token file") }
        return tokens
    }
}
