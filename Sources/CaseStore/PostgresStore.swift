import Concurrency
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// A case in a PostgreSQL database, through postgres-nio: the shared case of a team and
/// of many workers (docs/scale-out.md). The same tables as an SQLite case
/// (`PostgresSchema`), the same queries (`StoreSession`).
///
/// One connection per store, its transactions serialized as SQLite's are; the pipeline's
/// threads block on it by design, waiting on postgres-nio's futures from threads of their
/// own, never from an event loop. A connection the server closed (a restart) is opened
/// again at the next transaction; the transaction that was cut fails, and is the
/// caller's to retry.
final class PostgresStore: CaseStoreDriver {
    let location: String
    private let configuration: PostgresConnection.Configuration
    private let connection: Lock<PostgresConnection?>

    /// postgres-nio logs what it does at debug level and below; Cairn reports errors itself.
    static let logger = Logger(label: "cairn.postgres") { _ in SwiftLogNoOpLogHandler() }

    /// Connects to the case at `location` and applies the migrations it does not have
    /// yet (one transaction, under an advisory lock, so workers starting together
    /// migrate once).
    init(_ location: PostgresLocation) throws {
        self.location = location.location
        configuration = try location.configuration()
        connection = Lock(nil)
        try transaction("BEGIN") { session in try PostgresSchema.migrate(session, location: location.location) }
    }

