import CaseStore
import Concurrency

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
/// `finish` reports the error, which fails the source. The writing thread ends when the
/// writer is let go of, after the batches handed over.
final class SightingWriter: Sendable {
    /// The writes of one source: handed to `write`, then to `finish` once.
    final class Source: Sendable {
        fileprivate let outcome = Lock(Outcome())
        /// Broadcast when one of the source's batches is written (or dropped).
        fileprivate let written = Condition()
    }

    /// Where a source's writes stand.
    fileprivate struct Outcome {
        /// Batches handed over and not yet written.
        var pending = 0
        /// The first failure, and the wall time the writes took.
        var error: (any Error)?
        var seconds: Double = 0
    }

    private let desk: WritingDesk
    /// The writing thread; none when it could not be made (then `write` writes itself).
    private let thread: WorkerThreads

    init(database: CaseDatabase, indicatorRecords: IndicatorRecords, queuedBatches: Int = 2) {
        let desk = WritingDesk(database: database, indicatorRecords: indicatorRecords, capacity: max(queuedBatches, 1))
        self.desk = desk
        // The thread holds the desk, not the writer, so that letting go of the writer
        // ends it (`deinit`).
        thread = WorkerThreads(count: 1, name: "cairn-writer") { _ in desk.run() }
    }

    deinit {
        desk.close()
        thread.join()
    }

    /// Whether every batch handed over is written: a reader may then hand over a
    /// small batch, which the writer takes at once instead of idling.
    var isIdle: Bool { desk.isIdle }

    /// Queues `batch` for writing; waits first while `queuedBatches` are queued.
    func write(_ batch: SightingBatch, for source: Source) {
        guard !batch.isEmpty else { return }
        source.outcome.withLock { $0.pending += 1 }
        if thread.count == 0 {
            desk.write(batch, for: source)
        } else {
            desk.queue(batch, for: source)
        }
    }

    /// Waits until every batch of `source` is written; returns the first error and the
    /// wall time its writes took.
    func finish(_ source: Source) -> (error: (any Error)?, seconds: Double) {
        source.outcome.withLock(waitingOn: source.written, until: { $0.pending == 0 }) { ($0.error, $0.seconds) }
    }
}

/// The queue of a `SightingWriter` and the loop of its thread.
private final class WritingDesk: Sendable {
    private struct Queue {
        /// Batches handed over and not yet taken, oldest first.
        var waiting: [(batch: SightingBatch, source: SightingWriter.Source)] = []
        /// Batches handed over and not yet written (waiting, or being written).
        var unwritten = 0
        var closed = false
    }

    private let database: CaseDatabase
    private let indicatorRecords: IndicatorRecords
    private let capacity: Int
    private let queue = Lock(Queue())
    /// Signalled when a batch is queued or the desk is closed.
    private let work = Condition()
    /// Signalled when a batch is written, so that one more may be queued.
    private let room = Condition()

    init(database: CaseDatabase, indicatorRecords: IndicatorRecords, capacity: Int) {
        self.database = database
        self.indicatorRecords = indicatorRecords
        self.capacity = capacity
    }

    var isIdle: Bool { queue.withLock { $0.unwritten == 0 } }

    /// Hands `batch` to the thread, once fewer than `capacity` are unwritten.
    func queue(_ batch: SightingBatch, for source: SightingWriter.Source) {
        queue.withLock(waitingOn: room, until: { $0.unwritten < capacity }) {
            $0.waiting.append((batch, source))
            $0.unwritten += 1
            work.signal()
        }
    }

    /// Ends the thread once the batches queued are written.
    func close() {
        queue.withLock {
            $0.closed = true
            work.signal()
        }
    }

    /// The thread's loop: the oldest batch, written outside the lock.
    func run() {
        while true {
            let next = queue.withLock(waitingOn: work, until: { !$0.waiting.isEmpty || $0.closed }) {
                $0.waiting.isEmpty ? nil : $0.waiting.removeFirst()
            }
            guard let (batch, source) = next else { return }
            write(batch, for: source)
            queue.withLock {
                $0.unwritten -= 1
                room.signal()
            }
        }
    }

    /// Writes `batch` (unless an earlier batch of its source failed) and counts it done.
    func write(_ batch: SightingBatch, for source: SightingWriter.Source) {
        defer {
            source.outcome.withLock { $0.pending -= 1 }
            source.written.broadcast()
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
