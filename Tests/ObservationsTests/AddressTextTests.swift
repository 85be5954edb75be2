import Testing
import TestSupport
@testable import Observations

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `AddressText` against the C library's `inet_pton`, the reference it promises to
/// agree with: on a table of edge cases, on random strings over the bytes addresses
/// are made of, and on real addresses (formatted by `inet_ntop`) with random edits.
@Suite struct AddressTextTests {
    /// What `inet_pton(AF_INET)` reads `text` as (host order), or nil.
    static func referenceIPv4(_ text: String) -> UInt32? {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1 ? UInt32(bigEndian: address.s_addr) : nil
    }

    /// What `inet_pton(AF_INET6)` reads `text` as, or nil.
    static func referenceIPv6(_ text: String) -> IPv6Address? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &address) { Array($0) }
        return IPv6Address(high: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) },
                           low: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// `inet_ntop`'s text of `address`.
    static func formatted(_ address: IPv6Address) -> String {
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { bytes in
            for index in 0..<8 {
                bytes[index] = UInt8(truncatingIfNeeded: address.high >> (56 - 8 * UInt64(index)))
                bytes[8 + index] = UInt8(truncatingIfNeeded: address.low >> (56 - 8 * UInt64(index)))
            }
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Checks every entry point on `text` against `inet_pton`: the byte parsers on the
    /// text alone and inside other bytes (the range must bound what is read), and the
    /// `String` initialisers.
    static func expectAgreement(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let ipv4 = referenceIPv4(text)
        let ipv6 = referenceIPv6(text)
        let bytes = Array(text.utf8)
        // Bytes around the text that would continue an address if the parser read them.
        let padded = Array("1:".utf8) + bytes + Array(".1".utf8)
        let inner = 2..<(2 + bytes.count)
        let alone = (AddressText.parseIPv4(bytes.span, 0..<bytes.count), AddressText.parseIPv6(bytes.span, 0..<bytes.count))
        #expect(alone.0 == ipv4, "\"\(text)\"", sourceLocation: sourceLocation)
        #expect(alone.1 == ipv6, "\"\(text)\"", sourceLocation: sourceLocation)
        let inside = (AddressText.parseIPv4(padded.span, inner), AddressText.parseIPv6(padded.span, inner))
        #expect(inside.0 == ipv4, "\"\(text)\" inside", sourceLocation: sourceLocation)
        #expect(inside.1 == ipv6, "\"\(text)\" inside", sourceLocation: sourceLocation)
        #expect(IPv4Address(text)?.value == ipv4, "\"\(text)\"", sourceLocation: sourceLocation)
        #expect(IPv6Address(text) == ipv6, "\"\(text)\"", sourceLocation: sourceLocation)
        // A collection without contiguous storage takes the copying path.
        #expect(IPv4Address(ascii: text.utf8.lazy.map { $0 })?.value == ipv4, sourceLocation: sourceLocation)
        #expect(IPv6Address(ascii: text.utf8.lazy.map { $0 }) == ipv6, sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        // IPv6: the forms RFC 4291 allows.
        "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::8", "1:2:3::6:7:8",
        "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "1::1.2.3.4", "64:ff9b::192.0.2.1",
        "2001:DB8::1", "ABCD:ef01:2345:6789:AbCd:EF01:2345:6789", "0:0:0:0:0:0:0:0", "0000::0000", "ffff::",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "fe80::1",
        // IPv6: what it does not.
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", "::1::", "12345::", "::12345", "00000::1", ":::", "1:::2",
        ":1", "1:", ":1::", "1::2:", ":", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::8",
        "1:2:3:4:5:6::1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:01.2.3.4", "::ffff:1.2.3", "::ffff:1.2.3.4.5",
        "::ffff:256.1.1.1", "::1.2.3.4:1", "1.2.3.4::", "::1.2.3.4.", "::ffff:1.2.3.4:", "g::1", "::+1", "::-0",
        " ::1", "::1 ", "fe80::1%eth0", "[::1]", "::1/64", "1:2:3:4:5:6:7:8.", "12345:1.2.3.4", "::1.2.3.04",
        // IPv4.
        "0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.0.1", "192.0.2.100",
        "01.2.3.4", "1.2.3.04", "00.0.0.0", "256.1.1.1", "1.2.3.256", "1.2.3", "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4",
        "1..2.3", "1.2..3.4", "", ".", "1", "1234.1.1.1", "0x1.2.3.4", "1.2.3.4 ", "-1.2.3.4", "+1.2.3.4",
        "999.999.999.999", "1.2.3.a", "1:2.3.4",
    ])
    func agreesWithInetPtonOnEdgeCases(text: String) {
        Self.expectAgreement(text)
    }

    /// Random strings of 0 to 45 bytes over `0-9a-fA-F:.`: nearly all invalid, in every way.
    @Test func agreesWithInetPtonOnRandomStrings() {
        let alphabet = Array("0123456789abcdefABCDEF:.".utf8)
        // Colons and dots weighted up, so that group and octet structure is common.
        let weighted = alphabet + Array("::::....00".utf8)
        var random = SplitMix64(seed: 22)
        var accepted = 0
        for _ in 0..<100_000 {
            let length = Int.random(in: 0...45, using: &random)
            let bytes = (0..<length).map { _ in weighted[Int.random(in: 0..<weighted.count, using: &random)] }
            let text = String(decoding: bytes, as: UTF8.self)
            if Self.referenceIPv6(text) != nil || Self.referenceIPv4(text) != nil { accepted += 1 }
            Self.expectAgreement(text)
        }
        // The random strings reach the accepting side too, or the test proves little.
        #expect(accepted > 0)
    }

    /// Real addresses as `inet_ntop` writes them (zero runs, IPv4 tails), with a few
    /// random edits: a byte inserted, deleted or replaced, a group's digits grown.
    @Test func agreesWithInetPtonOnEditedAddresses() {
        let alphabet = Array("0123456789abcdefABCDEF:.".utf8)
        var random = SplitMix64(seed: 4291)
        var accepted = 0
        for round in 0..<30_000 {
            var text: [UInt8]
            if round % 4 == 3 {
                let value = UInt32.random(in: 0...UInt32.max, using: &random)
                text = Array(IPv4Address(value).description.utf8)
            } else {
                // Groups that are zero half the time, so that `::` falls anywhere; a
                // zero `high` and `0000:ffff` or `0:0` make `inet_ntop` write an IPv4 tail.
                var groups = (0..<8).map { _ in
                    Bool.random(using: &random) ? UInt64(0) : UInt64.random(in: 0...0xFFFF, using: &random)
                }
                if round % 4 == 2 {
                    groups[0...4] = [0, 0, 0, 0, 0]
                    if round % 8 == 2 { groups[5] = 0xFFFF }
                }
                let high = groups[0..<4].reduce(0) { $0 << 16 | $1 }
                let low = groups[4..<8].reduce(0) { $0 << 16 | $1 }
                text = Array(Self.formatted(IPv6Address(high: high, low: low)).utf8)
            }
            for _ in 0..<Int.random(in: 0...2, using: &random) {
                let position = Int.random(in: 0...text.count, using: &random)
                let byte = alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                switch Int.random(in: 0..<4, using: &random) {
                case 0: text.insert(byte, at: position)
                case 1: if position < text.count { text.remove(at: position) }
                case 2: if position < text.count { text[position] = byte }
                default: text.insert(UInt8(ascii: "0"), at: position)
                }
            }
            let string = String(decoding: text, as: UTF8.self)
            if Self.referenceIPv6(string) != nil || Self.referenceIPv4(string) != nil { accepted += 1 }
            Self.expectAgreement(string)
        }
        #expect(accepted > 10_000)
    }

    /// A range that does not lie inside the buffer is refused, not read.
    @Test func refusesARangeOutsideTheBuffer() {
        let bytes = Array("1.2.3.4".utf8)
        let (past, before) = (AddressText.parseIPv4(bytes.span, 0..<8), AddressText.parseIPv6(bytes.span, -1..<3))
        #expect(past == nil && before == nil)
    }
}
