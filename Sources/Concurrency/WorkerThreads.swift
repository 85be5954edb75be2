#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads of Cairn's own, for long-lived CPU or blocking work (hashing, inflating,
/// scanning, reading files, writing the case): Swift's cooperative pool is not for
/// blocking work. Each thread runs `body(index)` once; `join()` waits for them all.
///
/// A thread holds what `body` captures until `body` returns, not longer: the handle
/// keeps no reference to `body`, so an owner that the body captures can keep the handle
/// without a cycle.
public final class WorkerThreads: @unchecked Sendable {
    // Safe: `threads` is written by `init` and `join()` only, which the owner calls
    // from one thread (the one that made the handle), as the doc comments require.
    private var threads: [pthread_t]

    /// The number of threads that started (fewer than asked when the system would
    /// make no more; the caller then does the work some other way).
    public var count: Int { threads.count }

    /// Starts up to `count` threads running `body(0)`, `body(1)`, …; `name` (at most 15
    /// bytes, as the kernel keeps it) is what `top -H`, `perf` and
    /// `/proc/self/task/*/comm` show; `stackSize` in bytes, else the system's default.
    public init(
        count: Int, name: StaticString? = nil, stackSize: Int? = nil, _ body: @escaping @Sendable (Int) -> Void
    ) {
        var started: [pthread_t] = []
        var attributes = pthread_attr_t()
        // Safe: `attributes` is a local that pthreads reads and writes only during each
        // call; it is destroyed before this init returns.
        unsafe pthread_attr_init(&attributes)
        defer { unsafe pthread_attr_destroy(&attributes) }
        if let stackSize { unsafe pthread_attr_setstacksize(&attributes, stackSize) }
        for index in 0..<max(0, count) {
            // Safe: the thread owns this retained reference until it returns (released
            // once in `workerMain`); if no thread starts, it is released here instead.
            let context = unsafe Unmanaged.passRetained(WorkerContext(name: name, index: index, body: body)).toOpaque()
            var created = pthread_t()
            // Safe: pthread_create writes one pthread_t to `created` and copies what it
            // needs of `attributes` before returning.
            guard unsafe pthread_create(&created, &attributes, workerMain, context) == 0 else {
                unsafe Unmanaged<WorkerContext>.fromOpaque(context).release()
                break
            }
            started.append(created)
        }
        threads = started
    }

    /// Waits until every thread has returned. Idempotent; call it from the thread that
    /// made the handle. A thread of this handle that calls it (the last owner of a ring
    /// let go on its own thread) cannot wait for itself: it is detached instead.
    public func join() {
        let current = pthread_self()
        for thread in threads {
            if pthread_equal(thread, current) != 0 {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        }
        threads.removeAll()
    }

    /// Whether `join()` has not been called since the threads started (tests).
    public var isStarted: Bool { !threads.isEmpty }
}

/// What one thread runs: its body and index, and its name.
private final class WorkerContext {
    let name: StaticString?
    let index: Int
    let body: @Sendable (Int) -> Void

    init(name: StaticString?, index: Int, body: @escaping @Sendable (Int) -> Void) {
        self.name = name
        self.index = index
        self.body = body
    }
}

/// A thread's entry point: runs the context's body, then lets the context go.
private func workerMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context = unsafe context else { return nil }
    // Safe: `context` is the reference retained in `WorkerThreads.init`, released here once.
    let worker = unsafe Unmanaged<WorkerContext>.fromOpaque(context).takeRetainedValue()
    if let name = worker.name { nameThisThread(name) }
    worker.body(worker.index)
    return nil
}

/// Names the calling thread. Best effort: Swift's Glibc does not import
/// `pthread_setname_np`, so this writes the name where the kernel keeps it.
private func nameThisThread(_ name: StaticString) {
    #if os(Linux)
    // Safe: the path literal is a C string valid for the call.
    let descriptor = unsafe open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    // Safe: a StaticString's `utf8Start` points to `utf8CodeUnitCount` bytes of static
    // storage, and write(2) reads no more than that count.
    _ = unsafe write(descriptor, name.utf8Start, name.utf8CodeUnitCount)
    close(descriptor)
    #endif
}
