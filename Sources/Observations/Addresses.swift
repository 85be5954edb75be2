/// An IPv4 address held as a host-order 32-bit integer (`10.0.0.1` is `0x0A000001`).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text (`192.0.2.1`); nil for anything else (no leading
    /// zeros beyond a single `0`, no octal, no shorthand forms): `AddressText.parseIPv4`.
    public init?<S: StringProtocol>(_ text: S) {
        self.init(ascii: text.utf8)
    }

    /// Parses a dotted quad that fills `bytes` exactly; the same rules as `init?(_:)`.
    /// Allocates nothing, for scanners over borrowed bytes.
    @inlinable
    public init?<Bytes: Collection>(ascii bytes: Bytes) where Bytes.Element == UInt8 {
        guard let value = AddressText.withContiguousBytes(bytes, { AddressText.parseIPv4($0, 0..<$0.count) }) else {
            return nil
        }
        self.value = value
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
}

/// An IPv6 address held as two host-order 64-bit halves (`high` holds the first 8 bytes).
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses RFC 4291 text (`2001:db8::1`, `::ffff:192.0.2.1`, `::`); nil for anything
    /// else: `AddressText.parseIPv6`. A zone index (`%eth0`) is not accepted.
    public init?<S: StringProtocol>(_ text: S) {
        self.init(ascii: text.utf8)
    }

    /// Parses RFC 4291 text that fills `bytes` exactly; the same rules as `init?(_:)`.
    /// Allocates nothing.
    @inlinable
    public init?<Bytes: Collection>(ascii bytes: Bytes) where Bytes.Element == UInt8 {
        guard let address = AddressText.withContiguousBytes(bytes, { AddressText.parseIPv6($0, 0..<$0.count) }) else {
            return nil
        }
        self = address
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// The eight 16-bit groups, first group first.
    public var groups: [UInt16] {
        (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64($0))) }
    }

    /// RFC 5952 canonical text: lower case, longest run of two or more zero groups as `::`.
    public var description: String {
        let groups = self.groups
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > bestLength {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
