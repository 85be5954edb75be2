// The hostile-input catalogue of issue 9, for logs: one case (at least) per line of
// the list, each asserting the exact outcome — the damage or anomaly reported,
// the lines kept, and that a valid line after the bad input is still decoded (where
// anything can follow it: a gzip stream cannot be followed past its damage).
import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

// MARK: helpers

/// A valid line whose address is observed; `n` makes each one distinct.
private func validLine(_ n: Int) -> [UInt8] {
    Array("Mar  1 10:00:0\(n % 10) host\(n) sshd[42]: Failed password for root from 198.51.100.\(n) port 22\n".utf8)
}

private func address(_ n: Int) -> OwnedValue { .ipv4(IPv4Address("198.51.100.\(n)")!) }

/// The line numbers at which the valid line `n`'s address was observed.
private func linesObserving(_ n: Int, _ seen: [Seen]) -> [UInt64] {
    seen.filter { $0.value == address(n) }.map(\.line)
}

/// Reads `bytes` (gzip when `compressed`) with every line also framed, so a test can
/// check both what was observed and the lines themselves.
private func readLog(
    _ bytes: [UInt8], compressed: Bool, chunkSize: Int = LogReader.defaultChunkSize
) throws -> (seen: [Seen], summary: ReadSummary) {
    let path = try Fixture.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try InputFile(path: path)
    let reader = LogReader(file: file, compressed: compressed, options: LogReadingOptions(year: 2024), chunkSize: chunkSize)
    var seen: [Seen] = []
    let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
    #expect(file.bytesRead == file.size, "the file is drained (and hashed) to its end")
    return (seen, summary)
}

/// The process's resident set now, in bytes, from /proc/self/statm; nil where there
/// is none. (Not the peak, ru_maxrss: earlier tests in the same process may already
/// have set it far above what a reader needs.)
private func residentNow() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// ASan keeps freed blocks in quarantine (resident), so the resident set says nothing
/// about a reader's buffers there: the memory bounds are checked without it.
private let underAddressSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil

/// Runs a shell pipeline (for inputs too large to build in memory), failing the test
/// when it fails.
private func shell(_ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(command)")
}

// MARK: damaged gzip

private let goodText = validLine(1) + validLine(2)

/// `keep` bytes of the second member: from its start when positive, all but `-keep`
/// when negative, half when `Int.min`.
@Test(arguments: [
    ("one byte of the header", 1), ("the magic only", 2), ("inside the header", 9), ("the header only", 10),
    ("one byte of deflate data", 11), ("mid-member", Int.min), ("before the trailer", -8), ("inside the trailer", -3),
    ("one byte short", -1),
] as [(String, Int)])
func gzipTruncatedMidMemberKeepsTheMembersBefore(_ name: String, _ keep: Int) throws {
    let first = try gzipCompressed(goodText)
    let second = try gzipCompressed(Fixture.sampleLog(lines: 200))
    let kept = keep == Int.min ? second.count / 2 : keep < 0 ? second.count + keep : keep
    let input = first + second.prefix(kept)
    let (seen, summary) = try readLog(input, compressed: true, chunkSize: 64)
    #expect(summary.damage == "gzip stream truncated at compressed byte \(input.count) (member 2)", "\(name)")
    #expect(linesObserving(1, seen) == [1] && linesObserving(2, seen) == [2], "the first member's lines are decoded")
    #expect(summary.anomalies.total == 0)
    #expect(summary.lines >= 2)
}

@Test(arguments: [
    // zlib checks each field as soon as it has read it: the offset is the field's end.
    ("CRC-32", 8, 4, "incorrect data check"), ("ISIZE", 4, 0, "incorrect length check"),
] as [(String, Int, Int, String)])
func gzipBadCheckIsDamageAfterEveryLineOfTheMember(_ field: String, _ fromEnd: Int, _ reportedFromEnd: Int, _ message: String) throws {
    var first = try gzipCompressed(goodText)
    first[first.count - fromEnd] ^= 0x55
    let input = first + (try gzipCompressed(validLine(3)))
    let (seen, summary) = try readLog(input, compressed: true)
    let damage = try #require(summary.damage)
    #expect(damage == "gzip data error at compressed byte \(first.count - reportedFromEnd) (member 1): \(message)", "\(field)")
    // The member's text reaches the reader before its trailer is checked: all of it
    // is decoded; the member after the bad check is not read.
    #expect(linesObserving(1, seen) == [1] && linesObserving(2, seen) == [2])
    #expect(linesObserving(3, seen).isEmpty)
    #expect(summary.lines == 2)
}

