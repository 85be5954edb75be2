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
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        for index in 0..<max(0, count) {
            // The thread owns the context until it returns (released in `workerMain`).
            let context = Unmanaged.passRetained(WorkerContext(name: name, index: index, body: body)).toOpaque()
            var created = pthread_t()
            guard pthread_create(&created, &attributes, workerMain, context) == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
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

// Safe: `context` is the reference retained in `WorkerThreads.init`, released here once.
private func workerMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context else { return nil }
    let worker = Unmanaged<WorkerContext>.fromOpaque(context).takeRetainedValue()
    if let name = worker.name { nameThisThread(name) }
    worker.body(worker.index)
    return nil
}

/// Names the calling thread. Best effort: Swift's Glibc does not import
/// `pthread_setname_np`, so this writes the name where the kernel keeps it.
private func nameThisThread(_ name: StaticString) {
    #if os(Linux)
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = write(descriptor, name.utf8Start, name.utf8CodeUnitCount)
    close(descriptor)
    #endif
}
