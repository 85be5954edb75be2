#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
/// One plain thread (pthread) per `start`, one mutex, two conditions: the producer waits
/// while every slot is full, the consumer while none is; nobody spins. The producer's
/// last piece (the end, or damage) reaches the consumer only after every chunk before
/// it, so the order of everything the inflater reports is kept. `stop()` tells a
/// producer that is still running to finish (it does after its current `produce` call)
/// and joins it: after `stop()` returns the thread is gone and touches nothing that
/// `produce` captured (the inflater and its `InputFile`).
///
/// The one unsafe spot is the slot memory. Each slot has a single owner at a time: the
/// producer owns slot `(head + filled) % slotCount` (never the consumer's, as it is
/// started only while `filled < slotCount`) from the moment it takes it under the lock
/// until it publishes it under the lock; the consumer owns slot `head` from `next()`
/// returning it until its next `next()` (or `stop()`). The lock orders the writes of one
/// owner before the reads of the next.
///
/// Driven by one consumer thread (`start`, `next`, `stop` are called from it); the
/// producer thread only runs `produce`.
final class InflatedChunkRing: @unchecked Sendable {
    /// Slots per ring: the inflater (about 1 GB/s with ISA-L) is several times faster than
    /// framing and scanning, so the ring is full nearly always and a few slots are enough
    /// to keep the reader from ever waiting; more would only cost memory.
    static let defaultSlotCount = 4

    let slotCount: Int
    let slotSize: Int
    private let storage: UnsafeMutableRawBufferPointer
    private let signals = MutexAndConditions()
    private var lock: UnsafeMutablePointer<pthread_mutex_t> { signals.mutex }
    /// Signalled when a slot is filled or the producer has finished.
    private var notEmpty: UnsafeMutablePointer<pthread_cond_t> { signals.first }
    /// Signalled when a slot is given back or the consumer stops.
    private var notFull: UnsafeMutablePointer<pthread_cond_t> { signals.second }

    // Guarded by `lock`.
    /// Bytes written into each slot, and the member they came from.
    private var counts: [Int]
    private var members: [Int]
    /// The oldest filled slot (the one the consumer reads or holds).
    private var head = 0
    /// Filled slots, counting the one the consumer holds.
    private var filled = 0
    /// Whether the consumer holds slot `head` (given back by its next `next()`).
    private var holding = false
    /// The producer's last piece, once it has finished (`nil` after a stop).
    private var ending: RingPiece?
    private var producerFinished = true
    /// The member of the chunk `next()` returned last (the consumer's).
    private(set) var memberOfLastChunk = 0
    private var cancelled = false
    private var running = false

    // Used by the consumer thread only (and, for `produce`, by the producer between
    // `pthread_create`, which publishes it, and `pthread_join`).
    private var thread: pthread_t?
    private var produce: ((UnsafeMutableRawBufferPointer) -> RingPiece)?
    /// Producer threads started and joined by this ring (tests check they match).
    private(set) var threadsStarted = 0
    private(set) var threadsJoined = 0

    /// A ring of `slotCount` (at least 1) slots of `slotSize` (at least 1) bytes.
    init(slotCount: Int = InflatedChunkRing.defaultSlotCount, slotSize: Int) {
        self.slotCount = max(1, slotCount)
        self.slotSize = max(1, slotSize)
        storage = .allocate(byteCount: self.slotCount * self.slotSize, alignment: 16)
        counts = Array(repeating: 0, count: self.slotCount)
        members = Array(repeating: 0, count: self.slotCount)
    }

    deinit {
        // A reader always stops what it starts; this is only the last line of defence. The
        // last reference may be the producer's own (a ring dropped without `stop()`):
        // a thread cannot join itself, so it is detached instead.
        if let thread, pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            stop()
        }
        storage.deallocate()
    }

    /// Whether a producer thread is between its start and its end (tests).
    var isProducerRunning: Bool { signals.withLock { running } }

    /// Starts a producer thread that calls `produce` with a free slot until it returns
    /// `.end` or `.damage`, or until `stop()`. Returns false (and runs nothing) when no
    /// thread could be created; the caller then reads without one. Must not be called
    /// again before `stop()`.
    func start(_ produce: @escaping (UnsafeMutableRawBufferPointer) -> RingPiece) -> Bool {
        guard thread == nil else { return false }
        signals.withLock {
            head = 0
            filled = 0
            holding = false
            ending = nil
            producerFinished = false
            cancelled = false
            running = true
        }
        self.produce = produce
        // The thread holds a reference to the ring until it has finished with it.
        let context = Unmanaged.passRetained(self).toOpaque()
        var created = pthread_t()
        let status = pthread_create(&created, nil, { raw in
            guard let raw else { return nil }
            let ring = Unmanaged<InflatedChunkRing>.fromOpaque(raw).takeRetainedValue()
            ring.runProducer()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<InflatedChunkRing>.fromOpaque(context).release()
            self.produce = nil
            signals.withLock {
                producerFinished = true
                running = false
            }
            return false
        }
        thread = created
        threadsStarted += 1
        return true
    }

    /// The producer thread's loop.
    private func runProducer() {
        guard let produce else { return finish(with: .end) }
        while true {
            pthread_mutex_lock(lock)
            while filled == slotCount && !cancelled { pthread_cond_wait(notFull, lock) }
            if cancelled {
                pthread_mutex_unlock(lock)
                return finish(with: nil)
            }
            let slot = (head + filled) % slotCount
            pthread_mutex_unlock(lock)
            let piece = produce(slotBuffer(slot))
            guard case .bytes(let count, let member) = piece else { return finish(with: piece) }
            signals.withLock {
                counts[slot] = min(max(0, count), slotSize)
                members[slot] = member
                filled += 1
                pthread_cond_signal(notEmpty)
            }
        }
    }

    /// The producer's last step: its last piece for the consumer, and its end.
    private func finish(with piece: RingPiece?) {
        signals.withLock {
            ending = piece
            producerFinished = true
            running = false
            pthread_cond_broadcast(notEmpty)
        }
    }

    /// Slot `index`. Safe: index < slotCount, so the slot lies inside `storage`.
    private func slotBuffer(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[index * slotSize..<(index + 1) * slotSize])
    }

    /// Gives back the chunk `next()` returned last, then waits for the next one: its bytes
    /// (valid until the next call to `next()` or `stop()`), or the producer's end or damage
    /// once every chunk before it has been returned. `.end` when nothing was started.
    /// `memberOfLastChunk` is then the member the bytes came from.
    func next() -> GzipInflater.Output {
        signals.withLock {
            if holding {
                head = (head + 1) % slotCount
                filled -= 1
                holding = false
                pthread_cond_signal(notFull)
            }
            while filled == 0 && !producerFinished { pthread_cond_wait(notEmpty, lock) }
            if filled > 0 {
                holding = true
                memberOfLastChunk = members[head]
                return .bytes(UnsafeRawBufferPointer(rebasing: slotBuffer(head)[0..<counts[head]]))
            }
            switch ending {
            case .damage(let message): return .damage(message)
            case .bytes, .end, nil: return .end
            }
        }
    }

    /// Ends the producer (at once if it waits for a slot, after its current `produce`
    /// call otherwise) and joins its thread. Idempotent; a no-op when none was started.
    func stop() {
        guard let thread else { return }
        signals.withLock {
            cancelled = true
            holding = false
            pthread_cond_broadcast(notFull)
        }
        pthread_join(thread, nil)
        self.thread = nil
        produce = nil
        threadsJoined += 1
    }
}
