/// An IPv4 address held as a host-order 32-bit integer (`10.0.0.1` is `0x0A000001`).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text (`192.0.2.1`); nil for anything else (no leading
    /// zeros beyond a single `0`, no octal, no shorthand forms).
    public init?<S: StringProtocol>(_ text: S) {
        self.init(ascii: text.utf8)
    }

    /// Parses a dotted quad that fills `bytes` exactly; the same rules as `init?(_:)`.
    /// Allocates nothing, for scanners over borrowed bytes.
    @inlinable
    public init?<Bytes: Collection>(ascii bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count >= 7, bytes.count <= 15 else { return nil }
        var result: UInt32 = 0
        var octets = 0
        var digits = 0
        var current: UInt32 = 0
        var leadingZero = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                result = result << 8 | current
                octets += 1
                digits = 0
                current = 0
                leadingZero = false
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if leadingZero { return nil }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, current <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        value = result << 8 | current
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

    /// Parses RFC 4291 text (`2001:db8::1`, `::ffff:192.0.2.1`); nil for anything else.
    /// A zone index (`%eth0`) is not accepted.
    public init?<S: StringProtocol>(_ text: S) {
        var groups: [UInt16] = []
        var gapIndex: Int? = nil
        let string = String(text)
        if string.isEmpty || string.count > 45 { return nil }
        var parts = string.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // A leading or trailing "::" yields two empty parts; fold them to one.
        if parts.first == "" {
            guard parts.count > 1, parts[1] == "" else { return nil }
            parts.removeFirst()
        }
        if parts.last == "" {
            guard parts.count > 1, parts[parts.count - 2] == "" else { return nil }
            parts.removeLast()
        }
        for (index, part) in parts.enumerated() {
            if part.isEmpty {
                guard gapIndex == nil else { return nil }
                gapIndex = groups.count
                continue
            }
            if index == parts.count - 1, part.contains(".") {
                guard let v4 = IPv4Address(part) else { return nil }
                groups.append(UInt16(v4.value >> 16))
                groups.append(UInt16(v4.value & 0xFFFF))
                continue
            }
            guard part.utf8.count <= 4, let group = UInt16(part, radix: 16) else { return nil }
            groups.append(group)
        }
        self.init(groups: groups, gapIndex: gapIndex)
    }

    /// The address of up to eight 16-bit groups in order, with the `::` gap (zero
    /// groups filling it up to eight) before the group at `gapIndex`; nil when they do
    /// not make eight groups.
    public init?(groups: [UInt16], gapIndex: Int?) {
        var groups = groups
        if let gapIndex {
            guard groups.count < 8, gapIndex <= groups.count else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gapIndex)
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for group in groups[0..<4] { high = high << 16 | UInt64(group) }
        for group in groups[4..<8] { low = low << 16 | UInt64(group) }
        self.high = high
        self.low = low
    }

    /// Reads 16 network-order bytes.
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 16)
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        self.high = high
        self.low = low
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
