import ByteParsing
import CaptureDecoding
import CaseStore
import Correlation
import Foundation
import Indicators
import LogReading
import Observations

/// Reads one source from end to end: detect, skip if already in the case, read with the
/// right reader, match, write, record the outcome. Shared by the reader threads; holds
/// only immutable state.
struct SourceReader: Sendable {
    let table: IndicatorTable
    let indicatorRecords: IndicatorRecords
    let database: CaseDatabase
    /// Writes the sightings (shared by the reader threads).
    let writer: SightingWriter
    let runID: Int64
    /// Sightings per batch handed to the writer.
    var sightingBatchSize = SightingCollector.batchSize
    let filter: String?
    /// How logs are read: the year (nil: inferred per file), the time zone and the
    /// limits, as the run records them.
    let logSettings: LogSettings
    private(set) var progress: (any IngestProgress)?
    /// Correlation rules whose base rules select log lines; nil when there are none.
    var lineRules: CorrelationRules? = nil
    /// Threads that scan the logs' lines besides the ones reading them
    /// (`LogReader.read(pool:…)`), shared by every log of the run; nil scans on the
    /// reading thread.
    var scanningPool: LineScanPool? = nil
    /// Whether a log read with the pool inflates on a thread of its own too (when the run
    /// has cores to spare: the reading thread is then the one that can hold the scanners up).
    var inflatesOnSecondThread = false
    /// The worker's lease of the file it reads (`cairn worker`); nil for `cairn ingest`.
    /// The source record is begun or recorded failed only while the lease holds.
    var lease: QueueLease? = nil

    /// The same reader, telling no one of its progress.
    var withoutProgress: SourceReader {
        var reader = self
        reader.progress = nil
        reader.lineRules = nil
        return reader
    }

    /// Never throws: every problem becomes the source's failure reason, recorded in the
    /// case database where the database itself still works.
    func read(path: String) -> SourceResult {
        var result = SourceResult(path: path, size: 0, kind: nil, status: .complete, summary: ReadSummary(), sightings: 0)
        defer { progress?.finished(result) }
        do {
            let kind = try SourceDetection.kind(ofFile: path)
            result.kind = kind
            let file = try InputFile(path: path)
            result.size = file.size
            if try database.hasCompletedSource(size: file.size),
               let existing = try database.completedSource(sha256: try Self.sha256(of: path)) {
                result.status = .duplicate(existing)
                return result
            }
            let sourceID = try database.beginSource(path: path, size: file.size, kind: kind, runID: runID, lease: lease)
            result.sourceID = sourceID
            var collector = SightingCollector(
                indicatorRecords: indicatorRecords, sourceID: sourceID, writer: writer, lineRules: lineRules,
                batchSize: sightingBatchSize)
            collector.progress = progress
            if kind == .pcap || kind == .pcapng { collector.chains = FirstPassChains() }
            var summary: ReadSummary
            do {
                summary = try readContent(of: file, kind: kind, into: &collector)
            } catch {
                // Nothing could be read as this kind: record the reason, keep the hash.
                try? file.drain()
                summary = ReadSummary()
                summary.bytes = file.bytesRead
                // Nothing was taken apart: the whole file is unread (and still hashed).
                summary.bytesUnread = file.bytesRead
                summary.damage = (error as? CaptureError)?.message ?? "\(error)"
            }
            collector.finish()
            if collector.leasesNotKept > 0 {
                summary.notes.append(
                    "\(collector.leasesNotKept) DHCP lease(s) of host names past the first \(SightingCollector.namesKept) "
                        + "were not kept; those names are not resolved to addresses")
            }
            let written = writer.finish(collector.writes)
            if collector.firstEvent <= collector.lastEvent {
                try database.setEventRange(source: sourceID, first: collector.firstEvent, last: collector.lastEvent)
            }
            if let writeError = written.error {
                // A worker gives the file back when the case cannot be reached: not the file's fault.
                if lease != nil, CaseDatabase.isUnreachable(writeError) { throw writeError }
                summary.damage = "writing sightings failed: \(CaseDatabase.describe(writeError))"
            }
            let finishing = ContinuousClock.now
            let outcome = try database.finishSource(sourceID, sha256: file.sha256Hex, summary: summary, lastSightings: [])
            result.storeSeconds = written.seconds + secondsElapsed(since: finishing)
            result.summary = summary
            result.sightings = collector.total
            result.suppressed = collector.suppressed
            switch outcome {
            case .complete:
                result.status = .complete
                result.chainContacts = collector.chains?.finish()
            case .failed(let reason): result.status = .failed("\(path): \(reason)")
            case .duplicate(let existing):
                result.status = .duplicate(existing)
                result.sourceID = nil
                result.sightings = 0
                result.suppressed = 0
            }
        } catch let error as InputFileError {
            result.status = .failed(error.description)
            result.sourceID = nil
            try? database.recordFailedSource(path: path, kind: result.kind, reason: error.reason, runID: runID, lease: lease)
        } catch let error as CaptureError {
            result.status = .failed(error.description)
            result.sourceID = nil
            try? database.recordFailedSource(path: path, kind: result.kind, reason: error.message, runID: runID, lease: lease)
        } catch {
            result.status = .failed("\(path): \(CaseDatabase.describe(error))")
            result.storeUnreachable = CaseDatabase.isUnreachable(error)
            result.sourceID = nil
            guard !result.storeUnreachable else { return result }
            try? database.recordFailedSource(path: path, kind: result.kind, reason: "\(error)", runID: runID, lease: lease)
        }
        return result
    }

