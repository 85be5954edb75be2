import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

struct FramingCase: CustomStringConvertible, Sendable {
    var name: String
    var input: [UInt8]
    var lines: [[UInt8]]
    var offsets: [UInt64]
    var maximumLineLength: Int = 1 << 20
    var cuts: UInt64 = 0
    /// The read account: line-end bytes (LF, and CR before it or ending the input) and
    /// bytes cut from over-long lines; line bytes are what the lines hold.
    var separatorBytes: UInt64 = 0
    var cutBytes: UInt64 = 0
    var description: String { name }
}

let framingCases: [FramingCase] = [
    FramingCase(name: "LF", input: Array("alpha\nbeta\n".utf8), lines: [Array("alpha".utf8), Array("beta".utf8)], offsets: [0, 6], separatorBytes: 2),
    FramingCase(name: "CRLF", input: Array("a\r\nbc\r\n".utf8), lines: [Array("a".utf8), Array("bc".utf8)], offsets: [0, 3], separatorBytes: 4),
    FramingCase(name: "lone CR kept", input: Array("a\rb\n".utf8), lines: [Array("a\rb".utf8)], offsets: [0], separatorBytes: 1),
    FramingCase(name: "empty lines", input: Array("\n\r\n\n".utf8), lines: [[], [], []], offsets: [0, 1, 3], separatorBytes: 4),
    FramingCase(name: "empty input", input: [], lines: [], offsets: []),
    FramingCase(name: "last line without LF", input: Array("one\ntwo".utf8), lines: [Array("one".utf8), Array("two".utf8)], offsets: [0, 4], separatorBytes: 1),
    FramingCase(name: "last line ending in CR", input: Array("one\ntwo\r".utf8), lines: [Array("one".utf8), Array("two".utf8)], offsets: [0, 4], separatorBytes: 2),
    FramingCase(
        name: "NUL and invalid UTF-8 kept", input: [0x78, 0x00, 0x79, 0xFF, 0xFE, 0xC3, 0x0A, 0x80, 0x0A],
        lines: [[0x78, 0x00, 0x79, 0xFF, 0xFE, 0xC3], [0x80]], offsets: [0, 7], separatorBytes: 2),
    FramingCase(
        name: "overlong lines cut", input: Array("0123456789ABCDEF\nshort\n0123456789\r\n0123456789A\r\nfinal-overlong".utf8),
        lines: [Array("0123456789".utf8), Array("short".utf8), Array("0123456789".utf8), Array("0123456789".utf8), Array("final-over".utf8)],
        offsets: [0, 17, 23, 35, 48], maximumLineLength: 10, cuts: 3, separatorBytes: 6, cutBytes: 11),
    FramingCase(
        name: "overlong CRLF lines cut", input: Array("0123456789ABCDEFGHIJ\r\n0123456789AB\r".utf8),
        lines: [Array("0123456789".utf8), Array("0123456789".utf8)], offsets: [0, 22], maximumLineLength: 10, cuts: 2,
        separatorBytes: 3, cutBytes: 12),
]

/// The read account of a framing: every byte is in a line, a line end or a cut.
func expectAccount(_ summary: ReadSummary, _ testCase: FramingCase, lines: [FramedLine], chunkSize: Int) {
    let lineBytes = UInt64(lines.reduce(0) { $0 + $1.bytes.count })
    #expect(summary.lineBytes == lineBytes, "chunk \(chunkSize)")
    #expect(summary.separatorBytes == testCase.separatorBytes, "chunk \(chunkSize)")
    #expect(summary.cutBytes == testCase.cutBytes, "chunk \(chunkSize)")
    #expect(summary.lineBytes + summary.separatorBytes + summary.cutBytes == summary.bytes, "chunk \(chunkSize)")
    #expect(summary.bytesUnread == 0, "chunk \(chunkSize)")
}

let chunkSizes = [1, 2, 15, 16, 17, 31, 32, 33, LogReader.defaultChunkSize]

@Test(arguments: framingCases, chunkSizes)
func framesLinesPlainAtEveryChunkSize(_ testCase: FramingCase, chunkSize: Int) throws {
    let (lines, summary) = try Fixture.frame(
        testCase.input, compressed: false, chunkSize: chunkSize, maximumLineLength: testCase.maximumLineLength)
    #expect(lines.map(\.bytes) == testCase.lines)
    #expect(lines.map(\.offset) == testCase.offsets)
    #expect(lines.map(\.number) == (0..<UInt64(testCase.lines.count)).map { $0 + 1 })
    #expect(summary.lines == UInt64(testCase.lines.count))
    #expect(summary.bytes == UInt64(testCase.input.count))
    #expect(summary.anomalies.counts["log.line_too_long", default: 0] == testCase.cuts)
    #expect(summary.damage == nil)
    expectAccount(summary, testCase, lines: lines, chunkSize: chunkSize)
    #expect(summary.bytesConsumed == UInt64(testCase.input.count))
}

@Test(arguments: framingCases, chunkSizes)
func framesLinesGzipAtEveryChunkSize(_ testCase: FramingCase, chunkSize: Int) throws {
    let compressed = try gzipCompressed(testCase.input)
    let (lines, summary) = try Fixture.frame(
        compressed, compressed: true, chunkSize: chunkSize, maximumLineLength: testCase.maximumLineLength)
    #expect(lines.map(\.bytes) == testCase.lines)
    #expect(lines.map(\.offset) == testCase.offsets)
    #expect(summary.bytes == UInt64(testCase.input.count))
    #expect(summary.anomalies.counts["log.line_too_long", default: 0] == testCase.cuts)
    #expect(summary.damage == nil)
    expectAccount(summary, testCase, lines: lines, chunkSize: chunkSize)
    #expect(summary.bytesConsumed == UInt64(compressed.count))
}

@Test func progressIsReportedEvery65536Lines() throws {
    let input = [UInt8](repeating: UInt8(ascii: "\n"), count: 65_536 * 2 + 5)
    let path = try Fixture.temporaryFile(input)
    let reader = LogReader(file: try InputFile(path: path), compressed: false, options: LogReadingOptions(year: 2024))
    var reports: [UInt64] = []
    let summary = reader.read(observe: { _ in }, progress: { reports.append($0.lines) })
    #expect(reports == [65_536, 131_072])
    #expect(summary.lines == 131_077)
    try? FileManager.default.removeItem(atPath: path)
}
