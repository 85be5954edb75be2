import ByteParsing
import CaptureDecoding
import CaseStore
import Concurrency
import Correlation
import Foundation
import Indicators
import LogReading
import Observations

/// What `cairn ingest` was asked to do.
public struct IngestOptions: Sendable {
    /// Rule files or directories.
    public var rulePaths: [String]
    public var databasePath: String
    /// Files read at once (one reader per file). When there are fewer files than jobs,
    /// each gzip log is inflated on a thread of its own besides its reader's.
    public var jobs: Int
    /// BPF expression applied to captures.
    public var filter: String?
    /// The year of the first RFC 3164 log timestamp of each file; nil infers it from the
    /// file's modification time.
    public var year: Int?
    /// Offset from UTC, in seconds east, of log times written without a zone.
    public var utcOffsetSeconds: Int
    /// Log lines longer than this many bytes are cut (anomaly `log.line_too_long`).
    public var maximumLineLength = LogReadingOptions.defaultMaximumLineLength
    /// The decompression-bomb guard: a gzip log is read up to this many decompressed
    /// bytes, and the file is reported as failed where it was stopped.
    public var maximumDecompressedBytes = LogReadingOptions.defaultMaximumDecompressedBytes
    /// How long after a DNS answer for a domain indicator a connection of the same host
    /// to one of the answer's addresses is sighted as derived from it, in seconds.
    public var dnsHorizonSeconds: Int64 = 3600
    /// Where compiled rule sets are kept between runs (`CompiledRuleCache`); nil: no
    /// cache, the rules are parsed and compiled on every run.
    public var tableCacheDirectory: String? = nil
    /// Recorded with the run.
    public var commandLine: String
    public var version: String

    public init(
        rulePaths: [String], databasePath: String, jobs: Int, filter: String?, year: Int?,
        utcOffsetSeconds: Int = 0, commandLine: String, version: String
    ) {
        self.utcOffsetSeconds = utcOffsetSeconds
        self.rulePaths = rulePaths
        self.databasePath = databasePath
        self.jobs = max(1, jobs)
        self.filter = filter
        self.year = year
        self.commandLine = commandLine
        self.version = version
    }
}

/// The outcome of one source.
public struct SourceResult: Sendable {
    public enum Status: Sendable, Equatable {
        case complete
        /// Read in part or not at all; the reason says which file, where, and what.
        case failed(String)
        /// Same content as a source already in the case (its path).
        case duplicate(String)
    }

    public var path: String
    /// Size of the file in bytes (0 when it could not be opened).
    public var size: UInt64
    public var kind: SourceKind?
    public var status: Status
    public var summary: ReadSummary
    public var sightings: UInt64
    /// Of `sightings`, those an allow list suppressed.
    public var suppressed: UInt64 = 0
    /// Wall time spent writing this source's sightings to the case database (its
    /// batches and the final transaction that completes it).
    public var storeSeconds = 0.0
    /// The source record the file has in the case, if it has one.
    public var sourceID: Int64? = nil
    /// Whether the file failed because the case store could not be reached (the
    /// connection was cut): a worker gives such a file back instead of failing it.
    public var storeUnreachable = false
    /// A capture's DNS chains, found as it was read: the chain search then need not read
    /// it again.
    var chainContacts: ChainContacts? = nil
}

