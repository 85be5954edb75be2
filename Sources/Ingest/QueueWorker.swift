import CaseStore
import Concurrency
import Foundation

/// What `cairn worker` is asked to do: read files as `cairn ingest` would (`ingest`),
/// taking them from the case's work queue (docs/scale-out.md).
public struct WorkerOptions: Sendable {
    /// The reading options, the rules and the case, as `cairn ingest` takes them. `jobs`
    /// is the threads one file is read with (a worker reads one file at a time).
    public var ingest: IngestOptions
    /// How long a claimed file stays this worker's without a renewal, in seconds.
    public var leaseSeconds = 60
    /// Stop once nothing is queued or leased, instead of waiting for more files.
    public var untilEmpty = false
    /// How long to wait before asking the queue again when it had nothing to hand out.
    public var pollSeconds = 0.5
    /// The name the worker holds leases under: unique to this process.
    public var name = QueueWorker.uniqueName()

    public init(ingest: IngestOptions) {
        self.ingest = ingest
    }
}

/// What a worker tells as it goes (`cairn worker` prints each as a line).
public enum WorkerEvent: Sendable {
    /// A file was claimed.
    case claimed(QueueLease)
    /// A file was read; `kept` is false when the lease had run out and another worker
    /// took the file meanwhile (nothing of this reading is kept).
    case finished(QueueLease, SourceResult, kept: Bool)
    /// The case could not be reached while reading a file: it was given back to the queue.
    case gaveBack(QueueLease)
    /// The case could not be reached; the worker tries again after `retryInSeconds`.
    case unreachable(String, retryInSeconds: Double)
    /// The queue drained and this worker correlated the case with `files` new files in it.
    case correlated(files: Int, report: IngestReport)
}

/// A `cairn worker`: takes files from the case's work queue one at a time, ingests each
/// under a lease it renews, and, when the queue drains, runs the stage that follows a
/// `cairn ingest`'s reading (DNS chains, host names, correlation) once for the case, so
/// that the case ends with the incidents one `cairn ingest` of the same files gives.
///
/// Many workers, on many machines, share a case: a worker's run is a run of the case,
/// and the sources it reads are that run's. Losing the case's server is waited out
/// (retried with backoff); a file being read meanwhile is given back.
public struct QueueWorker: Sendable {
    public let options: WorkerOptions
    private let ingestor: Ingestor

    public init(options: WorkerOptions) {
        self.options = options
        ingestor = Ingestor(options: options.ingest)
    }

    /// `host:pid:random`: the host and process a lease's holder is, made unique by the
    /// random part (a restarted container has the same host name and process id).
    public static func uniqueName() -> String {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(ProcessInfo.processInfo.hostName):\(getpid()):\(random)"
    }

    /// Works until the queue is drained (`untilEmpty`) or `shouldStop` says so, which it
    /// asks between files. The report holds the files this worker read and the last
    /// correlation it ran. Throws what stops the worker (the rules' filter, the case
    /// refusing a write); an unreachable case is waited out, not thrown.
    public func run(
        shouldStop: @escaping @Sendable () -> Bool = { false },
        events: @escaping @Sendable (WorkerEvent) -> Void = { _ in }
    ) throws(IngestError) -> IngestReport {
        let started = ContinuousClock.now
        var report = IngestReport()
        let rules = try ingestor.loadRules(into: &report)
        let database = try ingestor.openCase()
        let retry = Retry(database: database, events: events)
        let writerLock = try ingestor.lockCase(database, .shared)
        defer { withExtendedLifetime(writerLock) {} }
        let runID = try retry { try ingestor.beginRun(on: database, rules: rules) }

        let scanningPool = ingestor.makeScanningPool()
        defer { scanningPool?.stop() }
        let reader = ingestor.makeReader(
            database: database, runID: runID, rules: rules, progress: nil, scanningPool: scanningPool,
            inflatesOnSecondThread: options.ingest.jobs > 1)
        func correlateIfLast() throws(IngestError) {
            if let drain = try retry({
                try correlateIfDrained(database: database, reader: reader, rules: rules, events: events)
            }) {
                report.noteCorrelation(drain)
            }
        }
        while !shouldStop() {
            guard let lease = try retry({
                try database.claimQueuedFile(worker: options.name, leaseSeconds: options.leaseSeconds)
            }) else {
                try correlateIfLast()
                if options.untilEmpty, try retry({ try database.queueIsDrained() }) { break }
                Thread.sleep(forTimeInterval: options.pollSeconds)
                continue
            }
            events(.claimed(lease))
            let result = read(lease, with: reader, database: database)
            if result.storeUnreachable {
                try retry { try database.finishQueuedFile(lease, .givenBack) }
                events(.gaveBack(lease))
                continue
            }
            let kept = try retry { try database.finishQueuedFile(lease, Self.outcome(of: result)) }
            events(.finished(lease, result, kept: kept))
            if kept { report.sources.append(result) }
            try correlateIfLast()
        }
        _ = try retry { try database.finishRun(runID, succeeded: !report.hadProblems) }
        report.elapsedSeconds = secondsElapsed(since: started)
        return report
    }

