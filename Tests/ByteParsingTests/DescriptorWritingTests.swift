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
        let failure = bytes.withUnsafeBytes { DescriptorWriting.writeAll($0, to: pipe.fileHandleForWriting.fileDescriptor) }
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
}
