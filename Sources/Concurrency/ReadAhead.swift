/// Values made in order on a thread of its own while the thread that made the handle
/// takes them, in the same order, with `next()`: the two kinds of work overlap, as
/// reading and parsing the next rule file does with merging the last one.
///
/// `produce` runs once, on the thread, and hands each value to `send`, which waits
/// while `lookahead` values are already waiting to be taken, and returns false when
/// the handle is gone (`produce` should then return without making more). Memory is
/// bounded by the lookahead: at most `lookahead` values wait, plus the one being made.
///
/// When no thread can be started, `produce` runs to the end in `init` on the calling
/// thread, and every value waits (the work no longer overlaps, and nothing is lost).
///
/// The thread holds the queue, never the handle: letting go of the handle (before
/// every value is taken, too) stops the producer at its next `send` and joins it.
public final class ReadAhead<Value: Sendable> {
    private let queue: Queue
    private let thread: WorkerThreads?

    /// Starts `produce` on a thread named `name` (at most 15 bytes).
    public init(
        lookahead: Int = 1, name: StaticString, _ produce: @escaping @Sendable (_ send: (Value) -> Bool) -> Void
    ) {
        let queue = Queue(lookahead: max(1, lookahead))
        self.queue = queue
        let started = WorkerThreads(count: 1, name: name) { _ in
            produce { queue.send($0) }
            queue.finish()
        }
        if started.count == 1 {
            thread = started
        } else {
            thread = nil
            queue.lookahead = Int.max
            produce { queue.send($0) }
            queue.finish()
        }
    }

    deinit {
        queue.cancel()
        thread?.join()
    }

    /// The next value, waiting for it to be made; nil once `produce` has returned and
    /// every value it sent was taken.
    public func next() -> Value? {
        queue.next()
    }

    /// What the producer and the consumer share.
    private final class Queue: @unchecked Sendable {
        // Safe to share: `shared` is reached only through its lock; `lookahead` is
        // written before the producer runs (in `init`, when no thread started) only.
        var lookahead: Int
        private struct Shared {
            /// Sent values; those already taken are nil.
            var values: [Value?] = []
            /// The first value of `values` not yet taken.
            var head = 0
            var finished = false
            var cancelled = false
            var waiting: Int { values.count - head }
        }
        private let shared = Lock(Shared())
        /// Signalled when a value is sent or the producer finishes.
        private let sent = Condition()
        /// Signalled when a value is taken or the consumer goes.
        private let taken = Condition()

        init(lookahead: Int) { self.lookahead = lookahead }

        func send(_ value: Value) -> Bool {
            let lookahead = lookahead
            let accepted = shared.withLock(waitingOn: taken, until: { $0.cancelled || $0.waiting < lookahead }) {
                guard !$0.cancelled else { return false }
                $0.values.append(value)
                return true
            }
            sent.signal()
            return accepted
        }

        func finish() {
            shared.withLock { $0.finished = true }
            sent.signal()
        }

        func cancel() {
            shared.withLock {
                $0.cancelled = true
                $0.values = []
                $0.head = 0
            }
            taken.signal()
        }

        func next() -> Value? {
            let value: Value? = shared.withLock(waitingOn: sent, until: { $0.finished || $0.waiting > 0 }) {
                guard $0.waiting > 0 else { return nil }
                let value = $0.values[$0.head]
                $0.values[$0.head] = nil
                $0.head += 1
                if $0.head == $0.values.count {
                    $0.values.removeAll(keepingCapacity: true)
                    $0.head = 0
                }
                return value
            }
            taken.signal()
            return value
        }
    }
}