    /// Reads the leased file while a thread of its own renews the lease.
    private func read(_ lease: QueueLease, with reader: SourceReader, database: CaseDatabase) -> SourceResult {
        var reader = reader
        reader.lease = lease
        let renewal = LeaseRenewal(database: database, lease: lease, seconds: options.leaseSeconds)
        defer { renewal.stop() }
        return reader.read(path: lease.path)
    }

    /// How the queue records a file's result.
    static func outcome(of result: SourceResult) -> CaseDatabase.QueueOutcome {
        switch result.status {
        case .complete, .duplicate: .done(sourceID: result.sourceID)
        case .failed(let reason) where result.summary.damage != nil: .damaged(sourceID: result.sourceID, reason: reason)
        case .failed(let reason): .notRead(reason: reason)
        }
    }

    /// When the queue is drained and files were read since the case was last correlated:
    /// runs DNS chains, host names and correlation for the whole case, once (under the
    /// drain lock; a worker that waited for it finds the work done), and appends the
    /// custody entry of the files read since.
    private func correlateIfDrained(
        database: CaseDatabase, reader: SourceReader, rules: LoadedRules, events: @Sendable (WorkerEvent) -> Void
    ) throws -> IngestReport? {
        guard let waiting = try database.filesToCorrelate(), !waiting.isEmpty else { return nil }
        let drainLock = try database.lockForDraining()
        defer { withExtendedLifetime(drainLock) {} }
        guard let files = try database.filesToCorrelate(), !files.isEmpty else { return nil }
        var report = IngestReport()
        try ingestor.correlate(database: database, reader: reader, rules: rules, into: &report)
        try database.appendIngestCustodyEntry(
            sources: Set(files.compactMap(\.sourceID)), commandLine: options.ingest.commandLine,
            toolVersion: options.ingest.version, rulesDigest: rules.set.digest)
        try database.markCorrelated(files.map(\.id))
        events(.correlated(files: files.count, report: report))
        return report
    }

    /// Runs a step on the case, waiting out an unreachable server: tried again after 1 s,
    /// then 2, 4… up to 30 s between tries, for as long as it takes (a worker has nothing
    /// else to do). Any other error stops the worker.
    struct Retry {
        let database: CaseDatabase
        let events: @Sendable (WorkerEvent) -> Void
        static let longestWait = 30.0

        @discardableResult
        func callAsFunction<Value>(_ step: () throws -> Value) throws(IngestError) -> Value {
            var wait = 1.0
            while true {
                do {
                    return try step()
                } catch {
                    let cause = (error as? IngestError)?.cause ?? error
                    guard CaseDatabase.isUnreachable(cause) else {
                        if let error = error as? IngestError { throw error }
                        throw .caseStore(path: database.location, cause: error)
                    }
                    events(.unreachable(CaseDatabase.describe(cause), retryInSeconds: wait))
                    Thread.sleep(forTimeInterval: wait)
                    wait = min(wait * 2, Self.longestWait)
                }
            }
        }
    }
}

extension IngestReport {
    /// Takes the outcome of a correlation this worker ran (`correlateIfDrained`): the
    /// case's incidents as of the last one, the chains and time of all of them.
    mutating func noteCorrelation(_ drain: IngestReport) {
        incidentCount = drain.incidentCount
        hostNames = drain.hostNames
        derivedSightings += drain.derivedSightings
        sourcesSearchedForChains += drain.sourcesSearchedForChains
        chainProblems += drain.chainProblems
        correlationSeconds += drain.correlationSeconds
    }
}

/// Renews a lease every third of its length on a thread of its own, until stopped.
/// A renewal that fails (the server unreachable a moment) is tried again at the next
/// tick; a lease found taken is not renewed again (the source's writes then fail the
/// lease check, `CaseDatabase.holdLease`).
final class LeaseRenewal: Sendable {
    private let stopped = Lock(false)
    private let thread: WorkerThreads

    init(database: CaseDatabase, lease: QueueLease, seconds: Int) {
        let stopped = self.stopped
        let interval = Double(seconds) / 3
        thread = WorkerThreads(count: 1, name: "cairn-lease") { _ in
            var due = ContinuousClock.now + .seconds(interval)
            while !stopped.withLock({ $0 }) {
                // Short sleeps: stopping waits for at most one.
                Thread.sleep(forTimeInterval: 0.05)
                guard ContinuousClock.now >= due else { continue }
                due = ContinuousClock.now + .seconds(interval)
                if (try? database.renewLease(lease, seconds: seconds)) == false { break }
            }
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        thread.join()
    }
}

extension QueueWorker {
    /// Queues `paths` in the case's work queue, directories walked as `cairn ingest`
    /// walks them, each file by its absolute path. Paths that do not exist or cannot be
    /// listed come back with the reason, and are not queued.
    public static func queue(
        paths: [String], in database: CaseDatabase
    ) throws -> [(path: String, addition: CaseDatabase.QueueAddition?, problem: String?)] {
        let entries = InputDiscovery.entries(for: paths)
        var files: [String] = []
        for case .file(let path) in entries { files.append(path) }
        var additions = try database.queue(paths: files)[...]
        return entries.map { entry in
            switch entry {
            case .file(let path): (path, additions.popFirst(), nil)
            case .missing(let path, let reason): (path, nil, reason)
            }
        }
    }
}
