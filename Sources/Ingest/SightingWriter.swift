import CaseStore
import Dispatch
import Synchronization

/// A sighting before it is written: its indicator is named by its index in the rule
/// set, because an indicator gets its case database id only when the writer stores it
/// (`sighting.indicatorID` is set then).
struct PendingSighting: Sendable {
    var indicator: Int
    var sighting: NewSighting
}

/// A DNS resolution before it is written, named the same way as `PendingSighting`.
struct PendingResolution: Sendable {
    var indicator: Int
    var resolution: NewResolution
}

/// What one reader hands the writer at a time: the hits of one source since its last
/// batch.
struct SightingBatch: Sendable {
    var sightings: [PendingSighting] = []
    var resolutions: [PendingResolution] = []
    var hostAddresses: [NewHostAddress] = []
    var lineEvents: [NewLineEvent] = []

    var isEmpty: Bool { sightings.isEmpty && resolutions.isEmpty && hostAddresses.isEmpty && lineEvents.isEmpty }
}

/// Writes the readers' hits to the case database on a thread of its own, so that a
/// reader goes on reading while its batches are written (SQLite has one writer: two
/// readers writing for themselves took turns, each waiting on the other's transaction).
///
/// Batches are written in the order they are handed over: first the indicators the
/// batch names that this run has not stored yet (one transaction), then its
/// sightings, resolutions and line events. At most `queuedBatches` are waiting or being
/// written at a time; a reader handing over one more waits, so memory stays bounded
/// when every line matches. A source whose write failed has its later batches dropped;
/// `finish` reports the error, which fails the source.
final class SightingWriter: Sendable {
    /// The writes of one source: handed to `write`, then to `finish` once.
    final class Source: Sendable {
        fileprivate let pending = DispatchGroup()
        fileprivate let outcome = Mutex<(error: (any Error)?, seconds: Double)>((nil, 0))
    }

    private let database: CaseDatabase
    private let indicatorRecords: IndicatorRecords
    private let queue = DispatchQueue(label: "cairn.sighting-writer")
    private let slots: DispatchSemaphore
    /// Batches handed over and not yet written.
    private let queued = Atomic<Int>(0)

    init(database: CaseDatabase, indicatorRecords: IndicatorRecords, queuedBatches: Int = 2) {
        self.database = database
        self.indicatorRecords = indicatorRecords
        self.slots = DispatchSemaphore(value: max(queuedBatches, 1))
    }

    /// Whether every batch handed over is written: a reader may then hand over a
    /// small batch, which the writer takes at once instead of idling.
    var isIdle: Bool { queued.load(ordering: .relaxed) == 0 }

    /// Queues `batch` for writing; waits first while `queuedBatches` are queued.
    func write(_ batch: SightingBatch, for source: Source) {
        guard !batch.isEmpty else { return }
        slots.wait()
        source.pending.enter()
        queued.add(1, ordering: .relaxed)
        queue.async { [self] in
            defer {
                queued.subtract(1, ordering: .relaxed)
                slots.signal()
                source.pending.leave()
            }
            guard source.outcome.withLock({ $0.error == nil }) else { return }
            let started = ContinuousClock.now
            var failure: (any Error)?
            do {
                try store(batch)
            } catch {
                failure = error
            }
            let seconds = secondsElapsed(since: started)
            source.outcome.withLock {
                $0.seconds += seconds
                if $0.error == nil { $0.error = failure }
            }
        }
    }

    /// Waits until every batch of `source` is written; returns the first error and the
    /// wall time its writes took.
    func finish(_ source: Source) -> (error: (any Error)?, seconds: Double) {
        source.pending.wait()
        return source.outcome.withLock { $0 }
    }

    private func store(_ batch: SightingBatch) throws {
        let ids = try indicatorRecords.ids(
            forIndicatorsAt: batch.sightings.map(\.indicator) + batch.resolutions.map(\.indicator))
        func id(_ index: Int) throws -> Int64 {
            guard let id = ids[index] else {
                throw IngestError.indicatorNotStored(indicator: indicatorRecords.value(ofIndicatorAt: index))
            }
            return id
        }
        try database.appendSightings(batch.sightings.map { pending in
            var sighting = pending.sighting
            sighting.indicatorID = try id(pending.indicator)
            return sighting
        })
        try database.appendResolutions(batch.resolutions.map { pending in
            var resolution = pending.resolution
            resolution.indicatorID = try id(pending.indicator)
            return resolution
        })
        try database.appendHostAddresses(batch.hostAddresses)
        try database.appendLineEvents(batch.lineEvents)
    }
}
