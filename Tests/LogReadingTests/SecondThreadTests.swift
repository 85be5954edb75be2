import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

// `inflatesOnSecondThread`: the same file read with the inflater on the reading thread
// and on a thread of its own must give exactly the same observations (with their
// locators), lines, progress reports and summary (damage text and offsets included),
// and the inflating thread must be joined when `read` returns.

private func read(
    path: String, threaded: Bool, inflater: LogReadingOptions.Inflater, chunkSize: Int, limit: UInt64?
) throws -> ReadRecord {
    var options = Fixture.options(inflater, limit: limit)
    options.inflatesOnSecondThread = threaded
    let file = try InputFile(path: path)
    let reader = LogReader(file: file, compressed: true, options: options, chunkSize: chunkSize)
    let record = ReadRecord.ofOneThreadRead(reader)
    #expect(file.bytesRead == file.size, "the file is drained to its end")
    if threaded {
        let ring = try #require(reader.chunkRing)
        #expect(ring.threadsStarted == 1 && ring.threadsJoined == 1, "the inflating thread ran and was joined")
        #expect(!ring.isProducerRunning)
    } else {
        #expect(reader.chunkRing == nil)
    }
    return record
}

/// Reads `path` both ways through both inflaters at every chunk size and expects the
/// same; returns the single-thread zlib read at the first chunk size.
@discardableResult
private func expectSameOnBothThreads(
    path: String, chunkSizes: [Int], limit: UInt64? = nil, _ comment: String = ""
) throws -> ReadRecord? {
    var first: ReadRecord?
    for chunkSize in chunkSizes {
        for inflater in LogReadingOptions.Inflater.allCases {
            let single = try read(path: path, threaded: false, inflater: inflater, chunkSize: chunkSize, limit: limit)
            let threaded = try read(path: path, threaded: true, inflater: inflater, chunkSize: chunkSize, limit: limit)
            let context: Comment = "\(inflater) chunk \(chunkSize) \(comment)"
            #expect(threaded.summary == single.summary, context)
            #expect(threaded.seen == single.seen, context)
            #expect(threaded.lines == single.lines, context)
            #expect(threaded.observationsBeforeLine == single.observationsBeforeLine, context)
            #expect(threaded.progress == single.progress, context)
            if first == nil { first = single }
        }
    }
    return first
}

@discardableResult
private func expectSameOnBothThreads(
    _ bytes: [UInt8], chunkSizes: [Int] = [1, 7, 17, 33, 4096, LogReader.defaultChunkSize], limit: UInt64? = nil,
    _ comment: String = ""
) throws -> ReadRecord? {
    let path = try Fixture.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try expectSameOnBothThreads(path: path, chunkSizes: chunkSizes, limit: limit, comment)
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func theCorpusReadsTheSameOnASecondThread() throws {
    let corpus = Fixture.corpus
    let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0.hasSuffix(".gz") }.sorted()
    #expect(names.count > 10)
    var observations = 0
    for name in names {
        let record = try expectSameOnBothThreads(
            path: corpus.appendingPathComponent(name).path, chunkSizes: [509, LogReader.defaultChunkSize], name)
        #expect(record?.summary.damage == nil, "\(name)")
        observations += record?.seen.count ?? 0
    }
    #expect(observations > 100, "the corpus has observations to compare")
}

@Test func linesAcrossChunksAndManyMembersReadTheSame() throws {
    let text = Fixture.sampleLog(lines: 400)
    // Members cut at arbitrary points (lines span members and chunks), some empty, some
    // followed by zero padding.
    var generator = SystemRandomNumberGenerator.seeded(11)
    var input: [UInt8] = []
    var start = 0
    while start < text.count {
        let end = min(text.count, start + Int(generator.next() % 3000))
        input += try gzipCompressed(Array(text[start..<end]))
        if generator.next() % 4 == 0 { input += [UInt8](repeating: 0, count: Int(generator.next() % 9)) }
        start = end
    }
    let one = try expectSameOnBothThreads(try gzipCompressed(text), "one member")
    let many = try expectSameOnBothThreads(input, "many members")
    #expect(one?.summary.damage == nil)
    #expect(one?.seen.count ?? 0 >= 400)
    // Splitting into members changes nothing either.
    #expect(many?.seen == one?.seen)
    #expect(many?.lines == one?.lines)
}

