import ByteParsing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CaseStore
import Crypto
import Foundation
import Observations

/// `log-excerpts.txt`: the log lines behind the line sightings and the lines a
/// correlation rule counted in a rule incident (`line_events`), re-read from their
/// source files and quoted verbatim, each after a prefix naming the source file, its
/// SHA-256 and the line number.
///
/// A source is quoted only if its SHA-256 today equals the one recorded when it was
/// ingested; otherwise the file says so and quotes nothing from it. Gzip sources are
/// decompressed by the system's `gzip -dc`, streamed.
enum LogExcerpts {
    /// The longest part of one line quoted; a longer line is cut and marked. A log line
    /// is short; this bounds memory against a hostile file with no line breaks.
    static let maximumQuotedLine = 64 * 1024
    /// Bytes read at a time.
    static let chunkSize = 1 << 20

    /// One source's lines that sightings point at.
    struct Request {
        var path: String
        var sha256: String
        /// Line number → recorded byte offset of the line's first byte.
        var lines: [UInt64: UInt64]
        /// What the case says of the source: how the ingest read it, where its unverified
        /// lines begin (nil when the case has no record of it).
        var facts: SourceFacts? = nil
    }

    /// What the case says of a source for its excerpts: how it was read, and where its
    /// unverified lines begin.
    struct SourceFacts {
        /// Nil when the run that read the source predates the record.
        var settings: LogSettings?
        /// The first line of the gzip member reading stopped inside, if it did.
        var unverifiedFromLine: UInt64?
    }

    /// The key of a source in `render`'s `sources`: its path and SHA-256.
    static func key(path: String, sha256: String) -> String { path + "\u{0}" + sha256 }

    /// Renders the excerpt file. `notes` collects one sentence per source that could
    /// not be quoted in full (also written into the file).
    /// `sources` says, by `key(path:sha256:)`, how the ingest read each source and
    /// where its unverified lines begin; both are written before a quoted source's lines
    /// (the time zone and year that turned its times into the sightings' UTC times).
    static func render(
        sightings: [SightingRow], lineEvents: [StoredLineEvent] = [], sources: [String: SourceFacts] = [:],
        tlp: TLP, notes: inout [String]
    ) -> [UInt8] {
        var requests: [String: Request] = [:]
        var order: [String] = []
        func request(path: String, sha256: String, line number: UInt64, offset: UInt64) {
            let key = key(path: path, sha256: sha256)
            if requests[key] == nil {
                requests[key] = Request(path: path, sha256: sha256, lines: [:], facts: sources[key])
                order.append(key)
            }
            requests[key]?.lines[number] = offset
        }
        for sighting in sightings {
            guard case .line(let number, let offset) = sighting.locator else { continue }
            request(path: sighting.sourcePath, sha256: sighting.sourceSHA256, line: number, offset: offset)
        }
        for event in lineEvents {
            request(path: event.sourcePath, sha256: event.sourceSHA256, line: event.line, offset: event.offset)
        }
        var out = Array("""
            \(tlp.rawValue)
            # Cairn evidence package: the log lines behind the sightings and the rule incidents.
            # Each quoted line is "<source file> sha256=<SHA-256 of the source file> line <n>: " followed by
            # the line's bytes exactly as in the file (the line break, and a CR before it, left out).
            # A source is quoted only when its SHA-256 today equals the one recorded at ingest. Before its
            # lines, a comment says how the ingest read it: the time zone taken for times written without
            # one, the year of RFC 3164 times, the line limit and the decompressed-size limit.

            """.utf8)
        if order.isEmpty { out += Array("# No sighting or rule event of these incidents comes from a log line.\n".utf8) }
        for key in order.sorted(by: { requests[$0]?.path ?? "" < requests[$1]?.path ?? "" }) {
            guard let request = requests[key] else { continue }
            out += quote(request, notes: &notes)
        }
        return out
    }

    /// The quoted lines of one source, in line order, or a comment saying why not.
    static func quote(_ request: Request, notes: inout [String]) -> [UInt8] {
        func note(_ text: String) -> [UInt8] {
            notes.append(text)
            return Array("# \(text)\n".utf8)
        }
        let current: (sha256: String, gzip: Bool)
        do {
            current = try hashFile(request.path)
        } catch {
            return note("NOT QUOTED: \(request.path): cannot be read now (\(error)); recorded SHA-256 \(request.sha256)")
        }
        guard current.sha256 == request.sha256 else {
            return note("NOT QUOTED: \(request.path): its SHA-256 is now \(current.sha256), the case recorded \(request.sha256): the file changed after it was ingested")
        }
        var collector = LineCollector(wanted: Set(request.lines.keys))
        var problems: [UInt8] = []
        do {
            if current.gzip {
                let status = try readGzip(request.path) { collector.feed($0) }
                if let status, collector.found.count < collector.wanted.count {
                    problems = note("\(request.path): `gzip -dc` stopped with status \(status) (a damaged stream, or no gzip on PATH): lines past that point cannot be quoted")
                }
            } else {
                try readPlain(request.path) { collector.feed($0) }
            }
        } catch {
            return note("NOT QUOTED: \(request.path): cannot be read now (\(error))")
        }
        collector.finish()
        var out: [UInt8] = problems
        if let settings = request.facts?.settings {
            out += Array("# \(request.path): read by cairn ingest with \(settings.summary)\n".utf8)
        }
        if let line = request.facts?.unverifiedFromLine {
            out += Array("# \(request.path): \(ReadSummary.unverifiedLinesText(from: line, to: nil))\n".utf8)
        }
        let prefix = "\(request.path) sha256=\(request.sha256) line "
        for (number, recordedOffset) in request.lines.sorted(by: { $0.key < $1.key }) {
            guard let line = collector.found[number] else {
                out += note("\(request.path): line \(number) not found: the file has \(collector.lineNumber) lines")
                continue
            }
            if line.offset != recordedOffset {
                out += note("\(request.path): line \(number) starts at byte \(line.offset), the case recorded \(recordedOffset)")
            }
            out += Array("\(prefix)\(number): ".utf8)
            out += line.bytes
            out.append(UInt8(ascii: "\n"))
            if line.truncated {
                out += note("\(request.path): line \(number) is longer than \(maximumQuotedLine) bytes; quoted up to there")
            }
        }
        return out
    }

