import Correlation
import Foundation
import Indicators
import Observations

/// A case: runs, sources, indicators, sightings and incidents, in an SQLite file or a
/// PostgreSQL database (`CaseStoreDriver`). Everything that reads or writes a case goes
/// through this one object, whose queries are the same for both stores (`StoreSession`).
///
/// Every write is one transaction, so a killed process leaves the case as it was after
/// the last committed batch; a source is `complete` only in the transaction that wrote
/// its last sightings, and the next run replaces a source left `reading`.
public final class CaseDatabase: Sendable {
    /// Where the case is: the SQLite file's path, or the PostgreSQL URL without its
    /// password.
    public var location: String { store.location }
    let store: any CaseStoreDriver

    /// Opens or creates the case at `location`: a `postgresql://` URL
    /// (`PostgresLocation`), or the path of an SQLite file (created with mode 0600).
    /// Applies the migrations the case does not have yet.
    public init(location: String) throws {
        if PostgresLocation.isURL(location) {
            store = try PostgresStore(PostgresLocation(url: location))
        } else {
            store = try SQLiteStore(path: location)
        }
    }

    /// `error` in words for the user, with what to do when the store failed (a full
    /// disk, a read-only file, an unreachable server).
    public static func describe(_ error: any Error) -> String {
        SQLiteStore.describe(error) ?? PostgresStore.describe(error) ?? "\(error)"
    }

    // MARK: Writers

    /// Takes the case's writer lock for the life of the returned value: one `cairn
    /// ingest` at a time per case. A second one is refused at once with
    /// `CaseStoreError.busy` rather than interleaving its incidents with the first's;
    /// readers (`cairn incidents`, `cairn export`) are not affected. The lock goes when
    /// the process ends, however it ends.
    public func lockForWriting(_ mode: WriterLockMode = .alone) throws -> WriterLock {
        try store.lockForWriting(mode)
    }

    /// Whether `error` says the case's server could not be reached or the connection was
    /// cut, rather than that the case refused something: worth waiting out and retrying.
    public static func isUnreachable(_ error: any Error) -> Bool {
        PostgresStore.isUnreachable(error)
    }

    // MARK: Runs

    /// Records the start of a run (status `running`) and how it reads logs (nil: not
    /// said, NULL in the database); returns its id. A password in the command line (a
    /// `postgresql://` URL's) is removed before it is recorded.
    public func beginRun(
        version: String, rulesDigest: String, commandLine: String, logSettings: LogSettings? = nil
    ) throws -> Int64 {
        try store.write { db in
            try db.insert(
                sql: """
                    INSERT INTO runs (started_at, version, rules_digest, command_line, status,
                                      log_timezone, log_year, line_limit, decompressed_limit)
                    VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)
                    """,
                arguments: [
                    Timestamp.now.iso8601, version, rulesDigest, PostgresLocation.redactingPasswords(in: commandLine),
                    logSettings?.timezoneText, logSettings?.year,
                    logSettings?.maximumLineLength, logSettings.map { Int64(clamping: $0.maximumDecompressedBytes) },
                ])
        }
    }

    /// Records the end of a run: `succeeded` or `failed`, with its finish time.
    public func finishRun(_ runID: Int64, succeeded: Bool) throws {
        try store.write { db in
            let changed = try db.execute(
                sql: "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?",
                arguments: [Timestamp.now.iso8601, succeeded ? "succeeded" : "failed", runID])
            if changed == 0 { throw CaseStoreError.unknownRun(runID) }
        }
    }

    // MARK: Indicators

    /// Inserts the indicators that are not stored yet (same type, value, rule file and
    /// line), with their metadata; returns the database id of each, in the order given.
    /// One transaction. An indicator stored by an earlier run keeps the metadata it had
    /// then: a change of rules never alters what is already in the case.
    public func storeIndicators(_ indicators: [Indicator]) throws -> [Int64] {
        guard !indicators.isEmpty else { return [] }
        return try store.write { db in try db.storeIndicators(indicators) }
    }

    // MARK: Sources

    /// The path of a source with this SHA-256 that is recorded complete, if any.
    public func completedSource(sha256: String) throws -> String? {
        try store.read { db in
            try db.fetchValue(String.self, sql: "SELECT path FROM sources WHERE sha256 = ? AND status = 'complete'", arguments: [sha256])
        }
    }

    /// Whether a complete source of exactly this size exists (a cheap pre-check before
    /// hashing a file just to see whether it is a duplicate).
    public func hasCompletedSource(size: UInt64) throws -> Bool {
        try store.read { db in
            try db.fetchValue(Bool.self, sql: "SELECT EXISTS (SELECT 1 FROM sources WHERE size = ? AND status = 'complete')",
                arguments: [Int64(clamping: size)]) ?? false
        }
    }

