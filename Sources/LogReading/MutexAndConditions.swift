#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex and two condition variables for a hand-over between threads
/// (`InflatedChunkRing`, `LineScanPool`): allocated and initialised together when
/// made, destroyed and freed together when the last owner lets go. Behind pointers,
/// since pthread objects must not move in memory.
final class MutexAndConditions: @unchecked Sendable {
    let mutex: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
    let first: UnsafeMutablePointer<pthread_cond_t> = .allocate(capacity: 1)
    let second: UnsafeMutablePointer<pthread_cond_t> = .allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(first, nil)
        pthread_cond_init(second, nil)
    }

    /// Runs `body` holding the mutex (which `body` may wait on with a condition).
    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    deinit {
        pthread_cond_destroy(second)
        pthread_cond_destroy(first)
        pthread_mutex_destroy(mutex)
        second.deallocate()
        first.deallocate()
        mutex.deallocate()
    }
}
