import ByteParsing
import Crypto
import Foundation
import Testing

/// Deterministic bytes (an LCG), so that a failing size is reproducible.
private func patternBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
    }
    return bytes
}

private func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    digest.map { String(format: "%02x", $0) }.joined()
}

private func oneShot(_ bytes: some Collection<UInt8>) -> String { hex(SHA256.hash(data: Array(bytes))) }

/// A temporary file holding `bytes`, removed by `remove()`.
private struct TemporaryFile {
    let path: String
    init(_ bytes: [UInt8]) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-input-\(UUID()).bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Reads the whole of `file` in pieces cycling through `sizes`; returns the bytes read.
private func readAll(_ file: InputFile, sizes: [Int]) throws -> [UInt8] {
    var out: [UInt8] = []
    let largest = sizes.max() ?? 1
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 1)
    defer { buffer.deallocate() }
    var turn = 0
    while true {
        let want = sizes[turn % sizes.count]
        turn += 1
        let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        if got == 0 { break }
        #expect(got == want || file.bytesRead == file.size, "a short read only at the end of the file")
        out.append(contentsOf: buffer[0..<got])
    }
    return out
}

/// Names of this process's live threads (Linux), to find hashing threads left behind.
private func liveHashingThreads() -> Int {
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
    return tasks.filter { task in
        let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
        return comm.hasPrefix("cairn-sha256")
    }.count
}

// Serialized: the leak test counts this process's hashing threads.
@Suite(.serialized) struct InputFileHashingTests {
    /// A small ring (3 slots of 1,000 bytes) crosses many slot boundaries on small files.
    static let slot = 1_000
    static let sizes = [0, 1, slot - 1, slot, slot + 1, 2 * slot, 3 * slot + 1, 37 * slot + 13]
    static let readSizes: [[Int]] = [[1], [7, 13], [999], [1_000], [1_001], [4_096], [65_536], [3, 1_500, 17, 2_000]]

    @Test(arguments: sizes, [true, false])
    func digestEqualsOneShotWhateverTheReadSizes(size: Int, mapped: Bool) throws {
        let bytes = patternBytes(count: size, seed: UInt64(size))
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        for pieces in Self.readSizes {
            let file = try InputFile(path: temp.path, ringSlotSize: Self.slot, ringSlotCount: 3, memoryMapped: mapped)
            let got = try readAll(file, sizes: pieces)
            #expect(got == bytes, "size \(size), reads of \(pieces): the bytes handed out are the file's")
            #expect(file.bytesRead == UInt64(size))
            #expect(file.sha256Hex == oneShot(bytes), "size \(size), reads of \(pieces)")
        }
        // The default ring, and drain() without reading.
        let file = try InputFile(path: temp.path)
        try file.drain()
        #expect(file.bytesRead == UInt64(size) && file.sha256Hex == oneShot(bytes))
    }