    /// Starts a source: removes any earlier incomplete or failed record of the same path
    /// (with its sightings), inserts a `reading` record, returns its id. One transaction,
    /// which a worker makes only while it holds `lease` (`holdLease`).
    public func beginSource(path: String, size: UInt64, kind: SourceKind, runID: Int64, lease: QueueLease? = nil) throws -> Int64 {
        try store.write { db in
            try CaseDatabase.holdLease(lease, in: db)
            try CaseDatabase.removeUnfinished(path: path, in: db)
            return try db.insert(
                sql: """
                    INSERT INTO sources (run_id, path, size, kind, status, started_at)
                    VALUES (?, ?, ?, ?, 'reading', ?)
                    """,
                arguments: [runID, path, Int64(clamping: size), kind.rawValue, Timestamp.now.iso8601])
        }
    }

    /// Appends sightings of a source in one transaction. This is the hot path of a run:
    /// one cached prepared statement, no per-row SQL parsing.
    public func appendSightings(_ sightings: [NewSighting]) throws {
        guard !sightings.isEmpty else { return }
        try store.write { db in try db.insertSightings(sightings) }
    }

    /// Ends a source in one transaction with its last sightings. Status is `complete`
    /// (`damage == nil`) or `failed` with the damage as its error. If another source with
    /// the same SHA-256 is already complete, this source and its sightings are removed
    /// instead and `.duplicate(path)` returned. Sources finish one at a time
    /// (`AppendLock.sources`), so that of two workers finishing the same content under two
    /// paths, the second sees the first complete.
    public func finishSource(
        _ sourceID: Int64, sha256: String, summary: ReadSummary, lastSightings: [NewSighting]
    ) throws -> SourceOutcome {
        try store.write { db in
            try db.serialize(.sources)
            guard try db.fetchValue(Bool.self, sql: "SELECT EXISTS (SELECT 1 FROM sources WHERE id = ?)", arguments: [sourceID]) == true
            else { throw CaseStoreError.unknownSource(sourceID) }
            try db.insertSightings(lastSightings)
            if let other = try db.fetchValue(String.self, sql: "SELECT path FROM sources WHERE sha256 = ? AND status = 'complete' AND id != ?",
                arguments: [sha256, sourceID])
            {
                try db.execute(sql: "DELETE FROM sources WHERE id = ?", arguments: [sourceID])
                return .duplicate(other)
            }
            let status = summary.damage == nil ? "complete" : "failed"
            try db.execute(
                sql: """
                    UPDATE sources SET status = ?, error = ?, sha256 = ?, packets = ?, lines = ?, bytes = ?,
                        anomalies = ?, notes = ?, finished_at = ?,
                        packets_decoded = ?, packets_anomalous = ?, packets_undecodable = ?, packets_filtered = ?,
                        bytes_consumed = ?, bytes_unread = ?, line_bytes = ?, separator_bytes = ?, cut_bytes = ?,
                        unverified_from_line = ?
                    WHERE id = ?
                    """,
                arguments: [
                    status, summary.damage, sha256,
                    Int64(clamping: summary.packets), Int64(clamping: summary.lines), Int64(clamping: summary.bytes),
                    try CaseDatabase.json(summary.anomalies),
                    summary.notes.isEmpty ? nil : summary.notes.joined(separator: "\n"),
                    Timestamp.now.iso8601,
                    Int64(clamping: summary.packetsDecoded), Int64(clamping: summary.packetsAnomalous),
                    Int64(clamping: summary.packetsUndecodable), Int64(clamping: summary.packetsFiltered),
                    Int64(clamping: summary.bytesConsumed), Int64(clamping: summary.bytesUnread),
                    Int64(clamping: summary.lineBytes), Int64(clamping: summary.separatorBytes),
                    Int64(clamping: summary.cutBytes), summary.unverifiedFromLine.map { Int64(clamping: $0) },
                    sourceID,
                ])
            if let damage = summary.damage { return .failed(damage) }
            return .complete
        }
    }

    /// Records a source that could not be read at all (missing, unreadable, not a
    /// capture), replacing earlier incomplete or failed records of the same path. Its
    /// size is NULL: nothing is known about the file. A worker records it only while it
    /// holds `lease`.
    public func recordFailedSource(
        path: String, kind: SourceKind?, reason: String, runID: Int64, lease: QueueLease? = nil
    ) throws {
        try store.write { db in
            try CaseDatabase.holdLease(lease, in: db)
            try CaseDatabase.removeUnfinished(path: path, in: db)
            let now = Timestamp.now.iso8601
            try db.execute(
                sql: """
                    INSERT INTO sources (run_id, path, kind, status, error, started_at, finished_at)
                    VALUES (?, ?, ?, 'failed', ?, ?, ?)
                    """,
                arguments: [runID, path, kind?.rawValue, reason, now, now])
        }
    }

