import GRDB
import GRDBSQLite

/// The hot path of a run: sightings inserted through the SQLite C API with one prepared
/// statement per batch, bound column by column.
///
/// GRDB's `execute(arguments:)` builds an array of `DatabaseValue`s per row; for the
/// 16 columns of a sighting that doubled the CPU time of a store against a bare
/// prepared-statement loop (`cairn-bench store`). This is the one place in CaseStore
/// that talks to SQLite directly; it runs inside a GRDB write transaction, on GRDB's
/// connection, and throws GRDB's `DatabaseError` as GRDB would.
enum SightingInsert {
    static let sql = """
        INSERT INTO sightings (source_id, locator_kind, locator, byte_offset, time_ns, time, indicator_id,
                               observed, field, host, suppressed_by, context, packets, bytes, last_time_ns,
                               last_time)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

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
            let (kind, number, offset) = CaseDatabase.locatorColumns(sighting.locator)
            // Safe: `statement` is live (finalized only on exit) and each index is one of
            // its 16 parameters; text is a NUL-terminated C string valid for its call,
            // which SQLite copies before returning (`transient`).
            unsafe sqlite3_bind_int64(statement, 1, sighting.sourceID)
            unsafe sqlite3_bind_text(statement, 2, kind, -1, transient)
            unsafe sqlite3_bind_int64(statement, 3, Int64(clamping: number))
            unsafe bind(offset, to: statement, at: 4)
            unsafe sqlite3_bind_int64(statement, 5, sighting.time.nanoseconds)
            unsafe sqlite3_bind_text(statement, 6, sighting.time.iso8601, -1, transient)
            unsafe sqlite3_bind_int64(statement, 7, sighting.indicatorID)
            unsafe sqlite3_bind_text(statement, 8, sighting.observed, -1, transient)
            unsafe sqlite3_bind_text(statement, 9, sighting.member ?? sighting.field.rawValue, -1, transient)
            unsafe sqlite3_bind_text(statement, 10, sighting.host, -1, transient)
            unsafe bind(sighting.suppressedBy, to: statement, at: 11)
            unsafe bind(sighting.context.isEmpty ? nil : sighting.context.joined(separator: ","), to: statement, at: 12)
            unsafe sqlite3_bind_int64(statement, 13, Int64(clamping: sighting.packets))
            unsafe bind(sighting.bytes.map { Int64(clamping: $0) }, to: statement, at: 14)
            unsafe bind(sighting.lastTime?.nanoseconds, to: statement, at: 15)
            unsafe bind(sighting.lastTime?.iso8601, to: statement, at: 16)
            // Safe: the same live statement, every parameter bound above.
            let step = unsafe sqlite3_step(statement)
            guard step == SQLITE_DONE else {
                throw unsafe failure(step, connection)
            }
            unsafe sqlite3_reset(statement)
        }
    }

    /// Binds an integer or NULL; `statement` is a live prepared statement of the caller's.
    private static func bind(_ value: Int64?, to statement: OpaquePointer, at index: Int32) {
        // Safe: the caller's statement is live for this call; no memory is lent.
        if let value { unsafe sqlite3_bind_int64(statement, index, value) } else { unsafe sqlite3_bind_null(statement, index) }
    }

    /// Binds text or NULL; `statement` is a live prepared statement of the caller's.
    private static func bind(_ value: String?, to statement: OpaquePointer, at index: Int32) {
        // Safe: the caller's statement is live for this call; the text is a C string
        // valid for the call, copied by SQLite before it returns (`transient`).
        if let value {
            unsafe sqlite3_bind_text(statement, index, value, -1, transient)
        } else {
            unsafe sqlite3_bind_null(statement, index)
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
