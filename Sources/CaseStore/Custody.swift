import ByteParsing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
// Crypto is a dependency of Indicators (which CaseStore depends on); CaseStore's own
// dependency list should name it too (see the Evidence branch's report).
import Crypto
import Foundation
import Observations

/// A file named in a custody entry: an input read or an output written.
public struct CustodyFile: Codable, Sendable, Hashable {
    /// The path as Cairn used it (absolute for ingest inputs, bag-relative for exports).
    public var path: String
    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
    /// Size in bytes.
    public var bytes: UInt64

    public init(path: String, sha256: String, bytes: UInt64) {
        self.path = path
        self.sha256 = sha256
        self.bytes = bytes
    }
}

/// What a custody entry records.
public enum CustodyAction: String, Sendable, CaseIterable {
    /// A `cairn ingest` run: inputs are the sources read.
    case ingest
    /// A `cairn export`: outputs are the files of the evidence package.
    case export
    /// A `cairn case copy` into this case (`CaseDatabase.copy(to:commandLine:toolVersion:)`):
    /// the entry after the copied log's last, in the copy; the command line names the
    /// source and the destination; inputs and outputs are empty (a case store is no file
    /// to hash).
    case copy
}

/// One entry of the custody log: who did what, when, to which files, chained to the
/// entry before it by SHA-256.
///
/// The hash of an entry is the SHA-256 of `canonicalSerialisation`: the entry as a JSON
/// object without `entry_hash`, keys sorted, no white space, strings escaped only where
/// JSON requires (`"`, `\`, control characters; non-ASCII as UTF-8), integers in
/// decimal — what Python's `json.dumps(entry, sort_keys=True, separators=(",", ":"),
/// ensure_ascii=False)` writes, so that an investigator can recompute it on their own.
public struct CustodyEntry: Codable, Sendable, Hashable {
    /// 1, 2, 3… in the order appended.
    public var id: Int64
    /// UTC ISO 8601.
    public var recordedAt: String
    /// The operating-system user (effective user id) who ran the command.
    public var user: String
    /// The host name of the machine.
    public var host: String
    /// `ingest`, `export` or `copy` (`CustodyAction`; text, so a newer action still reads
    /// back).
    public var action: String
    public var commandLine: String
    public var toolVersion: String
    /// SHA-256 over the rule files (`RuleSet.digest`); empty when no rules were involved.
    public var rulesDigest: String
    public var inputs: [CustodyFile]
    public var outputs: [CustodyFile]
    /// `entryHash` of the entry before, or 64 zeros for the first.
    public var previousHash: String
    /// SHA-256 of `canonicalSerialisation`, as recorded when the entry was appended.
    public var entryHash: String

    enum CodingKeys: String, CodingKey {
        case id, user, host, action, inputs, outputs
        case recordedAt = "recorded_at", commandLine = "command_line", toolVersion = "tool_version"
        case rulesDigest = "rules_digest", previousHash = "previous_hash", entryHash = "entry_hash"
    }

    public init(
        id: Int64, recordedAt: String, user: String, host: String, action: String, commandLine: String,
        toolVersion: String, rulesDigest: String, inputs: [CustodyFile], outputs: [CustodyFile],
        previousHash: String, entryHash: String = ""
    ) {
        self.id = id
        self.recordedAt = recordedAt
        self.user = user
        self.host = host
        self.action = action
        self.commandLine = commandLine
        self.toolVersion = toolVersion
        self.rulesDigest = rulesDigest
        self.inputs = inputs
        self.outputs = outputs
        self.previousHash = previousHash
        self.entryHash = entryHash
    }