@Test func damageReadsTheSameOnASecondThread() throws {
    let text = Fixture.sampleLog(lines: 200)
    let member = try gzipCompressed(text)
    let two = try gzipCompressed(Array("first 192.0.2.1\n".utf8)) + member
    var badCRC = two
    badCRC[badCRC.count - 8] ^= 0x55
    var badLength = member
    badLength[badLength.count - 1] ^= 0x01
    var corrupt = member
    corrupt[member.count / 2] ^= 0xFF
    let cases: [(String, [UInt8], String)] = [
        ("truncated member", Array(member[..<(member.count / 2)]), "gzip stream truncated at compressed byte"),
        ("truncated second member", Array(two[..<(two.count - 100)]), "gzip stream truncated at compressed byte"),
        ("truncated trailer", Array(member[..<(member.count - 3)]), "gzip stream truncated at compressed byte"),
        ("bad CRC", badCRC, "gzip data error at compressed byte"),
        ("bad ISIZE", badLength, "gzip data error at compressed byte"),
        ("corrupt deflate data", corrupt, "compressed byte"),
        ("trailing garbage", two + Array("garbage\n".utf8), "trailing garbage after gzip member 2 at compressed byte"),
        ("trailing header start", member + [0x1F, 0x8B, 0x08], "compressed byte"),
        ("not gzip", Array("plain text 192.0.2.7\n".utf8), "incorrect header check"),
    ]
    for (name, input, prefix) in cases {
        let record = try expectSameOnBothThreads(input, chunkSizes: [1, 17, 4096, LogReader.defaultChunkSize], name)
        let damage = record?.summary.damage ?? ""
        #expect(damage.contains(prefix), "\(name): \(damage)")
    }
}

@Test func anEmptyGzipReadsTheSameOnASecondThread() throws {
    for (name, input) in [("empty member", try gzipCompressed([])), ("empty file", [])] {
        let record = try expectSameOnBothThreads(input, chunkSizes: [1, LogReader.defaultChunkSize], name)
        #expect(record?.summary.lines == 0, "\(name)")
        #expect(record?.seen.isEmpty == true, "\(name)")
    }
}

@Test func theBombGuardReadsTheSameOnASecondThread() throws {
    let text = Fixture.sampleLog(lines: 50)
    // 16 MiB of zeros after a member of text: a small bomb.
    let bomb = try Fixture.shell("head -c 16777216 /dev/zero | gzip -9 -c -n")
    let input = try gzipCompressed(text) + bomb
    for limit: UInt64 in [0, 1, UInt64(text.count) - 1, UInt64(text.count), 3 << 20, 4 << 20] {
        let record = try expectSameOnBothThreads(
            input, chunkSizes: [4096, 1 << 20], limit: limit, "limit \(limit)")
        #expect(record?.summary.damage?.hasPrefix("decompressed size limit of \(limit) bytes") == true, "limit \(limit)")
        #expect(record?.summary.bytes == limit)
    }
}

@Test func plainInputHasNoSecondThread() throws {
    let path = try Fixture.temporaryFile(Fixture.sampleLog(lines: 20))
    defer { try? FileManager.default.removeItem(atPath: path) }
    var options = LogReadingOptions(year: 2024)
    options.inflatesOnSecondThread = true
    let reader = LogReader(file: try InputFile(path: path), compressed: false, options: options)
    #expect(reader.chunkRing == nil)
    let summary = reader.read(observe: { _ in }, progress: { _ in })
    #expect(summary.lines == 20)
    #expect(LogReadingOptions(year: 2024).inflatesOnSecondThread == false, "off by default")
}

