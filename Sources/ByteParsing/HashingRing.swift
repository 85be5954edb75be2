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
//   the lock. Closing waits for the thread to exit (`pthread_join`): no thread outlives
//   its file, and queued jobs are dropped (nobody can ask for their digest any more).
// - A file that fits in one slot never starts a thread: until the reader moves to its
//   second slot, jobs are hashed inline on the reader's thread.
// - A memory-mapped file has no slot memory: its jobs point into the mapping, which is
//   never written, and the ring only paces the reader (`waitUntilWritable`) so that
//   the windows behind the hasher can be let go of.
//
// Why it is safe: the queue, `released`, `busy` and `shutdown` are read and written
// under `mutex` once the thread exists (`slots` and `thread` are the reader's alone). Slot memory is written by the reader (`read(2)`) only
// while the slot is not queued, and read by the hasher only while it is; the hand-over
// in both directions goes through `mutex`, which orders the accesses. `hasher` is used
// by the hashing thread only while `busy` (set under the lock when it takes a job), and
// by the reader only while no thread exists or, under the lock, when the queue is empty
// and the thread is not busy.

import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The slot ring and the hashing thread behind one `InputFile`. Not for use elsewhere:
/// `InputFile` is its only client and follows the protocol described above.
final class HashingRing: @unchecked Sendable {
    /// One run of bytes to hash; `releases` marks the last job of a slot.
    struct Job {
        var bytes: UnsafeRawBufferPointer
        var releases: Bool
    }

    let slotSize: Int
    let slotCount: Int
    /// Slot memory, allocated on first use (a small file touches one slot only).
    private var slots: [UnsafeMutableRawPointer?]

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled when a job is queued or shutdown is asked.
    private let workQueued: UnsafeMutablePointer<pthread_cond_t>
    /// Broadcast when the hasher finishes a job.
    private let progress: UnsafeMutablePointer<pthread_cond_t>

    // Under `mutex` (see the file comment).
    private var queue: [Job]
    private var queueHead = 0
    private var queueCount = 0
    private var released = 0
    private var busy = false
    private var shutdown = false
    private var thread: pthread_t?

    /// Owned by the hashing thread while `busy`, otherwise by the reader.
    private var hasher = SHA256()

    init(slotSize: Int, slotCount: Int) {
        precondition(slotSize > 0 && slotCount > 1, "a ring needs at least two slots")
        self.slotSize = slotSize
        self.slotCount = slotCount
        slots = Array(repeating: nil, count: slotCount)
        // At most `slotCount - 1` releasing jobs are queued (the reader holds one slot)
        // plus one partial job queued by `digest`; one spare keeps the arithmetic simple.
        queue = Array(repeating: Job(bytes: UnsafeRawBufferPointer(start: nil, count: 0), releases: false),
                      count: slotCount + 1)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        workQueued = .allocate(capacity: 1)
        pthread_cond_init(workQueued, nil)
        progress = .allocate(capacity: 1)
        pthread_cond_init(progress, nil)
    }

    deinit {
        // The thread holds a reference until it exits, so none is running here.
        for slot in slots { slot?.deallocate() }
        pthread_cond_destroy(progress)
        progress.deallocate()
        pthread_cond_destroy(workQueued)
        workQueued.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// The memory of the slot that holds ring sequence number `sequence`. Reader only,
    /// and only once `waitUntilWritable(sequence)` has returned.
    func slot(_ sequence: Int) -> UnsafeMutableRawPointer {
        let index = sequence % slotCount
        if let memory = slots[index] { return memory }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: slotSize, alignment: 64)
        slots[index] = memory
        return memory
    }

    /// Blocks until the slot for `sequence` is no longer queued for hashing.
    func waitUntilWritable(_ sequence: Int) {
        guard sequence >= slotCount else { return }
        let needed = sequence - slotCount + 1
        pthread_mutex_lock(mutex)
        while released < needed { pthread_cond_wait(progress, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Queues `bytes` (inside the slot of ring sequence `sequence`) for hashing after
    /// everything queued before. `releases`: the reader is done with that slot.
    func submit(_ bytes: UnsafeRawBufferPointer, sequence: Int, releases: Bool) {
        if thread == nil && sequence >= 1 { startThread() }
        guard thread != nil else {
            // No thread (the first slot, or the thread could not be started): inline.
            hasher.update(bufferPointer: bytes)
            if releases { released += 1 }
            return
        }
        pthread_mutex_lock(mutex)
        precondition(queueCount < queue.count, "hashing queue overflow (InputFile protocol broken)")
        queue[(queueHead + queueCount) % queue.count] = Job(bytes: bytes, releases: releases)
        queueCount += 1
        pthread_cond_signal(workQueued)
        pthread_mutex_unlock(mutex)
    }

    /// The digest of everything submitted so far; waits for the hasher to catch up.
    func digest() -> SHA256.Digest {
        guard thread != nil else { return hasher.finalize() }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while queueCount > 0 || busy { pthread_cond_wait(progress, mutex) }
        return hasher.finalize()
    }

    /// Stops and joins the hashing thread, dropping queued jobs. Idempotent.
    func stop() {
        guard let thread else { return }
        pthread_mutex_lock(mutex)
        shutdown = true
        pthread_cond_signal(workQueued)
        pthread_mutex_unlock(mutex)
        pthread_join(thread, nil)
        self.thread = nil
    }

    private func startThread() {
        // The thread owns a reference to the ring until it returns (released in
        // `hashingThreadMain`), so the ring outlives every job the thread may touch.
        let context = Unmanaged.passRetained(self).toOpaque()
        var created = pthread_t()
        guard pthread_create(&created, nil, hashingThreadMain, context) == 0 else {
            Unmanaged<HashingRing>.fromOpaque(context).release()
            return
        }
        thread = created
    }

    /// The hashing thread's loop: take the oldest job, hash it outside the lock, mark it done.
    fileprivate func runHasher() {
        pthread_mutex_lock(mutex)
        while true {
            while queueCount == 0 && !shutdown { pthread_cond_wait(workQueued, mutex) }
            if shutdown { break }
            let job = queue[queueHead]
            queueHead = (queueHead + 1) % queue.count
            queueCount -= 1
            busy = true
            pthread_mutex_unlock(mutex)
            hasher.update(bufferPointer: job.bytes)
            pthread_mutex_lock(mutex)
            busy = false
            if job.releases { released += 1 }
            pthread_cond_broadcast(progress)
        }
        pthread_mutex_unlock(mutex)
    }
}

// Safe: `context` is the reference retained in `startThread`, released here once.
private func hashingThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context else { return nil }
    let ring = Unmanaged<HashingRing>.fromOpaque(context).takeRetainedValue()
    nameThisThread()
    ring.runHasher()
    return nil
}

/// Names the calling thread `cairn-sha256` (seen by `top -H`, `perf` and the leak test).
/// Best effort: Swift's Glibc does not import `pthread_setname_np`, so this writes the
/// name where the kernel keeps it.
private func nameThisThread() {
    #if os(Linux)
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    let name: StaticString = "cairn-sha256"
    _ = write(descriptor, name.utf8Start, name.utf8CodeUnitCount)
    close(descriptor)
    #endif
}
