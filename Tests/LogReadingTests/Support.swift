import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading

/// One observation, owned, for comparing runs.
struct Seen: Hashable, CustomStringConvertible {
    var value: OwnedValue
    var field: Field
    var host: String?
    var line: UInt64
    var offset: UInt64
    var time: Timestamp
    /// The JSON member path, for values of JSON lines.
    var member: String?

    init(_ observation: Observation) {
        member = if let bytes = observation.member { bytes.string } else { nil }
        value = observation.value.owned
        field = observation.field
        host = observation.host.text
        switch observation.locator {
        case .line(let number, let offset):
            line = number
            self.offset = offset
        case .packet(let number):
            line = number
            offset = .max
        }
        time = observation.time
    }

    var description: String { "\(line)@\(offset) \(field.rawValue) \(value) host=\(host ?? "-") \(time.iso8601)" }
}

/// One framed line, owned.
struct FramedLine: Equatable {
    var bytes: [UInt8]
    var number: UInt64
    var offset: UInt64
}

/// One line as `read`'s line closure saw it, owned.
struct SeenLine: Equatable {
    var bytes: [UInt8]
    var locator: Locator
    var time: Timestamp
    var host: String?
    var source: String?
    var destination: String?

    init(_ line: LogReader.LineView) {
        bytes = line.bytes.array
        locator = line.locator
        time = line.time
        host = line.host.text
        source = line.source.text
        destination = line.destination.text
    }
}

/// Everything one read hands out.
struct ReadRecord: Equatable {
    var seen: [Seen] = []
    var lines: [SeenLine] = []
    /// Per line, how many observations had been seen when it was: the order of the two.
    var observationsBeforeLine: [Int] = []
    var progress: [ReadSummary] = []
    var summary = ReadSummary()

    mutating func see(_ observation: Observation) { seen.append(Seen(observation)) }

    mutating func see(_ line: LogReader.LineView) {
        lines.append(SeenLine(line))
        observationsBeforeLine.append(seen.count)
    }

    /// Everything `reader`'s one-thread read hands out.
    static func ofOneThreadRead(_ reader: LogReader) -> ReadRecord {
        var record = ReadRecord()
        record.summary = reader.read(
            observe: { record.see($0) }, line: { record.see($0) },
            progress: { record.progress.append($0) })
        return record
    }
}

enum Fixture {
    /// The package root is three levels up from Tests/LogReadingTests/Support.swift.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let corpus = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/syslog")

    /// Whether the corpus is there: the tests that read it skip through
    /// `.enabled(if: Fixture.corpusPresent)` when it is not.
    static let corpusPresent = FileManager.default.fileExists(atPath: corpus.path)

    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("logreading-\(UUID().uuidString)")
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Runs a shell pipeline and returns its standard output.
    static func shell(_ command: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(command)")
        return [UInt8](data)
    }

    /// Options for a 2024 file read through `inflater`.
    static func options(_ inflater: LogReadingOptions.Inflater, limit: UInt64? = nil) -> LogReadingOptions {
        var options = LogReadingOptions(year: 2024)
        options.inflater = inflater
        if let limit { options.maximumDecompressedBytes = limit }
        return options
    }

    static func frame(
        _ bytes: [UInt8], compressed: Bool, chunkSize: Int = LogReader.defaultChunkSize,
        maximumLineLength: Int = 1 << 20
    ) throws -> (lines: [FramedLine], summary: ReadSummary) {
        try frame(
            bytes, compressed: compressed, chunkSize: chunkSize,
            options: LogReadingOptions(year: 2024, maximumLineLength: maximumLineLength))
    }

    static func frame(
        _ bytes: [UInt8], compressed: Bool, chunkSize: Int = LogReader.defaultChunkSize, options: LogReadingOptions
    ) throws -> (lines: [FramedLine], summary: ReadSummary) {
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try frame(path: path, compressed: compressed, chunkSize: chunkSize, options: options)
    }

    static func frame(
        path: String, compressed: Bool, chunkSize: Int = LogReader.defaultChunkSize, options: LogReadingOptions
    ) throws -> (lines: [FramedLine], summary: ReadSummary) {
        let file = try InputFile(path: path)
        let reader = LogReader(file: file, compressed: compressed, options: options, chunkSize: chunkSize)
        var lines: [FramedLine] = []
        let summary = reader.readLines(progress: { _ in }) { line, number, offset in
            lines.append(FramedLine(bytes: line.array, number: number, offset: offset))
        }
        #expect(file.bytesRead == file.size, "the file is drained to its end")
        return (lines, summary)
    }

    static func observe(
        path: String, compressed: Bool, chunkSize: Int = LogReader.defaultChunkSize, year: Int = 2024
    ) throws -> (seen: [Seen], summary: ReadSummary) {
        let file = try InputFile(path: path)
        let reader = LogReader(
            file: file, compressed: compressed, options: LogReadingOptions(year: year), chunkSize: chunkSize)
        var seen: [Seen] = []
        let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
        return (seen, summary)
    }

    static func observe(
        _ bytes: [UInt8], compressed: Bool = false, chunkSize: Int = LogReader.defaultChunkSize
    ) throws -> (seen: [Seen], summary: ReadSummary) {
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try observe(path: path, compressed: compressed, chunkSize: chunkSize)
    }

    /// A few hundred varied log lines, so that the gzip stream has some length.
    static func sampleLog(lines count: Int = 300) -> [UInt8] {
        var text = ""
        for index in 0..<count {
            text += "Mar  \(index % 9 + 1) 10:\(10 + index % 50):\(10 + index % 49) host\(index % 7) sshd[\(index * 31)]: "
            text += "Failed password for user\(index * 7919 % 1000) from 10.\(index % 256).\(index * 3 % 256).\(index * 7 % 256) port \(1024 + index)\n"
        }
        return Array(text.utf8)
    }

    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        if lines.last == [] { lines.removeLast() }
        return lines
    }
}

extension Fixture {
    /// Reads `bytes` as a plain log with the given options.
    static func observe(_ bytes: [UInt8], options: LogReadingOptions) throws -> [Seen] {
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = LogReader(file: try InputFile(path: path), compressed: false, options: options)
        var seen: [Seen] = []
        _ = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
        return seen
    }
}