@Test func aSecondReadIsTheSameOnBothThreads() throws {
    // After a read has stopped at the bomb guard, reading again reports the guard again.
    let input = try gzipCompressed(Fixture.sampleLog(lines: 30))
    let path = try Fixture.temporaryFile(input)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var summaries: [[ReadSummary]] = []
    for threaded in [false, true] {
        var options = Fixture.options(.isal, limit: 100)
        options.inflatesOnSecondThread = threaded
        let reader = LogReader(file: try InputFile(path: path), compressed: true, options: options, chunkSize: 64)
        summaries.append((0..<2).map { _ in reader.read(observe: { _ in }, progress: { _ in }) })
        if threaded { #expect(reader.chunkRing?.threadsJoined == 2) }
    }
    #expect(summaries[0] == summaries[1])
    #expect(summaries[1][1].damage?.hasPrefix("decompressed size limit of 100 bytes") == true)
}

// The ring on its own.

/// A producer that writes `index` in every byte of chunk `index`, `chunks` chunks, then
/// `last`; counts its calls.
private final class CountingProducer: @unchecked Sendable {
    private let lock = NSLock()
    private var calls = 0
    let chunks: Int
    let last: RingPiece

    init(chunks: Int, last: RingPiece) {
        self.chunks = chunks
        self.last = last
    }

    var callCount: Int { lock.withLock { calls } }

    func produce(_ slot: UnsafeMutableRawBufferPointer) -> RingPiece {
        let index = lock.withLock {
            calls += 1
            return calls - 1
        }
        guard index < chunks else { return last }
        let count = index % slot.count + 1
        for byte in 0..<count { slot[byte] = UInt8(truncatingIfNeeded: index) }
        return .bytes(count, member: 1)
    }
}

@Test(arguments: [1, 2, 4])
func theRingHandsOverEveryChunkInOrderThenTheDamage(slots: Int) {
    let ring = InflatedChunkRing(slotCount: slots, slotSize: 64)
    let producer = CountingProducer(chunks: 1000, last: .damage("stopped here"))
    #expect(ring.start(producer.produce))
    for index in 0..<1000 {
        guard case .bytes(let bytes) = ring.next() else {
            Issue.record("chunk \(index) missing")
            break
        }
        #expect(bytes.count == index % 64 + 1 && bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: index) },
                "chunk \(index)")
    }
    guard case .damage(let message) = ring.next() else {
        Issue.record("no damage after the chunks")
        return
    }
    #expect(message == "stopped here")
    ring.stop()
    #expect(ring.threadsJoined == 1 && !ring.isProducerRunning)
}

@Test func stoppingEarlyEndsTheProducer() {
    // A producer that never ends, blocked on a full ring: stop() must wake and join it.
    for taken in [0, 1, 3, 10] {
        let ring = InflatedChunkRing(slotCount: 4, slotSize: 16)
        let producer = CountingProducer(chunks: .max, last: .end)
        #expect(ring.start(producer.produce))
        for _ in 0..<taken { _ = ring.next() }
        #expect(ring.isProducerRunning, "taken \(taken)")
        ring.stop()
        #expect(!ring.isProducerRunning, "taken \(taken)")
        #expect(ring.threadsStarted == 1 && ring.threadsJoined == 1)
        // Joined: the producer is called no more.
        let calls = producer.callCount
        #expect(calls <= taken + 4 + 1, "taken \(taken): at most a ring ahead")
        usleep(2000)
        #expect(producer.callCount == calls)
        ring.stop()
        #expect(ring.threadsJoined == 1, "stop is idempotent")
    }
}

@Test func aRingCanBeStartedAgainAfterAStop() {
    let ring = InflatedChunkRing(slotCount: 2, slotSize: 8)
    for round in 0..<3 {
        let producer = CountingProducer(chunks: 5, last: .end)
        #expect(ring.start(producer.produce))
        var chunks = 0
        while case .bytes = ring.next() { chunks += 1 }
        #expect(chunks == 5, "round \(round)")
        ring.stop()
    }
    #expect(ring.threadsStarted == 3 && ring.threadsJoined == 3)
}