/// What one run did.
public struct IngestReport: Sendable {
    public var sources: [SourceResult] = []
    public var ruleErrors: [RuleError] = []
    /// Rule lines skipped with a warning (e.g. port-specific indicators); they do not
    /// make the run fail. `cairn rules check` lists them.
    public var ruleWarningCount = 0
    public var indicatorCount = 0
    /// Whether the compiled rules came from the compiled rule cache, were written to it,
    /// or why not.
    public var ruleCache: CompiledRuleCache.Outcome = .disabled
    /// Of `elapsedSeconds`, the time spent loading and compiling the rules (or reading
    /// them from the cache, keying included).
    public var ruleSeconds = 0.0
    /// Of `ruleSeconds`, the time spent keying the cache: hashing the rule files, the
    /// executable and the public suffix list (zero without a cache).
    public var ruleKeyingSeconds = 0.0
    public var incidentCount = 0
    public var elapsedSeconds = 0.0
    /// Of `elapsedSeconds`, the time spent correlating the case's sightings into incidents.
    public var correlationSeconds = 0.0
    /// Sightings derived from DNS resolutions of domain indicators (DNS chains).
    public var derivedSightings = 0
    /// Log host names resolved to addresses by the DHCP leases in the case, and those
    /// left as names because the case gives them several addresses.
    public var hostNames = HostNameResolution()
    /// Sources searched for DNS chains.
    public var sourcesSearchedForChains = 0
    /// Sources that could not be searched for DNS chains: which file, what is wrong.
    public var chainProblems: [String] = []
    /// Errors in correlation rule files (`file:line:column: error: …`); the rest of
    /// the rules are used.
    public var correlationErrors: [String] = []

    public var failed: [SourceResult] {
        sources.filter { if case .failed = $0.status { true } else { false } }
    }
    public var packets: UInt64 { sources.reduce(0) { $0 + $1.summary.packets } }
    public var lines: UInt64 { sources.reduce(0) { $0 + $1.summary.lines } }
    public var bytes: UInt64 { sources.reduce(0) { $0 + $1.summary.bytes } }
    public var sightings: UInt64 { sources.reduce(0) { $0 + $1.sightings } }
    public var suppressed: UInt64 { sources.reduce(0) { $0 + $1.suppressed } }
    /// Wall time the readers spent writing sightings, summed over sources (with
    /// `--jobs` above 1 it can exceed the part of `elapsedSeconds` it overlaps).
    public var storeSeconds: Double { sources.reduce(0) { $0 + $1.storeSeconds } }
    /// True when a source failed, a rule line was bad, or a source could not be searched
    /// for DNS chains: the command exits non-zero.
    public var hadProblems: Bool {
        !failed.isEmpty || !ruleErrors.isEmpty || !chainProblems.isEmpty || !correlationErrors.isEmpty
    }
}

/// Why a run stopped, or why part of it could not be done: what it was doing, on which
/// file, and the error beneath (`cause`), kept for callers that need more than the one
/// line `description` gives the user.
public enum IngestError: Error, CustomStringConvertible {
    /// The `--filter` expression does not compile; `problem` is libpcap's message.
    case filterDoesNotCompile(filter: String, problem: String)
    /// The case database at `path` could not be opened, created or migrated.
    case cannotOpenCase(path: String, cause: any Error)
    /// The case's writer lock could not be taken (another ingest holds it, or the file
    /// cannot be opened).
    case cannotLockCase(CaseStoreError)
    /// The case database at `path` failed during the run (a write, correlation); the
    /// transaction was rolled back.
    case caseStore(path: String, cause: any Error)
    /// Indicators the matcher found could not be stored, so neither could their
    /// sightings; `indicator` names the first, or is nil for a whole batch.
    case indicatorNotStored(indicator: String?)
    /// The table cache file the indicators are read from failed while they were read.
    case indicatorsUnreadable
    /// The file at `path` was not searched for DNS chains because its content changed
    /// since it was read: it now has SHA-256 `found`, the case holds `stored`.
    case changedSinceRead(path: String, found: String, stored: String)
    /// The file at `path` could not be searched for DNS chains.
    case chainSearchFailed(path: String, cause: any Error)

    /// The error beneath, if there is one.
    public var cause: (any Error)? {
        switch self {
        case .cannotOpenCase(_, let cause), .caseStore(_, let cause), .chainSearchFailed(_, let cause): cause
        case .cannotLockCase(let error): error
        case .filterDoesNotCompile, .indicatorNotStored, .indicatorsUnreadable, .changedSinceRead: nil
        }
    }

