// The one concurrent spot of ByteParsing: the SHA-256 of an `InputFile` is computed on
// a second thread, from the same buffers the reader copies out of, so that hashing
// (a third of a capture's CPU) runs beside decoding instead of in front of it.
//
// How it works (the reader is whoever calls `InputFile.read(into:)`):
//
//   file ──read(2)──▶ slot k ──memcpy──▶ caller's buffer
//                        └──── job (pointer, count) ──▶ hashing thread ──▶ SHA256
//
// - `InputFile` fills one slot of a small ring with one `read(2)`, hands its bytes out,
//   and, once it has handed out every byte of the slot, queues the slot as a *job* and
//   moves to the next slot. A job is a pointer, a count and whether the slot is
//   released when the job is done; jobs are hashed strictly in the order queued.
// - The reader refills a slot only after the hashing thread has released it (waiting
//   on `progress` when all slots are still queued), so the hasher never reads memory
//   that is being overwritten, and the reader never waits while a slot is free.
// - Only bytes handed out are queued, so the digest is that of the bytes the caller
//   received, even if the ring read further ahead.
// - The digest waits until the queue is empty and the hasher idle, then finalizes under
//   the lock. Closing waits for the thread to exit (`join()`): no thread outlives
//   its file, and queued jobs are dropped (nobody can ask for their digest any more).
// - A file that fits in one slot never starts a thread: until the reader moves to its
//   second slot, jobs are hashed inline on the reader's thread.
// - A memory-mapped file has no slot memory: its jobs point into the mapping, which is
//   never written, and the ring only paces the reader (`waitUntilWritable`) so that
//   the windows behind the hasher can be let go of.
//
// Why it is safe: the queue, `released`, `busy` and `shutdown` live in `shared`, a
// `Lock`, so they are read and written under its mutex only (`slots` and `thread` are
// the reader's alone). Slot memory is written by the reader (`read(2)`) only
// while the slot is not queued, and read by the hasher only while it is; the hand-over
// in both directions goes through the lock, which orders the accesses. `hasher` is used
// by the hashing thread only while `busy` (set under the lock when it takes a job), and
// by the reader only while no thread exists or, under the lock, when the queue is empty
// and the thread is not busy.

import Concurrency
import Crypto

/// The slot ring and the hashing thread behind one `InputFile`. Not for use elsewhere:
/// `InputFile` is its only client and follows the protocol described above. Unchecked
/// `Sendable`: the reader and the hasher share only `shared` (under its lock), and the
/// slot memory and `hasher` by the hand-over protocol above.
@safe final class HashingRing: @unchecked Sendable {
    /// One run of bytes to hash; `releases` marks the last job of a slot.
    @safe struct Job {
        var bytes: UnsafeRawBufferPointer
        var releases: Bool
    }

    let slotSize: Int
    let slotCount: Int
    /// Slot memory, allocated on first use (a small file touches one slot only).
    private var slots: [UnsafeMutableRawPointer?]

    /// What the reader and the hasher share (see the file comment).
    private struct Shared {
        /// Jobs queued and not yet taken: `queueCount` of them from `queueHead` on, around.
        var queue: [Job]
        var queueHead = 0
        var queueCount = 0
        /// Slots the hasher is done with, since the ring was made.
        var released = 0
        /// Whether the hasher is hashing a job it took.
        var busy = false
        var shutdown = false
    }

    private let shared: Lock<Shared>
    /// Signalled when a job is queued or shutdown is asked.
    private let workQueued = Condition()
    /// Broadcast when the hasher finishes a job.
    private let progress = Condition()
    /// The hashing thread, once started (the reader's alone).
    private var thread: WorkerThreads?

    /// Owned by the hashing thread while `busy`, otherwise by the reader.
    private var hasher = SHA256()

