import ByteParsing
import Foundation
import Testing

@Suite struct MappedFileTests {
    /// A file of `count` bytes, byte `i` being `i % 251`, and its path; removed by the caller.
    static func file(count: Int) throws -> (path: String, bytes: [UInt8]) {
        let bytes = (0..<count).map { UInt8($0 % 251) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-mapped-\(UUID()).bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    /// The mapping a `WholeFile` reader keeps, or nil.
    static func keptMapping(_ path: String) -> MappedFile? {
        guard case .success(let file) = WholeFile.withBytes(path: path, { _, residency in residency.file }) else { return nil }
        return file
    }

    /// Kept past the reader's call, the mapping reads the file whole and a few bytes at
    /// a time (pread), after the file's name is gone; values load in the host's order.
    @Test func aKeptMappingOutlivesTheReadAndTheName() throws {
        let (path, bytes) = try Self.file(count: 3 * 4096 + 17)
        let mapped = try #require(Self.keptMapping(path))
        try FileManager.default.removeItem(atPath: path)
        #expect(mapped.count == bytes.count)
        #expect(mapped.withBytes { $0.elementsEqual(bytes) })
        for range in [0..<0, 0..<1, 4090..<4100, (bytes.count - 5)..<bytes.count] {
            #expect(mapped.read(range) == Array(bytes[range]))
        }
        let expected = bytes[8200..<8208].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(mapped.load(at: 8200, as: UInt64.self) == expected)
        #expect(!mapped.faulted)
    }

    /// Bytes the file no longer has read as zeros, through the mapping and with pread,
    /// and `faulted` says so: an error, not a crash.
    @Test func bytesOfAShrunkFileReadAsZerosAndFault() throws {
        let (path, bytes) = try Self.file(count: 4 * 4096)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mapped = try #require(Self.keptMapping(path))
        #expect(truncate(path, 4096) == 0)
        #expect(mapped.read(0..<10) == Array(bytes[0..<10]))
        #expect(!mapped.faulted)
        #expect(mapped.read(4090..<4200) == Array(bytes[4090..<4096]) + [UInt8](repeating: 0, count: 104))
        #expect(mapped.faulted)

        let (otherPath, _) = try Self.file(count: 4 * 4096)
        defer { try? FileManager.default.removeItem(atPath: otherPath) }
        let other = try #require(Self.keptMapping(otherPath))
        #expect(truncate(otherPath, 0) == 0)
        #expect(other.withBytes { $0[3 * 4096] } == 0)
        #expect(other.faulted)
    }
}
