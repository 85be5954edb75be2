import Foundation

/// A whole case copied from one store into another (`CaseDatabase.copy(to:commandLine:toolVersion:)`):
/// what was copied, and the destination's custody log as checked once the copy was
/// committed.
public struct CaseCopy: Sendable, Equatable {
    /// The rows one table received.
    public struct TableRows: Sendable, Equatable {
        public var table: String
        public var rows: Int

        public init(table: String, rows: Int) {
            self.table = table
            self.rows = rows
        }
    }

    /// Where the case was copied from: a path, or a URL without its password.
    public var source: String
    /// Where it was copied to.
    public var destination: String
    /// Rows per table, in the order copied (each table after those it refers to). Each
    /// count was checked, in the copy's transaction, to equal the source's and the
    /// destination's; `custody_entries` counts the copied entries, not the copy's own.
    public var tables: [TableRows]
    /// The custody entry recording the copy: the destination's last, chained to the last
    /// entry copied.
    public var entry: CustodyEntry
    /// The destination's custody log, checked once the copy was committed.
    public var custody: CustodyVerification

    /// The tables a copy copies, in the order it copies them: every table of the case.
    public static var tableNames: [String] { CaseTable.all.map(\.name) }
}

/// A table of the case, as a copy reads and writes it.
struct CaseTable: Sendable {
    let name: String
    /// Its primary key: the order its rows are read and written in.
    let key: [String]
    /// A column naming another row of the same table (`incidents.merged_into`): a row that
    /// names a later one gets the value once that one is copied.
    var selfReference: String? = nil

    /// Whether the table's `id` is an identity in PostgreSQL, which a copy moves past the
    /// copied ids.
    var hasIdentity: Bool { key == ["id"] }

    /// Every table of the case (the migrations of `Schema`, whose tables both stores
    /// have), each after the tables its foreign keys refer to. A table one store has
    /// alone is that store's own (PostgreSQL's work queue: operations, not evidence) and
    /// is not listed; nor are the stores' bookkeeping (`grdb_migrations`) and the view
    /// `incident_members`. CaseCopyTests fails when a migration adds a table this list
    /// lacks.
    static let all: [CaseTable] = [
        CaseTable(name: "runs", key: ["id"]),
        CaseTable(name: "sources", key: ["id"]),
        CaseTable(name: "indicators", key: ["id"]),
        CaseTable(name: "resolutions", key: ["id"]),
        CaseTable(name: "sightings", key: ["id"]),
        CaseTable(name: "derivation_scans", key: ["source_id", "resolution_id"]),
        CaseTable(name: "line_events", key: ["id"]),
        CaseTable(name: "host_addresses", key: ["id"]),
        CaseTable(name: "incidents", key: ["id"], selfReference: "merged_into"),
        CaseTable(name: "incident_sightings", key: ["incident_id", "sighting_id"]),
        CaseTable(name: "incident_line_events", key: ["incident_id", "line_event_id"]),
        CaseTable(name: "triage_events", key: ["id"]),
        CaseTable(name: "custody_entries", key: ["id"]),
    ]

    /// The most arguments one multi-row INSERT binds: SQLite before 3.32 takes at most
    /// 999 (a cached statement per table makes small batches cheap there), PostgreSQL at
    /// most 65,535 (where each statement is a round trip).
    static func parametersPerInsert(_ dialect: StoreDialect) -> Int {
        switch dialect {
        case .sqlite: 999
        case .postgres: 32_767
        }
    }

    /// The table's columns in `db`, in the table's order.
    func columns(in db: any StoreSession) throws -> [String] {
        switch db.dialect {
        case .sqlite:
            try db.fetchValues(String.self, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: [name])
        case .postgres:
            try db.fetchValues(
                String.self,
                sql: """
                    SELECT column_name::text FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name::text = ? ORDER BY ordinal_position
                    """,
                arguments: [name])
        }
    }

