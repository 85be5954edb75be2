// Cairn's one small set of concurrency primitives (STYLE.md, "Concurrency"): one lock
// (`Lock`), one condition (`Condition`), one way to run long-lived threads of our own
// (`WorkerThreads`), and the in-order hand-over built on them (`ReadAhead`). Every
// module that hands work between threads (ByteParsing's hashing ring, LogReading's
// inflating ring and scanning pool, Indicators' rule loading, Ingest's readers and
// writer) uses these and nothing else; the pthread calls live in this module alone.
//
// Why not the standard library's `Synchronization.Mutex`: a condition variable must
// wait on the mutex it is paired with, and `Mutex` does not lend its own. `Lock` has the
// same shape (a value reachable only inside `withLock`) on a pthread mutex that
// `Condition` can wait on.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a mutex: reachable only inside `withLock`, which holds the mutex
/// for the duration of its body. `withLock(waitingOn:until:_:)` first waits on a
/// `Condition` until the value is ready. Not recursive: a body must not take the same
/// lock again.
///
/// `@safe`: the mutex pointer is internal, allocated and initialised in `init`, destroyed
/// and freed in `deinit`, and lent to pthreads only while the lock is alive.
@safe public final class Lock<State> {
    /// Behind a pointer: a pthread mutex must not move in memory.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Read and written only while `mutex` is held (every access is inside `withLock`).
    @usableFromInline var state: State

    /// A lock guarding `initial`.
    public init(_ initial: State) {
        state = initial
        // Safe: one mutex, at a heap address that never moves, freed only in deinit.
        unsafe mutex = .allocate(capacity: 1)
        unsafe pthread_mutex_init(mutex, nil)
    }

    deinit {
        // Safe: no thread holds or waits on the mutex once the last reference is gone.
        unsafe pthread_mutex_destroy(mutex)
        unsafe mutex.deallocate()
    }

    /// Runs `body` on the value, holding the mutex.
    @inlinable
    public func withLock<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        // Safe: the mutex was initialised in init and lives as long as `self`.
        unsafe pthread_mutex_lock(mutex)
        defer { unsafe pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Waits on `condition` until `ready` holds of the value, then runs `body` on it,
    /// holding the mutex throughout (but while waiting). `ready` is asked under the
    /// mutex, once at first and again after each wake-up: wake-ups may be spurious.
    ///
    /// No access to the value is open while the thread waits (each `ready` and `body`
    /// is its own access), so the compiler cannot keep a stale copy across the wait.
    @inlinable
    public func withLock<Result>(
        waitingOn condition: Condition, until ready: (inout State) -> Bool, _ body: (inout State) throws -> Result
    ) rethrows -> Result {
        // Safe: the mutex and the condition were initialised in their inits and live as
        // long as `self` and `condition`, which this call holds.
        unsafe pthread_mutex_lock(mutex)
        defer { unsafe pthread_mutex_unlock(mutex) }
        while !ready(&state) { unsafe pthread_cond_wait(condition.condition, mutex) }
        return try body(&state)
    }
}

// Safe: the value is reached only through `withLock`, under the mutex, which orders
// every access of one thread before the next thread's; a `Sendable` value may be
// handed between threads that way.
extension Lock: @unchecked Sendable where State: Sendable {}

/// A condition variable: threads wait on it (through `Lock.withLock(waitingOn:…)`)
/// until another changes the lock's value and signals it. Cheap to wake: a futex, no
/// polling.
///
/// `@safe`: the condition pointer is internal, allocated and initialised in `init`,
/// destroyed and freed in `deinit`.
@safe public final class Condition: @unchecked Sendable {
    // Safe to share: pthread conditions are made to be used from several threads at
    // once; behind a pointer, since one must not move in memory.
    @usableFromInline let condition: UnsafeMutablePointer<pthread_cond_t>

    /// A condition no thread waits on yet.
    public init() {
        // Safe: one condition, at a heap address that never moves, freed only in deinit.
        unsafe condition = .allocate(capacity: 1)
        unsafe pthread_cond_init(condition, nil)
    }

    deinit {
        // Safe: no thread waits on the condition once the last reference is gone (a
        // waiter holds one through `withLock(waitingOn:…)`).
        unsafe pthread_cond_destroy(condition)
        unsafe condition.deallocate()
    }

    /// Wakes one waiting thread, if any. Call it after changing the value a waiter
    /// waits for (inside or after the `withLock` that changed it).
    @inlinable
    public func signal() {
        // Safe: the condition was initialised in init and lives as long as `self`.
        unsafe pthread_cond_signal(condition)
    }

    /// Wakes every waiting thread.
    @inlinable
    public func broadcast() {
        // Safe: the condition was initialised in init and lives as long as `self`.
        unsafe pthread_cond_broadcast(condition)
    }
}
