import Foundation
import Observations
import Testing
@testable import LogReading
import TestSupport

/// The block scanner against the byte-at-a-time scanner it replaced
/// (`ByteAtATimeScanner`), on edge cases, random text and every line of the corpus: the
/// observables must be the same, in order. (The 16-bytes-at-once classifier is checked
/// against its scalar twin in ByteParsingTests.)
struct BlockScannerTests {
    static func observables(
        _ line: [UInt8], _ range: Range<Int>, _ suffixes: PublicSuffixList?, blocks: Bool
    ) -> [TextObservable] {
        var found: [TextObservable] = []
        line.withUnsafeBytes { bytes in
            if blocks {
                TextScanner.scan(line.span, in: range, suffixes: suffixes) { found.append($0) }
            } else {
                ByteAtATimeScanner.scan(bytes, in: range, suffixes: suffixes) { found.append($0) }
            }
        }
        return found
    }

    /// Pieces that start, end or break observables, glued at random: words across block
    /// boundaries, dots and `@`/`:` at lane 0 and 15, long words and digests.
    static let pieces: [String] = [
        " ", " ", " ", "  ", "\t", ".", ":", "@", "-", "_", "/", "://", "=", "[", "]", "(", ")", ",", "\"",
        "from", "port", "Failed", "password", "SRC=", "DST=", "user@", "https://", "hxxp://", "ftp",
        "10.0.0.1", "192.168.100.254", "256.1.1.1", "01.2.3.4", "1.2.3", "2001:db8::1", "fe80::1%eth0", "::ffff:1.2.3.4",
        "52:54:00:12:34:56", "12:01:01", "example.com", "www.example.co.uk", "co.uk", "config.php", "libc.so.6",
        "com.apple.foo", "a.properties", "paypa1-login.test", "xn--p1ai", "mail.xn--p1ai", "b.c", "x", "a-b_c",
        "d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "abcdefghijklmnopqrstuvwxyz0123456789", "file.d41d8cd98f00b204e9800998ecf8427e.gz", "v1.2.3.4.5", "0x7f",
        "\u{C3}\u{A9}", "\u{0}", "\r",
        // Short dotted words the block scanner decides from its masks.
        "1.2.3.4.", ".1.2.3.4", "1.2.3.4..", "2.0", "v2.0", "HTTP/1.1", "a.b-c.com", "x..y", "foo.", ".foo", "a.1", "1.a",
        "WWW.EXAMPLE.COM", "Mail.Example.Org.", "1.2.3.4:80", "host.example.com:443", "a.b", "ab.cd", "9.9.9.9",
        "index.php", "banner.webp", "co.uk.", "x.test", "1.2.3.4a", "a1.2.3.4", "...", "a_b.com", "0.0.0.0.0",
        // Long words: their end and dots found 16 bytes at a time.
        "abcdefghijklmnopqrstuvwxyz.example.com", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.com", "abcdefghijklmnopq",
        "abcdefghijklmnopqrstuvwxyzabcdef.", "www.corp.example.com", "Win.Trojan.Agent-1234567", "x_d41d8cd98f00b204e9800998ecf8427e",
        "d41d8cd98f00b204e9800998ecf8427e-da39a3ee5e6b4b0d3255bfef95601890afd80709", "__d41d8cd98f00b204e9800998ecf8427g",
        "d41d8cd98f00b204e9800998ecf8427e--", "12345678901234567890123456789012", "d41d8cd98f00b204e9800998ecf8427e0",
        // IPv6 runs the second pass may skip without parsing.
        "52:54:00:12:34:56:00:1b:21:3a:4f:01:08:00", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7::",
        "::1:2:3:4:5:6:7", ":1:2:3:4:5:6:7:8:", "fe80::1:", "x:fe80::1", "2024:00:00:00", "::", ":::", "1::2::3", "a:b",
        // Address notations: a port after a dot or colon, labels and address literals.
        "192.0.2.1.50550", "1.2.3.4.65536", "1.2.3.4.080", "10.0.0.1.2.80", "2001:db8::1.80", "2001:db8::1:58430",
        "1:2:3:4:5:6:7:8:443", "::ffff:1.2.3.4:80", "0:0:0:0:0:0:0:0:2181", "[IPv6:2001:db8::1]", "IPv6:::ffff:1.2.3.4",
        "client:fe80::1", "Class::add", "abcdefghijklmnopq:fe80::1",
    ]

    /// Every piece at every offset of the first two blocks, followed by what makes a
    /// word interesting or ends the text: words at block boundaries and line ends.
    @Test func blockScannerAgreesOnEveryPieceAtEveryOffset() {
        let suffixes = PublicSuffixList.system
        let followers = ["", " ", "@example.com", ":", "://example.com/", ".", ",", " and some words after it 1.2.3.4"]
        let fillers = [" ", "a", "="]
        for piece in Self.pieces + ["www.mail.example.com", "abcdefghijklmno.com", "abcdefghijklmnop.com", "12345678901.2.3.4"] {
            for offset in 0..<20 {
                for filler in fillers {
                    for follower in followers {
                        let line = Array((String(repeating: filler, count: offset) + piece + follower).utf8)
                        for list in [suffixes, nil] {
                            let expected = Self.observables(line, 0..<line.count, list, blocks: false)
                            let actual = Self.observables(line, 0..<line.count, list, blocks: true)
                            #expect(actual == expected, "\(String(decoding: line, as: UTF8.self))")
                        }
                    }
                }
            }
        }
    }

