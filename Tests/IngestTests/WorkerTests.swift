import CaseStore
import Concurrency
import Foundation
import Testing
import TestSupport
@testable import Ingest

/// `cairn worker` over a shared case on a real PostgreSQL server: workers side by side,
/// killed and replaced, given the same content twice or a file they cannot read, end
/// with the case one `cairn ingest` into SQLite gives.
@Suite(
    "workers",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package")
)
struct WorkerTests {
    let interruption = InterruptionTests()

    func newCaseURL() throws -> String {
        try ThrowawayPostgres.shared.get().newDatabaseURL()
    }

    func workerOptions(_ url: String, rules: String = Fixtures.rules, lease: Int = 60) -> WorkerOptions {
        var options = WorkerOptions(ingest: IngestOptions(
            rulePaths: [rules], databasePath: url, jobs: 1, filter: nil, year: 2026, commandLine: "cairn worker",
            version: "test"))
        options.leaseSeconds = lease
        options.untilEmpty = true
        options.pollSeconds = 0.1
        return options
    }

    /// Runs `count` workers on threads of their own until the queue is drained.
    func runWorkers(_ count: Int, _ options: WorkerOptions) -> [Result<IngestReport, IngestError>] {
        let reports = Lock<[Result<IngestReport, IngestError>]>([])
        let threads = WorkerThreads(count: count, stackSize: 4 << 20) { index in
            var own = options
            own.name = "worker-\(index)"
            let result = Result { () throws(IngestError) in try QueueWorker(options: own).run() }
            reports.withLock { $0.append(result) }
        }
        threads.join()
        return reports.withLock { $0 }
    }

    func ingestIntoSQLite(_ paths: [String], rules: String = Fixtures.rules, directory: URL) throws -> CaseDatabase {
        let database = directory.appendingPathComponent("one.sqlite").path
        let options = IngestOptions(
            rulePaths: [rules], databasePath: database, jobs: 2, filter: nil, year: 2026, commandLine: "cairn ingest",
            version: "test")
        _ = try Ingestor(options: options).run(paths: paths)
        return try CaseDatabase(location: database)
    }

    @Test func twoWorkersGiveTheCaseOfOneIngest() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try newCaseURL()
        let shared = try CaseDatabase(location: url)
        _ = try QueueWorker.queue(paths: [Fixtures.sampleData], in: shared)

        let results = runWorkers(2, workerOptions(url))
        let reports = try results.map { try $0.get() }
        #expect(reports.reduce(0) { $0 + $1.sources.count } == 4, "each file read by one worker")
        #expect(try shared.queuedFiles().allSatisfy { $0.status == "done" && $0.correlated })

