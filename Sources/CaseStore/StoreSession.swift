import Indicators
import Observations

/// The case store interface, as the case's queries see it: one transaction on an SQLite
/// file (`SQLiteStore`) or a PostgreSQL database (`PostgresStore`).
///
/// Every query of the case (CaseDatabase and its extensions) is written once, in the SQL
/// both stores speak, with `?` for arguments; the stores differ below this line only
/// (how a statement is prepared, bound and stepped, how sightings are bulk-inserted) and
/// in their schemas, which have the same tables and columns. That is what makes a case
/// give the same incidents in either store: there is one correlation, not two. Where the
/// two SQL dialects differ, `dialect` says which one runs.
public protocol StoreSession {
    /// Which store runs the statements.
    var dialect: StoreDialect { get }

    /// Runs a statement that returns no rows; returns the number of rows it changed. A
    /// store may keep the statement prepared for the next call with the same SQL.
    @discardableResult
    func execute(sql: String, arguments: StoreArguments) throws -> Int

    /// Runs a query and returns all its rows. A store may keep the statement prepared for
    /// the next call with the same SQL.
    func fetchAll(sql: String, arguments: StoreArguments) throws -> [StoreRow]

    /// Runs a query and calls `body` with each row as it is read, without holding them
    /// all: for results of millions of rows (correlation, export), and for SQL built for
    /// one call (a list of ids), which no store keeps prepared. `body` may run other
    /// statements of the same transaction.
    func forEachRow(sql: String, arguments: StoreArguments, _ body: (StoreRow) throws -> Void) throws

    /// Runs an `INSERT` of one row and returns the row's `id`, nil when it inserted none
    /// (`ON CONFLICT DO NOTHING`): SQLite's last inserted row id, PostgreSQL's
    /// `RETURNING id`.
    func insertedID(sql: String, arguments: StoreArguments) throws -> Int64?

    /// Inserts sightings: the hot path of an ingest, each store's fastest way.
    func insertSightings(_ sightings: [NewSighting]) throws

    /// Inserts `rows` into `insert`'s table, in one statement where each statement is a
    /// round trip (PostgreSQL), one per row where statements are cheap (SQLite): for
    /// the evidence a batch of sightings brings along (leases, resolutions, line events).
    func insertRows(_ insert: TableColumns, _ rows: [StoreArguments]) throws

    /// Updates rows of `update`'s table by id: each of `rows` is the columns' values, then
    /// the id. One statement where each is a round trip, one per row otherwise.
    func updateRows(_ update: TableColumns, _ rows: [StoreArguments]) throws

    /// Inserts the indicators that are not stored yet (same type, value, rule file and
    /// line) and returns the id of each, in the order given; each store's fastest way
    /// (`IndicatorInsert`).
    func storeIndicators(_ indicators: [Indicator]) throws -> [Int64]

    /// Waits until no other transaction holds `lock` (`AppendLock`), and holds it until
    /// this transaction ends: for appends that read the last row first (the custody
    /// chain) when several workers write one case.
    func serialize(_ lock: AppendLock) throws
}

/// The SQL a store speaks, where the two differ.
public enum StoreDialect: Sendable {
    case sqlite
    case postgres

    /// The operator that matches a LIKE pattern ignoring ASCII case: SQLite's LIKE does,
    /// PostgreSQL's ILIKE.
    var caseInsensitiveLike: String {
        switch self {
        case .sqlite: "LIKE"
        case .postgres: "ILIKE"
        }
    }
}

/// Columns of a table written many rows at a time (`StoreSession.insertRows`,
/// `updateRows`), each with the type of its values.
public struct TableColumns: Sendable {
    public enum ColumnType: String, Sendable {
        case bigint, text
    }

    let table: String
    let columns: [(name: String, type: ColumnType)]

    /// The one-row insert.
    var insertSQL: String {
        "INSERT INTO \(table) (\(columns.map(\.name).joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
    }

    /// The one-row update by id.
    var updateSQL: String {
        "UPDATE \(table) SET \(columns.map { "\($0.name) = ?" }.joined(separator: ", ")) WHERE id = ?"
    }
}

/// What `StoreSession.serialize` orders appends by.
public enum AppendLock: Int64, Sendable {
    case custody = 2401
    /// Sources finishing (`CaseDatabase.finishSource`'s check for the same content).
    case sources = 2402
}

extension StoreSession {
    @discardableResult
    func execute(sql: String) throws -> Int {
        try execute(sql: sql, arguments: [])
    }

    func fetchAll(sql: String) throws -> [StoreRow] {
        try fetchAll(sql: sql, arguments: [])
    }

    /// The first row of a query, if any (the query says `LIMIT 1` when it may have more).
    func fetchOne(sql: String, arguments: StoreArguments = []) throws -> StoreRow? {
        try fetchAll(sql: sql, arguments: arguments).first
    }

    /// The first column of the first row, nil when there is no row or it is NULL.
    func fetchValue<T: StoreDecodable>(_ type: T.Type, sql: String, arguments: StoreArguments = []) throws -> T? {
        guard let row = try fetchOne(sql: sql, arguments: arguments) else { return nil }
        return try row.decode(atIndex: 0) as T?
    }

    /// The first column of every row.
    func fetchValues<T: StoreDecodable>(_ type: T.Type, sql: String, arguments: StoreArguments = []) throws -> [T] {
        try fetchAll(sql: sql, arguments: arguments).map { try $0.decode(atIndex: 0) }
    }

    /// `forEachRow` for results of millions of rows read by position: `positions` finds
    /// the columns' positions by name once, from the first row's columns, and `body`
    /// gets them with each row.
    func forEachRow<Positions>(
        sql: String, arguments: StoreArguments = [], positions: (StoreColumns) throws -> Positions,
        _ body: (StoreRow, Positions) throws -> Void
    ) throws {
        var found: Positions? = nil
        try forEachRow(sql: sql, arguments: arguments) { row in
            let known = try found ?? positions(row.columns)
            found = known
            try body(row, known)
        }
    }

    /// Runs an `INSERT` of one row that always inserts it, and returns its `id`.
    func insert(sql: String, arguments: StoreArguments) throws -> Int64 {
        guard let id = try insertedID(sql: sql, arguments: arguments) else {
            throw CaseStoreError.corruptRow("an insert inserted no row: \(sql)")
        }
        return id
    }
}

/// A case store: an SQLite file or a PostgreSQL database, holding the case's schema.
/// Transactions are serialized within one process, as GRDB's `DatabaseQueue` does.
public protocol CaseStoreDriver: AnyObject, Sendable {
    /// Where the case is, as the user gave it (a path, or a URL without its password).
    var location: String { get }

    /// Runs `body` in a read-only transaction that sees one state of the case.
    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T

    /// Runs `body` in a transaction: committed when `body` returns, rolled back when it
    /// throws.
    @discardableResult
    func write<T>(_ body: (any StoreSession) throws -> T) throws -> T

    /// Takes the case's writer lock for the life of the returned value, or throws
    /// `CaseStoreError.busy` (or `.workersBusy`).
    func lockForWriting(_ mode: WriterLockMode) throws -> WriterLock

    /// A store's own check of its storage: `["ok"]` when sound.
    func integrityCheck() throws -> [String]
}
