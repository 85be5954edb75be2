import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

// `read(scanningThreads:…)` and `read(pool:…)`: the lines of logs scanned on other
// threads than the ones reading them. Passing every observation, a read must hand out
// exactly what the one-thread read does (observations with their locators, times and
// hosts, lines with their sides, progress reports, the summary with its damage), in the
// same order, whatever the chunk size (lines across chunks, lines longer than a batch),
// the number of threads, whether the inflater has a thread of its own too, and how many
// other logs share the pool.

/// What the read with scanning threads handed out, and the time range it reported of
/// the observations it did not pass on.
private struct ParallelRecord {
    var record = ReadRecord()
    var first = Timestamp(nanoseconds: .max)
    var last = Timestamp(nanoseconds: .min)
}

private func readInParallel(
    path: String, compressed: Bool, threads: Int, chunkSize: Int, options: LogReadingOptions,
    wantsLines: Bool = true, passes: @escaping @Sendable (Observation) -> Bool = { _ in true }
) throws -> ParallelRecord {
    let file = try InputFile(path: path)
    let reader = LogReader(file: file, compressed: compressed, options: options, chunkSize: chunkSize)
    var result = ParallelRecord()
    result.record.summary = reader.read(
        scanningThreads: threads, passes: passes, observe: { result.record.see($0) },
        observedTimes: { first, last in
            #expect(first <= last)
            result.first = min(result.first, first)
            result.last = max(result.last, last)
        },
        wantsLines: wantsLines, line: { result.record.see($0) },
        progress: { result.record.progress.append($0) })
    #expect(file.bytesRead == file.size, "the file is drained to its end")
    return result
}

private func readOnOneThread(path: String, compressed: Bool, chunkSize: Int, options: LogReadingOptions) throws -> ReadRecord {
    let file = try InputFile(path: path)
    return ReadRecord.ofOneThreadRead(LogReader(file: file, compressed: compressed, options: options, chunkSize: chunkSize))
}

/// Reads `path` on one thread and with 1, 2 and 3 scanning threads (the last also with
/// the inflater on a thread of its own) at every chunk size, and expects the same;
/// returns the one-thread read at the first chunk size.
@discardableResult
private func expectSameWithScanningThreads(
    path: String, compressed: Bool, chunkSizes: [Int], options: LogReadingOptions = Fixture.options(.isal),
    _ comment: String = ""
) throws -> ReadRecord? {
    var first: ReadRecord?
    for chunkSize in chunkSizes {
        let single = try readOnOneThread(path: path, compressed: compressed, chunkSize: chunkSize, options: options)
        for threads in 1...3 {
            var threadedOptions = options
            threadedOptions.inflatesOnSecondThread = threads == 3
            let parallel = try readInParallel(
                path: path, compressed: compressed, threads: threads, chunkSize: chunkSize, options: threadedOptions)
            let context: Comment = "\(threads) threads, chunk \(chunkSize) \(comment)"
            #expect(parallel.record.summary == single.summary, context)
            #expect(parallel.record.seen == single.seen, context)
            #expect(parallel.record.lines == single.lines, context)
            #expect(parallel.record.observationsBeforeLine == single.observationsBeforeLine, context)
            #expect(parallel.record.progress == single.progress, context)
        }
        if first == nil { first = single }
    }
    return first
}