    /// The bytes the entry's hash is taken over (see the type's documentation).
    public var canonicalSerialisation: [UInt8] {
        var out = CanonicalJSON()
        out.object {
            $0.key("action"); $0.string(action)
            $0.key("command_line"); $0.string(commandLine)
            $0.key("host"); $0.string(host)
            $0.key("id"); $0.integer(id)
            $0.key("inputs"); $0.files(inputs)
            $0.key("outputs"); $0.files(outputs)
            $0.key("previous_hash"); $0.string(previousHash)
            $0.key("recorded_at"); $0.string(recordedAt)
            $0.key("rules_digest"); $0.string(rulesDigest)
            $0.key("tool_version"); $0.string(toolVersion)
            $0.key("user"); $0.string(user)
        }
        return out.bytes
    }

    /// SHA-256 of `canonicalSerialisation`, computed now, in lower-case hex.
    public var computedHash: String { Hex.string(SHA256.hash(data: canonicalSerialisation)) }
}

/// The result of checking a custody chain.
public struct CustodyVerification: Sendable, Equatable {
    /// True when every entry's hash and link hold.
    public var ok: Bool
    /// The first entry that does not hold (its content does not match its hash, or it
    /// does not chain to the entry before); nil when `ok`.
    public var firstBrokenID: Int64?
    /// What is wrong with that entry, in one sentence; nil when `ok`.
    public var problem: String?
    /// Entries checked.
    public var entryCount: Int
}

/// The hash chain's rules, shared by the case database and by packages that carry a
/// copy of the log (`data/custody.json`).
public enum CustodyChain {
    /// What the first entry chains to.
    public static let genesis = String(repeating: "0", count: 64)

    /// Checks, in order, that each entry's recomputed hash equals its recorded one, that
    /// it chains to the recorded hash of the one before (the first to `genesis`), and
    /// that ids increase. O(n) in the entries' size.
    public static func verify(_ entries: [CustodyEntry]) -> CustodyVerification {
        var previous = genesis
        var previousID: Int64 = 0
        for entry in entries {
            let problem: String?
            if entry.id <= previousID {
                problem = "entry \(entry.id) follows entry \(previousID): ids must increase"
            } else if entry.previousHash != previous {
                problem = "entry \(entry.id) chains to \(entry.previousHash), but the entry before it hashes to \(previous)"
            } else if entry.computedHash != entry.entryHash {
                problem = "entry \(entry.id) was changed: its content hashes to \(entry.computedHash), recorded \(entry.entryHash)"
            } else {
                problem = nil
            }
            if let problem {
                return CustodyVerification(ok: false, firstBrokenID: entry.id, problem: problem, entryCount: entries.count)
            }
            previous = entry.entryHash
            previousID = entry.id
        }
        return CustodyVerification(ok: true, firstBrokenID: nil, problem: nil, entryCount: entries.count)
    }

    /// The effective user's login name (`getpwuid(geteuid())`), or `uid N` when the
    /// user has no password entry (e.g. a container).
    public static func currentUser() -> String {
        let uid = geteuid()
        // Safe: getpwuid's entry stays valid until the next getpwuid call on this thread,
        // and the name is copied at once.
        if let entry = unsafe getpwuid(uid), let name = unsafe entry.pointee.pw_name {
            return unsafe String(cString: name)
        }
        return "uid \(uid)"
    }

    /// The machine's host name (`gethostname`), or `(unknown)`.
    public static func currentHost() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        // Safe: gethostname writes at most `buffer.count - 1` bytes into the array, whose
        // last byte stays the terminating NUL.
        guard unsafe gethostname(&buffer, buffer.count - 1) == 0 else { return "(unknown)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The current time in UTC ISO 8601.
    static func now() -> String {
        Timestamp.now.iso8601
    }


    /// The canonical JSON text of a file list, as stored in the `inputs`/`outputs` columns.
    static func json(_ files: [CustodyFile]) -> String {
        var out = CanonicalJSON()
        out.files(files)
        return String(decoding: out.bytes, as: UTF8.self)
    }
}

/// A writer of the canonical JSON form: sorted keys (the caller writes them in order),
/// no white space, minimal string escapes.
struct CanonicalJSON {
    var bytes: [UInt8] = []
    private var needsComma = false

