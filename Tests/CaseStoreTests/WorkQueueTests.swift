import Concurrency
import Foundation
import Observations
import Testing
import TestSupport
@testable import CaseStore

/// The work queue of a shared case (`WorkQueue.swift`) against a real PostgreSQL server:
/// who gets a file, when a lease runs out, how failures count, and that a worker whose
/// lease was taken cannot change the file's source record any more.
@Suite(
    "work queue",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package")
)
struct WorkQueueTests {
    func newCase() throws -> CaseDatabase {
        try CaseDatabase(location: try ThrowawayPostgres.shared.get().newDatabaseURL())
    }

    @Test func aPathIsQueuedOnceAndQueuedAgainOnlyWhenFinished() throws {
        let database = try newCase()
        #expect(try database.queue(paths: ["/e/a.pcap", "/e/b.log"]) == [.queued, .queued])
        #expect(try database.queue(paths: ["/e/a.pcap", "/e/c.log"]) == [.alreadyQueued, .queued])
        let lease = try #require(try database.claimQueuedFile(worker: "w1", leaseSeconds: 60))
        #expect(lease.path == "/e/a.pcap" && lease.attempt == 1)
        #expect(try database.queue(paths: ["/e/a.pcap"]) == [.alreadyQueued], "a leased file is left to its worker")
        #expect(try database.finishQueuedFile(lease, .done(sourceID: nil)))
        #expect(try database.queue(paths: ["/e/a.pcap"]) == [.queuedAgain])
        let again = try #require(try database.queuedFiles().first { $0.path == "/e/a.pcap" })
        #expect(again.status == "queued" && again.attempts == 0 && again.worker == nil)
    }

    @Test func twoWorkersNeverHoldTheSameFile() throws {
        let database = try newCase()
        let paths = (0..<20).map { "/e/\($0).log" }
        _ = try database.queue(paths: paths)
        // Two stores, as two machines would have: each its own connection.
        let other = try CaseDatabase(location: database.location)
        let claimed = Lock<[String]>([])
        let threads = WorkerThreads(count: 2) { index in
            let store = index == 0 ? database : other
            while let lease = try? store.claimQueuedFile(worker: "w\(index)", leaseSeconds: 60) {
                claimed.withLock { $0.append(lease.path) }
            }
        }
        threads.join()
        let all = claimed.withLock { $0 }
        #expect(all.sorted() == paths.sorted(), "each file handed out once")
    }

    @Test func aFileWhoseLeaseRanOutGoesToTheNextWorker() throws {
        let database = try newCase()
        _ = try database.queue(paths: ["/e/a.pcap"])
        let first = try #require(try database.claimQueuedFile(worker: "w1", leaseSeconds: 1))
        #expect(try database.claimQueuedFile(worker: "w2", leaseSeconds: 60) == nil, "held while the lease runs")
        #expect(try database.renewLease(first, seconds: 1))
        Thread.sleep(forTimeInterval: 1.2)
        let second = try #require(try database.claimQueuedFile(worker: "w2", leaseSeconds: 60))
        #expect(second.path == "/e/a.pcap" && second.attempt == 2)
        #expect(try !database.renewLease(first, seconds: 60), "the first worker's lease is gone")
        #expect(try !database.finishQueuedFile(first, .done(sourceID: nil)), "and it cannot finish the file")
        #expect(try database.queuedFiles().first?.worker == "w2")
    }

    @Test func aFileWhoseWorkersKeepDyingFailsAfterThreeAttempts() throws {
        let database = try newCase()
        _ = try database.queue(paths: ["/e/poison.pcap"])
        for attempt in 1...CaseDatabase.attemptsAllowed {
            let lease = try #require(try database.claimQueuedFile(worker: "w\(attempt)", leaseSeconds: 1))
            #expect(lease.path == "/e/poison.pcap" && lease.attempt == attempt)
            Thread.sleep(forTimeInterval: 1.1)  // the worker dies: the lease runs out
        }
        _ = try database.queue(paths: ["/e/fine.pcap"])
        let next = try #require(try database.claimQueuedFile(worker: "w4", leaseSeconds: 60))
        #expect(next.path == "/e/fine.pcap", "the poison file is not handed out a fourth time")
        let poison = try #require(try database.queuedFiles().first { $0.path == "/e/poison.pcap" })
        #expect(poison.status == "failed")
        #expect(poison.error?.contains("handed out 3 times") == true)
        #expect(poison.error?.contains("w3") == true, "names the last worker")
    }

    @Test func aFileThatCannotBeReadIsTriedThreeTimesADamagedOneOnce() throws {
        let database = try newCase()
        _ = try database.queue(paths: ["/e/missing.pcap"])
        for attempt in 1...CaseDatabase.attemptsAllowed {
            let lease = try #require(try database.claimQueuedFile(worker: "w\(attempt)", leaseSeconds: 60))
            #expect(try database.finishQueuedFile(lease, .notRead(reason: "/e/missing.pcap: no such file")))
            let file = try #require(try database.queuedFiles().first)
            #expect(file.status == (attempt < CaseDatabase.attemptsAllowed ? "queued" : "failed"))
            #expect(file.error == "/e/missing.pcap: no such file")
        }
        #expect(try database.claimQueuedFile(worker: "w4", leaseSeconds: 60) == nil)

        _ = try database.queue(paths: ["/e/truncated.pcap"])
        let lease = try #require(try database.claimQueuedFile(worker: "w5", leaseSeconds: 60))
        #expect(try database.finishQueuedFile(lease, .damaged(sourceID: nil, reason: "truncated record")))
        #expect(try database.queuedFiles().last?.status == "failed", "reading it again would find the same damage")
    }