    /// Every source record, oldest first.
    public func sources() throws -> [SourceRow] {
        try store.read { db in
            try db.fetchAll(sql: """
                SELECT s.id, s.run_id, s.path, s.size, s.sha256, s.kind, s.status, s.error, s.packets, s.lines,
                       s.bytes, s.anomalies, s.notes, s.started_at, s.finished_at,
                       s.packets_decoded, s.packets_anomalous, s.packets_undecodable, s.packets_filtered,
                       s.bytes_consumed, s.bytes_unread, s.line_bytes, s.separator_bytes, s.cut_bytes,
                       s.unverified_from_line, r.log_timezone, r.log_year, r.line_limit, r.decompressed_limit
                FROM sources s JOIN runs r ON r.id = s.run_id ORDER BY s.id
                """
            ).map { row in
                let anomalyText: String = try row.decode(forColumn: "anomalies")
                let notes: String? = try row.decode(forColumn: "notes")
                let size: Int64? = try row.decode(forColumn: "size")
                let kind: String? = try row.decode(forColumn: "kind")
                return SourceRow(
                    id: try row.decode(forColumn: "id"),
                    runID: try row.decode(forColumn: "run_id"),
                    path: try row.decode(forColumn: "path"),
                    size: size.map { UInt64(clamping: $0) },
                    sha256: try row.decode(forColumn: "sha256"),
                    kind: kind.flatMap(SourceKind.init(rawValue:)),
                    status: try row.decode(forColumn: "status"),
                    error: try row.decode(forColumn: "error"),
                    packets: try CaseDatabase.unsigned(row.decode(forColumn: "packets")),
                    lines: try CaseDatabase.unsigned(row.decode(forColumn: "lines")),
                    bytes: try CaseDatabase.unsigned(row.decode(forColumn: "bytes")),
                    anomalies: CaseDatabase.anomalies(fromJSON: anomalyText),
                    notes: notes.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? [],
                    startedAt: try row.decode(forColumn: "started_at"),
                    finishedAt: try row.decode(forColumn: "finished_at"),
                    account: try SourceAccount(row),
                    logSettings: try LogSettings(row),
                    unverifiedFromLine: (try row.decode(forColumn: "unverified_from_line") as Int64?).map {
                        UInt64(clamping: $0)
                    })
            }
        }
    }

    /// Sightings (of one incident, or all), ordered by time, source path, locator, with
    /// the incident each belongs to (nil when none does). `limit` and `offset` take a
    /// page of them (a browser shows an incident's first thousands, not its millions).
    public func sightings(
        incident: Int64?, includeSuppressed: Bool = false, limit: Int? = nil, offset: Int = 0
    ) throws -> [SightingRow] {
        var order = "ORDER BY s.time_ns, src.path, s.locator, s.byte_offset, s.id"
        if let limit { order += " LIMIT \(max(0, limit)) OFFSET \(max(0, offset))" }
        let sql: String
        let arguments: StoreArguments
        if let incident {
            sql = """
                SELECT l.incident_id, \(CaseDatabase.sightingColumns)
                FROM incident_members l JOIN sightings s ON s.id = l.sighting_id \(CaseDatabase.sightingJoins)
                WHERE l.incident_id = ? \(order)
                """
            arguments = [incident]
        } else {
            sql = """
                SELECT (SELECT MIN(l.incident_id) FROM incident_members l WHERE l.sighting_id = s.id) AS incident_id,
                       \(CaseDatabase.sightingColumns)
                FROM sightings s \(CaseDatabase.sightingJoins)
                \(includeSuppressed ? "" : "WHERE s.suppressed_by IS NULL") \(order)
                """
            arguments = []
        }
        return try store.read { db in
            var rows: [SightingRow] = []
            try CaseDatabase.forEachSightingRow(sql: sql, arguments: arguments, in: db) { rows.append($0) }
            return rows
        }
    }

    /// One sighting by id, with the (lowest) incident it belongs to; nil when no sighting
    /// has this id.
    public func sighting(_ id: Int64) throws -> SightingRow? {
        // The id is given twice rather than the subquery referring to `s.id`: with a
        // value, not a column, the store looks the sighting up in each arm of
        // incident_members instead of listing every member (0.65 s at 1 M sightings).
        let sql = """
            SELECT (SELECT MIN(l.incident_id) FROM incident_members l WHERE l.sighting_id = ?) AS incident_id,
                   \(CaseDatabase.sightingColumns)
            FROM sightings s \(CaseDatabase.sightingJoins) WHERE s.id = ?
            """
        return try store.read { db in
            var found: SightingRow?
            try CaseDatabase.forEachSightingRow(sql: sql, arguments: [id, id], in: db) { found = $0 }
            return found
        }
    }