    mutating func object(_ body: (inout CanonicalJSON) -> Void) {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func key(_ name: String) {
        separator()
        quoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func string(_ value: String) {
        separator()
        quoted(value)
        needsComma = true
    }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func quoted(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        let digits = Array("0123456789abcdef".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0c: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0a: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0d: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                bytes += Array("\\u00".utf8)
                bytes += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func integer<I: BinaryInteger>(_ value: I) {
        separator()
        bytes += Array(String(value).utf8)
        needsComma = true
    }

    mutating func files(_ files: [CustodyFile]) {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for file in files {
            object {
                $0.key("bytes"); $0.integer(file.bytes)
                $0.key("path"); $0.string(file.path)
                $0.key("sha256"); $0.string(file.sha256)
            }
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }
}

extension CaseDatabase {
    /// Appends one entry to the custody log in one transaction, chained to the last
    /// entry, and returns it. `user` and `host` default to the operating system's
    /// (effective user, host name); the time is now, in UTC. A password in the command
    /// line is removed before it is recorded (and hashed).
    ///
    /// `cairn ingest` calls this at the end of a run (action `.ingest`, inputs: the
    /// sources read, with their SHA-256 and size); `cairn export` after writing a package
    /// (action `.export`, outputs: the package's files).
    @discardableResult
    public func appendCustodyEntry(
        action: CustodyAction, commandLine: String, toolVersion: String, rulesDigest: String,
        inputs: [CustodyFile], outputs: [CustodyFile],
        user: String = CustodyChain.currentUser(), host: String = CustodyChain.currentHost()
    ) throws -> CustodyEntry {
        try store.write { db in
            try CaseDatabase.appendCustodyEntry(
                action: action, commandLine: commandLine, toolVersion: toolVersion, rulesDigest: rulesDigest,
                inputs: inputs, outputs: outputs, user: user, host: host, in: db)
        }
    }

    /// `appendCustodyEntry` in the transaction of `db`.
    static func appendCustodyEntry(
        action: CustodyAction, commandLine: String, toolVersion: String, rulesDigest: String,
        inputs: [CustodyFile], outputs: [CustodyFile], user: String, host: String, in db: any StoreSession
    ) throws -> CustodyEntry {
        // Workers of one PostgreSQL case append too: the last entry read here must
        // still be the last when this one is inserted.
        try db.serialize(.custody)
        let last = try db.fetchOne(sql: "SELECT id, entry_hash FROM custody_entries ORDER BY id DESC LIMIT 1")
        let lastID: Int64 = try last?.decode(forColumn: "id") ?? 0
        let previous: String = try last?.decode(forColumn: "entry_hash") ?? CustodyChain.genesis
        // The text as the store keeps it (U+0000 as U+FFFD: `String.storeValue`), so that
        // the hash is over what is stored and the entry verifies when read back. The file
        // lists are stored as JSON, which escapes U+0000.
        func stored(_ text: String) -> String {
            if case .text(let kept) = text.storeValue { kept } else { text }
        }
        var entry = CustodyEntry(
            id: lastID + 1, recordedAt: CustodyChain.now(), user: stored(user), host: stored(host),
            action: action.rawValue, commandLine: stored(PostgresLocation.redactingPasswords(in: commandLine)),
            toolVersion: stored(toolVersion), rulesDigest: stored(rulesDigest),
            inputs: inputs, outputs: outputs, previousHash: previous)
        entry.entryHash = entry.computedHash
        try db.execute(
            sql: """
                INSERT INTO custody_entries (id, recorded_at, "user", host, action, command_line, tool_version,
                                             rules_digest, inputs, outputs, previous_hash, entry_hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.id, entry.recordedAt, entry.user, entry.host, entry.action, entry.commandLine,
                entry.toolVersion, entry.rulesDigest, CustodyChain.json(inputs), CustodyChain.json(outputs),
                entry.previousHash, entry.entryHash,
            ])
        return entry
    }

    /// Every custody entry, oldest first. A file list that is not valid JSON is an error
    /// (`CaseStoreError.corruptRow`).
    public func custodyEntries() throws -> [CustodyEntry] {
        try store.read { db in try CaseDatabase.custodyEntries(in: db) }
    }

    /// `custodyEntries()` in the transaction of `db`.
    static func custodyEntries(in db: any StoreSession) throws -> [CustodyEntry] {
        try db.fetchAll(sql: """
            SELECT id, recorded_at, "user", host, action, command_line, tool_version, rules_digest,
                   inputs, outputs, previous_hash, entry_hash
            FROM custody_entries ORDER BY id
            """
        ).map { row in
            let id: Int64 = try row.decode(forColumn: "id")
            func files(_ column: String) throws -> [CustodyFile] {
                let text: String = try row.decode(forColumn: column)
                do {
                    return try JSONDecoder().decode([CustodyFile].self, from: Data(text.utf8))
                } catch {
                    throw CaseStoreError.corruptRow("custody entry \(id) has unreadable \(column)")
                }
            }
            return CustodyEntry(
                id: id,
                recordedAt: try row.decode(forColumn: "recorded_at"),
                user: try row.decode(forColumn: "user"),
                host: try row.decode(forColumn: "host"),
                action: try row.decode(forColumn: "action"),
                commandLine: try row.decode(forColumn: "command_line"),
                toolVersion: try row.decode(forColumn: "tool_version"),
                rulesDigest: try row.decode(forColumn: "rules_digest"),
                inputs: try files("inputs"),
                outputs: try files("outputs"),
                previousHash: try row.decode(forColumn: "previous_hash"),
                entryHash: try row.decode(forColumn: "entry_hash"))
        }
    }

    /// Checks the custody log's hash chain (`CustodyChain.verify`). An entry whose file
    /// lists no longer parse counts as broken.
    public func verifyCustody() throws -> CustodyVerification {
        do {
            return CustodyChain.verify(try custodyEntries())
        } catch CaseStoreError.corruptRow(let detail) {
            let rows = try store.read { db in
                try db.fetchAll(sql: "SELECT id, inputs, outputs FROM custody_entries ORDER BY id")
            }
            let broken = try rows.first { row in
                try ["inputs", "outputs"].contains { column in
                    let text: String = try row.decode(forColumn: column)
                    return (try? JSONDecoder().decode([CustodyFile].self, from: Data(text.utf8))) == nil
                }
            }
            return CustodyVerification(
                ok: false, firstBrokenID: try broken?.decode(forColumn: "id"), problem: detail, entryCount: rows.count)
        }
    }
}

extension CaseDatabase {
    /// Appends the `ingest` custody entry of a run: its inputs are the sources that run
    /// recorded with a SHA-256 (path, SHA-256, size), in id order. Call it once, at the
    /// end of the run (after `finishRun`).
    @discardableResult
    public func appendIngestCustodyEntry(
        runID: Int64, commandLine: String, toolVersion: String, rulesDigest: String
    ) throws -> CustodyEntry {
        try appendIngestCustodyEntry(
            sources: Set(try sources().filter { $0.runID == runID }.map(\.id)), commandLine: commandLine,
            toolVersion: toolVersion, rulesDigest: rulesDigest)
    }

    /// Appends an `ingest` entry whose inputs are the sources `ids` that were read (those
    /// with a SHA-256): what the workers of a drained queue read (`cairn worker`).
    @discardableResult
    public func appendIngestCustodyEntry(
        sources ids: Set<Int64>, commandLine: String, toolVersion: String, rulesDigest: String
    ) throws -> CustodyEntry {
        let inputs = try sources()
            .filter { ids.contains($0.id) }
            .compactMap { source in
                source.sha256.map { CustodyFile(path: source.path, sha256: $0, bytes: source.size ?? 0) }
            }
        return try appendCustodyEntry(
            action: .ingest, commandLine: commandLine, toolVersion: toolVersion, rulesDigest: rulesDigest,
            inputs: inputs, outputs: [])
    }
}
