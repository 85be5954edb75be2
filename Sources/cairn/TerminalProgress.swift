import Foundation
import Ingest
import Synchronization

/// Progress on standard error, one line rewritten in place, at most a few times a second.
final class TerminalProgress: IngestProgress {
    private struct State {
        var files = 0
        var totalBytes: UInt64 = 0
        var filesDone = 0
        var bytesDone: UInt64 = 0
        /// Bytes read so far of files still being read.
        var inFlight: [String: UInt64] = [:]
        var started = Date()
        var lastPrint = Date.distantPast
    }

    private let state = Mutex(State())
    /// Sightings found so far, counted as the readers keep them.
    private let sightings = Atomic<UInt64>(0)

    func begin(files: Int, bytes: UInt64) {
        state.withLock {
            $0.files = files
            $0.totalBytes = bytes
            $0.started = Date()
        }
    }

    func read(bytes: UInt64, path: String) {
        state.withLock {
            $0.inFlight[path] = bytes
            printIfDue(&$0)
        }
    }

    func finished(_ result: SourceResult) {
        state.withLock {
            $0.inFlight[result.path] = nil
            $0.filesDone += 1
            $0.bytesDone += result.size
            printIfDue(&$0)
        }
    }

    func found(sightings count: UInt64) {
        sightings.add(count, ordering: .relaxed)
    }

    func end() {
        state.withLock { state in
            printIfDue(&state, force: true)
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }

    private func printIfDue(_ state: inout State, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(state.lastPrint) >= 0.25 else { return }
        state.lastPrint = now
        let line = ProgressLine(
            filesDone: state.filesDone, files: state.files,
            bytesRead: state.bytesDone + state.inFlight.values.reduce(0, +), totalBytes: state.totalBytes,
            seconds: now.timeIntervalSince(state.started), sightings: sightings.load(ordering: .relaxed))
        let text = "\r\u{1B}[K" + line.text
        FileHandle.standardError.write(Data(text.utf8))
    }
}
