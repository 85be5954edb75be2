import ByteParsing
import Foundation
import Testing

@Suite struct DescriptorWritingTests {
    /// 3 MiB through a pipe whose buffer holds 64 KiB, read on another thread: every
    /// byte reaches the reader, in order.
    @Test func writesEveryByteThroughAPipe() throws {
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let pipe = Pipe()
        nonisolated(unsafe) var received = Data()
        let done = DispatchSemaphore(value: 0)
        let readerThread = Thread {
            received = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
        readerThread.start()
        let failure = DescriptorWriting.writeAll(bytes.span, to: pipe.fileHandleForWriting.fileDescriptor)
        try pipe.fileHandleForWriting.close()
        done.wait()
        #expect(failure == nil)
        #expect(Array(received) == bytes)
    }

    /// A descriptor that cannot be written gives write(2)'s errno back; nothing to write
    /// is no error.
    @Test func reportsTheErrnoOfAFailedWrite() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-write-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let readOnly = open(path, O_RDONLY)
        #expect(readOnly >= 0)
        defer { close(readOnly) }
        let failure = [UInt8](repeating: 1, count: 10).withUnsafeBytes { DescriptorWriting.writeAll($0, to: readOnly) }
        #expect(failure == EBADF)
        #expect([UInt8]().withUnsafeBytes { DescriptorWriting.writeAll($0, to: readOnly) } == nil)
    }

    /// Reads at an offset replace the buffer's contents; the end of the file reads 0 and a
    /// bad descriptor nil.
    @Test func readsAtOffsetsIntoAReusedBuffer() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-read-\(UUID().uuidString)").path
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        var buffer: [UInt8] = [9, 9, 9]
        let first = DescriptorWriting.read(handle.fileDescriptor, at: 990, count: 64, into: &buffer)
        #expect(first == 10 && buffer == Array(bytes[990...]))
        let atEnd = DescriptorWriting.read(handle.fileDescriptor, at: 1000, count: 64, into: &buffer)
        #expect(atEnd == 0 && buffer.isEmpty)
        #expect(DescriptorWriting.read(-1, at: 0, count: 8, into: &buffer) == nil)
    }
}