    deinit {
        connection.withLock { connection in _ = try? connection?.close().wait() }
    }

    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") { try body($0) }
    }

    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try transaction("BEGIN") { try body($0) }
    }

    /// The writer lock is a session advisory lock held by a connection of its own, so it
    /// goes when the process ends, however it ends (the server sees the connection close).
    func lockForWriting() throws -> WriterLock {
        let own = try connect()
        let session = Session(connection: own)
        guard try session.fetchValue(Bool.self, sql: "SELECT pg_try_advisory_lock(?)", arguments: [PostgresStore.writerLockKey]) == true
        else {
            _ = try? own.close().wait()
            throw CaseStoreError.busy(location)
        }
        return WriterLock { _ = try? own.close().wait() }
    }

    /// The advisory-lock key of `cairn ingest`'s writer lock.
    static let writerLockKey: Int64 = 2400

    /// PostgreSQL checks its pages itself (and checksums them when the cluster was made
    /// with them); what Cairn can check is that the schema is the one it knows.
    func integrityCheck() throws -> [String] {
        try read { session in
            let applied = try session.fetchValues(String.self, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
            let expected = PostgresSchema.migrations.map(\.name).sorted()
            return applied == expected ? ["ok"] : ["migrations \(applied) differ from \(expected)"]
        }
    }

    /// `error` in words when it is PostgreSQL's or the connection's; nil otherwise.
    static func describe(_ error: any Error) -> String? {
        guard let error = error as? PSQLError else { return nil }
        if let server = error.serverInfo {
            var text = "PostgreSQL: \(server[.message] ?? "error")"
            if let detail = server[.detail] { text += " (\(detail))" }
            if let hint = server[.hint] { text += "; \(hint)" }
            if let state = server[.sqlState] { text += " [SQLSTATE \(state)]" }
            return text
        }
        if let tls = error.underlying.flatMap(PostgresLocation.describeTLSFailure) { return "PostgreSQL connection: \(tls)" }
        let cause = error.underlying.map { "\($0)" } ?? "\(error.code)"
        return "PostgreSQL connection: \(cause) — check the server is running and reachable, and the URL"
    }

    private func transaction<T>(_ begin: String, _ body: (Session) throws -> T) throws -> T {
        try connection.withLock { connection in
            let live = try connection.flatMap { $0.isClosed ? nil : $0 } ?? connect()
            connection = live
            let session = Session(connection: live)
            try session.execute(sql: begin)
            do {
                let result = try body(session)
                try session.execute(sql: "COMMIT")
                return result
            } catch {
                _ = try? session.execute(sql: "ROLLBACK")
                throw error
            }
        }
    }

    private func connect() throws -> PostgresConnection {
        try PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
            id: PostgresStore.nextNumber(), logger: PostgresStore.logger
        ).wait()
    }

    private static let numbers = Lock(0)

    /// A number no other call in this process got: connections' ids, cursors' names.
    static func nextNumber() -> Int {
        numbers.withLock { number in
            number += 1
            return number
        }
    }

    /// One transaction on the connection. Statements are the shared SQL with its `?`
    /// numbered as PostgreSQL's `$1`, `$2`…
    struct Session: StoreSession {
        let connection: PostgresConnection

        var dialect: StoreDialect { .postgres }

        @discardableResult
        func execute(sql: String, arguments: StoreArguments) throws -> Int {
            try run(PostgresStore.numberedPlaceholders(sql), arguments).metadata.rows ?? 0
        }

        func fetchAll(sql: String, arguments: StoreArguments) throws -> [StoreRow] {
            Session.rows(try run(PostgresStore.numberedPlaceholders(sql), arguments))
        }

        /// Rows through a cursor of this transaction, a batch at a time, so that `body` may
        /// run statements between batches (one connection runs one statement at a time).
        func forEachRow(sql: String, arguments: StoreArguments, _ body: (StoreRow) throws -> Void) throws {
            let name = "cairn_rows_\(PostgresStore.nextNumber())"
            try run("DECLARE \(name) NO SCROLL CURSOR FOR \(PostgresStore.numberedPlaceholders(sql))", arguments)
            while true {
                let rows = Session.rows(try run("FETCH FORWARD \(Session.cursorBatch) FROM \(name)", []))
                for row in rows { try body(row) }
                if rows.count < Session.cursorBatch { break }
            }
            try run("CLOSE \(name)", [])
        }

        /// Rows fetched per round trip: enough to make the round trip's cost small, few
        /// enough to hold (a sighting row is well under 1 KB).
        static let cursorBatch = 5_000

        func insertedID(sql: String, arguments: StoreArguments) throws -> Int64? {
            try fetchValue(Int64.self, sql: sql + " RETURNING id", arguments: arguments)
        }

        func insertSightings(_ sightings: [NewSighting]) throws {
            // 16 columns a row; PostgreSQL takes at most 65,535 parameters a statement.
            for start in stride(from: 0, to: sightings.count, by: Session.sightingsPerInsert) {
                let rows = sightings[start..<min(start + Session.sightingsPerInsert, sightings.count)]
                let placeholders = Array(repeating: SightingInsert.placeholders, count: rows.count).joined(separator: ", ")
                var arguments = StoreArguments()
                arguments.values.reserveCapacity(rows.count * 16)
                for sighting in rows { SightingInsert.forEachValue(of: sighting) { arguments.append($0) } }
                try execute(sql: SightingInsert.head + placeholders, arguments: arguments)
            }
        }

        static let sightingsPerInsert = 2_000

        func serialize(_ lock: AppendLock) throws {
            try execute(sql: "SELECT pg_advisory_xact_lock(?)", arguments: [lock.rawValue])
        }

        /// Runs a script of several statements (a migration) with the simple-query
        /// protocol's rules: no arguments.
        func executeScript(_ script: String) throws {
            for statement in PostgresSchema.statements(of: script) { try execute(sql: statement) }
        }

        /// Runs `sql`, whose arguments are numbered already (`$1`…).
        @discardableResult
        private func run(_ sql: String, _ arguments: StoreArguments) throws -> PostgresQueryResult {
            var bindings = PostgresBindings(capacity: arguments.values.count)
            for value in arguments.values {
                switch value {
                case .null: bindings.appendNull()
                case .integer(let integer): bindings.append(integer)
                case .real(let real): bindings.append(real)
                case .text(let text): bindings.append(text)
                }
            }
            let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
            return try connection.query(query, logger: PostgresStore.logger).wait()
        }

        private static func rows(_ result: PostgresQueryResult) -> [StoreRow] {
            guard let first = result.rows.first else { return [] }
            let columns = StoreColumns(first.map(\.columnName))
            return result.rows.map { row in StoreRow(columns: columns, values: row.map(value)) }
        }

        /// A cell as the value SQLite would have given: integers and booleans as integers,
        /// floating point as real, anything else (text, and types the case's schema does
        /// not use) as its text.
        private static func value(_ cell: PostgresCell) -> StoreValue {
            guard cell.bytes != nil else { return .null }
            switch cell.dataType {
            case .int2, .int4, .int8, .oid: return (try? cell.decode(Int64.self)).map(StoreValue.integer) ?? .null
            case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
            case .float4, .float8: return (try? cell.decode(Double.self)).map(StoreValue.real) ?? .null
            default: return (try? cell.decode(String.self)).map(StoreValue.text) ?? .null
            }
        }
    }

    /// `sql` with each `?` outside quotes and `--` comments numbered `$1`, `$2`… in order.
    /// A scan of the statement's bytes: small beside the round trip that sends it, so
    /// nothing is remembered between statements (the case's SQL is partly built per
    /// call: incident filters, lists of ids).
    static func numberedPlaceholders(_ sql: String) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quote: UInt8? = nil
        var comment = false
        for byte in sql.utf8 {
            if comment {
                if byte == UInt8(ascii: "\n") { comment = false }
            } else if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                quote = byte
            } else if byte == UInt8(ascii: "-"), result.last == UInt8(ascii: "-") {
                comment = true
            } else if byte == UInt8(ascii: "?") {
                number += 1
                result += "$\(number)".utf8
                continue
            }
            result.append(byte)
        }
        return String(decoding: result, as: UTF8.self)
    }
}
