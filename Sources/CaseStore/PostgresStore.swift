import Concurrency
import Foundation
import Indicators
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
        // Read first: a case that has every migration is not written to, so that read
        // commands work on a hot standby and with a role that may only read.
        let upToDate = try transaction(PostgresStore.readOnly) { session in
            try PostgresSchema.pendingMigrations(session, location: location.location).isEmpty
        }
        if !upToDate {
            try transaction("BEGIN") { session in try PostgresSchema.migrate(session, location: location.location) }
        }
    }

    deinit {
        connection.withLock { connection in _ = try? connection?.close().wait() }
    }

    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try transaction(PostgresStore.readOnly) { try body($0) }
    }

    /// A read: one snapshot of the case for the whole transaction.
    private static let readOnly = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"

    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try transaction("BEGIN") { try body($0) }
    }

    /// The writer lock is a session advisory lock held by a connection of its own, so it
    /// goes when the process ends, however it ends (the server sees the connection close).
    /// `cairn ingest` holds it alone; workers share it, so an ingest and workers exclude
    /// each other while workers work side by side.
    func lockForWriting(_ mode: WriterLockMode) throws -> WriterLock {
        try holdOnOwnConnection { session in
            let function = mode == .alone ? "pg_try_advisory_lock" : "pg_try_advisory_lock_shared"
            let key = PostgresStore.writerLockKey
            guard try session.fetchValue(Bool.self, sql: "SELECT \(function)(?)", arguments: [key]) == true else {
                // Refused alone while a shared hold would be granted: workers hold it.
                let workers = mode == .alone && (try? session.fetchValue(
                    Bool.self, sql: "SELECT pg_try_advisory_lock_shared(?)", arguments: [key])) == true
                throw workers ? CaseStoreError.workersBusy(location) : CaseStoreError.busy(location)
            }
        }
    }

    /// Takes the session advisory lock `key` on a connection of its own, waiting while
    /// another connection holds it; it goes with the returned value, or with the process.
    func waitForLock(_ key: Int64) throws -> WriterLock {
        try holdOnOwnConnection { session in
            try session.execute(sql: "SELECT pg_advisory_lock(?)", arguments: [key])
        }
    }

    /// A lock `take` takes on a connection of its own, held until the returned value goes
    /// (the connection is closed then); the connection is closed at once when `take` throws.
    private func holdOnOwnConnection(_ take: (Session) throws -> Void) throws -> WriterLock {
        let own = try connect()
        do {
            try take(Session(connection: own))
        } catch {
            _ = try? own.close().wait()
            throw error
        }
        return WriterLock { _ = try? own.close().wait() }
    }

    /// The advisory-lock key of `cairn ingest`'s writer lock.
    static let writerLockKey: Int64 = 2400
    /// The advisory-lock key of the stage that follows a drain of the work queue.
    static let drainLockKey: Int64 = 2403

    /// Whether `error` says the server could not be reached or the connection was cut
    /// (closed, refused, the server shutting down or starting up), rather than that a
    /// statement failed: what a worker waits out and retries.
    static func isUnreachable(_ error: any Error) -> Bool {
        (error as? Failure)?.isUnreachable ?? false
    }

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
        (error as? Failure)?.description
    }

    /// What the server or the connection said, in words, as every PostgreSQL error the
    /// store throws: postgres-nio's own errors print a generic text so as not to leak
    /// what they hold, and a command that prints the error it got must print this.
    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The server could not be reached, or the connection was cut.
        let isUnreachable: Bool

        init(_ error: any Error) {
            guard let error = error as? PSQLError else {
                description = "PostgreSQL connection: \(error) — check the server is running and reachable"
                isUnreachable = true
                return
            }
            guard let server = error.serverInfo else {
                isUnreachable = true
                if let tls = error.underlying.flatMap(PostgresLocation.describeTLSFailure) {
                    description = "PostgreSQL connection: \(tls)"
                } else {
                    let cause = error.underlying.map { "\($0)" } ?? "\(error.code)"
                    description = "PostgreSQL connection: \(cause) — check the server is running and reachable, and the URL"
                }
                return
            }
            var text = "PostgreSQL: \(server[.message] ?? "error")"
            if let detail = server[.detail] { text += " (\(detail))" }
            if let hint = server[.hint] { text += "; \(hint)" }
            let state = server[.sqlState]
            if let state { text += " [SQLSTATE \(state)]" }
            description = text
            // Class 08: connection exception; 57P01-57P03: shutdown, crash shutdown, cannot connect now.
            isUnreachable = state.map { $0.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains($0) } ?? false
        }

        /// The connection closed before a statement was answered.
        static let closed = Failure(closedByServer: ())

        private init(closedByServer: Void) {
            description = "PostgreSQL connection: closed by the server (a restart?) — check the server is running and reachable"
            isUnreachable = true
        }
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
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                id: PostgresStore.nextNumber(), logger: PostgresStore.logger
            ).wait()
        } catch {
            throw Failure(error)
        }
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

        /// One statement for the whole batch: each column's values as one array parameter
        /// (binary), the rows made by `unnest` on the server. A multi-row `VALUES` of
        /// the same rows costs the server a parse and plan of 16 parameters a row.
        func insertSightings(_ sightings: [NewSighting]) throws {
            guard !sightings.isEmpty else { return }
            let columns = try ColumnArray.columns(SightingColumns.types, of: sightings, SightingInsert.forEachValue)
            try run(SightingColumns.insert, columns)
        }

        func insertRows(_ insert: TableColumns, _ rows: [StoreArguments]) throws {
            guard !rows.isEmpty else { return }
            let columns = try ColumnArray.columns(insert.columns.map(\.type), of: rows)
            let sql = "INSERT INTO \(insert.table) (\(insert.columns.map(\.name).joined(separator: ", "))) "
                + "SELECT * FROM unnest(\(ColumnArray.parameters(insert.columns.map(\.type))))"
            try run(sql, columns)
        }

        func updateRows(_ update: TableColumns, _ rows: [StoreArguments]) throws {
            guard !rows.isEmpty else { return }
            let types = update.columns.map(\.type) + [.bigint]
            let columns = try ColumnArray.columns(types, of: rows)
            let names = update.columns.map(\.name)
            let sql = "UPDATE \(update.table) SET \(names.map { "\($0) = u.\($0)" }.joined(separator: ", ")) "
                + "FROM unnest(\(ColumnArray.parameters(types))) AS u(\((names + ["id"]).joined(separator: ", "))) "
                + "WHERE \(update.table).id = u.id"
            try run(sql, columns)
        }

        /// Two statements for the whole batch, where each statement is a round trip: an
        /// insert of the rows `unnest` makes of one array per column, then the ids of
        /// every indicator of the batch, found by joining the same arrays, in their order.
        func storeIndicators(_ indicators: [Indicator]) throws -> [Int64] {
            guard !indicators.isEmpty else { return [] }
            let columns = try ColumnArray.columns(IndicatorColumns.types, of: indicators, IndicatorInsert.forEachValue)
            try run(IndicatorColumns.insert, columns)
            let ids = try run(IndicatorColumns.select, columns.prefix(4)).rows.map { try $0.decode(Int64.self) }
            guard ids.count == indicators.count else {
                throw CaseStoreError.indicatorNotStored(indicators.first?.value ?? "")
            }
            return ids
        }

        func serialize(_ lock: AppendLock) throws {
            try execute(sql: "SELECT pg_advisory_xact_lock(?)", arguments: [lock.rawValue])
        }

        /// Runs a script of several statements (a migration) with the simple-query
        /// protocol's rules: no arguments.
        func executeScript(_ script: String) throws {
            for statement in PostgresSchema.statements(of: script) { try execute(sql: statement) }
        }

        /// Sends `query` and waits for its result, or for the connection to close: a
        /// statement sent on a connection the server has just closed (a restart) is never
        /// answered (postgres-nio writes it to the closed channel with no promise), so
        /// waiting on its result alone would wait for ever.
        private func result(of query: PostgresQuery) throws -> PostgresQueryResult {
            let sent = connection.query(query, logger: PostgresStore.logger)
            let answered = sent.eventLoop.makePromise(of: PostgresQueryResult.self)
            sent.cascade(to: answered)
            // Completing a completed promise does nothing: whichever comes first counts.
            connection.closeFuture.hop(to: sent.eventLoop).whenComplete { _ in answered.fail(Failure.closed) }
            do {
                return try answered.futureResult.wait()
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(error)
            }
        }

        /// Runs `sql`, whose parameters are `columns`, one array each.
        @discardableResult
        private func run(_ sql: String, _ columns: some Collection<ColumnArray>) throws -> PostgresQueryResult {
            var bindings = PostgresBindings(capacity: columns.count)
            for column in columns { bindings.append(column) }
            return try result(of: PostgresQuery(unsafeSQL: sql, binds: bindings))
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
            return try result(of: query)
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

/// The sightings insert as PostgreSQL runs it (`Session.insertSightings`): the columns of
/// `SightingInsert.head`, each one array parameter.
enum SightingColumns {
    /// The element type of each column, in `SightingInsert.head`'s order.
    static let types: [TableColumns.ColumnType] = [
        .bigint, .text, .bigint, .bigint, .bigint, .text, .bigint, .text, .text, .text, .text, .text, .bigint, .bigint,
        .bigint, .text,
    ]

    static let insert = SightingInsert.head.replacingOccurrences(of: "VALUES", with: "")
        + "SELECT * FROM unnest(\(ColumnArray.parameters(types)))"
}

/// The indicators insert as PostgreSQL runs it (`Session.storeIndicators`).
enum IndicatorColumns {
    /// The element type of each column, in `IndicatorInsert.columns`' order.
    static let types: [TableColumns.ColumnType] = [.text, .text, .text, .bigint, .text, .text, .bigint, .text, .text]

    static let insert = """
        INSERT INTO indicators (\(IndicatorInsert.columns))
        SELECT * FROM unnest(\(ColumnArray.parameters(types)))
        ON CONFLICT (type, value, rule_file, rule_line) DO NOTHING
        """

    /// The ids of the indicators the first four arrays name, in the arrays' order.
    static let select = """
        SELECT i.id FROM unnest(\(ColumnArray.parameters(types.prefix(4)))) WITH ORDINALITY AS k(type, value, rule_file, rule_line, n)
        JOIN indicators i ON i.type = k.type AND i.value = k.value AND i.rule_file = k.rule_file AND i.rule_line = k.rule_line
        ORDER BY k.n
        """
}

/// One column of a batch as a one-dimensional PostgreSQL array in the binary format
/// (`array_recv`): dimensions, whether there are NULLs, the element type, the length and
/// lower bound, then each element's length (-1 for NULL) and bytes.
struct ColumnArray: PostgresDynamicTypeEncodable {
    let type: TableColumns.ColumnType
    private var count: Int32 = 0
    private var hasNull = false
    private var elements: ByteBuffer

    /// `$1::text[], $2::bigint[]…`: one array parameter per column.
    static func parameters(_ types: some Sequence<TableColumns.ColumnType>) -> String {
        types.enumerated().map { index, type in "$\(index + 1)::\(type.rawValue)[]" }.joined(separator: ", ")
    }

    /// One array per column of `rows`, each row's values in the order of `types`.
    static func columns(_ types: [TableColumns.ColumnType], of rows: [StoreArguments]) throws -> [ColumnArray] {
        try columns(types, of: rows) { row, body in try row.values.forEach(body) }
    }

    /// One array per column of `items`, whose values `forEachValue` gives in the order
    /// of `types`.
    static func columns<Item>(
        _ types: [TableColumns.ColumnType], of items: [Item],
        _ forEachValue: (Item, (StoreValue) throws -> Void) throws -> Void
    ) throws -> [ColumnArray] {
        var columns = types.map { ColumnArray(type: $0, capacity: items.count) }
        for item in items {
            var index = 0
            try forEachValue(item) { value in
                try columns[index].append(value)
                index += 1
            }
        }
        return columns
    }

    init(type: TableColumns.ColumnType, capacity: Int) {
        self.type = type
        elements = ByteBufferAllocator().buffer(capacity: capacity * (type == .bigint ? 12 : 32))
    }

    /// Appends one value; throws when it is not of the column's type.
    mutating func append(_ value: StoreValue) throws {
        count += 1
        switch (value, type) {
        case (.null, _):
            hasNull = true
            elements.writeInteger(Int32(-1))
        case (.integer(let integer), .bigint):
            elements.writeInteger(Int32(8))
            elements.writeInteger(integer)
        case (.text(let text), .text):
            let length = elements.writerIndex
            elements.writeInteger(Int32(0))
            let written = elements.writeString(text)
            elements.setInteger(Int32(written), at: length)
        default:
            throw CaseStoreError.corruptRow("a sighting's \(value) is not \(type.rawValue)")
        }
    }

    var psqlType: PostgresDataType { type == .bigint ? .int8Array : .textArray }
    var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        buffer.writeInteger(Int32(1))  // dimensions
        buffer.writeInteger(Int32(hasNull ? 1 : 0))
        buffer.writeInteger((type == .bigint ? PostgresDataType.int8 : .text).rawValue)
        buffer.writeInteger(count)
        buffer.writeInteger(Int32(1))  // lower bound
        var elements = elements
        buffer.writeBuffer(&elements)
    }
}