    /// Words of a given length, of the kinds the block loop treats apart: letters only,
    /// hex digits (a digest at 32), a host name, digits and dots, a quad after a `-`.
    static func words(length: Int) -> [String] {
        let letters = String(String(repeating: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", count: 2).prefix(length))
        let hex = String(String(repeating: "0123456789abcdef", count: 5).prefix(length))
        let name = String(String(repeating: "mail.exa-mple", count: 5).prefix(length - 4)) + ".com"
        let digits = String(repeating: "1", count: max(1, length - 6)) + ".2.3.4"
        let quad = String(repeating: "x", count: max(0, length - 16)) + (length > 15 ? "-" : "") + "192.168.100.254"
        return [letters, hex, name, digits, String(quad.suffix(length)), "." + name.dropFirst(), name.dropLast() + "."]
    }

    /// Words that end 15, 16, 17, 31, 32, 33, 63, 64 and 65 bytes after they start, at
    /// every offset up to past the first 64-byte block: the word the block loop carries
    /// into the next block ends in every lane, or runs on through a whole block, and
    /// words inside a block cross its 16-byte classifications.
    @Test func blockScannerAgreesOnWordsCarriedAcrossBlocks() {
        let suffixes = PublicSuffixList.system
        let followers = ["", " ", "@example.com", ":", "://example.com/", ".", " 1.2.3.4 end", ":80 and more words"]
        for length in [15, 16, 17, 31, 32, 33, 63, 64, 65] {
            for word in Self.words(length: length) {
                for offset in 0..<(length > 33 ? 68 : 70) where length > 33 || offset < 34 || offset > 46 {
                    for filler in [" ", "="] {
                        for follower in followers {
                            let line = Array((String(repeating: filler, count: offset) + word + follower).utf8)
                            for list in [suffixes, nil] {
                                let expected = Self.observables(line, 0..<line.count, list, blocks: false)
                                let actual = Self.observables(line, 0..<line.count, list, blocks: true)
                                #expect(actual == expected, "\(String(decoding: line, as: UTF8.self))")
                            }
                        }
                    }
                }
            }
        }
    }

    /// IPv6 addresses at every offset after colons that start no address (which the
    /// second pass skips) and across block boundaries.
    @Test func blockScannerAgreesOnIPv6AfterColonsThatStartNone() {
        let prefixes = ["", "sshd[1]: ", "a:b ", "x: y: ", "@ ", "user@", "12:00:00 ", "port:", "en0+:", "time=12:00"]
        let addresses = [
            "2001:db8::1", "fe80::1%eth0", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "2001:db8:85a3::8a2e:370:7334",
            "fd12:3456:789a:1:2d54:9e81:ccaa:656e#25371", "52:54:00:12:34:56:00:1b:21:3a:4f:01:08:00", "::1", "2024:00:00:00",
            // Runs of 16 bytes or more, walked 16 bytes at a time, `::` at every lane.
            "2001:0db8:0000:0000:0000:ff00:0042:8329", "0000:0000:0000:0000:0000:0000:0000:0001", "1234:5678:9abc:def0:1234:5678:9abc::",
            "abcd:ef01:2345:6789:abcd:ef01:2345:6789.", "abcd:ef01:2345:6789:abcd:ef01:2345:678g", "ABCD:EF01::1234:5678:9ABC:DEF0",
            "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q::1", "0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0", "::ffff:192.168.100.254:8080",
        ]
        for prefix in prefixes {
            for address in addresses {
                for offset in 0..<18 {
                    for follower in ["", " ", ".", ": error", ":", "]"] {
                        let line = Array((prefix + String(repeating: " ", count: offset) + address + follower).utf8)
                        let expected = Self.observables(line, 0..<line.count, nil, blocks: false)
                        let actual = Self.observables(line, 0..<line.count, nil, blocks: true)
                        #expect(actual == expected, "\(String(decoding: line, as: UTF8.self))")
                        // The same without the space before the address: `prefix` runs into it.
                        let joined = Array((prefix + String(repeating: "a", count: offset % 3) + address + follower).utf8)
                        #expect(
                            Self.observables(joined, 0..<joined.count, nil, blocks: true)
                                == Self.observables(joined, 0..<joined.count, nil, blocks: false),
                            "\(String(decoding: joined, as: UTF8.self))")
                    }
                }
            }
        }
    }

    @Test(arguments: [3, 4, 5])
    func blockScannerFindsWhatTheByteAtATimeScannerFinds(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let suffixes = PublicSuffixList.system
        for _ in 0..<3_000 {
            var line: [UInt8] = []
            let count = Int.random(in: 0..<40, using: &random)
            for _ in 0..<count { line += Array(Self.pieces.randomElement(using: &random)!.utf8) }
            let lower = line.isEmpty ? 0 : Int.random(in: 0...min(line.count, 20), using: &random)
            let upper = Int.random(in: lower...line.count, using: &random)
            for range in [0..<line.count, lower..<upper] {
                for list in [suffixes, nil] {
                    let expected = Self.observables(line, range, list, blocks: false)
                    let actual = Self.observables(line, range, list, blocks: true)
                    #expect(actual == expected, "\(String(decoding: line, as: UTF8.self)) in \(range)")
                }
            }
        }
    }

    @Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func blockScannerFindsWhatTheByteAtATimeScannerFindsOnTheCorpus() throws {
        let directory = Fixture.corpus
        let suffixes = PublicSuffixList.system
        var lines = 0
        var observables = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        where !name.hasSuffix(".gz") {
            let path = directory.appendingPathComponent(name).path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path)
            else { continue }
            for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                let bytes = Array(line)
                let expected = Self.observables(bytes, 0..<bytes.count, suffixes, blocks: false)
                let actual = Self.observables(bytes, 0..<bytes.count, suffixes, blocks: true)
                #expect(actual == expected, "\(name): \(String(decoding: bytes, as: UTF8.self))")
                lines += 1
                observables += expected.count
            }
        }
        #expect(lines > 20_000)
        #expect(observables > 10_000)
    }
}
