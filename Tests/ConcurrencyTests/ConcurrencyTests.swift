import Concurrency
import Testing

@Suite struct ConcurrencyTests {
    /// A bounded hand-over between two threads of their own, the shape of the hashing
    /// and inflating rings: every item arrives once, in order, and neither side spins.
    @Test func producerAndConsumerHandOverEveryItemOnceInOrder() {
        struct Ring: Sendable {
            var items = [Int](repeating: 0, count: 8)
            var head = 0
            var count = 0
            var finished = false
        }
        let itemCount = 100_000
        let ring = Lock(Ring())
        let notEmpty = Condition()
        let notFull = Condition()
        let received = Lock([Int]())
        let threads = WorkerThreads(count: 2) { role in
            if role == 0 {
                for item in 0..<itemCount {
                    ring.withLock(waitingOn: notFull, until: { $0.count < $0.items.count }) {
                        $0.items[($0.head + $0.count) % $0.items.count] = item
                        $0.count += 1
                        notEmpty.signal()
                    }
                }
                ring.withLock {
                    $0.finished = true
                    notEmpty.signal()
                }
            } else {
                var taken: [Int] = []
                taken.reserveCapacity(itemCount)
                while true {
                    let next = ring.withLock(waitingOn: notEmpty, until: { $0.count > 0 || $0.finished }) { ring -> Int? in
                        guard ring.count > 0 else { return nil }
                        let item = ring.items[ring.head]
                        ring.head = (ring.head + 1) % ring.items.count
                        ring.count -= 1
                        notFull.signal()
                        return item
                    }
                    guard let item = next else { break }
                    taken.append(item)
                }
                received.withLock { $0 = taken }
            }
        }
        #expect(threads.count == 2)
        threads.join()
        #expect(received.withLock { $0 } == Array(0..<itemCount))
    }

    /// Each worker runs once with its own index, and `join` returns only after all have
    /// returned; the lock keeps their increments.
    @Test func workersRunOnceEachAndJoinWaitsForAll() {
        let counter = Lock(0)
        let seen = Lock(Set<Int>())
        let threads = WorkerThreads(count: 4, name: "cairn-test", stackSize: 1 << 20) { index in
            for _ in 0..<25_000 { counter.withLock { $0 += 1 } }
            seen.withLock { _ = $0.insert(index) }
        }
        #expect(threads.count == 4)
        #expect(threads.isStarted)
        threads.join()
        #expect(!threads.isStarted)
        #expect(counter.withLock { $0 } == 100_000)
        #expect(seen.withLock { $0 } == [0, 1, 2, 3])
        // Idempotent.
        threads.join()
    }

    /// What a worker captures is let go of when it returns, though the handle lives on:
    /// an owner the body captures may keep the handle without a cycle.
    @Test func aWorkerLetsGoOfWhatItCapturedWhenItReturns() {
        final class Owner: Sendable {}
        weak var weakOwner: Owner?
        var threads: WorkerThreads?
        do {
            let owner = Owner()
            weakOwner = owner
            threads = WorkerThreads(count: 1) { _ in _ = owner }
        }
        threads?.join()
        #expect(weakOwner == nil)
    }

    /// Values come out once each, in the order made, and the producer is never more
    /// than the lookahead (plus the value it is making) ahead of the consumer.
    @Test(arguments: [1, 3])
    func readAheadHandsOverInOrderWithinItsLookahead(lookahead: Int) {
        let made = Lock(0)
        let reading = ReadAhead<Int>(lookahead: lookahead, name: "test-ahead") { send in
            for value in 0..<10_000 {
                made.withLock { $0 += 1 }
                guard send(value) else { return }
            }
        }
        var taken: [Int] = []
        var furthestAhead = 0
        while let value = reading.next() {
            taken.append(value)
            furthestAhead = max(furthestAhead, made.withLock { $0 } - taken.count)
        }
        #expect(taken == Array(0..<10_000))
        #expect(furthestAhead <= lookahead + 1)
        #expect(reading.next() == nil)
    }

    /// Letting go of the handle before the last value stops a producer that would
    /// never end: its `send` returns false, and the handle's end waits for it.
    @Test func droppingAReadAheadStopsItsProducer() {
        let stopped = Lock(false)
        do {
            let reading = ReadAhead<Int>(name: "test-ahead") { send in
                var value = 0
                while send(value) { value += 1 }
                stopped.withLock { $0 = true }
            }
            #expect(reading.next() == 0)
            #expect(reading.next() == 1)
        }
        #expect(stopped.withLock { $0 })
    }
}