    /// The columns of a sighting as `SightingRow.Columns` names them, after an
    /// `incident_id` column, and the joins they come from (`s` is the sighting).
    static let sightingColumns = """
        s.id, src.path AS source_path, src.sha256 AS source_sha256, s.locator_kind, s.locator, s.byte_offset,
        s.time_ns, i.type AS indicator_type, i.value AS indicator_value, s.observed, s.field, s.host, i.rule_file,
        i.rule_line, i.source AS indicator_source, i.severity AS indicator_severity,
        r.name AS resolved_name, r.packet AS resolution_packet, r.time_ns AS resolution_time_ns,
        rsrc.path AS resolution_source_path, s.suppressed_by, s.context, s.packets, s.bytes, s.last_time_ns,
        (s.locator_kind = 'line' AND s.locator >= src.unverified_from_line) AS unverified, s.host_name
        """
    static let sightingJoins = """
        JOIN sources src ON src.id = s.source_id
        JOIN indicators i ON i.id = s.indicator_id
        LEFT JOIN resolutions r ON r.id = s.derived_from
        LEFT JOIN sources rsrc ON rsrc.id = r.source_id
        """

    /// Calls `body` with each row of a query selecting `incident_id` and
    /// `sightingColumns`, its columns found by name once (`SightingRow.Columns`).
    static func forEachSightingRow(
        sql: String, arguments: StoreArguments, in db: any StoreSession, _ body: (SightingRow) throws -> Void
    ) throws {
        var pool = StringPool()
        try db.forEachRow(sql: sql, arguments: arguments, positions: SightingRow.Columns.init) { row, columns in
            try body(SightingRow(row, columns: columns, pool: &pool))
        }
    }

    /// Strings that repeat on many rows, kept once each.
    struct StringPool {
        private var strings: [String: String] = [:]

        mutating func shared(_ text: String) -> String {
            if let known = strings[text] { return known }
            strings[text] = text
            return text
        }
    }

    // MARK: Maintenance

    /// The store's check of its storage (SQLite's `PRAGMA integrity_check`):
    /// `["ok"]` for a sound case.
    public func integrityCheck() throws -> [String] {
        try store.integrityCheck()
    }

    // MARK: Helpers

    /// Removes the records of `path` that are not complete; their sightings (and links
    /// to incidents) go with them by cascade.
    private static func removeUnfinished(path: String, in db: any StoreSession) throws {
        try db.execute(sql: "DELETE FROM sources WHERE path = ? AND status != 'complete'", arguments: [path])
    }

    /// The `locator_kind`, `locator` and `byte_offset` columns of a locator.
    static func locatorColumns(_ locator: Locator) -> (kind: String, number: UInt64, offset: Int64?) {
        switch locator {
        case .packet(let packet): ("packet", packet, nil)
        case .line(let line, let byteOffset): ("line", line, Int64(clamping: byteOffset))
        }
    }

    /// Anomaly counts as a JSON object, keys sorted so equal counts give equal text.
    private static func json(_ anomalies: AnomalyCounts) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(anomalies.counts), as: UTF8.self)
    }

    /// Anomaly counts read back by name: a case written by another version may name
    /// kinds this one does not record, and they are kept.
    private static func anomalies(fromJSON text: String) -> AnomalyCounts {
        guard let decoded = try? JSONDecoder().decode([String: UInt64].self, from: Data(text.utf8)) else {
            return AnomalyCounts()
        }
        return AnomalyCounts(counts: decoded)
    }

    private static func unsigned(_ value: Int64) -> UInt64 { UInt64(clamping: value) }
}

