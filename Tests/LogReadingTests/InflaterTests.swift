import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

// ISA-L against zlib, the reference: the same files through both must give the same
// lines, the same byte counts and, where the damage has one right answer (truncation,
// trailing garbage, a bad trailer), the same damage message.

/// The decompressed text as framed (each line with its LF back).
private func text(of lines: [FramedLine]) -> [UInt8] {
    lines.flatMap { $0.bytes + [UInt8(ascii: "\n")] }
}

/// Frames `bytes` through both inflaters and checks that they agree exactly. With
/// `truncated`, ISA-L may hand out a few bytes less than zlib before the cut (it does
/// not decode the last bits of a stream that stops mid-symbol): then its text must be
/// a prefix of zlib's, shorter by less than 512 bytes, and the damage the same.
@discardableResult
private func expectSameThroughBoth(
    _ bytes: [UInt8], chunkSizes: [Int] = [1, 7, 17, 33, 4096, LogReader.defaultChunkSize],
    truncated: Bool = false, _ comment: String = ""
) throws -> (lines: [FramedLine], summary: ReadSummary) {
    let reference = try Fixture.frame(bytes, compressed: true, options: Fixture.options(.zlib))
    for chunkSize in chunkSizes {
        for inflater in LogReadingOptions.Inflater.allCases {
            let result = try Fixture.frame(bytes, compressed: true, chunkSize: chunkSize, options: Fixture.options(inflater))
            let context: Comment = "\(inflater) chunk \(chunkSize) \(comment)"
            if truncated {
                #expect(result.summary.damage == reference.summary.damage, context)
                let shorter = text(of: result.lines)
                let longer = text(of: reference.lines)
                // Without the LF the framing adds after a partial last line.
                #expect(longer.starts(with: shorter.dropLast()), context)
                #expect(reference.summary.bytes - result.summary.bytes < 512, context)
            } else {
                #expect(result.lines == reference.lines, context)
                #expect(result.summary == reference.summary, context)
            }
        }
    }
    return reference
}

@Test func bothInflatersReadEveryMemberAlike() throws {
    let text = Fixture.sampleLog(lines: 120)
    // Many small members, some empty, cut at arbitrary points (a line spans members),
    // some with zero padding after them: ISA-L's read-ahead past each trailer must
    // come back as the next member's first bytes.
    var generator = SystemRandomNumberGenerator.seeded(7)
    var input: [UInt8] = []
    var start = 0
    while start < text.count {
        let end = min(text.count, start + Int(generator.next() % 400))
        input += try gzipCompressed(Array(text[start..<end]))
        if generator.next() % 5 == 0 { input += [UInt8](repeating: 0, count: Int(generator.next() % 9)) }
        start = end
    }
    let (lines, summary) = try expectSameThroughBoth(input, chunkSizes: [1, 2, 5, 17, 64, 4096])
    #expect(summary.damage == nil)
    #expect(lines.map(\.bytes) == Fixture.split(text))
}

@Test func bothInflatersReadHeadersWithNamesAndComments() throws {
    // gzip without -n writes the file name (FNAME) in the header; members of different
    // header lengths shift where each deflate stream starts.
    let path = try Fixture.temporaryFile(Fixture.sampleLog(lines: 30))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let named = try Fixture.shell("gzip -c '\(path)'")
    let input = named + (try gzipCompressed(Array("between\n".utf8))) + named
    let (lines, summary) = try expectSameThroughBoth(input)
    #expect(summary.damage == nil)
    #expect(lines.count == 61)
}

@Test func bothInflatersReportDamageAlike() throws {
    let text = Fixture.sampleLog(lines: 200)
    let member = try gzipCompressed(text)
    let two = try gzipCompressed(Array("first\n".utf8)) + member
    var cases: [(String, [UInt8], Bool)] = [
        ("garbage", member + Array("garbage".utf8), false),
        ("header start", member + [0x1F, 0x8B, 0x08], false),
        ("zeros then garbage", member + [0, 0, 0x41], false),
        ("empty", [], false),
        ("not gzip", Array("plain text\n".utf8), false),
        ("reserved flag", [0x1F, 0x8B, 0x08, 0x20] + Array(member[4...]), false),
        ("unknown method", [0x1F, 0x8B, 0x07] + Array(member[3...]), false),
    ]
    for cut in [1, 5, 10, 11, 20, 100, member.count / 2, member.count - 9, member.count - 4, member.count - 1] {
        cases.append(("cut \(cut)", Array(member[..<cut]), true))
    }
    for cut in [two.count - member.count + 3, two.count - 100, two.count - 2] {
        cases.append(("second member cut \(cut)", Array(two[..<cut]), true))
    }
    var badCRC = member
    badCRC[badCRC.count - 8] ^= 0x55
    cases.append(("bad CRC", badCRC, false))
    var badLength = member
    badLength[badLength.count - 1] ^= 0x01
    cases.append(("bad ISIZE", badLength, false))
    var both = badCRC
    both[both.count - 1] ^= 0x01
    cases.append(("bad CRC and ISIZE", both, false))
    for (name, input, truncated) in cases {
        let (_, summary) = try expectSameThroughBoth(
            input, chunkSizes: [1, 17, 4096, LogReader.defaultChunkSize], truncated: truncated, name)
        #expect(summary.damage != nil, "\(name)")
    }
}

@Test func bothInflatersStopOnCorruptDeflateData() throws {
    let text = Fixture.sampleLog(lines: 100)
    let compressed = try gzipCompressed(text)
    for position in stride(from: 10, to: compressed.count - 8, by: max(1, compressed.count / 40)) {
        var damaged = compressed
        damaged[position] ^= 0xFF
        // Where a decoder notices bad deflate data depends on how far it reads ahead,
        // so here only the verdict and the decoded text must agree: both report damage,
        // and every line both produced in full is the same.
        let zlib = try Fixture.frame(damaged, compressed: true, chunkSize: 512, options: Fixture.options(.zlib))
        let isal = try Fixture.frame(damaged, compressed: true, chunkSize: 512, options: Fixture.options(.isal))
        #expect(zlib.summary.damage?.contains("compressed byte") == true, "flip at \(position)")
        #expect(isal.summary.damage?.contains("compressed byte") == true, "flip at \(position)")
        let common = max(0, min(zlib.lines.count, isal.lines.count) - 1)
        #expect(Array(zlib.lines.prefix(common)) == Array(isal.lines.prefix(common)), "flip at \(position)")
    }
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func bothInflatersAgreeOnTheCorpus() throws {
    let corpus = Fixture.corpus
    let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0.hasSuffix(".gz") }.sorted()
    #expect(names.count > 10)
    for name in names {
        let path = corpus.appendingPathComponent(name).path
        let zlib = try Fixture.frame(path: path, compressed: true, options: Fixture.options(.zlib))
        let isal = try Fixture.frame(path: path, compressed: true, chunkSize: 4096, options: Fixture.options(.isal))
        #expect(zlib.summary.damage == nil, "\(name)")
        #expect(isal.lines == zlib.lines, "\(name)")
        #expect(isal.summary == zlib.summary, "\(name)")
    }
}

extension SystemRandomNumberGenerator {
    /// A small deterministic generator (SplitMix64) for reproducible test inputs.
    static func seeded(_ seed: UInt64) -> SplitMix64 { SplitMix64(seed: seed) }
}
