import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

@Test(arguments: [1, 17, 33, 4096, LogReader.defaultChunkSize])
func multiMemberGzipReadsEveryMember(chunkSize: Int) throws {
    let text = Fixture.sampleLog(lines: 200)
    // Split in the middle of a line so that a line spans two members.
    let cut = text.count / 2 + 3
    let members = try gzipCompressed(Array(text[..<cut])) + gzipCompressed([]) + gzipCompressed(Array(text[cut...]))
    let (lines, summary) = try Fixture.frame(members, compressed: true, chunkSize: chunkSize)
    #expect(summary.damage == nil)
    #expect(lines.map(\.bytes) == Fixture.split(text))
    #expect(summary.bytes == UInt64(text.count))
}

@Test func trailingZeroBytesAreIgnored() throws {
    let text = Fixture.sampleLog(lines: 20)
    let padded = try gzipCompressed(text) + [UInt8](repeating: 0, count: 1000)
    let (lines, summary) = try Fixture.frame(padded, compressed: true, chunkSize: 64)
    #expect(summary.damage == nil)
    #expect(lines.count == 20)
}

@Test(arguments: [Array("garbage".utf8), [0x1F, 0x8B, 0x08], [0, 0, 0x41]])
func trailingGarbageIsDamage(garbage: [UInt8]) throws {
    let text = Fixture.sampleLog(lines: 20)
    let compressed = try gzipCompressed(text)
    let (lines, summary) = try Fixture.frame(compressed + garbage, compressed: true, chunkSize: 16)
    let damage = try #require(summary.damage)
    #expect(damage.contains("compressed byte"))
    #expect(lines.map(\.bytes) == Fixture.split(text), "every line of the good member is kept")
}

@Test func truncatedGzipKeepsTheLinesBefore() throws {
    let text = Fixture.sampleLog(lines: 300)
    let original = Fixture.split(text)
    let compressed = try gzipCompressed(text)
    let cuts = [0, 1, 5, 10, 11, 20, 100, compressed.count / 3, compressed.count / 2, compressed.count - 9,
                compressed.count - 4, compressed.count - 1]
    for cut in cuts {
        for chunkSize in [17, LogReader.defaultChunkSize] {
            let (lines, summary) = try Fixture.frame(Array(compressed[..<cut]), compressed: true, chunkSize: chunkSize)
            let damage = try #require(summary.damage, "cut at \(cut)")
            #expect(damage == "gzip stream truncated at compressed byte \(cut) (member 1)")
            #expect(lines.count <= original.count)
            // Every complete line is intact; the partial last one is a prefix of the original.
            for (index, line) in lines.enumerated() {
                if index < lines.count - 1 {
                    #expect(line.bytes == original[index])
                } else {
                    #expect(original[index].starts(with: line.bytes))
                }
            }
            #expect(summary.bytes <= UInt64(text.count))
        }
    }
    // Cut inside the trailer only: all text is out, the stream is still incomplete.
    let (lines, summary) = try Fixture.frame(Array(compressed.dropLast(2)), compressed: true)
    #expect(lines.map(\.bytes) == original)
    #expect(summary.damage != nil)
}

@Test func truncatedSecondMemberNamesTheMember() throws {
    let first = try gzipCompressed(Array("first member line\n".utf8))
    let second = try gzipCompressed(Fixture.sampleLog(lines: 50))
    let input = first + second.prefix(second.count / 2)
    let (lines, summary) = try Fixture.frame(input, compressed: true)
    #expect(summary.damage == "gzip stream truncated at compressed byte \(input.count) (member 2)")
    #expect(lines.first?.bytes == Array("first member line".utf8))
}

@Test func corruptedChecksumIsDamage() throws {
    let text = Fixture.sampleLog(lines: 40)
    var compressed = try gzipCompressed(text)
    // The trailer is CRC-32 then ISIZE, 4 bytes each.
    compressed[compressed.count - 8] ^= 0x55
    let (lines, summary) = try Fixture.frame(compressed, compressed: true, chunkSize: 33)
    let damage = try #require(summary.damage)
    #expect(damage.hasPrefix("gzip data error at compressed byte"))
    #expect(damage.contains("incorrect data check"))
    #expect(lines.map(\.bytes) == Fixture.split(text))
}

@Test func corruptedDeflateDataIsDamageWithoutCrash() throws {
    let text = Fixture.sampleLog(lines: 100)
    let compressed = try gzipCompressed(text)
    for position in stride(from: 10, to: compressed.count - 8, by: max(1, compressed.count / 25)) {
        var damaged = compressed
        damaged[position] ^= 0xFF
        let (_, summary) = try Fixture.frame(damaged, compressed: true, chunkSize: 512)
        // zlib notices the flip (by its checksum at the latest); the reader must not crash.
        #expect(summary.damage?.contains("compressed byte") == true, "flip at \(position)")
    }
}