    /// Runs the reader for `kind`. Throws when the file cannot be read as that kind at all.
    private func readContent(of file: InputFile, kind: SourceKind, into collector: inout SightingCollector) throws -> ReadSummary {
        // A local the closure borrows: the collector's lookups then pass it without a copy.
        let table = self.table
        if let scanningPool, kind == .gzip || kind == .text {
            // The lookups run on the scanning threads; only hits come back to the collector
            // (which looks them up again), in the file's order.
            var options = logReadingOptions(for: file)
            // Inflating on a thread of its own too made the 1 GB bench syslog 10% faster
            // on two cores when it was the only file.
            options.inflatesOnSecondThread = inflatesOnSecondThread
            let reader = LogReader(file: file, compressed: kind == .gzip, options: options)
            return reader.read(
                pool: scanningPool, passes: { $0.field == .dhcpLease || table.match($0.value, at: $0.time) != nil },
                observe: { collector.observe($0, matchingIn: table) },
                observedTimes: { collector.noteEventTimes(first: $0, last: $1) },
                wantsLines: lineRules != nil, line: { collector.observeLine($0) }, progress: progressReporter(for: file))
        }
        // A capture's reader takes a core too: counted in, so that the logs read meanwhile
        // scan their own lines while every core has a reader.
        scanningPool?.enter()
        defer { scanningPool?.leave() }
        return try readContent(
            of: file, kind: kind, derived: DerivedObservables(matchableBy: table),
            observe: { collector.observe($0, matchingIn: table) }, line: { collector.observeLine($0) })
    }

    /// Runs the reader for `kind`, handing every observation to `observe` and, for logs,
    /// every line to `line`. Throws when the file cannot be read as that kind at all.
    /// `derived`: the digests and fingerprints to compute (all by default).
    func readContent(
        of file: InputFile, kind: SourceKind, derived: DerivedObservables = .all, observe: (Observation) -> Void,
        line: (LogReader.LineView) -> Void = { _ in }
    ) throws -> ReadSummary {
        let reportProgress = progressReporter(for: file)
        switch kind {
        case .pcap, .pcapng:
            var options = DecodingOptions()
            options.derivedObservables = derived
            let reader = try CaptureReader(file: file, filter: filter, options: options)
            return reader.read(observe: observe, progress: reportProgress)
        case .gzip, .text:
            let reader = LogReader(file: file, compressed: kind == .gzip, options: logReadingOptions(for: file))
            return reader.read(observe: observe, line: line, progress: reportProgress)
        }
    }

    private func progressReporter(for file: InputFile) -> (ReadSummary) -> Void {
        { [progress] _ in progress?.read(bytes: file.bytesRead, path: file.path) }
    }

    /// The year (given, or inferred from the file's time), time zone and limits of a log.
    private func logReadingOptions(for file: InputFile) -> LogReadingOptions {
        var options = LogReadingOptions(
            year: logSettings.year ?? Self.modificationYear(of: file.path),
            maximumLineLength: logSettings.maximumLineLength)
        if logSettings.year == nil { options.yearHint = Self.modificationTime(of: file.path) }
        options.utcOffsetSeconds = logSettings.utcOffsetSeconds
        options.maximumDecompressedBytes = logSettings.maximumDecompressedBytes
        return options
    }

    /// The SHA-256 of a whole file, for the duplicate check before reading.
    static func sha256(of path: String) throws(InputFileError) -> String {
        let file = try InputFile(path: path)
        try file.drain()
        return file.sha256Hex
    }

    static func modificationTime(of path: String) -> Timestamp? {
        guard let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        else { return nil }
        return Timestamp(nanoseconds: Int64(date.timeIntervalSince1970 * 1e9))
    }

    static func modificationYear(of path: String) -> Int {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let date = attributes?[.modificationDate] as? Date ?? Date()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar.component(.year, from: date)
    }
}

extension DerivedObservables {
    /// The digests and fingerprints some indicator of `table` can match: computing the
    /// others (hashing every HTTP body three times, every ClientHello twice) is wasted.
    public init(matchableBy table: IndicatorTable) {
        let types = table.indicatorTypes
        self = []
        if types.contains(.md5) { insert(.fileMD5) }
        if types.contains(.sha1) { insert(.fileSHA1) }
        if types.contains(.sha256) { insert(.fileSHA256) }
        if types.contains(.ja3) { insert(.ja3) }
        if types.contains(.ja4) { insert(.ja4) }
    }
}
