import Concurrency

/// What the producer made of one slot of an `InflatedChunkRing`.
enum RingPiece {
    /// This many bytes were written at the start of the slot, from this gzip member
    /// (`LogReader` notes where each member's lines begin).
    case bytes(Int, member: Int)
    /// The stream ended cleanly; nothing was written.
    case end
    /// The stream stopped on damage (its message, passed on as is); nothing was written.
    case damage(String)
}

/// Hands chunks of decompressed bytes from a producer thread (the inflater) to the
/// reading thread, in order, through a small fixed ring of slots.
///
/// Memory is fixed: `slotCount` slots of `slotSize` bytes, allocated once in `init` and
/// freed in `deinit` (4 × 1 MiB for a reader with the default chunk size); a started
/// producer can be at most `slotCount - 1` chunks ahead of the chunk being read.
///
/// One thread of its own (`WorkerThreads`) per `start`, one lock, two conditions: the producer waits
/// while every slot is full, the consumer while none is; nobody spins. The producer's
/// last piece (the end, or damage) reaches the consumer only after every chunk before
/// it, so the order of everything the inflater reports is kept. `stop()` tells a
/// producer that is still running to finish (it does after its current `produce` call)
/// and joins it: after `stop()` returns the thread is gone and touches nothing that
/// `produce` captured (the inflater and its `InputFile`).
///
/// The one unsafe spot is the slot memory, raw because two threads use two of its slots
/// at once (an owned array's exclusive access would not allow it). Each slot has a
/// single owner at a time: the producer owns slot `(head + filled) % slotCount` (never
/// the consumer's, as it is started only while `filled < slotCount`) from the moment it
/// takes it under the lock until it publishes it under the lock; the consumer owns slot
/// `head` from `next()` returning it until its next `next()` (or `stop()`). The lock
/// orders the writes of one owner before the reads of the next.
///
/// Driven by one consumer thread (`start`, `next`, `stop` are called from it); the
/// producer thread only runs `produce`. `@safe`: the storage is private, and a slot
/// leaves the ring only as a pointer (to `produce`, from `next()`), unsafe by its type.
@safe final class InflatedChunkRing: @unchecked Sendable {
    /// Slots per ring: the inflater (about 1 GB/s with ISA-L) is several times faster than
    /// framing and scanning, so the ring is full nearly always and a few slots are enough
    /// to keep the reader from ever waiting; more would only cost memory.
    static let defaultSlotCount = 4

    let slotCount: Int
    let slotSize: Int
    private let storage: UnsafeMutableRawBufferPointer
    /// What the producer and the consumer share, under the lock.
    private struct Shared {
        /// Bytes written into each slot, and the member they came from.
        var counts: [Int]
        var members: [Int]
        /// The oldest filled slot (the one the consumer reads or holds).
        var head = 0
        /// Filled slots, counting the one the consumer holds.
        var filled = 0
        /// Whether the consumer holds slot `head` (given back by its next `next()`).
        var holding = false
        /// The producer's last piece, once it has finished (`nil` after a stop).
        var ending: RingPiece?
        var producerFinished = true
        var cancelled = false
        var running = false
    }

    private let shared: Lock<Shared>
    /// Signalled when a slot is filled or the producer has finished.
    private let notEmpty = Condition()
    /// Signalled when a slot is given back or the consumer stops.
    private let notFull = Condition()
    /// The member of the chunk `next()` returned last (the consumer's).
    private(set) var memberOfLastChunk = 0

    // Used by the consumer thread only (and, for `produce`, by the producer between
    // the thread's start, which publishes it, and `join()`).
    private var thread: WorkerThreads?
    private var produce: ((UnsafeMutableRawBufferPointer) -> RingPiece)?
    /// Producer threads started and joined by this ring (tests check they match).
    private(set) var threadsStarted = 0
    private(set) var threadsJoined = 0

    /// A ring of `slotCount` (at least 1) slots of `slotSize` (at least 1) bytes.
    init(slotCount: Int = InflatedChunkRing.defaultSlotCount, slotSize: Int) {
        self.slotCount = max(1, slotCount)
        self.slotSize = max(1, slotSize)
        // Safe: allocated once here, freed only in deinit, after the producer is joined.
        unsafe storage = .allocate(byteCount: self.slotCount * self.slotSize, alignment: 16)
        shared = Lock(Shared(
            counts: Array(repeating: 0, count: self.slotCount), members: Array(repeating: 0, count: self.slotCount)))
    }