/// What went wrong in the case database, beyond SQLite's own errors (`DatabaseError`).
public enum CaseStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database file could not be created.
    case cannotCreate(path: String, reason: String)
    /// `finishRun` was given an id that no run has.
    case unknownRun(Int64)
    /// `finishSource` was given an id that no source has (it was removed, or never begun).
    case unknownSource(Int64)
    /// An indicator could be neither inserted nor found.
    case indicatorNotStored(String)
    /// A row holds a value this version cannot read.
    case corruptRow(String)
    /// No incident has this id.
    case unknownIncident(Int64)
    /// The incident was merged into another by a later run; triage that one.
    case mergedIncident(Int64, into: Int64)
    /// The database has migrations this version does not know: a newer Cairn wrote it.
    case newerSchema(path: String, migrations: [String])
    /// The backup to take before a migration already exists (an earlier attempt).
    case backupExists(String)
    /// Another process holds the case's writer lock.
    case busy(String)
    /// A `postgresql://` URL that cannot be used (its password removed).
    case badLocation(url: String, reason: String)
    /// Workers hold the case's writer lock, which `cairn ingest` wants alone.
    case workersBusy(String)
    /// The worker's lease of the file at this path ran out and another worker took it.
    case leaseLost(String)
    /// The work queue was asked of a case that is not in PostgreSQL.
    case queueNeedsPostgreSQL(String)
    /// A case is copied only into a new or empty one: this one holds rows in these tables.
    case destinationNotEmpty(String, tables: [String])
    /// A copy into this case was refused, or did not check out, and rolled back.
    case copyRefused(destination: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason): "cannot create case database \(path): \(reason)"
        case .unknownRun(let id): "no run with id \(id) in the case database"
        case .unknownSource(let id): "no source with id \(id) in the case database (removed by another run?)"
        case .indicatorNotStored(let value): "indicator \(value) could not be stored in the case database"
        case .corruptRow(let detail): "unreadable row in the case database: \(detail)"
        case .unknownIncident(let id): "no incident with id \(id) in the case database"
        case .mergedIncident(let id, let into): "incident \(id) was merged into incident \(into); use \(into)"
        case .newerSchema(let path, let migrations):
            "case database \(path) was written by a newer version of Cairn (schema \(migrations.joined(separator: ", ")) "
                + "is unknown to this one); open it with that version or newer. It was not changed."
        case .badLocation(let url, let reason): "case database \(url): \(reason)"
        case .workersBusy(let path):
            "cairn workers are ingesting into case database \(path); queue the files for them (cairn queue add) "
                + "or wait for them to stop"
        case .leaseLost(let path):
            "\(path): this worker's lease ran out and another worker took the file; its reading here is discarded"
        case .queueNeedsPostgreSQL(let location):
            "\(location) is not a PostgreSQL case: the work queue (cairn queue, cairn worker) is that of a shared case "
                + "(--db postgresql://…); ingest into an SQLite case with cairn ingest"
        case .destinationNotEmpty(let location, let tables):
            "case database \(location) is not empty (it holds rows in \(tables.joined(separator: ", "))): a case is "
                + "copied only into a new or empty case database. It was not changed."
        case .copyRefused(let destination, let reason):
            "the case was not copied to \(destination): \(reason). It was not changed."
        case .busy(let path):
            "another cairn ingest is writing to case database \(path); wait for it to finish, or use another --db"
        case .backupExists(let backup):
            "the backup to take before upgrading the case database, \(backup), already exists; "
                + "move it away (it may hold an earlier copy of the case) and run again"
        }
    }
}

/// Who takes the case's writer lock (`CaseDatabase.lockForWriting`).
public enum WriterLockMode: Sendable {
    /// `cairn ingest`: no other writer while it holds the lock.
    case alone
    /// A `cairn worker`: other workers too, no `cairn ingest`.
    case shared
}

/// The case's writer lock (`CaseDatabase.lockForWriting`), held until it goes away.
public final class WriterLock: Sendable {
    private let release: @Sendable () -> Void

    init(release: @escaping @Sendable () -> Void) { self.release = release }

    deinit { release() }
}

/// A source as recorded.
public struct SourceRow: Sendable, Equatable {
    public var id: Int64
    public var runID: Int64
    public var path: String
    /// Nil when the file could not be read at all.
    public var size: UInt64?
    public var sha256: String?
    public var kind: SourceKind?
    /// `reading`, `complete` or `failed`.
    public var status: String
    public var error: String?
    public var packets: UInt64
    public var lines: UInt64
    public var bytes: UInt64
    public var anomalies: AnomalyCounts
    public var notes: [String]
    public var startedAt: String
    public var finishedAt: String?
    /// The read account; nil for a source that could not be opened, one still being
    /// read, or one recorded before the account was kept (migration v4).
    public var account: SourceAccount? = nil
    /// How its run read logs; nil for a run recorded before they were kept (migration v6).
    public var logSettings: LogSettings? = nil
    /// For a gzip log that stopped inside a member: the first line of that member, whose
    /// CRC-32 was never checked; that line and the ones after it are unverified.
    public var unverifiedFromLine: UInt64? = nil

    /// Whether the source is a log (or, when its kind is unknown, has lines).
    public var isLog: Bool { kind.map { !$0.isCapture } ?? (lines > 0) }
}

/// How a run reads logs, recorded with it (`runs.log_timezone`, `log_year`,
/// `line_limit`, `decompressed_limit`): what an investigator needs to follow a log
/// sighting's time back to the line, and to know why a line was cut or a file stopped.
public struct LogSettings: Sendable, Equatable {
    /// Offset from UTC, in seconds east, taken for log times written without a zone.
    public var utcOffsetSeconds: Int
    /// The year given for the first RFC 3164 time of each file; nil when inferred per file.
    public var year: Int?
    /// Lines longer than this many bytes were cut.
    public var maximumLineLength: Int
    /// A gzip file was read up to this many decompressed bytes.
    public var maximumDecompressedBytes: UInt64

    public init(utcOffsetSeconds: Int, year: Int?, maximumLineLength: Int, maximumDecompressedBytes: UInt64) {
        self.utcOffsetSeconds = utcOffsetSeconds
        self.year = year
        self.maximumLineLength = maximumLineLength
        self.maximumDecompressedBytes = maximumDecompressedBytes
    }

