import Testing
import Foundation
@testable import ByteParsing

@Suite struct ByteCursorTests {
    @Test func readsBigEndianAndStopsAtTheEnd() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]
        bytes.withUnsafeBytes { raw in
            var cursor = ByteCursor(raw)
            #expect(cursor.readUInt16() == 0x0102)
            #expect(cursor.readUInt32() == 0x0304_0506)
            #expect(cursor.readUInt16() == nil, "one byte left: a 16-bit read must fail")
            #expect(cursor.offset == 6, "a failed read does not move")
            #expect(cursor.readUInt8() == 0x07)
            #expect(cursor.readUInt8() == nil)
            #expect(cursor.isAtEnd)
        }
    }

    @Test func rejectsOutOfRangeSlicesAndMoves() {
        let bytes: [UInt8] = Array(0..<10)
        bytes.withUnsafeBytes { raw in
            var cursor = ByteCursor(raw)
            #expect(cursor.getBytes(at: 8, count: 3) == nil)
            #expect(cursor.getBytes(at: -1, count: 1) == nil)
            #expect(cursor.getBytes(at: 2, count: Int.max) == nil)
            let skippedPastEnd = cursor.skip(11)
            let skippedBack = cursor.skip(-1)
            let movedToEnd = cursor.moveTo(10)
            let movedPastEnd = cursor.moveTo(11)
            #expect(!skippedPastEnd && !skippedBack && movedToEnd && !movedPastEnd)
            #expect(cursor.getUInt32(at: 7) == nil)
            #expect(cursor.getUInt32(at: 6) == 0x0607_0809)
        }
    }
}

@Suite struct InputFileTests {
    @Test func hashesEveryByteRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-input-\(UUID()).bin").path
        try Data("abc".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try InputFile(path: path)
        #expect(file.size == 3)
        try file.drain()
        #expect(file.sha256Hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func namesTheFileThatIsMissing() {
        #expect(throws: InputFileError.self) { try InputFile(path: "/nonexistent/cairn/file") }
        do {
            _ = try InputFile(path: "/nonexistent/cairn/file")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/cairn/file: "))
        }
    }
}