@Test(arguments: [
    ("text", Array("trailing junk\n".utf8), false), ("a zlib header", [0x78, 0x9C, 1, 2, 3], false),
    ("0xFF bytes", [UInt8](repeating: 0xFF, count: 64), false),
    // A gzip magic is the start of a next member: its end is a truncation, not garbage.
    ("a lone gzip magic", [0x1F, 0x8B], true),
] as [(String, [UInt8], Bool)])
func gzipTrailingGarbageIsDamageAfterEveryLine(_ name: String, _ garbage: [UInt8], _ truncation: Bool) throws {
    let member = try gzipCompressed(goodText)
    let (seen, summary) = try readLog(member + garbage, compressed: true, chunkSize: 16)
    let damage = try #require(summary.damage)
    if truncation {
        #expect(damage == "gzip stream truncated at compressed byte \(member.count + garbage.count) (member 2)", "\(name): \(damage)")
    } else {
        #expect(damage.hasPrefix("trailing garbage after gzip member 1 at compressed byte \(member.count): "), "\(name): \(damage)")
    }
    #expect(linesObserving(1, seen) == [1] && linesObserving(2, seen) == [2])
    #expect(summary.lines == 2)
    #expect(summary.bytes == UInt64(goodText.count))
}

@Test func gzipBombOf1000To1IsReadInFullWithinBoundedMemory() throws {
    // 100 lines of 999,999 'A's (100 MB from about 100 KB, generated and compressed in
    // a pipe), then a valid line in a second member. There is no cap on the decompressed
    // bytes per file yet: the bomb is read to its end, and memory stays bounded by the
    // chunk and line buffers (lines cut at a 64 KiB limit here, to keep the test fast).
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logreading-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("bomb.gz").path
    try shell("head -c 99999900 /dev/zero | tr '\\0' A | fold -w 999999 | gzip -c -n > '\(path)'")
    let tail = try gzipCompressed([UInt8(ascii: "\n")] + validLine(4))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(tail))
    try handle.close()
    let file = try InputFile(path: path)
    let decompressed = 99_999_900 + 99 + 1 + validLine(4).count
    #expect(file.size * 1000 <= UInt64(decompressed), "a 1000:1 bomb: \(decompressed) bytes from \(file.size)")
    let limit = 64 << 10
    let reader = LogReader(file: file, compressed: true, options: LogReadingOptions(year: 2024, maximumLineLength: limit))
    let before = residentNow()
    var during: Int? = nil
    var seen: [Seen] = []
    let summary = reader.read(observe: {
        // Sampled at the last line, with the whole bomb inflated and the buffers live.
        if during == nil { during = residentNow() }
        seen.append(Seen($0))
    }, progress: { _ in })
    #expect(summary.damage == nil)
    #expect(summary.bytes == UInt64(decompressed))
    #expect(summary.lines == 101)
    #expect(summary.anomalies.counts == ["log.line_too_long": 100])
    #expect(linesObserving(4, seen) == [101])
    #expect(seen.filter { $0.line <= 100 }.isEmpty, "a run of 'A's is no observable")
    if !underAddressSanitizer, let before, let during {
        #expect(during - before < 32 << 20, "memory grew by \((during - before) >> 20) MiB for a 100 MB bomb")
    }
}

// MARK: long lines

