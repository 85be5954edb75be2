import GRDB
import GRDBSQLite

/// The hot path of a run: the sightings insert, its columns written once for both stores
/// (`forEachValue`).
/// SQLite binds one prepared statement per batch through the C API, row by row;
/// PostgreSQL sends each column of a batch as one array (`PostgresStore.Session.insertSightings`).
///
/// GRDB's `execute(arguments:)` builds an array of `DatabaseValue`s per row; for the
/// 16 columns of a sighting that doubled the CPU time of a store against a bare
/// prepared-statement loop (`cairn-bench store`), and so did an array of `StoreValue`s. This is the one place in CaseStore
/// that talks to SQLite directly; it runs inside a GRDB write transaction, on GRDB's
/// connection, and throws GRDB's `DatabaseError` as GRDB would.
enum SightingInsert {
    /// The statement up to `VALUES `; each row's values are `placeholders`.
    static let head = """
        INSERT INTO sightings (source_id, locator_kind, locator, byte_offset, time_ns, time, indicator_id,
                               observed, field, host, suppressed_by, context, packets, bytes, last_time_ns,
                               last_time)
        VALUES 
        """
    static let placeholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    static let sql = head + placeholders

    /// Calls `body` with each of a sighting's values, in the order of `head`'s columns,
    /// building no array: this runs once per sighting stored.
    @inline(__always)
    static func forEachValue(of sighting: NewSighting, _ body: (StoreValue) throws -> Void) rethrows {
        let (kind, number, offset) = CaseDatabase.locatorColumns(sighting.locator)
        try body(sighting.sourceID.storeValue)
        try body(kind.storeValue)
        try body(Int64(clamping: number).storeValue)
        try body(offset.storeValue)
        try body(sighting.time.nanoseconds.storeValue)
        try body(sighting.time.iso8601.storeValue)
        try body(sighting.indicatorID.storeValue)
        try body(sighting.observed.storeValue)
        try body((sighting.member ?? sighting.field.rawValue).storeValue)
        try body(sighting.host.storeValue)
        try body(sighting.suppressedBy.storeValue)
        try body((sighting.context.isEmpty ? nil : sighting.context.joined(separator: ",")).storeValue)
        try body(Int64(clamping: sighting.packets).storeValue)
        try body(sighting.bytes.map { Int64(clamping: $0) }.storeValue)
        try body(sighting.lastTime?.nanoseconds.storeValue ?? .null)
        try body(sighting.lastTime?.iso8601.storeValue ?? .null)
    }

    /// SQLite's `SQLITE_TRANSIENT`: bound text is copied before the call returns.
    // Safe: -1 is the sentinel SQLite compares the destructor with, never calls.
    private static let transient = unsafe unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func insert(_ sightings: [NewSighting], in db: Database) throws {
        guard !sightings.isEmpty else { return }
        // Safe: GRDB's open connection, used on GRDB's writer inside its transaction
        // (this call's caller), and not kept past this call.
        guard let connection = unsafe db.sqliteConnection else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the database connection is closed", sql: sql)
        }
        var prepared: OpaquePointer?
        // Safe: SQLite reads the NUL-terminated SQL during the call and writes one
        // statement handle to `prepared`.
        let code = unsafe sqlite3_prepare_v2(connection, sql, -1, &prepared, nil)
        guard code == SQLITE_OK, let statement = unsafe prepared else {
            throw unsafe failure(code, connection)
        }
        // Safe: the statement is this call's own, finalized once when the call ends.
        defer { unsafe sqlite3_finalize(statement) }
        for sighting in sightings {
            var index: Int32 = 0
            forEachValue(of: sighting) { value in
                index += 1
                unsafe bind(value, to: statement, at: index)
            }
            // Safe: the same live statement, every parameter bound above.
            let step = unsafe sqlite3_step(statement)
            guard step == SQLITE_DONE else {
                throw unsafe failure(step, connection)
            }
            unsafe sqlite3_reset(statement)
        }
    }

    /// Binds one value; `statement` is a live prepared statement of the caller's and
    /// `index` one of its parameters.
    private static func bind(_ value: StoreValue, to statement: OpaquePointer, at index: Int32) {
        // Safe: the caller's statement is live for this call; text is a C string valid for
        // its call, of which SQLite reads the given length (its UTF-8 bytes, the terminating
        // NUL after them) and copies it before it returns (`transient`).
        switch value {
        case .null: unsafe sqlite3_bind_null(statement, index)
        case .integer(let integer): unsafe sqlite3_bind_int64(statement, index, integer)
        case .real(let real): unsafe sqlite3_bind_double(statement, index, real)
        case .text(let text):
            // The length in bytes, not up to the first NUL: evidence may hold U+0000.
            unsafe sqlite3_bind_text(statement, index, text, Int32(clamping: text.utf8.count), transient)
        }
    }

    /// The error GRDB would have thrown: the extended result code and SQLite's message.
    private static func failure(_ code: Int32, _ connection: OpaquePointer) -> DatabaseError {
        // Safe: the connection is open; SQLite's message is a NUL-terminated string valid
        // until its next call on the connection, and copied into a String here.
        let extended = unsafe sqlite3_extended_errcode(connection)
        return DatabaseError(
            resultCode: ResultCode(rawValue: extended == 0 ? code : extended),
            message: unsafe String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}
