import ByteParsing
import CaseStore
import Concurrency
import Crypto
import Foundation
import Ingest
import NIOCore

/// Captures and logs sent from a browser: each is written into the case's evidence
/// directory under its SHA-256 (never over a file already there, never past the size
/// limit), made read-only, then ingested as `cairn ingest` would, one upload at a time,
/// its progress kept for the page's live view.
final class Uploads: Sendable {
    /// Where uploads go, and how they are read.
    struct Settings: Sendable {
        var directory: String
        /// The largest upload accepted, in bytes.
        var limit: UInt64
        /// How `cairn serve` was told to read (its rules, jobs, log options); the
        /// command line recorded is the upload's.
        var ingest: IngestOptions
    }

    /// One upload and what became of it.
    struct Job: Sendable, Encodable {
        var id: Int
        /// The name the browser gave (shown, never used as a path).
        var name: String
        var analyst: String
        var size: UInt64
        var sha256: String
        /// The file in the evidence directory.
        var path: String
        /// `queued`, `reading`, `done` or `failed`.
        var state: String
        /// The progress line while reading; what came of it afterwards.
        var progress: String
        var percent: Int
        var sightings: UInt64
        var incidents: Int?
        var problems: [String]
        /// True when a file with the same SHA-256 was already in the evidence directory.
        var alreadyStored: Bool

        enum CodingKeys: String, CodingKey {
            case id, name, analyst, size, sha256, path, state, progress, percent, sightings, incidents, problems
            case alreadyStored = "already_stored"
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case tooLarge(limit: UInt64)
        case cannotStore(String)

        var description: String {
            switch self {
            case .tooLarge(let limit): "the upload is larger than this server's limit of \(limit) bytes (--upload-limit)"
            case .cannotStore(let reason): reason
            }
        }
    }

    let settings: Settings
    private let jobs = Lock<[Job]>([])
    /// The uploads waiting to be read, in order, and whether the server is done with them.
    private let waiting = Lock<(ids: [Int], stopped: Bool)>(([], false))
    private let queued = Condition()
    /// The one thread that reads uploads, one after another (set once, by `init`).
    private let reader = Lock<WorkerThreads?>(nil)

    init(settings: Settings) {
        self.settings = settings
        let (waiting, queued) = (waiting, queued)
        let thread = WorkerThreads(count: 1, name: "cairn-uploads") { [weak self] _ in
            while let id = waiting.withLock(waitingOn: queued, until: { !$0.ids.isEmpty || $0.stopped }, { state in
                state.stopped ? nil : state.ids.removeFirst()
            }) {
                self?.ingest(id)
            }
        }
        reader.withLock { $0 = thread }
    }

    deinit {
        waiting.withLock { $0.stopped = true }
        queued.broadcast()
        reader.withLock { $0 }?.join()
    }

    /// Queues a received upload for reading.
    func enqueue(_ id: Int) {
        waiting.withLock { $0.ids.append(id) }
        queued.signal()
    }

    var all: [Job] { jobs.withLock { $0 } }