    init(slotSize: Int, slotCount: Int) {
        precondition(slotSize > 0 && slotCount > 1, "a ring needs at least two slots")
        self.slotSize = slotSize
        self.slotCount = slotCount
        unsafe slots = Array(repeating: nil, count: slotCount)
        // At most `slotCount - 1` releasing jobs are queued (the reader holds one slot)
        // plus one partial job queued by `digest`; one spare keeps the arithmetic simple.
        // Safe: an empty buffer with no address is never read.
        shared = unsafe Lock(Shared(queue: Array(
            repeating: Job(bytes: UnsafeRawBufferPointer(start: nil, count: 0), releases: false),
            count: slotCount + 1)))
    }

    deinit {
        // The thread holds a reference until it exits, so none is running here.
        // Safe: each slot was allocated once by `slot(_:)` and nothing uses it any more.
        for unsafe slot in unsafe slots { unsafe slot?.deallocate() }
    }

    /// The memory of the slot that holds ring sequence number `sequence`. Reader only,
    /// and only once `waitUntilWritable(sequence)` has returned.
    func slot(_ sequence: Int) -> UnsafeMutableRawPointer {
        let index = sequence % slotCount
        // Safe: slot memory is allocated once, `slotSize` bytes, and freed only in deinit;
        // the protocol above says who may write it when.
        if let memory = unsafe slots[index] { return unsafe memory }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: slotSize, alignment: 64)
        unsafe slots[index] = memory
        return unsafe memory
    }

    /// Blocks until the slot for `sequence` is no longer queued for hashing.
    func waitUntilWritable(_ sequence: Int) {
        guard sequence >= slotCount else { return }
        let needed = sequence - slotCount + 1
        shared.withLock(waitingOn: progress, until: { $0.released >= needed }) { _ in }
    }

    /// Queues `bytes` (inside the slot of ring sequence `sequence`) for hashing after
    /// everything queued before. `releases`: the reader is done with that slot.
    func submit(_ bytes: UnsafeRawBufferPointer, sequence: Int, releases: Bool) {
        if thread == nil && sequence >= 1 { startThread() }
        guard thread != nil else {
            // No thread (the first slot, or the thread could not be started): inline.
            // Safe: `bytes` lies in a slot the reader holds until it is released below.
            unsafe hasher.update(bufferPointer: bytes)
            if releases { shared.withLock { $0.released += 1 } }
            return
        }
        shared.withLock { shared in
            precondition(shared.queueCount < shared.queue.count, "hashing queue overflow (InputFile protocol broken)")
            shared.queue[(shared.queueHead + shared.queueCount) % shared.queue.count] =
                unsafe Job(bytes: bytes, releases: releases)
            shared.queueCount += 1
            workQueued.signal()
        }
    }

    /// The digest of everything submitted so far; waits for the hasher to catch up.
    func digest() -> SHA256.Digest {
        guard thread != nil else { return hasher.finalize() }
        return shared.withLock(waitingOn: progress, until: { $0.queueCount == 0 && !$0.busy }) { _ in
            hasher.finalize()
        }
    }

    /// Stops and joins the hashing thread, dropping queued jobs. Idempotent.
    func stop() {
        guard let thread else { return }
        shared.withLock {
            $0.shutdown = true
            workQueued.signal()
        }
        thread.join()
        self.thread = nil
    }

    private func startThread() {
        // The thread owns a reference to the ring until it returns, so the ring outlives
        // every job the thread may touch.
        let started = WorkerThreads(count: 1, name: "cairn-sha256") { [self] _ in runHasher() }
        if started.count == 1 { thread = started }
    }

    /// The hashing thread's loop: take the oldest job, hash it outside the lock, mark it done.
    private func runHasher() {
        while true {
            let next = shared.withLock(waitingOn: workQueued, until: { $0.queueCount > 0 || $0.shutdown }) {
                shared -> Job? in
                if shared.shutdown { return nil }
                let job = shared.queue[shared.queueHead]
                shared.queueHead = (shared.queueHead + 1) % shared.queue.count
                shared.queueCount -= 1
                shared.busy = true
                return job
            }
            guard let job = next else { return }
            // Safe: a queued job's slot is not written again until the job releases it.
            unsafe hasher.update(bufferPointer: job.bytes)
            shared.withLock { shared in
                shared.busy = false
                if job.releases { shared.released += 1 }
                progress.broadcast()
            }
        }
    }
}
