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
        var sightings: UInt64 = 0
        var started = Date()
        var lastPrint = Date.distantPast
    }

    private let state = Mutex(State())

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
            $0.sightings += result.sightings
            printIfDue(&$0)
        }
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
        let bytes = state.bytesDone + state.inFlight.values.reduce(0, +)
        let seconds = max(now.timeIntervalSince(state.started), 0.001)
        let line = String(
            format: "\r\u{1B}[Kfiles %d/%d  %.1f/%.1f MB  %.1f MB/s  sightings %llu",
            state.filesDone, state.files, Double(bytes) / 1e6, Double(state.totalBytes) / 1e6,
            Double(bytes) / 1e6 / seconds, state.sightings)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