    /// Writes the body into the evidence directory as it arrives, hashing it; returns the
    /// job, queued. The partial file is removed if the body fails or passes the limit.
    func receive(
        name: String, analyst: String, body: some AsyncSequence<ByteBuffer, any Error>
    ) async throws -> Job {
        try FileManager.default.createDirectory(
            atPath: settings.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let partial = settings.directory + "/.upload-" + UUID().uuidString + ".part"
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: partial)
        else { throw Failure.cannotStore("cannot create a file in \(settings.directory)") }
        var hash = SHA256()
        var size: UInt64 = 0
        do {
            defer { try? handle.close() }
            for try await buffer in body {
                size += UInt64(buffer.readableBytes)
                guard size <= settings.limit else { throw Failure.tooLarge(limit: settings.limit) }
                let data = Data(buffer: buffer)
                hash.update(data: data)
                try handle.write(contentsOf: data)
            }
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        let sha256 = Hex.string(hash.finalize())
        let stored = settings.directory + "/" + sha256 + Uploads.suffix(of: name)
        // link(2) fails rather than replace a file: what is stored stays as it was stored.
        var alreadyStored = false
        do {
            try FileManager.default.linkItem(atPath: partial, toPath: stored)
        } catch CocoaError.fileWriteFileExists {
            alreadyStored = true
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw Failure.cannotStore("cannot store the upload as \(stored): \(error.localizedDescription)")
        }
        try? FileManager.default.removeItem(atPath: partial)
        if !alreadyStored { try? FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: stored) }
        return jobs.withLock { jobs in
            let job = Job(
                id: jobs.count + 1, name: name, analyst: analyst, size: size, sha256: sha256, path: stored,
                state: "queued", progress: "waiting for the uploads before it", percent: 0, sightings: 0, incidents: nil,
                problems: [], alreadyStored: alreadyStored)
            jobs.append(job)
            return job
        }
    }

    /// Ingests the job's file; on the reader thread only.
    private func ingest(_ id: Int) {
        guard let job = jobs.withLock({ $0.first { $0.id == id } }) else { return }
        update(id) { $0.state = "reading" }
        var options = settings.ingest
        options.commandLine = "cairn serve: upload by \(job.analyst) of \(Uploads.quoted(job.name)), stored as \(job.path)"
        let tally = ProgressTally(interval: 0.2) { [weak self] line, _ in
            self?.update(id) { job in
                job.progress = line.text
                job.percent = line.totalBytes == 0 ? 0 : Int(min(100, line.bytesRead * 100 / line.totalBytes))
                job.sightings = line.sightings
            }
        }
        do {
            let report = try Ingestor(options: options).run(paths: [job.path], progress: tally)
            update(id) { job in
                job.state = report.failed.isEmpty ? "done" : "failed"
                job.percent = 100
                job.incidents = report.incidentCount
                job.sightings = report.sightings
                job.problems = report.sources.flatMap(Uploads.problems) + report.chainProblems
                if !report.ruleErrors.isEmpty {
                    job.problems.append("\(report.ruleErrors.count) rule line(s) could not be read and were left out "
                                        + "(`cairn rules check` names them)")
                }
                job.progress = "read in \(String(format: "%.1f", report.elapsedSeconds)) s: "
                    + "\(job.sightings) sightings, \(report.incidentCount) incidents in the case"
            }
        } catch {
            update(id) { job in
                job.state = "failed"
                job.problems = ["\(error)"]
                job.progress = "not read"
            }
        }
    }

    private func update(_ id: Int, _ change: (inout Job) -> Void) {
        jobs.withLock { jobs in
            if let index = jobs.firstIndex(where: { $0.id == id }) { change(&jobs[index]) }
        }
    }

    private static func problems(_ source: SourceResult) -> [String] {
        var problems: [String] = []
        switch source.status {
        case .complete: break
        case .failed(let reason): problems.append(reason)
        case .duplicate(let existing): problems.append("already in the case as \(existing) (same SHA-256); nothing added")
        }
        return problems + source.summary.notes
    }

    /// The end of a file name that says what it holds (`.pcap`, `.pcapng`, `.log.gz`),
    /// letters and digits only, or nothing.
    static func suffix(of name: String) -> String {
        let parts = name.split(separator: ".").dropFirst().suffix(2)
        let kept = parts.filter { part in part.count <= 8 && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
        return kept.isEmpty || kept.count != parts.count ? "" : "." + kept.joined(separator: ".").lowercased()
    }

    /// A name as the custody log records it: quoted, control characters escaped.
    static func quoted(_ name: String) -> String {
        "\"" + name.unicodeScalars.map { scalar in
            scalar.value < 0x20 || scalar == "\"" || scalar == "\\" ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }.joined() + "\""
    }
}