    /// The file's SHA-256 (one streamed pass) and whether it starts with the gzip magic.
    static func hashFile(_ path: String) throws -> (sha256: String, gzip: Bool) {
        var hasher = SHA256()
        var first: [UInt8] = []
        try readPlain(path) { chunk in
            if first.count < 2 { first += chunk.prefix(2 - first.count) }
            hasher.update(data: chunk)
            return true
        }
        return (Hex.string(hasher.finalize()), first == [0x1f, 0x8b])
    }

    /// Streams the file's bytes to `body` until it returns false or the file ends.
    static func readPlain(_ path: String, _ body: (ArraySlice<UInt8>) -> Bool) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EvidenceError.cannotWrite(path: path, reason: "cannot open for reading")
        }
        defer { try? handle.close() }
        while let data = try handle.read(upToCount: chunkSize), !data.isEmpty {
            if !body(ArraySlice(data)) { return }
        }
    }

    /// Streams the decompressed text of a gzip file (all members) from `gzip -dc`.
    /// Returns gzip's exit status when it failed (nil when it succeeded or was stopped
    /// early because every wanted line was found).
    static func readGzip(_ path: String, _ body: (ArraySlice<UInt8>) -> Bool) throws -> Int32? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", "--", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = pipe.fileHandleForReading
        var stopped = false
        while let data = try reader.read(upToCount: chunkSize), !data.isEmpty {
            if !body(ArraySlice(data)) {
                stopped = true
                break
            }
        }
        if stopped { process.terminate() }
        try? reader.close()
        process.waitUntilExit()
        return stopped || process.terminationStatus == 0 ? nil : process.terminationStatus
    }
}

/// Picks given lines out of a stream of text, numbering lines from 1 as the log reader
/// does (split at LF, a CR before LF dropped) and noting where each starts.
struct LineCollector {
    struct Line {
        var offset: UInt64
        var bytes: [UInt8]
        var truncated: Bool
    }

    let wanted: Set<UInt64>
    private(set) var found: [UInt64: Line] = [:]
    /// The line being read (1-based); after `finish`, the number of lines.
    private(set) var lineNumber: UInt64 = 1
    private var offset: UInt64 = 0
    private var current: Line?
    private var sawBytesOnLine = false

    init(wanted: Set<UInt64>) {
        self.wanted = wanted
        if wanted.contains(1) { current = Line(offset: 0, bytes: [], truncated: false) }
    }

    /// Consumes a chunk; returns false once every wanted line is found (stop reading).
    mutating func feed(_ chunk: ArraySlice<UInt8>) -> Bool {
        var index = chunk.startIndex
        while index < chunk.endIndex {
            let newline = chunk[index...].firstIndex(of: UInt8(ascii: "\n"))
            let end = newline ?? chunk.endIndex
            if current != nil { append(chunk[index..<end]) }
            if end > index { sawBytesOnLine = true }
            offset += UInt64(end - index)
            guard let newline else { break }
            endLine()
            offset += 1
            index = newline + 1
            lineNumber += 1
            sawBytesOnLine = false
            if wanted.contains(lineNumber) { current = Line(offset: offset, bytes: [], truncated: false) }
            if found.count == wanted.count { return false }
        }
        return found.count < wanted.count
    }

    /// Ends the stream: a last line without LF counts if it has bytes.
    mutating func finish() {
        if sawBytesOnLine {
            endLine()
        } else {
            current = nil
            lineNumber -= 1
        }
    }

    private mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard var line = current else { return }
        let room = LogExcerpts.maximumQuotedLine + 1 - line.bytes.count
        if room > 0 { line.bytes += bytes.prefix(room) }
        current = line
    }

    private mutating func endLine() {
        guard var line = current else { return }
        if line.bytes.last == UInt8(ascii: "\r") { line.bytes.removeLast() }
        if line.bytes.count > LogExcerpts.maximumQuotedLine {
            line.bytes.removeLast(line.bytes.count - LogExcerpts.maximumQuotedLine)
            line.truncated = true
        }
        found[lineNumber] = line
        current = nil
    }
}