    @Test func aFileThatFailedGoesBehindTheFreshOnes() throws {
        let database = try newCase()
        _ = try database.queue(paths: ["/e/a.pcap", "/e/b.pcap"])
        let a = try #require(try database.claimQueuedFile(worker: "w1", leaseSeconds: 60))
        #expect(try database.finishQueuedFile(a, .notRead(reason: "not mounted here")))
        #expect(try database.claimQueuedFile(worker: "w1", leaseSeconds: 60)?.path == "/e/b.pcap")
        #expect(try database.claimQueuedFile(worker: "w2", leaseSeconds: 60)?.path == "/e/a.pcap")
    }

    @Test func aFileGivenBackDoesNotCountAnAttempt() throws {
        let database = try newCase()
        _ = try database.queue(paths: ["/e/a.pcap"])
        for _ in 1...(CaseDatabase.attemptsAllowed + 1) {
            let lease = try #require(try database.claimQueuedFile(worker: "w1", leaseSeconds: 60))
            #expect(lease.attempt == 1)
            #expect(try database.finishQueuedFile(lease, .givenBack))
        }
        #expect(try database.queuedFiles().first?.status == "queued")
    }

    @Test func aWorkerWhoseLeaseWasTakenCannotTouchTheSourceRecord() throws {
        let database = try newCase()
        let path = "/e/a.pcap"
        _ = try database.queue(paths: [path])
        let run = try database.beginRun(version: "test", rulesDigest: "d", commandLine: "cairn worker")
        let slow = try #require(try database.claimQueuedFile(worker: "slow", leaseSeconds: 1))
        _ = try database.beginSource(path: path, size: 10, kind: .pcap, runID: run, lease: slow)
        Thread.sleep(forTimeInterval: 1.2)
        let next = try #require(try database.claimQueuedFile(worker: "next", leaseSeconds: 60))
        let source = try database.beginSource(path: path, size: 10, kind: .pcap, runID: run, lease: next)

        // The slow worker wakes up: neither beginning again nor recording a failure may
        // remove the record the next worker is writing.
        #expect(throws: CaseStoreError.leaseLost(path)) {
            _ = try database.beginSource(path: path, size: 10, kind: .pcap, runID: run, lease: slow)
        }
        #expect(throws: CaseStoreError.leaseLost(path)) {
            try database.recordFailedSource(path: path, kind: .pcap, reason: "slow", runID: run, lease: slow)
        }
        #expect(try database.sources().map(\.id) == [source])
        #expect(try database.sources().first?.status == "reading")
    }

    @Test func theQueueAfterTheLastFileAsksForOneCorrelation() throws {
        let database = try newCase()
        #expect(try database.filesToCorrelate() == [], "nothing queued, nothing to correlate")
        _ = try database.queue(paths: ["/e/a.pcap", "/e/b.pcap"])
        let a = try #require(try database.claimQueuedFile(worker: "w1", leaseSeconds: 60))
        #expect(try database.finishQueuedFile(a, .done(sourceID: nil)))
        #expect(try database.filesToCorrelate() == nil, "b is still queued")
        let b = try #require(try database.claimQueuedFile(worker: "w1", leaseSeconds: 60))
        #expect(try database.filesToCorrelate() == nil, "b is leased")
        #expect(try database.finishQueuedFile(b, .damaged(sourceID: nil, reason: "cut")))
        let files = try #require(try database.filesToCorrelate())
        #expect(files.map(\.path) == ["/e/a.pcap", "/e/b.pcap"])
        try database.markCorrelated(files.map(\.id))
        #expect(try database.filesToCorrelate() == [])
    }

    @Test func anSQLiteCaseHasNoQueue() throws {
        let directory = try TemporaryDirectory()
        let database = try CaseDatabase(location: directory.database)
        #expect(throws: CaseStoreError.queueNeedsPostgreSQL(directory.database)) {
            _ = try database.queue(paths: ["/e/a.pcap"])
        }
    }

    @Test func anIngestAndWorkersExcludeEachOther() throws {
        let database = try newCase()
        do {
            let worker = try database.lockForWriting(.shared)
            let otherWorker = try database.lockForWriting(.shared)
            #expect(throws: CaseStoreError.workersBusy(database.location)) { _ = try database.lockForWriting(.alone) }
            withExtendedLifetime((worker, otherWorker)) {}
        }
        // The server lets a lock go once it has seen its connection close.
        let ingest = try Self.eventually { try database.lockForWriting(.alone) }
        #expect(throws: CaseStoreError.busy(database.location)) { _ = try database.lockForWriting(.shared) }
        withExtendedLifetime(ingest) {}
    }

    /// `body`'s value once it stops throwing, trying for up to two seconds.
    static func eventually<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(2)
        while true {
            do { return try body() } catch where Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        }
    }
}