    /// The case store's own error beneath, if that is the cause (not SQLite's
    /// `DatabaseError`, nor a file's).
    public var caseStoreError: CaseStoreError? { cause as? CaseStoreError }

    /// One line, as `cairn ingest` prints it after `error: `.
    public var description: String {
        switch self {
        case .filterDoesNotCompile(let filter, let problem): "--filter \"\(filter)\" does not compile: \(problem)"
        case .cannotOpenCase(let path, let cause):
            "\(path): cannot open the case database: \(CaseDatabase.describe(cause))"
        case .cannotLockCase(let error): error.description
        case .caseStore(let path, let cause): "\(path): \(CaseDatabase.describe(cause))"
        case .indicatorNotStored(let indicator?): "the case database did not store indicator \(indicator)"
        case .indicatorNotStored(nil): "the case database did not store every indicator of a batch"
        case .indicatorsUnreadable:
            "the table cache file failed while its indicators were read (a disk error, or the file was cut short); "
                + "run again, or with --no-table-cache"
        case .changedSinceRead(let path, let found, let stored):
            "\(path): not searched for DNS chains: the file changed since it was read "
                + "(SHA-256 \(found), the case holds \(stored))"
        case .chainSearchFailed(let path, let cause):
            "\(path): not searched for DNS chains: \(CaseDatabase.describe(cause))"
        }
    }
}

/// The rules a run matches and correlates with.
struct LoadedRules: Sendable {
    let set: RuleSet
    let table: IndicatorTable
    let correlation: CorrelationRules
}

/// Runs the pipeline: rules → readers (concurrently) → matcher → case store → DNS
/// chains → correlation.
public struct Ingestor: Sendable {
    public let options: IngestOptions
    /// Sightings per batch handed to the writer (`SightingCollector.batchSize`; tests
    /// make it tiny to put many batches through the writer).
    var sightingBatchSize = SightingCollector.batchSize

    public init(options: IngestOptions) {
        self.options = options
    }

    /// Ingests `paths`. `progress` is told as files finish and as bytes are read (from
    /// reader threads). A file that cannot be read is reported in the result, not
    /// thrown; what is thrown stops the run.
    public func run(paths: [String], progress: (any IngestProgress)? = nil) throws(IngestError) -> IngestReport {
        let started = ContinuousClock.now
        var report = IngestReport()

        let rules = try loadRules(into: &report)
        let database = try openCase()
        let writerLock = try lockCase(database, .alone)
        defer { withExtendedLifetime(writerLock) {} }
        let runID = try onCase { try beginRun(on: database, rules: rules) }

        let entries = InputDiscovery.entries(for: paths)
        var results = [SourceResult?](repeating: nil, count: entries.count)
        var files: [(index: Int, path: String)] = []
        for (index, entry) in entries.enumerated() {
            switch entry {
            case .file(let path):
                files.append((index, path))
            case .missing(let path, let reason):
                try onCase { try database.recordFailedSource(path: path, kind: nil, reason: reason, runID: runID) }
                results[index] = SourceResult(
                    path: path, size: 0, kind: nil, status: .failed("\(path): \(reason)"), summary: ReadSummary(), sightings: 0)
            }
        }
        progress?.begin(files: files.count, bytes: files.reduce(0) { $0 + Self.size(of: $1.path) })

        let scanningPool = makeScanningPool()
        defer { scanningPool?.stop() }
        let reader = makeReader(
            database: database, runID: runID, rules: rules, progress: progress, scanningPool: scanningPool,
            inflatesOnSecondThread: files.count < options.jobs)
        let fileResults = Self.forEachConcurrently(files, jobs: options.jobs) { file in
            reader.read(path: file.path)
        }
        for (file, result) in zip(files, fileResults) { results[file.index] = result }
        report.sources = results.compactMap { $0 }
        progress?.end()

        try correlate(database: database, reader: reader, rules: rules, into: &report)
        try onCase {
            try database.finishRun(runID, succeeded: !report.hadProblems)
            _ = try database.appendIngestCustodyEntry(
                runID: runID, commandLine: options.commandLine, toolVersion: options.version, rulesDigest: rules.set.digest)
        }
        report.elapsedSeconds = secondsElapsed(since: started)
        return report
    }