    deinit {
        // A reader always stops what it starts; this is only the last line of defence. The
        // last reference may be the producer's own (a ring dropped without `stop()`):
        // a thread cannot join itself, and `join()` detaches it instead.
        stop()
        // Safe: no producer runs (joined, or this is its own last reference, dropped after
        // its last `produce`), and a chunk from `next()` is valid only until the next call.
        unsafe storage.deallocate()
    }

    /// Whether a producer thread is between its start and its end (tests).
    var isProducerRunning: Bool { shared.withLock { $0.running } }

    /// Starts a producer thread that calls `produce` with a free slot until it returns
    /// `.end` or `.damage`, or until `stop()`. Returns false (and runs nothing) when no
    /// thread could be created; the caller then reads without one. Must not be called
    /// again before `stop()`.
    func start(_ produce: @escaping (UnsafeMutableRawBufferPointer) -> RingPiece) -> Bool {
        guard thread == nil else { return false }
        shared.withLock {
            $0.head = 0
            $0.filled = 0
            $0.holding = false
            $0.ending = nil
            $0.producerFinished = false
            $0.cancelled = false
            $0.running = true
        }
        // Safe: the closure is only stored; it is called with slots of `storage` alone.
        unsafe self.produce = produce
        // The thread holds a reference to the ring until it has finished with it.
        let started = WorkerThreads(count: 1) { [self] _ in runProducer() }
        guard started.count == 1 else {
            // Safe: no thread was started, so nothing calls the closure.
            unsafe self.produce = nil
            shared.withLock {
                $0.producerFinished = true
                $0.running = false
            }
            return false
        }
        thread = started
        threadsStarted += 1
        return true
    }

    /// The producer thread's loop.
    private func runProducer() {
        // Safe: `produce` was set by `start` before the thread began and is cleared only
        // after the join.
        guard let produce = unsafe produce else { return finish(with: .end) }
        while true {
            let free = shared.withLock(waitingOn: notFull, until: { $0.filled < slotCount || $0.cancelled }) {
                $0.cancelled ? nil : ($0.head + $0.filled) % slotCount
            }
            guard let slot = free else { return finish(with: nil) }
            // Safe: the producer owns `slot` until it publishes it under the lock below.
            let piece = unsafe produce(slotBuffer(slot))
            guard case .bytes(let count, let member) = piece else { return finish(with: piece) }
            shared.withLock {
                $0.counts[slot] = min(max(0, count), slotSize)
                $0.members[slot] = member
                $0.filled += 1
                notEmpty.signal()
            }
        }
    }

    /// The producer's last step: its last piece for the consumer, and its end.
    private func finish(with piece: RingPiece?) {
        shared.withLock {
            $0.ending = piece
            $0.producerFinished = true
            $0.running = false
            notEmpty.broadcast()
        }
    }

    /// Slot `index`. Safe: index < slotCount, so the slot lies inside `storage`.
    private func slotBuffer(_ index: Int) -> UnsafeMutableRawBufferPointer {
        unsafe UnsafeMutableRawBufferPointer(rebasing: storage[index * slotSize..<(index + 1) * slotSize])
    }

    /// Gives back the chunk `next()` returned last, then waits for the next one: its bytes
    /// (valid until the next call to `next()` or `stop()`), or the producer's end or damage
    /// once every chunk before it has been returned. `.end` when nothing was started.
    /// `memberOfLastChunk` is then the member the bytes came from.
    func next() -> GzipInflater.Output {
        shared.withLock {
            if $0.holding {
                $0.head = ($0.head + 1) % slotCount
                $0.filled -= 1
                $0.holding = false
                notFull.signal()
            }
        }
        return shared.withLock(waitingOn: notEmpty, until: { $0.filled > 0 || $0.producerFinished }) { shared in
            if shared.filled > 0 {
                shared.holding = true
                memberOfLastChunk = shared.members[shared.head]
                // Safe: the consumer owns slot head until its next `next()`; counts <= slotSize.
                return unsafe .bytes(UnsafeRawBufferPointer(rebasing: slotBuffer(shared.head)[0..<shared.counts[shared.head]]))
            }
            switch shared.ending {
            case .damage(let message): return .damage(message)
            case .bytes, .end, nil: return .end
            }
        }
    }

    /// Ends the producer (at once if it waits for a slot, after its current `produce`
    /// call otherwise) and joins its thread. Idempotent; a no-op when none was started.
    func stop() {
        guard let thread else { return }
        shared.withLock {
            $0.cancelled = true
            $0.holding = false
            notFull.broadcast()
        }
        thread.join()
        self.thread = nil
        // Safe: the thread is joined, so nothing calls the closure any more.
        unsafe produce = nil
        threadsJoined += 1
    }
}