    /// The names of the tables in `db`, sorted, views and SQLite's own tables left out.
    static func names(in db: any StoreSession) throws -> [String] {
        switch db.dialect {
        case .sqlite:
            try db.fetchValues(
                String.self,
                sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
        case .postgres:
            try db.fetchValues(
                String.self,
                sql: """
                    SELECT table_name::text FROM information_schema.tables
                    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name::text
                    """)
        }
    }

    func count(in db: any StoreSession) throws -> Int {
        try db.fetchValue(Int.self, sql: "SELECT COUNT(*) FROM \(CaseTable.quoted(name))") ?? 0
    }

    func isEmpty(in db: any StoreSession) throws -> Bool {
        try db.fetchOne(sql: "SELECT 1 FROM \(CaseTable.quoted(name)) LIMIT 1") == nil
    }

    /// Copies every row of the table from `source` to `target`, with its ids, and returns
    /// how many. Rows are read through a cursor in key order and written by multi-row
    /// INSERTs, so memory holds one INSERT's values and one cursor batch whatever the
    /// table's size (and the ids of rows naming a later row of their own table, which
    /// no case written by Cairn has: a merged incident names an older one).
    func copyRows(from source: any StoreSession, to target: any StoreSession, refuse: (String) -> CaseStoreError) throws -> Int {
        let columns = try self.columns(in: source)
        let targetColumns = try self.columns(in: target)
        guard !columns.isEmpty, Set(columns) == Set(targetColumns) else {
            throw refuse("table \(name) has the columns \(columns.joined(separator: ", ")) in the source and "
                + "\(targetColumns.joined(separator: ", ")) in the destination")
        }
        let list = columns.map(CaseTable.quoted).joined(separator: ", ")
        let rowsPerInsert = max(1, CaseTable.parametersPerInsert(target.dialect) / columns.count)
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let head = "INSERT INTO \(CaseTable.quoted(name)) (\(list)) VALUES "
        let fullInsert = head + Array(repeating: placeholders, count: rowsPerInsert).joined(separator: ", ")
        // Positions in the SELECT below, which lists `columns` in this order.
        let idPosition = columns.firstIndex(of: "id")
        let referencePosition = selfReference.flatMap { columns.firstIndex(of: $0) }

        var arguments = StoreArguments()
        arguments.values.reserveCapacity(rowsPerInsert * columns.count)
        var rowsPending = 0
        var copied = 0
        var laterReferences: [(id: Int64, reference: Int64)] = []
        func flush() throws {
            guard rowsPending > 0 else { return }
            let sql = rowsPending == rowsPerInsert
                ? fullInsert : head + Array(repeating: placeholders, count: rowsPending).joined(separator: ", ")
            try target.execute(sql: sql, arguments: arguments)
            arguments.values.removeAll(keepingCapacity: true)
            rowsPending = 0
        }
        let order = key.map(CaseTable.quoted).joined(separator: ", ")
        try source.forEachRow(sql: "SELECT \(list) FROM \(CaseTable.quoted(name)) ORDER BY \(order)", arguments: []) { row in
            for position in columns.indices {
                var value = row.value(atIndex: position)
                if case .real = value {
                    // No column of a case holds one, and PostgreSQL would round it into a
                    // bigint: refused rather than changed.
                    throw refuse("table \(name), column \(columns[position]) holds a real number, "
                        + "which no column of a case holds and which could not be copied exactly")
                }
                if position == referencePosition, let idPosition, case .integer(let reference) = value,
                   case .integer(let id) = row.value(atIndex: idPosition), reference > id
                {
                    laterReferences.append((id, reference))
                    value = .null
                }
                arguments.values.append(value)
            }
            rowsPending += 1
            copied += 1
            if rowsPending == rowsPerInsert { try flush() }
        }
        try flush()
        if let selfReference {
            for (id, reference) in laterReferences {
                try target.execute(
                    sql: "UPDATE \(CaseTable.quoted(name)) SET \(CaseTable.quoted(selfReference)) = ? WHERE id = ?",
                    arguments: [reference, id])
            }
        }
        return copied
    }

    /// Moves the PostgreSQL identity of the table's `id` past the largest id copied, so
    /// that the next insert does not take an id already used (SQLite takes the largest
    /// plus one by itself). An empty table keeps its identity as it is.
    func moveIdentity(in db: any StoreSession) throws {
        guard hasIdentity, db.dialect == .postgres else { return }
        try db.execute(
            sql: "SELECT setval(pg_get_serial_sequence(?, 'id'), MAX(id)) FROM \(CaseTable.quoted(name))",
            arguments: [name])
    }

    /// `name` as an SQL identifier, quoted for both stores (`user` is reserved in
    /// PostgreSQL).
    static func quoted(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }
}

extension CaseDatabase {
    /// Copies this whole case into `destination`, a new or empty case in either store:
    /// every table (`CaseCopy.tableNames`) with its ids and values unchanged, then a
    /// custody entry (`CustodyAction.copy`) recording it, chained to the last entry copied.
    ///
    /// This case is not written: it is read in one read transaction, so the copy is one
    /// state of it even while an ingest writes. The destination is written in one
    /// transaction under its writer lock: rows in foreign-key order, streamed through
    /// multi-row INSERTs (memory does not grow with the case); then, before it commits,
    /// each table's row count is checked against the source's and the destination's
    /// custody chain is verified; in PostgreSQL each identity is moved past the copied
    /// ids. Any failure rolls the destination back whole.
    ///
    /// Refused, with nothing changed (`CaseStoreError`): a destination holding any row of
    /// the case's tables (`destinationNotEmpty`), the source itself, a source whose
    /// custody log does not verify, and a copy whose counts or chain do not check out
    /// (`copyRefused`); `busy` while an ingest writes to the destination. `commandLine`
    /// is recorded with its passwords removed. O(rows of the case).
    public func copy(
        to destination: CaseDatabase, commandLine: String, toolVersion: String,
        user: String = CustodyChain.currentUser(), host: String = CustodyChain.currentHost()
    ) throws -> CaseCopy {
        let refuse = { (reason: String) in CaseStoreError.copyRefused(destination: destination.location, reason: reason) }
        if isSameCase(as: destination) { throw refuse("it is the source case itself") }
        let lock = try destination.lockForWriting()
        let (tables, entry) = try withExtendedLifetime(lock) {
            try store.read { source in
                let chain = CustodyChain.verify(try CaseDatabase.custodyEntries(in: source))
                guard chain.ok else {
                    throw refuse("the custody log of \(location) does not verify (\(chain.problem ?? "broken")), "
                        + "and a copy would carry it broken")
                }
                return try destination.store.write { target in
                    try CaseDatabase.copyCase(
                        from: source, to: target, destination: destination.location, refuse: refuse,
                        entry: { db in
                            try CaseDatabase.appendCustodyEntry(
                                action: .copy, commandLine: commandLine, toolVersion: toolVersion, rulesDigest: "",
                                inputs: [], outputs: [], user: user, host: host, in: db)
                        })
                }
            }
        }
        return CaseCopy(
            source: location, destination: destination.location, tables: tables, entry: entry,
            custody: try destination.verifyCustody())
    }