    /// The offset as ISO 8601 writes it: `+00:00`, `+05:30`, `-03:00`.
    public var timezoneText: String { LogSettings.offsetText(utcOffsetSeconds) }

    /// An offset from UTC in seconds east as ISO 8601 writes it: `+05:30`, `-03:00`.
    public static func offsetText(_ seconds: Int) -> String {
        let minutes = abs(seconds) / 60
        return (seconds < 0 ? "-" : "+") + String(format: "%02d:%02d", minutes / 60, minutes % 60)
    }

    /// In words, as `cairn sources` and the evidence package's log excerpts say it:
    /// `times without a zone at +00:00, the RFC 3164 year inferred per file, lines cut
    /// past 1048576 bytes, gzip read up to 68719476736 decompressed bytes`.
    public var summary: String {
        let year = year.map { "the RFC 3164 year \($0) for each file's first time" } ?? "the RFC 3164 year inferred per file"
        return "times without a zone at \(timezoneText), \(year), lines cut past \(maximumLineLength) bytes, "
            + "gzip read up to \(maximumDecompressedBytes) decompressed bytes"
    }

    /// The settings of a `runs` row joined to a source; nil when the run predates them.
    init?(_ row: StoreRow) throws {
        let timezone: String? = try row.decode(forColumn: "log_timezone")
        let lineLimit: Int? = try row.decode(forColumn: "line_limit")
        let decompressedLimit: Int64? = try row.decode(forColumn: "decompressed_limit")
        guard let timezone, let lineLimit, let decompressedLimit,
              let offset = LogSettings.seconds(fromTimezone: timezone)
        else { return nil }
        self.init(
            utcOffsetSeconds: offset, year: try row.decode(forColumn: "log_year"), maximumLineLength: lineLimit,
            maximumDecompressedBytes: UInt64(clamping: decompressedLimit))
    }