    /// The rules of a run: the indicators, compiled (from the cache when it has them), and
    /// the correlation rules, with their problems noted in `report`. Throws when the
    /// capture filter does not compile.
    func loadRules(into report: inout IngestReport) throws(IngestError) -> LoadedRules {
        if let filter = options.filter, let problem = CaptureReader.filterProblem(filter) {
            throw .filterDoesNotCompile(filter: filter, problem: problem)
        }
        let (rules, table, ruleCache, ruleTiming) = RuleSet.loadCompiled(
            paths: options.rulePaths, cacheDirectory: options.tableCacheDirectory)
        report.ruleErrors = rules.errors
        report.ruleWarningCount = rules.warnings.count
        report.indicatorCount = rules.indicators.count
        report.ruleCache = ruleCache
        report.ruleSeconds = ruleTiming.total
        report.ruleKeyingSeconds = ruleTiming.keying
        let correlation = CorrelationRuleFiles.load(rulePaths: options.rulePaths)
        report.correlationErrors = correlation.diagnostics.map(\.description)
        return LoadedRules(set: rules, table: table, correlation: correlation.rules)
    }

    /// Opens (or creates) the case the options name.
    func openCase() throws(IngestError) -> CaseDatabase {
        do {
            return try CaseDatabase(location: options.databasePath)
        } catch {
            throw .cannotOpenCase(path: PostgresLocation.redactingPasswords(in: options.databasePath), cause: error)
        }
    }

    /// Takes the case's writer lock (`CaseDatabase.lockForWriting`).
    func lockCase(_ database: CaseDatabase, _ mode: WriterLockMode) throws(IngestError) -> WriterLock {
        do {
            return try database.lockForWriting(mode)
        } catch let error as CaseStoreError {
            throw .cannotLockCase(error)
        } catch {
            throw .caseStore(path: database.location, cause: error)
        }
    }

    /// How this run reads logs, as it records them.
    var logSettings: LogSettings {
        LogSettings(
            utcOffsetSeconds: options.utcOffsetSeconds, year: options.year,
            maximumLineLength: options.maximumLineLength, maximumDecompressedBytes: options.maximumDecompressedBytes)
    }

    /// Records the start of a run with these rules; returns its id.
    func beginRun(on database: CaseDatabase, rules: LoadedRules) throws -> Int64 {
        try database.beginRun(
            version: options.version, rulesDigest: rules.set.digest, commandLine: options.commandLine,
            logSettings: logSettings)
    }

    /// The reader of the run's sources, with its sightings writer.
    func makeReader(
        database: CaseDatabase, runID: Int64, rules: LoadedRules, progress: (any IngestProgress)?,
        scanningPool: LineScanPool?, inflatesOnSecondThread: Bool
    ) -> SourceReader {
        let indicatorRecords = IndicatorRecords(rules: rules.set, database: database)
        return SourceReader(
            table: rules.table, indicatorRecords: indicatorRecords, database: database,
            writer: SightingWriter(database: database, indicatorRecords: indicatorRecords), runID: runID,
            sightingBatchSize: sightingBatchSize,
            filter: options.filter, logSettings: logSettings, progress: progress,
            lineRules: rules.correlation.hasLineRules ? rules.correlation : nil,
            scanningPool: scanningPool, inflatesOnSecondThread: inflatesOnSecondThread)
    }