    /// The copy in the destination's transaction: the emptiness check, the tables, the
    /// checks, the custody entry (`entry`), the identities.
    private static func copyCase(
        from source: any StoreSession, to target: any StoreSession, destination: String,
        refuse: (String) -> CaseStoreError, entry: (any StoreSession) throws -> CustodyEntry
    ) throws -> ([CaseCopy.TableRows], CustodyEntry) {
        // The custody lock first: no export appends to the destination's log meanwhile.
        try target.serialize(.custody)
        let occupied = try CaseTable.all.filter { try !$0.isEmpty(in: target) }.map(\.name)
        if !occupied.isEmpty { throw CaseStoreError.destinationNotEmpty(destination, tables: occupied) }
        var tables: [CaseCopy.TableRows] = []
        for table in CaseTable.all {
            let copied = try table.copyRows(from: source, to: target, refuse: refuse)
            let inSource = try table.count(in: source)
            let inTarget = try table.count(in: target)
            guard copied == inSource, inTarget == inSource else {
                throw refuse("table \(table.name) holds \(inSource) rows in the source, \(inTarget) in the copy "
                    + "(\(copied) copied)")
            }
            tables.append(CaseCopy.TableRows(table: table.name, rows: copied))
        }
        let copiedChain = CustodyChain.verify(try custodyEntries(in: target))
        guard copiedChain.ok else {
            throw refuse("the copied custody log does not verify (\(copiedChain.problem ?? "broken"))")
        }
        let recorded = try entry(target)
        let chain = CustodyChain.verify(try custodyEntries(in: target))
        guard chain.ok else { throw refuse("the custody log with the copy's entry does not verify (\(chain.problem ?? "broken"))") }
        for table in CaseTable.all { try table.moveIdentity(in: target) }
        return (tables, recorded)
    }

    /// Whether `other` is this case: the same object, location, or SQLite file (by device
    /// and inode, whatever path names it).
    private func isSameCase(as other: CaseDatabase) -> Bool {
        if self === other || location == other.location { return true }
        guard store is SQLiteStore, other.store is SQLiteStore,
              let mine = try? FileManager.default.attributesOfItem(atPath: location),
              let theirs = try? FileManager.default.attributesOfItem(atPath: other.location)
        else { return false }
        return [FileAttributeKey.systemNumber, .systemFileNumber].allSatisfy { key in
            guard let left = mine[key] as? NSNumber, let right = theirs[key] as? NSNumber else { return false }
            return left == right
        }
    }
}
