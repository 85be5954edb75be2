import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

/// The compressed side of a gzip log's read account: consumed + unread = file size,
/// with unread exactly what a damage left behind.
struct GzipAccountCase: CustomStringConvertible, Sendable {
    var name: String
    /// What follows the one good member.
    var tail: [UInt8]
    /// Compressed bytes left unread, given the member's length.
    var unread: @Sendable (_ member: Int) -> UInt64
    var damaged: Bool
    var description: String { name }
}

let gzipAccountCases: [GzipAccountCase] = [
    GzipAccountCase(name: "clean", tail: [], unread: { _ in 0 }, damaged: false),
    GzipAccountCase(name: "zero padding", tail: [0, 0, 0, 0], unread: { _ in 0 }, damaged: false),
    GzipAccountCase(name: "trailing garbage", tail: Array("GARBAGE!".utf8), unread: { _ in 8 }, damaged: true),
    GzipAccountCase(name: "garbage after padding", tail: [0, 0] + Array("junk".utf8), unread: { _ in 4 }, damaged: true),
]

@Test(arguments: gzipAccountCases, LogReadingOptions.Inflater.allCases)
func gzipAccountAddsUp(_ testCase: GzipAccountCase, inflater: LogReadingOptions.Inflater) throws {
    let text = Array("first line\r\nsecond line\nno newline at the end".utf8)
    let member = try gzipCompressed(text)
    let file = member + testCase.tail
    for chunkSize in [1, 2, 15, 16, 17, 31, 32, 33, 1 << 20] {
        var options = Fixture.options(inflater)
        options.maximumLineLength = 1 << 20
        let (lines, summary) = try Fixture.frame(file, compressed: true, chunkSize: chunkSize, options: options)
        let context = "\(inflater) chunk \(chunkSize)"
        #expect(lines.count == 3, "\(context)")
        #expect((summary.damage != nil) == testCase.damaged, "\(context): \(summary.damage ?? "")")
        #expect(summary.bytesUnread == testCase.unread(member.count), "\(context)")
        #expect(summary.bytesConsumed + summary.bytesUnread == UInt64(file.count), "\(context)")
        #expect(summary.lineBytes + summary.separatorBytes + summary.cutBytes == summary.bytes, "\(context)")
        #expect(summary.bytes == UInt64(text.count), "\(context)")
        #expect(summary.separatorBytes == 3, "\(context)")
    }
}

/// A member cut short: every compressed byte was taken apart (nothing is left unread),
/// the partial last line is kept, and the decompressed side still adds up.
@Test(arguments: LogReadingOptions.Inflater.allCases)
func truncatedGzipAccountAddsUp(inflater: LogReadingOptions.Inflater) throws {
    let text = Array(String(repeating: "a line of log text 10.0.0.1\n", count: 200).utf8)
    let member = try gzipCompressed(text)
    let cut = Array(member.prefix(member.count / 2))
    let (_, summary) = try Fixture.frame(cut, compressed: true, chunkSize: 64, options: Fixture.options(inflater))
    #expect(summary.damage != nil)
    #expect(summary.bytesConsumed + summary.bytesUnread == UInt64(cut.count))
    #expect(summary.lineBytes + summary.separatorBytes + summary.cutBytes == summary.bytes)
    #expect(summary.bytes < UInt64(text.count))
}

/// The bomb guard stops inflating: the decompressed side adds up to the limit, the
/// compressed side to the file.
@Test(arguments: LogReadingOptions.Inflater.allCases)
func decompressionLimitAccountAddsUp(inflater: LogReadingOptions.Inflater) throws {
    let text = Array((0..<4096).map { "line \($0) from 10.0.\($0 % 256).\($0 / 256) took \($0 * 7919 % 10007) ms\n" }
        .joined().utf8)
    let member = try gzipCompressed(text)
    let (_, summary) = try Fixture.frame(
        member, compressed: true, chunkSize: 1024, options: Fixture.options(inflater, limit: 10_000))
    #expect(summary.damage != nil)
    #expect(summary.bytes == 10_000)
    #expect(summary.lineBytes + summary.separatorBytes + summary.cutBytes == 10_000)
    #expect(summary.bytesConsumed + summary.bytesUnread == UInt64(member.count))
    #expect(summary.bytesUnread > 0)
}