@Test func hundredMegabyteLineIsCutAtTheLimitInBoundedMemory() throws {
    // 100 MB of 'A' without a newline, generated and compressed in a pipe (never held
    // in memory here), between two valid lines; and the same line ending the file.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logreading-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let huge = directory.appendingPathComponent("huge.gz").path
    try shell("head -c 100000000 /dev/zero | tr '\\0' A | gzip -1 -c -n > '\(huge)'")
    let hugeMember = try [UInt8](Data(contentsOf: URL(fileURLWithPath: huge)))
    #expect(hugeMember.count < 1 << 20)
    let before = try gzipCompressed(validLine(5))
    let after = try gzipCompressed([UInt8(ascii: "\n")] + validLine(6))
    let limit = LogReadingOptions(year: 2024).maximumLineLength

    for (name, input, total, lines) in [
        ("between two lines", before + hugeMember + after, validLine(5).count + 100_000_000 + 1 + validLine(6).count, 3),
        ("ending the file", before + hugeMember, validLine(5).count + 100_000_000, 2),
    ] {
        let resident = residentNow()
        var atCut: Int? = nil
        let path = try Fixture.temporaryFile(input)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = LogReader(file: try InputFile(path: path), compressed: true, options: LogReadingOptions(year: 2024))
        var lengths: [Int] = []
        let summary = reader.readLines(progress: { _ in }) { line, _, _ in
            // Sampled when the cut line is handed over: the reader holds what it kept of it.
            if line.count > 1 << 16 { atCut = residentNow() }
            lengths.append(line.count)
        }
        #expect(summary.damage == nil, "\(name)")
        #expect(summary.bytes == UInt64(total), "\(name)")
        #expect(summary.lines == UInt64(lines), "\(name)")
        #expect(summary.anomalies.counts == ["log.line_too_long": 1], "\(name)")
        #expect(lengths == [validLine(5).count - 1, limit] + (lines == 3 ? [validLine(6).count - 1] : []), "\(name)")
        if !underAddressSanitizer, let resident, let atCut {
            #expect(atCut - resident < 32 << 20, "\(name): memory grew by \((atCut - resident) >> 20) MiB for a 100 MB line")
        }
        let (seen, _) = try readLog(input, compressed: true)
        #expect(linesObserving(5, seen) == [1], "\(name)")
        #expect(linesObserving(6, seen) == (lines == 3 ? [3] : []), "\(name)")
    }
}

// MARK: bytes that are not text

struct ByteCase: CustomTestStringConvertible, Sendable {
    var name: String
    var line: [UInt8]
    /// The values observed on the line, in order.
    var observed: [String]
    var testDescription: String { name }
}

private let header = Array("Mar  1 10:00:00 host9 app[1]: ".utf8)

@Test(arguments: [
    ByteCase(name: "a line of NUL bytes (a preallocated file after a crash)", line: [UInt8](repeating: 0, count: 4096), observed: []),
    ByteCase(name: "NUL between observables", line: header + Array("from 192.0.2.7".utf8) + [0, 0, 0] + Array("evil.example".utf8), observed: ["192.0.2.7", "evil.example"]),
    ByteCase(name: "NUL inside a domain splits it", line: header + Array("bad".utf8) + [0] + Array("site.example".utf8), observed: ["site.example"]),
    ByteCase(name: "NUL inside the header", line: Array("Mar  1 10:00:00 ho".utf8) + [0] + Array("st app: from 192.0.2.8".utf8), observed: ["192.0.2.8"]),
    ByteCase(name: "0xFF and 0xFE", line: header + [0xFF, 0xFE] + Array("evil.example".utf8) + [0xFF], observed: ["evil.example"]),
    ByteCase(name: "lone continuation bytes", line: header + [0x80, 0xBF] + Array("192.0.2.9".utf8) + [0x80], observed: ["192.0.2.9"]),
    ByteCase(name: "overlong encoding of '/' and '.'", line: header + Array("evil".utf8) + [0xC0, 0xAE] + Array("example".utf8) + [0xC0, 0xAF], observed: []),
    ByteCase(name: "UTF-16 surrogate encoded in UTF-8", line: header + [0xED, 0xA0, 0x80] + Array("x.example".utf8), observed: ["x.example"]),
    ByteCase(name: "multibyte sequence cut by the line end", line: header + Array("from 192.0.2.10 ".utf8) + [0xE2, 0x82], observed: ["192.0.2.10"]),
    ByteCase(name: "Latin-1 text", line: header + Array("user ".utf8) + [0xE9, 0x74, 0xE9] + Array(" from 192.0.2.11".utf8), observed: ["192.0.2.11"]),
])
func nonTextBytesAreDataNotAnomalies(_ test: ByteCase) throws {
    // NUL bytes and invalid UTF-8 are kept in the line (they are evidence) and are
    // word boundaries for the scanner; they are not an anomaly. The next line is decoded.
    let input = test.line + [UInt8(ascii: "\n")] + validLine(7)
    for compressed in [false, true] {
        let (seen, summary) = try readLog(compressed ? gzipCompressed(input) : input, compressed: compressed, chunkSize: 17)
        #expect(summary.damage == nil)
        #expect(summary.lines == 2)
        #expect(summary.anomalies.total == 0)
        #expect(summary.bytes == UInt64(input.count))
        #expect(seen.filter { $0.line == 1 }.map { "\($0.value)" } == test.observed, "compressed: \(compressed)")
        #expect(linesObserving(7, seen) == [2])
    }
}