    /// Seconds east of UTC for `+HH:MM` or `-HH:MM`; nil for anything else.
    static func seconds(fromTimezone text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"),
              bytes[3] == UInt8(ascii: ":"), let hours = Int(String(text.dropFirst().prefix(2))),
              let minutes = Int(String(text.suffix(2)))
        else { return nil }
        return (bytes[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}

/// The read account of a source as stored (the `ReadSummary` counts; see there and
/// docs/schema.md for what each bucket holds). Each group adds up:
/// `packets = decoded + anomalous + undecodable + filtered`,
/// `bytesConsumed + bytesUnread = size`, `lineBytes + separatorBytes + cutBytes = bytes`.
public struct SourceAccount: Sendable, Equatable {
    public var packetsDecoded: UInt64
    public var packetsAnomalous: UInt64
    public var packetsUndecodable: UInt64
    public var packetsFiltered: UInt64
    /// File bytes (compressed, for gzip) taken apart, and those left after them.
    public var bytesConsumed: UInt64
    public var bytesUnread: UInt64
    /// Logs: bytes of the lines as handed on, of their line ends, and cut from long lines.
    public var lineBytes: UInt64
    public var separatorBytes: UInt64
    public var cutBytes: UInt64

    public init(
        packetsDecoded: UInt64, packetsAnomalous: UInt64, packetsUndecodable: UInt64, packetsFiltered: UInt64,
        bytesConsumed: UInt64, bytesUnread: UInt64, lineBytes: UInt64, separatorBytes: UInt64, cutBytes: UInt64
    ) {
        self.packetsDecoded = packetsDecoded
        self.packetsAnomalous = packetsAnomalous
        self.packetsUndecodable = packetsUndecodable
        self.packetsFiltered = packetsFiltered
        self.bytesConsumed = bytesConsumed
        self.bytesUnread = bytesUnread
        self.lineBytes = lineBytes
        self.separatorBytes = separatorBytes
        self.cutBytes = cutBytes
    }

    /// The account of a summary.
    public init(_ summary: ReadSummary) {
        self.init(
            packetsDecoded: summary.packetsDecoded, packetsAnomalous: summary.packetsAnomalous,
            packetsUndecodable: summary.packetsUndecodable, packetsFiltered: summary.packetsFiltered,
            bytesConsumed: summary.bytesConsumed, bytesUnread: summary.bytesUnread, lineBytes: summary.lineBytes,
            separatorBytes: summary.separatorBytes, cutBytes: summary.cutBytes)
    }

    /// From a `sources` row; nil when any column is NULL (no account was taken).
    init?(_ row: StoreRow) throws {
        let columns = [
            "packets_decoded", "packets_anomalous", "packets_undecodable", "packets_filtered",
            "bytes_consumed", "bytes_unread", "line_bytes", "separator_bytes", "cut_bytes",
        ]
        var values: [UInt64] = []
        for column in columns {
            guard let value: Int64 = try row.decode(forColumn: column) else { return nil }
            values.append(UInt64(clamping: value))
        }
        self.init(
            packetsDecoded: values[0], packetsAnomalous: values[1], packetsUndecodable: values[2],
            packetsFiltered: values[3], bytesConsumed: values[4], bytesUnread: values[5], lineBytes: values[6],
            separatorBytes: values[7], cutBytes: values[8])
    }

    /// The packets in all buckets (equals `packets` when the account adds up).
    public var packetsAccounted: UInt64 {
        packetsDecoded + packetsAnomalous + packetsUndecodable + packetsFiltered
    }

    /// Consumed plus unread bytes (equals the file's size when the account adds up).
    public var fileBytesAccounted: UInt64 { bytesConsumed + bytesUnread }

    /// Line, separator and cut bytes (equals the decompressed size of a log).
    public var lineBytesAccounted: UInt64 { lineBytes + separatorBytes + cutBytes }
}

/// What became of a finished source.
public enum SourceOutcome: Sendable, Equatable {
    case complete
    case failed(String)
    /// Same SHA-256 as a complete source already recorded at this path: nothing added.
    case duplicate(String)
}

/// A sighting to insert.
public struct NewSighting: Sendable, Hashable {
    public var sourceID: Int64
    public var locator: Locator
    public var time: Timestamp
    /// The indicator's database id.
    public var indicatorID: Int64
    public var observed: String
    public var field: Field
    /// The local host (address text or log host); empty when unknown.
    public var host: String
    /// For a value of a JSON log line, the member it was the value of (`id.resp_h`),
    /// stored as the sighting's `field` in place of `field`'s name.
    public var member: String?
    /// For an IP sighting folding a conversation: the number of packets, their bytes on
    /// the wire, and the last packet's time (nil for a single packet or line).
    public var packets: UInt64 = 1
    public var bytes: UInt64? = nil
    public var lastTime: Timestamp? = nil
    /// The allow-list entry that suppressed the sighting (`file:line value`), if one did.
    public var suppressedBy: String?
    /// The other indicator values the observation matched (wider ranges, parent
    /// domains), most specific first.
    public var context: [String]

    public init(
        sourceID: Int64, locator: Locator, time: Timestamp, indicatorID: Int64, observed: String, field: Field,
        host: String, member: String? = nil, suppressedBy: String? = nil, context: [String] = []
    ) {
        self.sourceID = sourceID
        self.locator = locator
        self.time = time
        self.indicatorID = indicatorID
        self.observed = observed
        self.field = field
        self.host = host
        self.member = member
        self.suppressedBy = suppressedBy
        self.context = context
    }
}

/// A sighting as listed, with its provenance.
public struct SightingRow: Sendable, Hashable {
    public var id: Int64
    public var incidentID: Int64?
    public var sourcePath: String
    public var sourceSHA256: String
    public var locator: Locator
    public var time: Timestamp
    public var indicatorType: String
    public var indicatorValue: String
    public var observed: String
    public var field: String
    public var host: String
    public var ruleFile: String
    public var ruleLine: Int
    /// The feed the rule file names for the indicator (`source`), if any.
    public var indicatorSource: String?
    /// The severity the rule file gives the indicator, if any.
    public var indicatorSeverity: String?
    /// For a sighting derived from a DNS resolution (a connection to an address that a
    /// domain indicator resolved to), that resolution; nil for a direct sighting.
    public var derivedFrom: Derivation? = nil
    /// For an IP sighting of a conversation: its packets, their bytes on the wire, and
    /// the last packet's time (nil for one packet or line).
    public var packets: UInt64 = 1
    public var bytes: UInt64? = nil
    public var lastTime: Timestamp? = nil
    /// The allow-list entry that suppressed it, if one did (such sightings are in no
    /// incident and listed only on request).
    public var suppressedBy: String? = nil
    /// The other indicator values the observation matched, most specific first.
    public var context: [String] = []
    /// Whether its line comes from a gzip member whose CRC-32 was never checked (reading
    /// stopped inside it: `SourceRow.unverifiedFromLine`).
    public var unverified = false
    /// For a log sighting whose header's host name a DHCP lease in the case resolved:
    /// that name (`host` then holds the address; `HostNames.swift`).
    public var hostName: String? = nil
}

extension SightingRow {
    /// Where the columns of `CaseDatabase.sightingColumns` (and `incident_id`) sit in
    /// one statement's result: found by name once, then read on every row by position
    /// (`StoreColumns`), since the export reads every sighting of its incidents.
    struct Columns {
        let incidentID, id, sourcePath, sourceSHA256, locatorKind, locator, byteOffset, time: Int
        let indicatorType, indicatorValue, observed, field, host, ruleFile, ruleLine, indicatorSource: Int
        let indicatorSeverity, resolvedName, resolutionPacket, resolutionTime, resolutionSourcePath: Int
        let suppressedBy, context, packets, bytes, lastTime, unverified, hostName: Int

        init(_ columns: StoreColumns) throws {
            let position = columns.position(of:)
            incidentID = try position("incident_id")
            id = try position("id")
            sourcePath = try position("source_path")
            sourceSHA256 = try position("source_sha256")
            locatorKind = try position("locator_kind")
            locator = try position("locator")
            byteOffset = try position("byte_offset")
            time = try position("time_ns")
            indicatorType = try position("indicator_type")
            indicatorValue = try position("indicator_value")
            observed = try position("observed")
            field = try position("field")
            host = try position("host")
            ruleFile = try position("rule_file")
            ruleLine = try position("rule_line")
            indicatorSource = try position("indicator_source")
            indicatorSeverity = try position("indicator_severity")
            resolvedName = try position("resolved_name")
            resolutionPacket = try position("resolution_packet")
            resolutionTime = try position("resolution_time_ns")
            resolutionSourcePath = try position("resolution_source_path")
            suppressedBy = try position("suppressed_by")
            context = try position("context")
            packets = try position("packets")
            bytes = try position("bytes")
            lastTime = try position("last_time_ns")
            unverified = try position("unverified")
            hostName = try position("host_name")
        }
    }

    /// One row of a statement selecting `incident_id` and `CaseDatabase.sightingColumns`;
    /// the strings that repeat from row to row (paths, digests, values) come from `pool`.
    init(_ row: StoreRow, columns: Columns, pool: inout CaseDatabase.StringPool) throws {
        let kind: String = try row.decode(atIndex: columns.locatorKind)
        let number = UInt64(clamping: try row.decode(atIndex: columns.locator) as Int64)
        let locator: Locator
        switch kind {
        case "packet": locator = .packet(number)
        case "line":
            let offset: Int64? = try row.decode(atIndex: columns.byteOffset)
            locator = .line(number: number, offset: offset.map { UInt64(clamping: $0) } ?? 0)
        default: throw CaseStoreError.corruptRow("a sighting has locator kind \(kind)")
        }
        var derivation: Derivation? = nil
        if let name: String = try row.decode(atIndex: columns.resolvedName) {
            derivation = Derivation(
                name: name, sourcePath: try row.decode(atIndex: columns.resolutionSourcePath) ?? "",
                packet: UInt64(clamping: try row.decode(atIndex: columns.resolutionPacket) as Int64),
                time: Timestamp(nanoseconds: try row.decode(atIndex: columns.resolutionTime)))
        }
        let sha256: String? = try row.decode(atIndex: columns.sourceSHA256)
        let context: String? = try row.decode(atIndex: columns.context)
        self.init(
            id: try row.decode(atIndex: columns.id),
            incidentID: try row.decode(atIndex: columns.incidentID),
            sourcePath: pool.shared(try row.decode(atIndex: columns.sourcePath)),
            sourceSHA256: pool.shared(sha256 ?? ""),
            locator: locator,
            time: Timestamp(nanoseconds: try row.decode(atIndex: columns.time)),
            indicatorType: pool.shared(try row.decode(atIndex: columns.indicatorType)),
            indicatorValue: pool.shared(try row.decode(atIndex: columns.indicatorValue)),
            observed: pool.shared(try row.decode(atIndex: columns.observed)),
            field: pool.shared(try row.decode(atIndex: columns.field)),
            host: pool.shared(try row.decode(atIndex: columns.host)),
            ruleFile: pool.shared(try row.decode(atIndex: columns.ruleFile)),
            ruleLine: try row.decode(atIndex: columns.ruleLine),
            indicatorSource: try row.decode(atIndex: columns.indicatorSource),
            indicatorSeverity: try row.decode(atIndex: columns.indicatorSeverity),
            derivedFrom: derivation,
            packets: UInt64(clamping: try row.decode(atIndex: columns.packets) as Int64),
            bytes: (try row.decode(atIndex: columns.bytes) as Int64?).map { UInt64(clamping: $0) },
            lastTime: (try row.decode(atIndex: columns.lastTime) as Int64?).map(Timestamp.init(nanoseconds:)),
            suppressedBy: try row.decode(atIndex: columns.suppressedBy),
            context: context.map { $0.split(separator: ",").map(String.init) } ?? [],
            unverified: (try row.decode(atIndex: columns.unverified) as Bool?) ?? false,
            hostName: try row.decode(atIndex: columns.hostName))
    }
}

/// The DNS answer a derived sighting comes from.
public struct Derivation: Sendable, Hashable, CustomStringConvertible {
    /// The name that matched the domain indicator.
    public var name: String
    /// The capture holding the DNS response, and its packet number.
    public var sourcePath: String
    public var packet: UInt64
    public var time: Timestamp

    /// `resolved evil.example in office-lan.pcap packet 3 at 2026-03-02T09:00:05Z`.
    public var description: String {
        let file = sourcePath.split(separator: "/").last.map(String.init) ?? sourcePath
        return "resolved \(name) in \(file) packet \(packet) at \(time.iso8601)"
    }
}
