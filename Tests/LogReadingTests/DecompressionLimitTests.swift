import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

// The decompression-bomb guard: `maximumDecompressedBytes` per gzip file.

@Test(arguments: LogReadingOptions.Inflater.allCases)
func aZeroBombStopsAtTheLimitAndKeepsTheLinesBefore(inflater: LogReadingOptions.Inflater) throws {
    let text = Fixture.sampleLog(lines: 50)
    // 256 MiB of zeros compress to about 256 KiB (deflate's ratio is at most ~1032:1).
    let bomb = try Fixture.shell("head -c 268435456 /dev/zero | gzip -9 -c -n")
    #expect(bomb.count < 1 << 20)
    let input = try gzipCompressed(text) + bomb
    let limit: UInt64 = 8 << 20
    let (lines, summary) = try Fixture.frame(input, compressed: true, options: Fixture.options(inflater, limit: limit))
    let damage = try #require(summary.damage)
    #expect(damage.hasPrefix("decompressed size limit of 8388608 bytes reached at compressed byte "))
    #expect(damage.contains("(member 2)"))
    #expect(summary.bytes == limit)
    // Every line of the first member is kept, then the zeros as one line cut at 1 MiB.
    let original = Fixture.split(text)
    #expect(lines.count == original.count + 1)
    #expect(Array(lines.prefix(original.count).map(\.bytes)) == original)
    #expect(lines.last?.bytes.count == 1 << 20)
    #expect(summary.anomalies.counts["log.line_too_long"] == 1)
    // The offset in the message is a position inside the compressed file.
    let offsetText = damage.split(separator: " ")[10]
    let offset = try #require(UInt64(offsetText))
    #expect(offset > UInt64(input.count - bomb.count) && offset <= UInt64(input.count))
}

@Test(arguments: LogReadingOptions.Inflater.allCases)
func theLimitIsExact(inflater: LogReadingOptions.Inflater) throws {
    let text = Fixture.sampleLog(lines: 40)
    let size = UInt64(text.count)
    let input = try gzipCompressed(text)
    for chunkSize in [17, 4096, LogReader.defaultChunkSize] {
        for limit in [size + 1, size, size - 1, size / 2, 1, 0] {
            let (lines, summary) = try Fixture.frame(
                input, compressed: true, chunkSize: chunkSize, options: Fixture.options(inflater, limit: limit))
            if limit >= size {
                #expect(summary.damage == nil, "limit \(limit) chunk \(chunkSize)")
                #expect(lines.map(\.bytes) == Fixture.split(text))
                continue
            }
            #expect(summary.damage?.hasPrefix("decompressed size limit of \(limit) bytes") == true,
                    "limit \(limit) chunk \(chunkSize)")
            #expect(summary.bytes == limit)
            // What was framed is exactly the first `limit` bytes of the text.
            var framed: [UInt8] = []
            for line in lines { framed += line.bytes + [UInt8(ascii: "\n")] }
            if !framed.isEmpty, limit < size, text[Int(limit) - 1] != UInt8(ascii: "\n") { framed.removeLast() }
            #expect(framed == Array(text.prefix(Int(limit))), "limit \(limit) chunk \(chunkSize)")
        }
    }
}

@Test func plainFilesAreNotLimited() throws {
    let text = Fixture.sampleLog(lines: 40)
    let (lines, summary) = try Fixture.frame(text, compressed: false, options: Fixture.options(.isal, limit: 10))
    #expect(summary.damage == nil)
    #expect(lines.count == 40)
}

@Test func theDefaultLimitIs64GiB() {
    let options = LogReadingOptions(year: 2024)
    #expect(options.maximumDecompressedBytes == 64 << 30)
    #expect(options.inflater == .isal)
}
