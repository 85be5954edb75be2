import Foundation

/// The work queue of a shared case (`cairn queue`, `cairn worker`): the files to ingest,
/// each `queued`, then `leased` by one worker at a time, then `done` or `failed`. It lives
/// in the case's PostgreSQL database (`queue_files`), so that workers on any number of
/// machines take files from it without a coordinator of their own.
///
/// A worker claims a file with `SELECT … FOR UPDATE SKIP LOCKED` (two workers never get
/// the same file, and neither waits for the other) and holds a lease that it renews while
/// it reads. A worker that dies stops renewing; once its lease has run out, the file goes
/// to the next worker that asks, whose `beginSource` discards what the dead one wrote,
/// as a killed `cairn ingest` is recovered. Every change a worker makes to the file's
/// source record checks, in its transaction, that the lease is still its own
/// (`holdLease`), so a worker that was only slow cannot undo its successor's work.
///
/// Lease times are the server's clock.
extension CaseDatabase {
    /// Times a file is handed out before it is marked failed: a file that cannot be
    /// read, or whose workers all lost their lease on it (a reader that crashes on it).
    public static let attemptsAllowed = 3

    /// What `queue(paths:)` did with each path.
    public enum QueueAddition: Sendable, Equatable {
        /// New in the queue.
        case queued
        /// Done or failed before, queued again.
        case queuedAgain
        /// Already queued or being read: left as it is.
        case alreadyQueued
    }

    /// Queues `paths` (absolute: every worker must find them), in order, in one
    /// transaction. A path done or failed before is queued again, with its attempts
    /// counted from zero; one queued or leased is left as it is.
    public func queue(paths: [String]) throws -> [QueueAddition] {
        try requireQueue()
        return try store.write { db in
            try paths.map { path in
                let inserted = try db.execute(
                    sql: "INSERT INTO queue_files (path) VALUES (?) ON CONFLICT (path) DO NOTHING", arguments: [path])
                if inserted == 1 { return .queued }
                let requeued = try db.execute(
                    sql: """
                        UPDATE queue_files SET status = 'queued', queued_at = now(), worker = NULL, leased_at = NULL,
                            lease_until = NULL, attempts = 0, error = NULL, finished_at = NULL, source_id = NULL,
                            correlated = false
                        WHERE path = ? AND status IN ('done', 'failed')
                        """,
                    arguments: [path])
                return requeued == 1 ? .queuedAgain : .alreadyQueued
            }
        }
    }

    /// Gives `worker` a file that is queued or whose lease has run out, leased for
    /// `leaseSeconds`; nil when there is none. Files tried fewer times come first, then
    /// the oldest: a file one worker could not read goes behind the fresh ones, so that
    /// other workers (which may mount what this one does not) get to try it. A file
    /// whose lease ran out `attemptsAllowed` times is marked failed on the way, not
    /// handed out again.
    public func claimQueuedFile(worker: String, leaseSeconds: Int) throws -> QueueLease? {
        try requireQueue()
        return try store.write { db in
            try db.execute(
                sql: """
                    UPDATE queue_files SET status = 'failed', finished_at = now(), lease_until = NULL,
                        error = 'handed out ' || attempts || ' times, and each worker lost its lease before it finished '
                            || '(killed, or it crashed reading the file); last held by ' || worker
                    WHERE status = 'leased' AND lease_until < now() AND attempts >= ?
                    """,
                arguments: [Self.attemptsAllowed])
            let row = try db.fetchOne(
                sql: """
                    UPDATE queue_files SET status = 'leased', worker = ?, leased_at = now(),
                        lease_until = now() + make_interval(secs => ?), attempts = attempts + 1
                    WHERE id = (
                        SELECT id FROM queue_files
                        WHERE status = 'queued' OR (status = 'leased' AND lease_until < now())
                        ORDER BY attempts, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, path, attempts
                    """,
                arguments: [worker, leaseSeconds])
            return try row.map { row in
                QueueLease(
                    fileID: try row.decode(forColumn: "id"), path: try row.decode(forColumn: "path"), worker: worker,
                    attempt: Int(try row.decode(forColumn: "attempts") as Int64))
            }
        }
    }

