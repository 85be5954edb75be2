import ByteParsing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GRDB
import Indicators

/// A case in one SQLite file, through GRDB: one connection, serialized (a
/// `DatabaseQueue`), in WAL mode with foreign keys on. The embedded default, and the
/// file handed to investigators.
final class SQLiteStore: CaseStoreDriver {
    let location: String
    let queue: DatabaseQueue

    /// Opens or creates the database at `path` (created with mode 0600) and applies the
    /// migrations that it does not have yet.
    init(path: String) throws {
        location = path
        try SQLiteStore.createPrivateFile(path)
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.foreignKeysEnabled = true
        // Another process (a `cairn incidents` while an ingest runs) may hold the lock
        // for the length of one batch.
        configuration.busyMode = .timeout(10)
        // A case holds millions of sightings: SQLite's default 2 MB page cache makes
        // correlation a storm of small reads. 256 MB of cache, and reads through a
        // memory map, keep the indexes in memory.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -262144")
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try SQLiteStore.migrate(queue, path: path)
        // SQLite gives the -wal and -shm files the database file's mode; make sure.
        // Safe: access and chmod get the path as a NUL-terminated copy for the call.
        for suffix in ["-wal", "-shm"] where unsafe access(path + suffix, F_OK) == 0 {
            _ = unsafe chmod(path + suffix, 0o600)
        }
    }

    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try queue.read { db in try body(Session(db: db)) }
    }

    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try queue.write { db in try body(Session(db: db)) }
    }

    /// The writer lock is a `flock` on the database file, released by the kernel when
    /// the process ends, however it ends. Readers (`cairn incidents`, `cairn export`)
    /// are not affected.
    func lockForWriting(_ mode: WriterLockMode) throws -> WriterLock {
        // Safe: open gets the path as a NUL-terminated copy for the call.
        let descriptor = unsafe open(location, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CaseStoreError.cannotCreate(path: location, reason: SystemError.describe())
        }
        guard flock(descriptor, (mode == .alone ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK { throw CaseStoreError.busy(location) }
            throw CaseStoreError.cannotCreate(path: location, reason: SystemError.describe(code))
        }
        return WriterLock { close(descriptor) }
    }

    /// The result of `PRAGMA integrity_check`.
    func integrityCheck() throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// `error` in words, with what to do when SQLite failed to write (a full disk, a
    /// file size limit, a read-only file); nil when it is not SQLite's.
    static func describe(_ error: any Error) -> String? {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR:
            return "\(error) — the disk may be full or a file size limit reached; the transaction was rolled back, "
                + "so nothing half-written is kept: free space and run the same command again"
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
            return "\(error) — the case database or its directory cannot be written (permissions, or a read-only "
                + "file system)"
        default:
            return "\(error)"
        }
    }

    /// Brings the schema up to date. A database written by a newer Cairn (it has
    /// migrations this version does not know) is refused and left untouched. Before
    /// migrating a database that already holds a case, a copy is taken with
    /// `VACUUM INTO` beside it (`<path>.before-<migration>.sqlite`, mode 0600), so a
    /// failed or unwanted upgrade loses nothing.
    private static func migrate(_ queue: DatabaseQueue, path: String) throws {
        let migrator = Schema.migrator
        let (applied, pending) = try queue.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            return (applied, migrator.migrations.filter { !applied.contains($0) })
        }
        let unknown = applied.subtracting(migrator.migrations)
        if !unknown.isEmpty {
            throw CaseStoreError.newerSchema(path: path, migrations: unknown.sorted())
        }
        guard let first = pending.first else { return }
        if !applied.isEmpty {
            let backup = "\(path).before-\(first).sqlite"
            // Safe: access gets the path as a NUL-terminated copy for the call.
            guard unsafe access(backup, F_OK) != 0 else { throw CaseStoreError.backupExists(backup) }
            // VACUUM INTO creates the file with the mode the umask leaves.
            let oldMask = umask(0o077)
            defer { umask(oldMask) }
            try queue.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [backup]) }
        }
        try migrator.migrate(queue)
    }

    /// Creates `path` readable and writable by its owner only, unless it exists.
    private static func createPrivateFile(_ path: String) throws {
        // Safe: open gets the path as a NUL-terminated copy for the call.
        let descriptor = unsafe open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        if descriptor >= 0 {
            close(descriptor)
            return
        }
        let code = errno
        if code == EEXIST { return }
        throw CaseStoreError.cannotCreate(path: path, reason: SystemError.describe(code))
    }

    /// One GRDB transaction. Statements are prepared once per connection and reused
    /// (GRDB's statement cache), since the case's queries are few and run often.
    struct Session: StoreSession {
        let db: Database

        var dialect: StoreDialect { .sqlite }

        @discardableResult
        func execute(sql: String, arguments: StoreArguments) throws -> Int {
            try db.cachedStatement(sql: sql).execute(arguments: Session.arguments(arguments))
            return db.changesCount
        }

        func fetchAll(sql: String, arguments: StoreArguments) throws -> [StoreRow] {
            let statement = try db.cachedStatement(sql: sql)
            let columns = StoreColumns(statement.columnNames)
            return try Row.fetchAll(statement, arguments: Session.arguments(arguments)).map {
                StoreRow(columns: columns, sqlite: $0)
            }
        }

        func forEachRow(sql: String, arguments: StoreArguments, _ body: (StoreRow) throws -> Void) throws {
            // Not cached: `body` may run statements, a cached statement must not be
            // stepped by two cursors at once, and SQL built per call (lists of ids) would
            // fill GRDB's cache, which keeps every statement for the connection's life.
            let statement = try db.makeStatement(sql: sql)
            let columns = StoreColumns(statement.columnNames)
            let rows = try Row.fetchCursor(statement, arguments: Session.arguments(arguments))
            while let row = try rows.next() {
                try body(StoreRow(columns: columns, sqlite: row))
            }
        }

        func insertedID(sql: String, arguments: StoreArguments) throws -> Int64? {
            try execute(sql: sql, arguments: arguments) > 0 ? db.lastInsertedRowID : nil
        }

        func insertRows(_ insert: TableColumns, _ rows: [StoreArguments]) throws {
            let sql = insert.insertSQL
            for row in rows { try execute(sql: sql, arguments: row) }
        }

        func updateRows(_ update: TableColumns, _ rows: [StoreArguments]) throws {
            let sql = update.updateSQL
            for row in rows { try execute(sql: sql, arguments: row) }
        }

        func storeIndicators(_ indicators: [Indicator]) throws -> [Int64] {
            try IndicatorInsert.oneByOne(indicators, in: self)
        }

        func insertSightings(_ sightings: [NewSighting]) throws {
            try SightingInsert.insert(sightings, in: db)
        }

        /// One writer per process and a `flock` per case: appends are already in order.
        func serialize(_ lock: AppendLock) throws {}

        /// GRDB's arguments for `arguments`, through its initialiser over optional values
        /// (the one over `DatabaseValue`s maps them by key path, which cost as much as the
        /// statement in profiles of an ingest's indicator inserts).
        private static func arguments(_ arguments: StoreArguments) -> StatementArguments {
            StatementArguments(arguments.values.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .null: nil
                case .integer(let integer): integer
                case .real(let real): real
                case .text(let text): text
                }
            })
        }
    }

    /// A value as the store's rows give it; a blob (no column of a case holds one) as its
    /// UTF-8 text, as SQLite's `sqlite3_column_text` takes it.
    static func value(_ value: DatabaseValue) -> StoreValue {
        switch value.storage {
        case .null: .null
        case .int64(let integer): .integer(integer)
        case .double(let real): .real(real)
        case .string(let text): .text(text)
        case .blob(let data): .text(String(decoding: data, as: UTF8.self))
        }
    }
}