    /// `borrow` (no copy) mixed with `read(into:)`: the same bytes in the same order,
    /// never more than asked nor past a ring buffer, and the same digest.
    @Test(arguments: sizes, [true, false])
    func borrowedBytesAreTheFileAndAreHashed(size: Int, mapped: Bool) throws {
        let bytes = patternBytes(count: size, seed: 11 &+ UInt64(size))
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        for pattern in [[Int.max], [1], [7, -13], [999, -1], [-1_001, 1_000], [3, -1_500, 17, -2_000]] {
            let file = try InputFile(path: temp.path, ringSlotSize: Self.slot, ringSlotCount: 3, memoryMapped: mapped)
            var got: [UInt8] = []
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2_000, alignment: 1)
            defer { buffer.deallocate() }
            var turn = 0
            while true {
                // Positive: borrow up to that many; negative: read that many.
                let step = pattern[turn % pattern.count]
                turn += 1
                if step > 0 {
                    let borrowed = try file.borrow(upTo: step)
                    if borrowed.isEmpty { break }
                    #expect(borrowed.count <= min(step, Self.slot))
                    got.append(contentsOf: borrowed)
                } else {
                    let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(-step)]))
                    if count == 0 { break }
                    got.append(contentsOf: buffer[0..<count])
                }
            }
            #expect(got == bytes, "size \(size), pattern \(pattern)")
            #expect(file.bytesRead == UInt64(size))
            #expect(file.sha256Hex == oneShot(bytes), "size \(size), pattern \(pattern)")
            #expect(try file.borrow(upTo: 10).isEmpty, "nothing after the end")
        }
    }

    @Test(arguments: [0, 1, InputFile.ringSlotSize - 1, InputFile.ringSlotSize, InputFile.ringSlotSize + 1, 9 * InputFile.ringSlotSize + 777])
    func defaultRingAgreesWithOneShot(size: Int) throws {
        let bytes = patternBytes(count: size, seed: 7 &+ UInt64(size))
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        let file = try InputFile(path: temp.path)
        #expect(try readAll(file, sizes: [65_537, 262_144, 31]) == bytes)
        #expect(file.sha256Hex == oneShot(bytes))
    }

    /// coreutils' `sha256sum`, when this machine has it.
    static let sha256sum = ["/usr/bin/sha256sum", "/bin/sha256sum"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: InputFileHashingTests.sha256sum != nil, "sha256sum is absent")) func agreesWithSha256sum() throws {
        let bytes = patternBytes(count: 5 * InputFile.ringSlotSize + 12_345, seed: 99)
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        let tool = try #require(Self.sha256sum)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [temp.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let expected = String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init)
        let file = try InputFile(path: temp.path)
        try file.drain()
        #expect(file.sha256Hex == expected)
    }

    /// A reader that stops early (error, cap reached) gets the digest of what it read,
    /// though the ring read further ahead; reading on afterwards still gives the whole.
    @Test(arguments: [0, 1, 999, 1_000, 1_001, 2_500, 12_000])
    func earlyStopDigestsTheBytesRead(stop: Int) throws {
        let bytes = patternBytes(count: 12_000, seed: 3)
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        let file = try InputFile(path: temp.path, ringSlotSize: Self.slot, ringSlotCount: 3)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(stop, 1), alignment: 1)
        defer { buffer.deallocate() }
        var read = 0
        while read < stop {
            let got = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[read..<stop]))
            if got == 0 { break }
            read += got
        }
        #expect(read == stop && file.bytesRead == UInt64(stop))
        #expect(file.sha256Hex == oneShot(bytes[0..<stop]))
        #expect(file.sha256Hex == oneShot(bytes[0..<stop]), "asking twice changes nothing")
        try file.drain()
        #expect(file.bytesRead == 12_000 && file.sha256Hex == oneShot(bytes))
    }

    /// Many files opened, partly read (so that hashing threads start) and released
    /// without reading to the end: no hashing thread is left behind.
    @Test func releasedFilesLeaveNoThread() throws {
        let bytes = patternBytes(count: 20_000, seed: 5)
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        let before = liveHashingThreads()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4_321, alignment: 1)
        defer { buffer.deallocate() }
        var sawThread = false
        for round in 0..<300 {
            let file = try InputFile(path: temp.path, ringSlotSize: Self.slot, ringSlotCount: 2)
            _ = try file.read(into: buffer)
            if round % 3 == 0 { _ = file.sha256Hex }
            if round == 0 { sawThread = liveHashingThreads() > before }
        }
        #expect(sawThread, "reading past the first slot starts a hashing thread")
        var after = liveHashingThreads()
        for _ in 0..<100 where after > before {
            usleep(10_000)  // a joined thread's /proc entry can lag its exit slightly
            after = liveHashingThreads()
        }
        // At most as many as before: other tests running alongside start and end hashing
        // threads of their own (one that was alive at `before` may be gone now), while
        // a leak here would leave up to 300 behind.
        #expect(after <= before, "\(after - before) hashing threads left behind")
    }

    /// Many files at once from several threads, each with its own ring and hasher.
    @Test func manyFilesFromSeveralThreads() async throws {
        let files = try (0..<6).map { index in
            let bytes = patternBytes(count: [0, 1, 999, 5_000, 77_777, 3 * InputFile.ringSlotSize + 5][index], seed: UInt64(index))
            return (try TemporaryFile(bytes), oneShot(bytes))
        }
        defer { files.forEach { $0.0.remove() } }
        let jobs = files.map { ($0.0.path, $0.1) }
        let failures = await withTaskGroup(of: [String].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var failures: [String] = []
                    for round in 0..<6 {
                        let (path, expected) = jobs[(worker + round) % jobs.count]
                        do {
                            let small = (worker + round) % 2 == 0
                            let file = small
                                ? try InputFile(path: path, ringSlotSize: 1_000 + worker, ringSlotCount: 2 + worker % 3)
                                : try InputFile(path: path)
                            _ = try readAll(file, sizes: [1 + worker * 37, 4_096, 13])
                            let digest = file.sha256Hex
                            if digest != expected { failures.append("\(path) by worker \(worker): \(digest)") }
                        } catch {
                            failures.append("\(path): \(error)")
                        }
                    }
                    return failures
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// A mapped file that shrinks while it is read: the bytes of a window already
    /// handed out read as zeros (the bus error is caught, not fatal), and the next
    /// call throws an error that says what happened.
    @Test func aFileThatShrinksWhileMappedIsAnErrorNotACrash() throws {
        let window = 1 << 16
        let bytes = patternBytes(count: 16 * window, seed: 21)
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        let file = try InputFile(path: temp.path, ringSlotSize: window, ringSlotCount: 3)
        let first = try file.borrow(upTo: window)
        #expect(Array(first) == Array(bytes[0..<window]))
        let borrowed = try file.borrow(upTo: window)
        #expect(truncate(temp.path, 0) == 0)
        #expect(borrowed.allSatisfy { $0 == 0 }, "pages the file no longer backs read as zeros")
        do {
            _ = try file.borrow(upTo: window)
            Issue.record("reading on after the file shrank must throw")
        } catch {
            #expect(error.description.contains("shrank"), "\(error)")
        }
        // A window not yet reached fails before any of its bytes are handed out.
        let again = try TemporaryFile(bytes)
        defer { again.remove() }
        let other = try InputFile(path: again.path, ringSlotSize: window, ringSlotCount: 3)
        _ = try other.borrow(upTo: window)
        #expect(truncate(again.path, off_t(window + 100)) == 0)
        var handedOut = window
        do {
            while true {
                let next = try other.borrow(upTo: window)
                if next.isEmpty { break }
                handedOut += next.count
            }
            Issue.record("reading past the new end must throw")
        } catch {
            #expect(handedOut == window, "nothing of the lost windows was handed out")
        }
    }

    /// A mapped file is read as it was when opened: bytes appended later are not read.
    @Test func aMappedFileIsReadToItsSizeWhenOpened() throws {
        let bytes = patternBytes(count: 5_000, seed: 8)
        let temp = try TemporaryFile(bytes)
        defer { temp.remove() }
        let file = try InputFile(path: temp.path, ringSlotSize: Self.slot, ringSlotCount: 3)
        let handle = try #require(FileHandle(forWritingAtPath: temp.path))
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 7, count: 3_000))
        try handle.close()
        #expect(try readAll(file, sizes: [777]) == bytes)
        #expect(file.sha256Hex == oneShot(bytes))
    }

    /// A file never read has the digest of nothing (no ring, no thread); a directory is refused.
    @Test func unreadFileDigestsNothing() throws {
        let temp = try TemporaryFile(patternBytes(count: 10, seed: 1))
        defer { temp.remove() }
        let file = try InputFile(path: temp.path)
        #expect(throws: InputFileError.self) { try InputFile(path: FileManager.default.temporaryDirectory.path) }
        #expect(file.sha256Hex == oneShot([UInt8]()), "nothing read: the digest of nothing")
    }
}
