import ArgumentParser
import CaseStore
import Concurrency
import Dispatch
import Foundation
import Ingest

struct Queue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The work queue of a shared case: files for cairn worker to ingest.",
        subcommands: [Add.self, Status.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue files for the case's workers.",
            discussion: """
                PATHs are files or directories (walked recursively, as cairn ingest walks them); each file \
                is queued by its absolute path, which every worker must be able to read. A file queued or \
                being read is left as it is; one done or failed is queued again.
                Exit status: 0 when every path was queued or already queued, 1 otherwise.
                """)

        @Option(name: .long, help: ArgumentHelp("The shared case: a postgresql:// URL.", valueName: "URL"))
        var db: String

        @Argument(help: "Capture and log files or directories.")
        var paths: [String]

        func run() throws {
            let results: [(path: String, addition: CaseDatabase.QueueAddition?, problem: String?)]
            do {
                results = try QueueWorker.queue(paths: paths, in: openDatabase(db))
            } catch let error as ExitCode {
                throw error
            } catch {
                printError("error: \(CaseDatabase.describe(error))")
                throw ExitCode(exitSomethingFailed)
            }
            for result in results {
                if let problem = result.problem { printError("error: \(result.path): \(problem)") }
                if result.addition == .alreadyQueued { print("\(result.path): already queued; left as it is") }
            }
            let queued = results.filter { $0.addition == .queued }.count
            let again = results.filter { $0.addition == .queuedAgain }.count
            print("queued \(queued) file(s)" + (again > 0 ? ", \(again) of them again" : ""))
            if results.contains(where: { $0.problem != nil }) { throw ExitCode(exitSomethingFailed) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the queue: files queued, leased (by which worker, since when), done and failed.")

        @Option(name: .long, help: ArgumentHelp("The shared case: a postgresql:// URL.", valueName: "URL"))
        var db: String

        @Option(name: .long, help: "table or json (json lists every file).")
        var format: OutputFormat = .table

        func run() throws {
            let files: [QueuedFile]
            do {
                files = try openDatabase(db).queuedFiles()
            } catch let error as ExitCode {
                throw error
            } catch {
                printError("error: \(CaseDatabase.describe(error))")
                throw ExitCode(exitSomethingFailed)
            }
            switch format {
            case .json: try Listing.printJSON(files)
            case .table, .tsv:
                let counts = ["queued", "leased", "done", "failed"].map { status in
                    "\(files.filter { $0.status == status }.count) \(status)"
                }
                print(counts.joined(separator: ", "))
                let shown = files.filter { $0.status != "done" }
                guard !shown.isEmpty else { return }
                print(Listing.table(
                    columns: ["ID", "STATUS", "ATTEMPTS", "WORKER", "SINCE", "LEASE UNTIL", "PATH"],
                    rows: shown.map { file in
                        [String(file.id), file.status, String(file.attempts), file.worker ?? "",
                         file.status == "queued" ? file.queuedAt : file.leasedAt ?? "", file.leaseUntil ?? "", file.path]
                    }), terminator: "")
                for file in shown where file.error != nil {
                    let label = file.status == "failed" ? "failed" : "last attempt failed"
                    print("\(file.id): \(label): \(file.error ?? "")")
                }
            }
        }
    }
}

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest files from a shared case's work queue, one at a time, with other workers.",
        discussion: """
            Claims a queued file, holds a lease on it (renewed while reading), ingests it as cairn ingest \
            would, and takes the next. When the queue drains, the worker that read the last file correlates \
            the case. A worker that dies loses its lease, and another worker reads the file again. A lost \
            connection to the case is retried, 1 s doubling to 30 s between tries.
            SIGINT or SIGTERM: stop after the file being read; a second one stops at once.
            Exit status: 0 when every file this worker read was read whole, 1 otherwise.
            """)

    @Option(name: .long, help: ArgumentHelp("The shared case: a postgresql:// URL.", valueName: "URL"))
    var db: String

    @OptionGroup var reading: ReadingOptions

    @Option(name: .long, help: ArgumentHelp(
        "How long a claimed file stays this worker's without a renewal; another worker takes it after.",
        valueName: "SECONDS"))
    var lease = 60

    @Flag(name: .long, help: "Stop once nothing is queued or leased, instead of waiting for more files.")
    var untilEmpty = false

    func validate() throws {
        guard lease >= 3, lease <= 86_400 else { throw ValidationError("--lease must be between 3 and 86400 seconds") }
    }

    func run() throws {
        signal(SIGXFSZ, SIG_IGN)
        var options = WorkerOptions(ingest: reading.ingestOptions(database: db))
        options.leaseSeconds = lease
        options.untilEmpty = untilEmpty
        let signals = StopSignals()
        let stop = signals.requested
        defer { withExtendedLifetime(signals) {} }
        print("worker \(options.name) on \(PostgresLocation.redactingPasswords(in: db))")
        let report: IngestReport
        do {
            report = try QueueWorker(options: options).run(shouldStop: { stop.withLock { $0 } }, events: Self.tell)
        } catch {
            printError("error: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
        printRuleProblems(report)
        print(Summary(report).text)
        if report.hadProblems { throw ExitCode(exitSomethingFailed) }
    }

    /// One line per event, as it happens (a worker's output is its log).
    @Sendable static func tell(_ event: WorkerEvent) {
        switch event {
        case .claimed(let lease):
            print("\(lease.path): reading (attempt \(lease.attempt) of \(CaseDatabase.attemptsAllowed))")
        case .finished(let lease, let result, let kept):
            guard kept else {
                printError("note: \(lease.path): the lease ran out and another worker took the file; "
                           + "this reading is discarded")
                return
            }
            if result.status == .complete {
                print("\(lease.path): read, \(result.sightings) sighting(s)")
            }
            printOutcome(result)
        case .gaveBack(let lease):
            printError("note: \(lease.path): given back to the queue: the case could not be reached")
        case .unreachable(let problem, let wait):
            printError("note: the case cannot be reached (\(problem)); trying again in \(Int(wait)) s")
        case .correlated(let files, let report):
            print(String(
                format: "queue drained: correlated the case with %d new file(s): %d incident(s), %.2f s",
                files, report.incidentCount, report.correlationSeconds))
            printCorrelationNotes(report)
        }
    }
}

/// SIGINT and SIGTERM as a worker takes them: the first asks it to stop after the file
/// it is reading (a Kubernetes pod's grace period); a second ends the process at once,
/// as the signal would have (the lease then runs out).
final class StopSignals {
    /// Whether a stop was asked for.
    let requested = Lock(false)
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [requested] in
                let again = requested.withLock { requested -> Bool in
                    defer { requested = true }
                    return requested
                }
                guard !again else {
                    signal(number, SIG_DFL)
                    raise(number)
                    return
                }
                printError("note: stopping after the file being read; signal again to stop at once")
            }
            source.resume()
            sources.append(source)
        }
    }
}