    /// Extends `lease` by `seconds` from now; false when it is no longer the worker's
    /// (it ran out and another worker took the file).
    public func renewLease(_ lease: QueueLease, seconds: Int) throws -> Bool {
        try store.write { db in
            try db.execute(
                sql: """
                    UPDATE queue_files SET lease_until = now() + make_interval(secs => ?)
                    WHERE id = ? AND worker = ? AND status = 'leased'
                    """,
                arguments: [seconds, lease.fileID, lease.worker]) == 1
        }
    }

    /// How a worker ends its lease of a file.
    public enum QueueOutcome: Sendable, Equatable {
        /// Read: its source record (nil when it was a duplicate of a source in the case).
        case done(sourceID: Int64?)
        /// Read, but not all of it could be: reading it again would find the same damage.
        case damaged(sourceID: Int64?, reason: String)
        /// Not read (it could not be opened, or reading it failed): queued again for
        /// another worker, unless it has had `attemptsAllowed` attempts.
        case notRead(reason: String)
        /// Not read because the case store could not be reached: queued again, and the
        /// attempt does not count.
        case givenBack
    }

    /// Ends `lease` with `outcome`; false when the lease was no longer the worker's
    /// (another worker has the file, and nothing is changed).
    @discardableResult
    public func finishQueuedFile(_ lease: QueueLease, _ outcome: QueueOutcome) throws -> Bool {
        let (sql, arguments): (String, StoreArguments) = switch outcome {
        case .done(let sourceID):
            ("status = 'done', error = NULL, finished_at = now(), source_id = ?", [sourceID])
        case .damaged(let sourceID, let reason):
            ("status = 'failed', error = ?, finished_at = now(), source_id = ?", [reason, sourceID])
        case .notRead(let reason):
            ("""
             status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, error = ?,
             finished_at = CASE WHEN attempts >= ? THEN now() END
             """, [Self.attemptsAllowed, reason, Self.attemptsAllowed])
        case .givenBack:
            ("status = 'queued', attempts = attempts - 1", [])
        }
        return try store.write { db in
            try db.execute(
                sql: "UPDATE queue_files SET \(sql), lease_until = NULL WHERE id = ? AND worker = ? AND status = 'leased'",
                arguments: arguments + [lease.fileID, lease.worker]) == 1
        }
    }

    /// Every file of the queue, in the order queued.
    public func queuedFiles() throws -> [QueuedFile] {
        try requireQueue()
        return try store.read { db in try Self.queuedFiles(in: db) }
    }

    /// The files of the queue that meet `condition` (SQL), in the order queued.
    private static func queuedFiles(in db: any StoreSession, where condition: String = "true") throws -> [QueuedFile] {
        try db.fetchAll(sql: """
            SELECT id, path, status, worker, attempts, error, source_id, correlated,
                   \(isoTime("queued_at")) AS queued_at, \(isoTime("leased_at")) AS leased_at,
                   \(isoTime("lease_until")) AS lease_until, \(isoTime("finished_at")) AS finished_at
            FROM queue_files WHERE \(condition) ORDER BY id
            """
        ).map { row in
            QueuedFile(
                id: try row.decode(forColumn: "id"), path: try row.decode(forColumn: "path"),
                status: try row.decode(forColumn: "status"), worker: try row.decode(forColumn: "worker"),
                attempts: Int(try row.decode(forColumn: "attempts") as Int64), error: try row.decode(forColumn: "error"),
                sourceID: try row.decode(forColumn: "source_id"), queuedAt: try row.decode(forColumn: "queued_at"),
                leasedAt: try row.decode(forColumn: "leased_at"), leaseUntil: try row.decode(forColumn: "lease_until"),
                finishedAt: try row.decode(forColumn: "finished_at"), correlated: try row.decode(forColumn: "correlated"))
        }
    }

