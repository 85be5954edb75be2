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
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func insert(_ sightings: [NewSighting], in db: Database) throws {
        guard !sightings.isEmpty else { return }
        guard let connection = db.sqliteConnection else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the database connection is closed", sql: sql)
        }
        var prepared: OpaquePointer?
        let code = sqlite3_prepare_v2(connection, sql, -1, &prepared, nil)
        guard code == SQLITE_OK, let statement = prepared else {
            throw failure(code, connection)
        }
        defer { sqlite3_finalize(statement) }
        for sighting in sightings {
            let (kind, number, offset) = CaseDatabase.locatorColumns(sighting.locator)
            sqlite3_bind_int64(statement, 1, sighting.sourceID)
            sqlite3_bind_text(statement, 2, kind, -1, transient)
            sqlite3_bind_int64(statement, 3, Int64(clamping: number))
            bind(offset, to: statement, at: 4)
            sqlite3_bind_int64(statement, 5, sighting.time.nanoseconds)
            sqlite3_bind_text(statement, 6, sighting.time.iso8601, -1, transient)
            sqlite3_bind_int64(statement, 7, sighting.indicatorID)
            sqlite3_bind_text(statement, 8, sighting.observed, -1, transient)
            sqlite3_bind_text(statement, 9, sighting.member ?? sighting.field.rawValue, -1, transient)
            sqlite3_bind_text(statement, 10, sighting.host, -1, transient)
            bind(sighting.suppressedBy, to: statement, at: 11)
            bind(sighting.context.isEmpty ? nil : sighting.context.joined(separator: ","), to: statement, at: 12)
            sqlite3_bind_int64(statement, 13, Int64(clamping: sighting.packets))
            bind(sighting.bytes.map { Int64(clamping: $0) }, to: statement, at: 14)
            bind(sighting.lastTime?.nanoseconds, to: statement, at: 15)
            bind(sighting.lastTime?.iso8601, to: statement, at: 16)
            let step = sqlite3_step(statement)
            guard step == SQLITE_DONE else {
                throw failure(step, connection)
            }
            sqlite3_reset(statement)
        }
    }

    private static func bind(_ value: Int64?, to statement: OpaquePointer, at index: Int32) {
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    private static func bind(_ value: String?, to statement: OpaquePointer, at index: Int32) {
        if let value {
            sqlite3_bind_text(statement, index, value, -1, transient)
        } else {
            sqlite3_bind_null(statement, index)
        }
    }

    /// The error GRDB would have thrown: the extended result code and SQLite's message.
    private static func failure(_ code: Int32, _ connection: OpaquePointer) -> DatabaseError {
        let extended = sqlite3_extended_errcode(connection)
        return DatabaseError(
            resultCode: ResultCode(rawValue: extended == 0 ? code : extended),
            message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}