    /// The stage after the sources are read: DNS chains, host names, and the incidents
    /// of the whole case, noted in `report`.
    func correlate(
        database: CaseDatabase, reader: SourceReader, rules: LoadedRules, into report: inout IngestReport
    ) throws(IngestError) {
        var firstPass: [Int64: ChainContacts] = [:]
        for index in report.sources.indices {
            if let sourceID = report.sources[index].sourceID, let found = report.sources[index].chainContacts {
                firstPass[sourceID] = found
            }
            report.sources[index].chainContacts = nil
        }
        let chains = try onCase {
            try DNSChainSearch(
                database: database, reader: reader.withoutProgress, horizon: options.dnsHorizonSeconds * 1_000_000_000,
                jobs: options.jobs, firstPass: firstPass
            ).run()
        }
        report.derivedSightings = chains.derivedSightings
        report.sourcesSearchedForChains = chains.sourcesSearched
        report.chainProblems = chains.problems
        report.hostNames = try onCase { try database.resolveHostNames() }

        let correlationStarted = ContinuousClock.now
        report.incidentCount = try onCase { try database.correlateIncidents(Correlator()) }
        let correlation = rules.correlation
        if !correlation.correlations.isEmpty {
            // Only the sightings some base rule selects take part: the others are not held.
            var selected: [SightingFact] = []
            try onCase {
                try database.forEachSightingFact { fact in
                    if correlation.selectsSighting(RuleIncidentBuilder.sighting(fact)) { selected.append(fact) }
                }
            }
            let lineEvents = try onCase { try database.lineEvents() }
            let ruleIncidents = RuleIncidentBuilder(rules: correlation).incidents(facts: selected, lineEvents: lineEvents)
            try onCase { try database.updateRuleIncidents(ruleIncidents) }
            report.incidentCount += ruleIncidents.count
        }
        report.correlationSeconds = secondsElapsed(since: correlationStarted)
    }

    /// Does one step of the run on the case database; an error there stops the run
    /// and is kept as the cause (`IngestError.caseStore`).
    @discardableResult
    func onCase<Value>(_ step: () throws -> Value) throws(IngestError) -> Value {
        do {
            return try step()
        } catch {
            throw .caseStore(path: PostgresLocation.redactingPasswords(in: options.databasePath), cause: error)
        }
    }

    /// Threads that scan the logs' lines besides the ones reading them
    /// (`LogReader.read(pool:…)`): one pool for every log of the run, with as many
    /// threads as jobs, so that a log read alone, or the last one left, has all the cores
    /// (one file on two cores: two scanning threads and the reading thread, which
    /// inflates, frames and parses headers). Nil with one job: each log is then read and
    /// scanned on its reader's thread.
    func makeScanningPool() -> LineScanPool? {
        options.jobs > 1 ? LineScanPool(threads: options.jobs) : nil
    }

    /// Runs `body` on every element with at most `jobs` at once, on threads of their
    /// own (`WorkerThreads`: readers block on I/O and CPU; they must not starve Swift's
    /// cooperative pool). Results come back in the order of `items`.
    static func forEachConcurrently<Item: Sendable, Result: Sendable>(
        _ items: [Item], jobs: Int, _ body: @escaping @Sendable (Item) -> Result
    ) -> [Result] {
        let next = Lock(0)
        let results = Lock([Result?](repeating: nil, count: items.count))
        let work: @Sendable (Int) -> Void = { _ in
            while true {
                let index = next.withLock { value -> Int in
                    defer { value += 1 }
                    return value
                }
                guard index < items.count else { break }
                let result = body(items[index])
                results.withLock { $0[index] = result }
            }
        }
        let threads = WorkerThreads(count: min(jobs, max(items.count, 1)), stackSize: 4 << 20, work)
        // No thread could be made: the items are read here, one after the other.
        if threads.count == 0 { work(0) }
        threads.join()
        // Every index below items.count was claimed by exactly one worker, which stored
        // its result before it returned.
        return results.withLock { $0.map { $0! } }
    }

    static func size(of path: String) -> UInt64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