    /// Whether no file is queued or leased.
    public func queueIsDrained() throws -> Bool {
        try requireQueue()
        return try store.read { db in try Self.isDrained(db) }
    }

    /// When the queue is drained: the files done or failed since the case was last
    /// correlated for them (empty when there are none); nil while files are queued or leased.
    public func filesToCorrelate() throws -> [QueuedFile]? {
        try requireQueue()
        // One snapshot: idle workers ask this twice a second each.
        return try store.read { db in
            guard try Self.isDrained(db) else { return nil }
            return try Self.queuedFiles(in: db, where: "status IN ('done', 'failed') AND NOT correlated")
        }
    }

    /// Records that the case was correlated with the files `ids` in it.
    public func markCorrelated(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        // One statement for a drain of any size (the queue is PostgreSQL's alone).
        try store.write { db in
            try db.execute(
                sql: "UPDATE queue_files SET correlated = true WHERE id = ANY (string_to_array(?, ',')::bigint[])",
                arguments: [ids.map(String.init).joined(separator: ",")])
        }
    }

    /// Takes the lock of the stage that follows a drain (DNS chains, correlation, its
    /// custody entry), waiting while another worker holds it: one such stage at a time.
    public func lockForDraining() throws -> WriterLock {
        guard let postgres = store as? PostgresStore else { throw CaseStoreError.queueNeedsPostgreSQL(location) }
        return try postgres.waitForLock(PostgresStore.drainLockKey)
    }

    /// The source record of `lease`'s file must still be the worker's to change:
    /// throws `CaseStoreError.leaseLost` otherwise. Holds the queue row until the
    /// transaction ends, so that no worker takes the file meanwhile. Does nothing
    /// without a lease (`cairn ingest`).
    static func holdLease(_ lease: QueueLease?, in db: any StoreSession) throws {
        guard let lease else { return }
        let held = try db.fetchValue(
            Int64.self,
            sql: "SELECT id FROM queue_files WHERE id = ? AND worker = ? AND status = 'leased' FOR UPDATE",
            arguments: [lease.fileID, lease.worker])
        if held == nil { throw CaseStoreError.leaseLost(lease.path) }
    }

    private static func isDrained(_ db: any StoreSession) throws -> Bool {
        try db.fetchValue(
            Bool.self, sql: "SELECT NOT EXISTS (SELECT 1 FROM queue_files WHERE status IN ('queued', 'leased'))") ?? true
    }

    /// A `timestamptz` column as UTC ISO 8601 text, as the rest of the case writes times.
    private static func isoTime(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    private func requireQueue() throws {
        guard store is PostgresStore else { throw CaseStoreError.queueNeedsPostgreSQL(location) }
    }
}

/// A worker's hold on a file of the queue (`CaseDatabase.claimQueuedFile`).
public struct QueueLease: Sendable, Equatable {
    public let fileID: Int64
    public let path: String
    /// The worker holding it (`host:pid:random`).
    public let worker: String
    /// 1 the first time the file is handed out, 2 the second…
    public let attempt: Int
}

/// A file of the work queue as recorded (`cairn queue status`).
public struct QueuedFile: Sendable, Equatable, Codable {
    public var id: Int64
    public var path: String
    /// `queued`, `leased`, `done` or `failed`.
    public var status: String
    /// The worker holding or last holding it.
    public var worker: String?
    /// Times it was handed out.
    public var attempts: Int
    /// Why it failed (or, queued again, why its last attempt failed).
    public var error: String?
    /// The source record it gave, if any.
    public var sourceID: Int64?
    public var queuedAt: String
    public var leasedAt: String?
    public var leaseUntil: String?
    public var finishedAt: String?
    /// Whether the case was correlated with it in (internal to the drain).
    public var correlated = false
}