@discardableResult
private func expectSameWithScanningThreads(
    _ bytes: [UInt8], compressed: Bool = true, chunkSizes: [Int] = [1, 7, 33, 4096, LogReader.defaultChunkSize],
    options: LogReadingOptions = Fixture.options(.isal), _ comment: String = ""
) throws -> ReadRecord? {
    let path = try Fixture.temporaryFile(bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try expectSameWithScanningThreads(
        path: path, compressed: compressed, chunkSizes: chunkSizes, options: options, comment)
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func theCorpusReadsTheSameWithScanningThreads() throws {
    let corpus = Fixture.corpus
    let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0.hasSuffix(".gz") }.sorted()
    #expect(names.count > 10)
    var observations = 0
    var lines: UInt64 = 0
    for name in names {
        let record = try expectSameWithScanningThreads(
            path: corpus.appendingPathComponent(name).path, compressed: true,
            chunkSizes: [509, LogReader.defaultChunkSize], name)
        #expect(record?.summary.damage == nil, "\(name)")
        observations += record?.seen.count ?? 0
        lines += record?.summary.lines ?? 0
    }
    #expect(observations > 100, "the corpus has observations to compare")
    #expect(lines > 10_000, "and lines enough for many batches at 509 bytes")
}

@Test func plainTextReadsTheSameWithScanningThreads() throws {
    let record = try expectSameWithScanningThreads(Fixture.sampleLog(lines: 300), compressed: false)
    #expect(record?.seen.count ?? 0 >= 300)
}

@Test func whatCarriesFromLineToLineIsTheSameWithScanningThreads() throws {
    // The year of RFC 3164 lines rolls over (December, then January) in the middle of
    // the file; lines without a header take the time of the nearest earlier line; JSON
    // lines bring their own time and host and have member paths; a line is longer than
    // any batch at the small chunk sizes, others are cut at the line limit; CRLF and
    // NUL bytes. At 7 bytes a chunk, nearly every line starts a new batch.
    var text = ""
    for day in 28...31 { text += "Dec \(day) 23:59:58 gw sshd[1]: from 198.51.100.\(day) port 22 to host\(day).example.com\n" }
    text += "no header here, 192.0.2.99 and evil.example.net\n"
    text += "Jan  1 00:00:01 gw kernel: IN=eth0 SRC=203.0.113.5 DST=10.0.0.1 PROTO=TCP\r\n"
    text += #"{"ts":1700000000.5,"id.orig_h":"10.1.1.1","id.resp_h":"203.0.113.77","query":"c2.example.org","host":"zeek1"}"#
    text += "\n"
    text += #"Jan  1 00:00:02 gw app: {"timestamp":"2024-01-01T00:00:02Z","src_ip":"192.0.2.1","dest_ip":"198.51.100.2","http":{"hostname":"a.example.com"}}"#
    text += "\n"
    text += "Jan  1 00:00:03 gw app: " + String(repeating: "x.example.com ", count: 400) + "\n"
    text += "Jan  1 00:00:04 gw app: nul \u{0} byte then 192.0.2.44\n"
    text += "trailing line without LF 192.0.2.200"
    var options = Fixture.options(.isal)
    options.year = 2023
    options.maximumLineLength = 3000
    let record = try expectSameWithScanningThreads(
        try gzipCompressed(Array(text.utf8)), chunkSizes: [1, 7, 64, 4096], options: options)
    let seen = try #require(record?.seen)
    #expect(seen.contains { $0.member == "http.hostname" }, "JSON member paths are compared")
    #expect(Set(seen.map(\.time)).count > 5, "times differ from line to line")
    options.maximumLineLength = 100
    let cut = try expectSameWithScanningThreads(
        try gzipCompressed(Array(text.utf8)), chunkSizes: [1, 64, 4096], options: options, "cut at 100")
    #expect(cut?.summary.anomalies.counts["log.line_too_long"] ?? 0 > 0, "lines are cut")
}

@Test func damageReadsTheSameWithScanningThreads() throws {
    let member = try gzipCompressed(Fixture.sampleLog(lines: 200))
    var corrupt = member
    corrupt[member.count / 2] ^= 0xFF
    let cases: [(String, [UInt8], String)] = [
        ("truncated member", Array(member[..<(member.count / 2)]), "gzip stream truncated at compressed byte"),
        ("corrupt deflate data", corrupt, "compressed byte"),
        ("trailing garbage", member + Array("garbage\n".utf8), "trailing garbage after gzip member 1 at compressed byte"),
    ]
    for (name, input, prefix) in cases {
        let record = try expectSameWithScanningThreads(input, chunkSizes: [17, 4096], name)
        let damage = record?.summary.damage ?? ""
        #expect(damage.contains(prefix), "\(name): \(damage)")
    }
    let empty = try expectSameWithScanningThreads([], chunkSizes: [1, 4096], "empty file")
    #expect(empty?.summary.lines == 0)
}

@Test func onlyWhatPassesIsHandedOnWithTheTimesOfAll() throws {
    // The filter runs on the scanning threads (the ingest's indicator lookup): `observe`
    // sees exactly the observations it passes, in the one-thread order; the others
    // still count in the time range.
    let path = try Fixture.temporaryFile(Fixture.sampleLog(lines: 500))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let options = Fixture.options(.isal)
    let single = try readOnOneThread(path: path, compressed: false, chunkSize: 4096, options: options)
    // Addresses in 10.0.0.0/11 and 10.128.0.0/11: a few of the lines' addresses.
    @Sendable func kept(_ address: IPv4Address) -> Bool {
        address.description.hasPrefix("10.1") && address.description.split(separator: ".")[1].count == 2
    }
    let parallel = try readInParallel(
        path: path, compressed: false, threads: 2, chunkSize: 4096, options: options, wantsLines: false,
        passes: { if case .ipv4(let address) = $0.value { kept(address) } else { false } })
    let passed = single.seen.filter { if case .ipv4(let address) = $0.value { kept(address) } else { false } }
    #expect(!passed.isEmpty && passed.count < single.seen.count)
    #expect(parallel.record.seen == passed)
    #expect(parallel.record.lines.isEmpty, "no lines asked for")
    #expect(parallel.first == single.seen.map(\.time).min())
    #expect(parallel.last == single.seen.map(\.time).max())
    #expect(parallel.record.summary == single.summary)
}

/// What a read on a shared pool gave, kept by the thread that read it.
private final class SharedPoolReads: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var records: [Int: (record: ReadRecord, drained: Bool)] = [:]

    /// The next file to read, or nil when all are taken.
    func claim(below count: Int) -> Int? {
        lock.withLock {
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func store(_ record: ReadRecord, drained: Bool, at index: Int) { lock.withLock { records[index] = (record, drained) } }
    func record(at index: Int) -> (record: ReadRecord, drained: Bool)? { lock.withLock { records[index] } }
}

/// Reads `paths` on `readers` threads at once, every read on `pool`, passing every
/// observation. No `#expect` here: it runs off the test's task.
private func readSharingOnePool(
    _ paths: [String], readers: Int, pool: LineScanPool, chunkSize: Int, options: LogReadingOptions
) -> SharedPoolReads {
    let reads = SharedPoolReads()
    DispatchQueue.concurrentPerform(iterations: readers) { _ in
        while let index = reads.claim(below: paths.count) {
            guard let file = try? InputFile(path: paths[index]) else { continue }
            let reader = LogReader(file: file, compressed: true, options: options, chunkSize: chunkSize)
            var record = ReadRecord()
            record.summary = reader.read(
                pool: pool, passes: { _ in true }, observe: { record.see($0) }, observedTimes: { _, _ in },
                wantsLines: true, line: { record.see($0) }, progress: { record.progress.append($0) })
            reads.store(record, drained: file.bytesRead == file.size, at: index)
        }
    }
    return reads
}

/// Logs read at once on one pool (`LineScanPool`) each read what they read alone: with
/// fewer readers than threads (the readers hand their batches to the pool, which is
/// often full at 509-byte batches: they then wait for their oldest) and with more (each
/// reader scans its own batches while the others have a core each; the last ones left
/// use the pool). The batches the pool makes stay bounded by its share and the readers.
@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent"), arguments: [(readers: 2, threads: 3), (readers: 3, threads: 2)])
func logsReadAtOnceShareOnePool(readers: Int, threads: Int) throws {
    let corpus = Fixture.corpus
    let paths = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0.hasSuffix(".gz") }.sorted()
        .map { corpus.appendingPathComponent($0).path }
    #expect(paths.count > 10)
    let options = Fixture.options(.isal)
    let chunkSize = 509
    let pool = LineScanPool(threads: threads, batchCapacity: chunkSize)
    defer { pool.stop() }
    #expect(pool.threadCount == threads)
    let reads = readSharingOnePool(paths, readers: readers, pool: pool, chunkSize: chunkSize, options: options)
    for (index, path) in paths.enumerated() {
        let single = try readOnOneThread(path: path, compressed: true, chunkSize: chunkSize, options: options)
        let shared = reads.record(at: index)
        #expect(shared?.drained == true, "\(path)")
        let same = shared?.record == single
        #expect(same, "\(path) reads the same on the shared pool")
    }
    // With fewer readers than threads every batch goes to the pool. With more, the pool
    // scans only once a single reader is left, for however long that lasts: no count holds.
    if readers < threads { #expect(pool.batchesScanned > 100, "the pool's threads scanned batches") }
    #expect(pool.batchesMade <= pool.maximumInFlight + readers)
}

/// A reader whose pool gets as many readers as threads in the middle of its file (it
/// then scans its own batches, after handing on those it has in the pool) and loses
/// them again (it goes back to the pool) hands on what the one-thread read does. The
/// other reader is only counted in, from this reader's line handler, at set lines.
@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func aReaderHandsOnInOrderWhenThePoolFillsAndEmpties() throws {
    let corpus = Fixture.corpus
    let path = corpus.appendingPathComponent("loghub-OpenSSH_2k.log.gz").path
    let options = Fixture.options(.isal)
    let chunkSize = 509
    let single = try readOnOneThread(path: path, compressed: true, chunkSize: chunkSize, options: options)
    #expect(single.lines.count == 2000)
    let pool = LineScanPool(threads: 1, cores: 2, batchCapacity: chunkSize)
    defer { pool.stop() }
    let file = try InputFile(path: path)
    let reader = LogReader(file: file, compressed: true, options: options, chunkSize: chunkSize)
    var record = ReadRecord()
    record.summary = reader.read(
        pool: pool, passes: { _ in true }, observe: { record.see($0) }, observedTimes: { _, _ in },
        wantsLines: true,
        line: { line in
            record.see(line)
            if record.lines.count % 400 == 100 { pool.enter() }
            if record.lines.count % 400 == 300 { pool.leave() }
        },
        progress: { record.progress.append($0) })
    let same = record == single
    #expect(same, "the read on the pool differs from the one-thread read")
    #expect(pool.batchesScanned > 10, "the pool's thread scanned batches")
}

@Test func noScanningThreadIsTheOneThreadRead() throws {
    let path = try Fixture.temporaryFile(Fixture.sampleLog(lines: 50))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let options = Fixture.options(.isal)
    let single = try readOnOneThread(path: path, compressed: false, chunkSize: 4096, options: options)
    // Without a thread the filter is not used: every observation is handed on.
    let none = try readInParallel(
        path: path, compressed: false, threads: 0, chunkSize: 4096, options: options, passes: { _ in false })
    #expect(none.record.seen == single.seen)
    #expect(none.record.lines == single.lines)
}

@Test func memberCopiesKeepTheirBytesAsTheBufferGrows() {
    var copies = MemberCopies()
    var kept: [(Range<Int>, [UInt8])] = []
    // Enough to make the buffer grow many times, with one copy of 64 KiB.
    for index in 0..<3000 {
        let bytes = [UInt8](repeating: UInt8(index % 251), count: index == 1500 ? 65_541 : 1 + index % 97)
        kept.append((copies.copy(bytes.span), bytes))
    }
    for (range, bytes) in kept { #expect(Array(copies.bytes[range]) == bytes) }
    copies.removeAll()
    let again = copies.copy([UInt8]("again".utf8).span)
    #expect(again == 0..<5)
    #expect(copies.bytes == [UInt8]("again".utf8))
}
