import Foundation
import Testing
@testable import Indicators
#if canImport(Glibc)
import Glibc
#endif

/// Rule files that are not what they claim: a line longer than 2 GiB, binary files,
/// NUL bytes and invalid UTF-8, each read through `RuleSet.load` as `cairn rules check`
/// and `cairn ingest` read them, with the exact message an author sees.
@Suite struct MalformedInputTests {
    static let tooLongMessage =
        "line is 2147483649 bytes long; the limit is 16384 (expected one indicator per line; is this a rule file?)"

    /// Writes `head`, then a line of `2^31 + 1` bytes (100,000 `a`s then a hole of NUL
    /// bytes, so the file is sparse: it takes no disk space and reads fast), then
    /// `tail`. Returns the path; the caller deletes it.
    static func sparseFileWithA2GiBLine(name: String, head: String, tail: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-2gib-\(UUID().uuidString)-\(name)").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(descriptor) }
        let start = Array(head.utf8) + Array(repeating: UInt8(ascii: "a"), count: 100_000)
        let end = Array(("\n" + tail).utf8)
        let tailOffset = off_t(head.utf8.count) + (off_t(1) << 31) + 1
        let wroteStart = start.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let wroteEnd = end.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, tailOffset) }
        guard wroteStart == start.count, wroteEnd == end.count else { throw CocoaError(.fileWriteUnknown) }
        return path
    }

    static func maximumResidentBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024  // kilobytes on Linux
    }

    /// The line is reported at file:line:column and skipped; it is never held in memory
    /// (peak memory grows by far less than the line); the lines after it load. The
    /// 2 GiB are read and hashed for the rule-set digest: about 12 s of CPU in a debug
    /// build on the 2-core CI machine (most of it the kernel zero-filling the hole), so
    /// this is the only test that reads one; the other formats share the same reader
    /// (`LineCappedText`) and are checked with shorter lines below.
    @Test func aLineLongerThan2GiBIsReportedAndSkipped() throws {
        let path = try Self.sparseFileWithA2GiBLine(name: "list.txt", head: "# block list\n192.0.2.1\n", tail: "198.51.100.7\n")
        defer { unlink(path) }
        let before = Self.maximumResidentBytes()
        let rules = RuleSet.load(paths: [path])
        let growth = Self.maximumResidentBytes() - before
        #expect(rules.errors.map(\.description) == ["\(path):3:1: error: \(Self.tooLongMessage)"])
        #expect(rules.indicators.map(\.value) == ["192.0.2.1", "198.51.100.7"])
        #expect(rules.indicators.map(\.line) == [2, 4])
        #expect(rules.fileSummaries.map(\.format) == [.plainList])
        #expect(growth < 256 << 20, "peak memory grew by \(growth >> 20) MiB while reading a 2 GiB line")
        #expect(rules.digest.count == 64)
    }

    /// CSV, Zeek intel and maltrail's CSV go through the same line cap: a 4 MiB line is
    /// one error at its line, column 1, and the records after it load.
    @Test(arguments: [
        ("feed.csv", "indicator,type,severity\n192.0.2.1,ipv4,high\n", "198.51.100.7,ipv4,low\n", RuleFormat.csv),
        ("intel.dat", "#fields\tindicator\tindicator_type\n192.0.2.1\tIntel::ADDR\n", "198.51.100.7\tIntel::ADDR\n", .zeekIntel),
        ("trails.csv", "192.0.2.1,c2,feed\n", "198.51.100.7,c2,feed\n", .maltrailCSV),
    ])
    func longLinesAreCappedInEveryLineFormat(name: String, head: String, tail: String, format: RuleFormat) throws {
        let long = Array(repeating: UInt8(ascii: "b"), count: 4 << 20)
        let root = try makeTree([name: Array(head.utf8) + long + Array(("\n" + tail).utf8)])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/" + name])
        let line = head.split(separator: "\n").count + 1
        #expect(rules.errors.map(\.description) == [
            "\(root)/\(name):\(line):1: error: line is 4194304 bytes long; the limit is 16384 (expected one indicator per line; is this a rule file?)",
        ])
        #expect(rules.indicators.map(\.value).suffix(2) == ["192.0.2.1", "198.51.100.7"])
        #expect(rules.fileSummaries.map(\.format) == [format])
    }

    /// The reader's memory stays at the limit however long the line: fed 2 GiB + 1 in
    /// 1 MiB chunks (a streamed source, no file), it never holds more than the limit.
    @Test func theLineCapHoldsNoMoreThanTheLimit() {
        var text = LineCappedText(path: "stream.txt", maximumLineLength: PlainListParser.maximumLineLength)
        let head = Array("192.0.2.1\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 5)
        head.withSpan { text.append($0) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var largest = 0
        for _ in 0..<2047 {
            zeros.withSpan { text.append($0) }
            largest = max(largest, text.text.count)
        }
        Array(repeating: UInt8(ascii: "y"), count: 1_048_576 - 4).withSpan { text.append($0) }
        Array("\r\n198.51.100.7".utf8).withSpan { text.append($0) }
        text.finish()
        #expect(largest <= 10 + PlainListParser.maximumLineLength + 1)
        #expect(text.errors.map(\.description) == ["stream.txt:2:1: error: \(Self.tooLongMessage)"])
        #expect(text.text == Array("192.0.2.1\n\n198.51.100.7".utf8))
    }

    /// Lines up to the limit (plus a CR) pass the reader untouched; one byte more is
    /// cut by the reader with the same message the line parser gives.
    @Test(arguments: [(16384, false), (16385, true)])
    func theLimitIsExact(length: Int, tooLong: Bool) {
        var text = LineCappedText(path: "x", maximumLineLength: 16384)
        (Array(repeating: UInt8(ascii: "a"), count: length) + [0x0D, 0x0A]).withSpan { text.append($0) }
        text.finish()
        #expect(text.errors.map(\.message) == (tooLong
            ? ["line is \(length) bytes long; the limit is 16384 (expected one indicator per line; is this a rule file?)"]
            : []))
        #expect(text.text.count == (tooLong ? 1 : length + 2))
    }

    struct FileCase: Sendable, CustomStringConvertible {
        var name: String
        var bytes: [UInt8]
        var errors: [String]
        var values: [String]
        var description: String { name }
    }

    static let padding = String(repeating: "# padding line\n", count: 600)  // 9,000 bytes: past the binary probe

    static let fileCases = [
        FileCase(
            name: "a.out",
            bytes: [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00] + Array(repeating: 0x0A, count: 100_000),
            errors: ["a.out: error: binary file (a NUL byte at offset 7); expected a text rule file (plain list, CSV, Zeek intel or STIX 2.1 JSON)"],
            values: []),
        FileCase(
            name: "image.png",
            bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D],
            errors: ["image.png: error: binary file (a NUL byte at offset 8); expected a text rule file (plain list, CSV, Zeek intel or STIX 2.1 JSON)"],
            values: []),
        FileCase(
            name: "late-nul.txt",
            bytes: Array((padding + "192.0.2.1\n1.2").utf8) + [0] + Array("3.4\n198.51.100.7\n".utf8),
            errors: ["late-nul.txt:602:4: error: line contains a NUL byte at column 4 (expected text; is this a binary file?)"],
            values: ["192.0.2.1", "198.51.100.7"]),
        FileCase(
            name: "latin1.txt",
            bytes: Array("192.0.2.1\n".utf8) + [0x62, 0xE9, 0x62, 0xE9, 0x2E, 0x66, 0x72, 0x0A] + Array("198.51.100.7\n".utf8),
            errors: ["latin1.txt:2:1: error: line is not valid UTF-8 (expected UTF-8 or ASCII text)"],
            values: ["192.0.2.1", "198.51.100.7"]),
        FileCase(
            name: "latin1.csv",
            bytes: Array("indicator,type\n192.0.2.1,ipv4\n".utf8) + [0x62, 0xE9, 0x62, 0xE9, 0x2E, 0x66, 0x72]
                + Array(",domain\n198.51.100.7,ipv4\n".utf8),
            errors: ["latin1.csv:3:1: error: field is not valid UTF-8 (expected UTF-8 or ASCII text)"],
            values: ["192.0.2.1", "198.51.100.7"]),
        FileCase(
            name: "nul.csv",
            bytes: Array(("indicator,type\n" + padding + "192.0.2.1,ipv4\nevil").utf8) + [0]
                + Array(".com,domain\n198.51.100.7,ipv4\n".utf8),
            errors: ["nul.csv:603:5: error: field contains a NUL byte (expected text; is this a binary file?)"],
            values: ["192.0.2.1", "198.51.100.7"]),
    ]

    @Test(arguments: fileCases)
    func filesThatAreNotTextGiveTheExactError(_ example: FileCase) throws {
        let root = try makeTree([example.name: example.bytes])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/" + example.name])
        #expect(rules.errors.map(\.description) == example.errors.map { root + "/" + $0 })
        #expect(rules.indicators.map(\.value) == example.values)
    }
}
