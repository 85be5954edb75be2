import Testing
import Foundation
@testable import ByteParsing

@Suite struct ByteCursorTests {
    @Test func readsBigEndianAndStopsAtTheEnd() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]
        var cursor = ByteCursor(bytes.span)
        #expect(cursor.readUInt16() == 0x0102)
        #expect(cursor.readUInt32() == 0x0304_0506)
        #expect(cursor.readUInt16() == nil, "one byte left: a 16-bit read must fail")
        let offset = cursor.offset
        #expect(offset == 6, "a failed read does not move")
        #expect(cursor.readUInt8() == 0x07)
        #expect(cursor.readUInt8() == nil)
        let isAtEnd = cursor.isAtEnd
        #expect(isAtEnd)
    }

    @Test func rejectsOutOfRangeSlicesAndMoves() {
        let bytes: [UInt8] = Array(0..<10)
        var cursor = ByteCursor(bytes.span)
        let outOfRange = [
            cursor.getBytes(at: 8, count: 3)?.count, cursor.getBytes(at: -1, count: 1)?.count,
            cursor.getBytes(at: 2, count: Int.max)?.count,
        ]
        #expect(outOfRange == [nil, nil, nil])
        let lastThree = cursor.getBytes(at: 7, count: 3)?.array
        #expect(lastThree == [7, 8, 9])
        let skippedPastEnd = cursor.skip(11)
        let skippedBack = cursor.skip(-1)
        let movedToEnd = cursor.moveTo(10)
        let movedPastEnd = cursor.moveTo(11)
        #expect(!skippedPastEnd && !skippedBack && movedToEnd && !movedPastEnd)
        #expect(cursor.getUInt32(at: 7) == nil)
        #expect(cursor.getUInt32(at: 6) == 0x0607_0809)
        let restAtEnd = cursor.rest.count
        #expect(restAtEnd == 0)
        let moved = cursor.moveTo(4)
        let tooLong = cursor.readBytes(7)?.count
        let offset = cursor.offset
        #expect(moved && tooLong == nil && offset == 4, "a failed read does not move")
        let two = cursor.readBytes(2)?.array
        let rest = cursor.rest.array
        #expect(two == [4, 5] && rest == [6, 7, 8, 9])
    }
}

@Suite struct ByteSpanTests {
    @Test func readsIntegersOfBothOrdersOnlyWithinTheSpan() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]
        let span = bytes.span
        let (wide, pastEnd) = (span.uint64(at: 1), span.uint64(at: 2))
        #expect(wide == 0x0203_0405_0607_0809 && pastEnd == nil)
        let (little16, little32, little32PastEnd) =
            (span.uint16LittleEndian(at: 0), span.uint32LittleEndian(at: 5), span.uint32LittleEndian(at: 6))
        #expect(little16 == 0x0201 && little32 == 0x0908_0706 && little32PastEnd == nil)
        let (before, after) = (span.uint8(at: -1), span.uint8(at: 9))
        #expect(before == nil && after == nil)
    }

    @Test(arguments: [0, 1, 15, 16, 17, 31, 32, 33, 200])
    func findsTheFirstByteInARangeLikeALoop(length: Int) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<length).map { _ in UInt8.random(in: 0...3, using: &generator) }
        for start in [-1, 0, 1, length / 2] {
            for end in [nil, length / 2, length + 5] as [Int?] {
                let upper = min(end ?? length, length)
                let expected = (max(start, 0)..<max(upper, max(start, 0))).first { bytes[$0] == 2 }
                let found = bytes.span.firstIndex(of: 2, from: start, to: end)
                #expect(found == expected)
            }
        }
    }

    @Test func comparesLiteralsAndTrims() {
        let bytes = Array("Host: \t example.org \t".utf8)
        let span = bytes.span
        let prefixes = [
            span.hasPrefix("Host:"), !span.hasPrefix("host:"), span.hasPrefix("host:", foldCase: true),
            !span.hasPrefix("Host: example"), span.hasPrefix("example", at: 8), !span.hasPrefix("Host", at: 30),
            span.prefix(4).elementsEqual(Array("Host".utf8)), !span.prefix(4).elementsEqual(Array("Hos".utf8)),
        ]
        #expect(prefixes.allSatisfy { $0 })
        let (trimmed, clamped) = (span.suffix(from: 5).trimmingSpacesAndTabs().string, span.clamped(-4..<2).string)
        let (outside, whole) = (span.clamped(40..<50).count, span.prefix(99).count)
        #expect(trimmed == "example.org" && clamped == "Ho" && outside == 0 && whole == bytes.count)
    }

    @Test("the substring search agrees with String.contains on every position")
    func substringSearch() {
        let haystacks = ["", "a", "aaab", "abababc", "Failed passworFailed password", "xyz"]
        let needles = ["a", "ab", "abc", "aab", "Failed password", "z", "xyzz"]
        for haystack in haystacks {
            for needle in needles {
                let found = Array(haystack.utf8).span.contains(Array(needle.utf8).span)
                #expect(found == haystack.contains(needle), "\(haystack) / \(needle)")
            }
        }
        let emptyNeedle = Array("abc".utf8).span.contains([UInt8]().span)
        #expect(!emptyNeedle, "an empty needle is not looked for")
    }

    @Test func appendsAndOverwritesCopies() {
        var target: [UInt8] = [0, 0, 0, 0]
        let source: [UInt8] = [7, 8]
        target.overwrite(at: 2, with: source.span)
        target.append(span: source.span)
        #expect(target == [0, 0, 7, 8, 7, 8])
    }

    @Test func lendsALiteralsBytes() {
        let literal: StaticString = "h2c"
        let bytes = literal.withUTF8Span { $0.array }
        let empty = ("" as StaticString).withUTF8Span { $0.count }
        #expect(bytes == Array("h2c".utf8))
        #expect(empty == 0)
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

@Suite struct FileKindTests {
    @Test func tellsDirectoriesFromFilesAndFollowsLinks() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-kind-\(UUID())").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(FileManager.default.createFile(atPath: base + "/file", contents: Data("x".utf8)))
        try FileManager.default.createSymbolicLink(atPath: base + "/link", withDestinationPath: base)
        try FileManager.default.createSymbolicLink(atPath: base + "/dangling", withDestinationPath: base + "/gone")
        #expect(FileKind(of: base) == .directory)
        #expect(FileKind(of: base + "/link") == .directory, "a link is followed, as fileExists(atPath:isDirectory:) does")
        #expect(FileKind(of: base + "/file") == .other)
        #expect(FileKind(of: base + "/gone") == nil && FileKind(of: base + "/dangling") == nil)
    }
}