        let one = try ingestIntoSQLite([Fixtures.sampleData], directory: directory)
        #expect(try interruption.incidentKeys(shared) == interruption.incidentKeys(one))
        #expect(try interruption.sightingKeys(shared) == interruption.sightingKeys(one))
        #expect(try shared.incidents().count == 5)
        // One custody entry for the drain, naming every file read, and a chain that verifies.
        let custody = try shared.custodyEntries()
        #expect(custody.count == 1)
        #expect(custody.first?.inputs.count == 4)
        #expect(try shared.verifyCustody().ok)
    }

    @Test func theSameContentUnderTwoPathsIsIngestedOnce() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("copy-of-office-lan.pcap").path
        try FileManager.default.copyItem(atPath: Fixtures.sampleData + "/office-lan.pcap", toPath: copy)
        let url = try newCaseURL()
        let shared = try CaseDatabase(location: url)
        _ = try QueueWorker.queue(paths: [Fixtures.sampleData + "/office-lan.pcap", copy], in: shared)
        _ = try QueueWorker.queue(paths: [copy], in: shared)  // queued twice: left as it is

        _ = try runWorkers(2, workerOptions(url)).map { try $0.get() }
        let sources = try shared.sources()
        #expect(sources.count == 1, "one source record for one content: \(sources.map(\.path))")
        #expect(sources.first?.status == "complete")
        #expect(try shared.queuedFiles().map(\.status) == ["done", "done"])
        let one = try ingestIntoSQLite([Fixtures.sampleData + "/office-lan.pcap"], directory: directory)
        #expect(try interruption.incidentKeys(shared) == interruption.incidentKeys(one))
    }

    @Test func aFileNoWorkerCanReadFailsAfterThreeAttemptsAndTheRestIsRead() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gone = directory.appendingPathComponent("gone.pcap").path
        try FileManager.default.copyItem(atPath: Fixtures.sampleData + "/office-lan.pcap", toPath: gone)
        let url = try newCaseURL()
        let shared = try CaseDatabase(location: url)
        _ = try QueueWorker.queue(paths: [gone, Fixtures.sampleData + "/branch-v6.pcapng"], in: shared)
        try FileManager.default.removeItem(atPath: gone)  // unmounted, say, after it was queued

        let report = try runWorkers(1, workerOptions(url))[0].get()
        #expect(report.hadProblems, "cairn worker exits 1")
        let files = try shared.queuedFiles()
        let failed = try #require(files.first { $0.path == gone })
        #expect(failed.status == "failed")
        #expect(failed.attempts == CaseDatabase.attemptsAllowed)
        #expect(failed.error?.contains("gone.pcap") == true)
        #expect(files.first { $0.path != gone }?.status == "done")
        #expect(try shared.sources().filter { $0.status == "complete" }.count == 1)
    }

    @Test func aWorkerStopsOnSIGTERMAndEndsItsRun() throws {
        guard let cairn = Fixtures.cairnExecutable else {
            Issue.record("the cairn executable was not found beside the test bundle")
            return
        }
        let url = try newCaseURL()
        let shared = try CaseDatabase(location: url)
        _ = try QueueWorker.queue(paths: [Fixtures.sampleData], in: shared)
        let process = Process()
        process.executableURL = cairn
        process.arguments = ["worker", "--db", url, "--rules", Fixtures.rules, "--year", "2026"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Without --until-empty it waits for more files once the queue is drained.
        let deadline = Date().addingTimeInterval(60)
        while try shared.filesToCorrelate() != [], Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        // Ended by itself, its run finished, rather than by the signal.
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }

    @Test func aWorkerWaitsOutAServerRestartAndFinishes() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = directory.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        _ = try interruption.writeCaptures(into: inputs, count: 6, recordsPerFile: 40_000)
        let server = try ThrowawayPostgres.start(database: "cairn")
        defer { server.stop() }
        let url = server.url(database: server.database, parameters: "sslmode=disable")
        _ = try QueueWorker.queue(paths: [inputs.path, Fixtures.sampleData], in: CaseDatabase(location: url))

        let events = Lock<[String]>([])
        let finished = Lock<Result<IngestReport, IngestError>?>(nil)
        let options = workerOptions(url)
        let worker = WorkerThreads(count: 1, stackSize: 4 << 20) { _ in
            let result = Result { () throws(IngestError) in
                try QueueWorker(options: options).run(events: { event in
                    switch event {
                    case .unreachable(let problem, _): events.withLock { $0.append("unreachable: \(problem)") }
                    case .gaveBack(let lease): events.withLock { $0.append("gave back \(lease.path)") }
                    default: break
                    }
                })
            }
            finished.withLock { $0 = result }
        }
        Thread.sleep(forTimeInterval: 1.5)
        try server.restart()
        worker.join()
        let report = try #require(finished.withLock { $0 }).get()
        print("while the server restarted: \(events.withLock { $0 })")
        #expect(!report.hadProblems)

        let shared = try CaseDatabase(location: url)
        #expect(try shared.queuedFiles().allSatisfy { $0.status == "done" && $0.correlated })
        let one = try ingestIntoSQLite([inputs.path, Fixtures.sampleData], directory: directory)
        #expect(try interruption.sightingKeys(shared) == interruption.sightingKeys(one))
        #expect(try interruption.incidentKeys(shared) == interruption.incidentKeys(one))
    }

    @Test func aPasswordInTheURLIsInNoRecordAndNoOutput() throws {
        guard let cairn = Fixtures.cairnExecutable else {
            Issue.record("the cairn executable was not found beside the test bundle")
            return
        }
        // The test server trusts every local connection: the password is sent and ignored.
        let url = try newCaseURL().replacingOccurrences(of: "postgres@", with: "postgres:s3cret-pw@")
        var output = Data()
        for arguments in [
            ["queue", "add", "--db", url, Fixtures.sampleData],
            ["worker", "--db", url, "--rules", Fixtures.rules, "--year", "2026", "--until-empty"],
            ["queue", "status", "--db", url, "--format", "json"],
            ["custody", "list", "--db", url],
            ["sources", "--db", url],
        ] {
            let process = Process()
            process.executableURL = cairn
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            output += pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "cairn \(arguments[0]) \(arguments[1])")
        }
        let printed = String(decoding: output, as: UTF8.self)
        #expect(printed.contains("queue drained"), "the worker ran")
        #expect(!printed.contains("s3cret-pw"))
        let shared = try CaseDatabase(location: url)
        let recorded = try shared.custodyEntries().map(\.commandLine)
        #expect(recorded.count == 1 && recorded.allSatisfy { !$0.contains("s3cret-pw") && $0.contains("postgres@127.0.0.1") })
    }

    /// The issue's acceptance test: three `cairn worker` processes over the whole corpus,
    /// workers killed with SIGKILL at scattered moments and replaced at once; the case
    /// ends with the sightings and incidents of one uninterrupted `cairn ingest` into
    /// SQLite, each file once, and so does its copy into SQLite, whose custody verifies.
    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent"))
    func killedAndReplacedWorkersGiveTheCaseOfOneIngest() throws {
        guard let cairn = Fixtures.cairnExecutable else {
            Issue.record("the cairn executable was not found beside the test bundle")
            return
        }
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rules = try interruption.corpusRules(corpus, into: directory)
        let inputs = [corpus.appendingPathComponent("pcap").path, corpus.appendingPathComponent("syslog").path]
        let one = try ingestIntoSQLite(inputs, rules: rules, directory: directory)

        let url = try newCaseURL()
        let shared = try CaseDatabase(location: url)
        let queued = try QueueWorker.queue(paths: inputs, in: shared)
        let lease = 3
        func startWorker() throws -> Process {
            let process = Process()
            process.executableURL = cairn
            process.arguments = [
                "worker", "--db", url, "--rules", rules, "--jobs", "1", "--year", "2026", "--lease", "\(lease)",
                "--until-empty", "--no-table-cache",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        var workers = try (0..<3).map { _ in try startWorker() }
        // Fixed, scattered moments (seconds after the start), so a failing schedule can be
        // replayed; each kills the worker started longest ago and starts another.
        var killed = 0
        var elapsed = 0.0
        for moment in [0.7, 1.6, 2.2, 4.5, 6.0] {
            Thread.sleep(forTimeInterval: moment - elapsed)
            elapsed = moment
            let victim = workers.removeFirst()
            if victim.isRunning {
                kill(victim.processIdentifier, SIGKILL)
                killed += 1
            }
            victim.waitUntilExit()
            workers.append(try startWorker())
        }
        for worker in workers { worker.waitUntilExit() }
        print("workers killed: \(killed) of 5 moments")

        let files = try shared.queuedFiles()
        #expect(files.count == queued.count)
        #expect(files.allSatisfy { $0.status == "done" || $0.status == "failed" })
        #expect(files.allSatisfy { $0.correlated })
        let sources = try shared.sources()
        #expect(Set(sources.map(\.path)).count == sources.count, "each file recorded once")
        #expect(sources.allSatisfy { $0.status != "reading" })
        #expect(try interruption.sightingKeys(shared) == interruption.sightingKeys(one))
        #expect(try interruption.incidentKeys(shared) == interruption.incidentKeys(one))
        #expect(try shared.verifyCustody().ok)

        // The handoff file for investigators: the same case again, its custody verifying.
        let handoff = try CaseDatabase(location: directory.appendingPathComponent("handoff.sqlite").path)
        _ = try shared.copy(to: handoff, commandLine: "cairn case copy", toolVersion: "test")
        #expect(try interruption.sightingKeys(handoff) == interruption.sightingKeys(one))
        #expect(try interruption.incidentKeys(handoff) == interruption.incidentKeys(one))
        #expect(try handoff.verifyCustody().ok)
    }
}
