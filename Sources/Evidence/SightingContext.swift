import ByteParsing
import CaptureDecoding
import Crypto
import Foundation
import Observations

/// What surrounds one sighting in its source, re-read from the file as it is now and
/// shown only if the file's SHA-256 still equals the one the case recorded: the log
/// line with the lines around it, or what Cairn decodes from the packet.
public struct SightingContext: Sendable {
    public struct Line: Sendable {
        public var number: UInt64
        public var text: String
        /// Whether this is the sighting's own line.
        public var isSighting: Bool
        /// Whether the line was longer than `LogExcerpts.maximumQuotedLine` and is cut.
        public var truncated: Bool
    }

    /// One observation decoded from the packet: where in it (`ip.dst`, `dns.query`…)
    /// and the value.
    public struct Decoded: Sendable {
        public var field: String
        public var value: String
    }

    public var lines: [Line] = []
    public var decoded: [Decoded] = []
    /// Why nothing, or less than asked, is shown.
    public var problems: [String] = []

    /// The lines `around` before and after line `number` of a log (plain or gzip).
    public static func logLines(path: String, sha256: String, line number: UInt64, offset: UInt64, around: UInt64 = 5) -> SightingContext {
        var context = SightingContext()
        let first = number > around ? number - around : 1
        var collector = LineCollector(wanted: Set(first...(number + around)))
        do {
            // One pass hashes the file and, for plain text, picks the lines out; a gzip
            // log is inflated afterwards, only once its SHA-256 is known to be right.
            var hasher = SHA256()
            var head: [UInt8] = []
            var collecting = true
            try LogExcerpts.readPlain(path) { chunk in
                if head.count < 2 { head += chunk.prefix(2 - head.count) }
                hasher.update(data: chunk)
                if collecting && head != [0x1f, 0x8b] { collecting = collector.feed(chunk) }
                return true
            }
            let now = Hex.string(hasher.finalize())
            guard now == sha256 else {
                context.problems.append(changed(path: path, now: now, recorded: sha256))
                return context
            }
            if head == [0x1f, 0x8b], let status = try LogExcerpts.readGzip(path, { collector.feed($0) }) {
                context.problems.append("`gzip -dc` stopped with status \(status): lines past that point cannot be shown")
            }
        } catch {
            context.problems.append("\(path) cannot be read now (\(error))")
            return context
        }
        collector.finish()
        context.lines = collector.found.keys.sorted().compactMap { index in
            collector.found[index].map {
                Line(number: index, text: String(decoding: $0.bytes, as: UTF8.self), isSighting: index == number,
                     truncated: $0.truncated)
            }
        }
        if let line = collector.found[number], line.offset != offset {
            context.problems.append("line \(number) starts at byte \(line.offset) now; the case recorded \(offset)")
        } else if collector.found[number] == nil {
            context.problems.append("the file has no line \(number) now (it has \(collector.lineNumber))")
        }
        return context
    }

    /// What Cairn decodes from packet `frame` of a capture: every observation the
    /// decoders make of it, in order, with reassembly as in an ingest (the file is read
    /// to its end, so a stream that ends later is included).
    public static func packet(path: String, sha256: String, frame: UInt64) -> SightingContext {
        var context = SightingContext()
        do {
            let file = try InputFile(path: path)
            let reader = try CaptureReader(file: file, filter: nil)
            var decoded: [Decoded] = []
            _ = reader.read(observe: { observation in
                guard case .packet(frame) = observation.locator else { return }
                decoded.append(Decoded(field: observation.field.rawValue, value: observation.value.owned.description))
            }, progress: { _ in })
            guard file.sha256Hex == sha256 else {
                context.problems.append(changed(path: path, now: file.sha256Hex, recorded: sha256))
                return context
            }
            context.decoded = decoded
        } catch {
            context.problems.append("\(path) cannot be read as a capture now (\(error))")
        }
        return context
    }

    private static func changed(path: String, now: String, recorded: String) -> String {
        "NOT SHOWN: \(path): its SHA-256 is now \(now), the case recorded \(recorded): the file changed after it was ingested"
    }
}
