import Foundation
import Synchronization

/// Receives progress from a run. Called from reader threads: implementations lock.
public protocol IngestProgress: Sendable {
    /// Before the first file: how many files and bytes there are.
    func begin(files: Int, bytes: UInt64)
    /// Now and then while a file is read: the bytes read from it so far.
    func read(bytes: UInt64, path: String)
    /// As a file's reader keeps sightings: `count` more (one at a time; called from the
    /// reader threads, so an implementation counts atomically rather than locks).
    func found(sightings count: UInt64)
    /// When a file is done, whatever its outcome.
    func finished(_ result: SourceResult)
    /// After the last file.
    func end()
}

/// The progress line of `cairn ingest`: files, megabytes and rate, the percentage of the
/// bytes read, an estimate of the time left at the rate so far, and the sightings found.
public struct ProgressLine: Sendable, Equatable {
    public var filesDone: Int
    public var files: Int
    public var bytesRead: UInt64
    public var totalBytes: UInt64
    public var seconds: Double
    public var sightings: UInt64

    public init(filesDone: Int, files: Int, bytesRead: UInt64, totalBytes: UInt64, seconds: Double, sightings: UInt64) {
        self.filesDone = filesDone
        self.files = files
        self.bytesRead = bytesRead
        self.totalBytes = totalBytes
        self.seconds = seconds
        self.sightings = sightings
    }

    /// `files 3/12  41%  410.2/1000.0 MB  152.3 MB/s  about 3m52s left  sightings 1520`;
    /// the estimate is left out until a second and a megabyte have gone by.
    public var text: String {
        let seconds = max(self.seconds, 0.001)
        let read = min(bytesRead, max(totalBytes, bytesRead))
        let percent = totalBytes == 0 ? 100 : Int(Double(read) * 100 / Double(totalBytes))
        var text = String(
            format: "files %d/%d  %d%%  %.1f/%.1f MB  %.1f MB/s", filesDone, files, percent,
            Double(read) / 1e6, Double(totalBytes) / 1e6, Double(read) / 1e6 / seconds)
        if self.seconds >= 1, read >= 1_000_000, read < totalBytes {
            let left = Double(totalBytes - read) / (Double(read) / seconds)
            text += "  about \(Self.duration(left)) left"
        }
        return text + "  sightings \(sightings)"
    }

    /// `45s`, `3m52s`, `2h05m`.
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
    }
}

/// Counts a run's progress as the readers report it, for whoever shows it: `show` is
/// called with the line at most every `interval` seconds while files are read, and once
/// more (`last` true) when the run ends. `line()` gives it at any time.
public final class ProgressTally: IngestProgress {
    private struct State {
        var files = 0
        var totalBytes: UInt64 = 0
        var filesDone = 0
        var bytesDone: UInt64 = 0
        /// Bytes read so far of files still being read.
        var inFlight: [String: UInt64] = [:]
        var started = Date()
        var lastShown = Date.distantPast
    }

    private let state = Mutex(State())
    /// Sightings found so far, counted as the readers keep them.
    private let sightings = Atomic<UInt64>(0)
    private let interval: Double
    private let show: @Sendable (ProgressLine, _ last: Bool) -> Void

    public init(interval: Double = 0.25, show: @escaping @Sendable (ProgressLine, _ last: Bool) -> Void = { _, _ in }) {
        self.interval = interval
        self.show = show
    }

    public func begin(files: Int, bytes: UInt64) {
        state.withLock {
            $0.files = files
            $0.totalBytes = bytes
            $0.started = Date()
        }
    }

    public func read(bytes: UInt64, path: String) {
        state.withLock {
            $0.inFlight[path] = bytes
            showIfDue(&$0)
        }
    }

    public func finished(_ result: SourceResult) {
        state.withLock {
            $0.inFlight[result.path] = nil
            $0.filesDone += 1
            $0.bytesDone += result.size
            showIfDue(&$0)
        }
    }

    public func found(sightings count: UInt64) {
        sightings.add(count, ordering: .relaxed)
    }

    public func end() {
        state.withLock { showIfDue(&$0, last: true) }
    }

    /// The progress so far.
    public func line() -> ProgressLine {
        state.withLock { line(of: $0, at: Date()) }
    }

    private func line(of state: State, at now: Date) -> ProgressLine {
        ProgressLine(
            filesDone: state.filesDone, files: state.files,
            bytesRead: state.bytesDone + state.inFlight.values.reduce(0, +), totalBytes: state.totalBytes,
            seconds: now.timeIntervalSince(state.started), sightings: sightings.load(ordering: .relaxed))
    }

    private func showIfDue(_ state: inout State, last: Bool = false) {
        let now = Date()
        guard last || now.timeIntervalSince(state.lastShown) >= interval else { return }
        state.lastShown = now
        show(line(of: state, at: now), last)
    }
}
