import ByteParsing
import Foundation
import Observations
import TestSupport
import Testing
@testable import LogReading

// A gzip member's CRC-32 and length are checked only at its end. When reading stops
// inside a member (damage, a truncation, the decompressed-size limit), the lines that
// hold its bytes were handed on unverified: `ReadSummary.unverifiedFromLine` names the
// first of them, the same through either inflater, on one thread or two, whatever the
// chunk size (a chunk never spans two members, and the tiny ones split lines).

/// Three lines in a first member, forty in a second.
private let firstText = Array("first 192.0.2.1\nsecond 192.0.2.2\nthird 192.0.2.3\n".utf8)
private let secondText = Fixture.sampleLog(lines: 40)

private func unverifiedFromLine(
    _ input: [UInt8], limit: UInt64? = nil, chunkSizes: [Int] = [1, 7, 4096, LogReader.defaultChunkSize],
    _ comment: String
) throws -> (line: UInt64?, damage: String?) {
    let path = try Fixture.temporaryFile(input)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var results: [(UInt64?, String?)] = []
    for inflater in LogReadingOptions.Inflater.allCases {
        for threaded in [false, true] {
            for chunkSize in chunkSizes {
                var options = Fixture.options(inflater, limit: limit)
                options.inflatesOnSecondThread = threaded
                let (_, summary) = try Fixture.frame(path: path, compressed: true, chunkSize: chunkSize, options: options)
                results.append((summary.unverifiedFromLine, summary.damage))
            }
        }
    }
    let first = try #require(results.first)
    for result in results {
        #expect(result.0 == first.0, "\(comment)")
    }
    return (first.0, first.1)
}

@Test func aCleanFileHasNoUnverifiedLines() throws {
    let input = try gzipCompressed(firstText) + gzipCompressed(secondText)
    let (line, damage) = try unverifiedFromLine(input, "clean")
    #expect(damage == nil)
    #expect(line == nil)
}

@Test func theLinesOfAMemberWhoseChecksFailAreUnverified() throws {
    let first = try gzipCompressed(firstText)
    let second = try gzipCompressed(secondText)
    var badCRC = first + second
    badCRC[badCRC.count - 8] ^= 0x55
    var badLength = first + second
    badLength[badLength.count - 1] ^= 0x01
    for (name, input) in [("bad CRC", badCRC), ("bad length", badLength),
                          ("truncated", Array((first + second).dropLast(100))),
                          ("trailer cut", Array((first + second).dropLast(3)))] {
        let (line, damage) = try unverifiedFromLine(input, name)
        #expect(damage != nil, "\(name)")
        #expect(line == 4, "\(name): the second member starts at line 4")
    }
    // Damage in the first member: every line read is unverified.
    var badFirst = first
    badFirst[badFirst.count - 8] ^= 0x55
    let (line, _) = try unverifiedFromLine(badFirst + second, "bad first CRC")
    #expect(line == 1)
}

@Test func aLineRunningIntoTheDamagedMemberIsUnverified() throws {
    // The first member ends inside line 3: that line holds bytes of the second member.
    var input = try gzipCompressed(Array("one\ntwo\nthree, start".utf8)) + gzipCompressed(Array(" and end\nfour\n".utf8))
    input[input.count - 8] ^= 0x55
    let (line, damage) = try unverifiedFromLine(input, "straddling")
    #expect(damage?.contains("member 2") == true)
    #expect(line == 3)
}

@Test func garbageAfterAWholeMemberLeavesEveryLineVerified() throws {
    let input = try gzipCompressed(firstText) + Array("garbage\n".utf8)
    let (line, damage) = try unverifiedFromLine(input, "garbage")
    #expect(damage?.hasPrefix("trailing garbage after gzip member 1") == true)
    #expect(line == nil)
}

@Test func theBombGuardStoppingInsideAMemberLeavesItsLinesUnverified() throws {
    let input = try gzipCompressed(firstText) + gzipCompressed(secondText)
    let limit = UInt64(firstText.count + 10)
    // Chunks smaller than the second member: the guard stops before its trailer was
    // reached, so the lines handed on from it were never checked.
    let (inside, damage) = try unverifiedFromLine(input, limit: limit, chunkSizes: [1, 7], "inside")
    #expect(damage?.hasPrefix("decompressed size limit") == true)
    #expect(inside == 4)
    // A chunk holding the whole member: the decoder checked its trailer before the guard
    // cut the chunk, so what was handed on of it is verified.
    let (checked, _) = try unverifiedFromLine(input, limit: limit, chunkSizes: [1 << 16], "whole member")
    #expect(checked == nil)
    // At the end of the first member: nothing of the second was handed on.
    let (atEnd, _) = try unverifiedFromLine(input, limit: UInt64(firstText.count), "at the end")
    #expect(atEnd == nil)
}
