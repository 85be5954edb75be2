/// The one reader of IPv4 and IPv6 address text, over borrowed UTF-8 bytes: the log
/// scanner, the rule parsers and the `String` initialisers of `IPv4Address` and
/// `IPv6Address` all call it, so that they agree on every edge case.
///
/// It accepts exactly what glibc's `inet_pton` accepts (ObservationsTests checks it
/// against `inet_pton` on a table and on random input): a dotted quad of four decimal
/// octets, 0 to 255, without leading zeros (`01.2.3.4` is refused, as glibc refuses
/// it); RFC 4291 text of one to four hex digits per group, either case, at most one
/// `::`, and an optional dotted-quad tail in the last two groups. What surrounds an
/// address in a log or a rule (a zone `%eth0`, brackets, a port, a `/64`) is its
/// caller's to take off. Allocates nothing; O(length), and both refuse more than the
/// longest address text at once.
public enum AddressText {
    /// The longest dotted quad: `255.255.255.255`.
    public static let maximumIPv4Length = 15
    /// The longest IPv6 text: six four-digit groups and the longest dotted quad
    /// (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`). No valid text is longer, since
    /// a group has at most four digits.
    public static let maximumIPv6Length = 45

    /// The IPv4 address (host order: `10.0.0.1` is `0x0A000001`) whose dotted quad
    /// fills `text[range]` exactly; nil for anything else, and for a range outside `text`.
    @inlinable
    public static func parseIPv4(_ text: Span<UInt8>, _ range: Range<Int>) -> UInt32? {
        guard range.lowerBound >= 0, range.upperBound <= text.count,
              range.count >= 7, range.count <= maximumIPv4Length
        else { return nil }
        var value: UInt32 = 0
        var octets = 0
        var digits = 0
        var octet: UInt32 = 0
        var leadingZero = false
        for index in range {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | octet
                octets += 1
                digits = 0
                octet = 0
                leadingZero = false
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                // Glibc refuses `01` and `00` (other readers take them as octal).
                if leadingZero { return nil }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | octet
    }

    /// The IPv6 address whose RFC 4291 text fills `text[range]` exactly (`2001:db8::1`,
    /// `::`, `::ffff:192.0.2.1`); nil for anything else, and for a range outside `text`.
    @inlinable
    public static func parseIPv6(_ text: Span<UInt8>, _ range: Range<Int>) -> IPv6Address? {
        guard range.lowerBound >= 0, range.upperBound <= text.count,
              range.count >= 2, range.count <= maximumIPv6Length
        else { return nil }
        let end = range.upperBound
        var index = range.lowerBound
        // The groups read so far, as a 128-bit shift register (`high` takes what `low`
        // shifts out); `count` of them, the first `gap` before the `::` when there is one.
        var high: UInt64 = 0
        var low: UInt64 = 0
        var count = 0
        var gap = -1
        if text[index] == UInt8(ascii: ":") {
            guard text[index + 1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            index += 2
        }
        while index < end {
            let groupStart = index
            var group: UInt64 = 0
            while index < end, let digit = hexDigit(text[index]) {
                group = group << 4 | UInt64(digit)
                index += 1
            }
            let digits = index - groupStart
            if index < end, text[index] == UInt8(ascii: ".") {
                // A dotted quad is the last two groups, and ends the text.
                guard count <= 6, let quad = parseIPv4(text, groupStart..<end) else { return nil }
                high = high << 32 | low >> 32
                low = low << 32 | UInt64(quad)
                count += 2
                break
            }
            guard digits > 0, digits <= 4, count < 8 else { return nil }
            high = high << 16 | low >> 48
            low = low << 16 | group
            count += 1
            if index == end { break }
            guard text[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            if index < end, text[index] == UInt8(ascii: ":") {
                guard gap < 0 else { return nil }
                gap = count
                index += 1
            } else if index == end {
                // A single trailing colon.
                return nil
            }
        }
        guard gap >= 0 else { return count == 8 ? IPv6Address(high: high, low: low) : nil }
        // `::` stands for one zero group at least.
        guard count < 8 else { return nil }
        // The groups after the gap stay where they are (the last ones); those before it
        // move up past the zeros.
        let tailBits = 16 * (count - gap)
        let shift = 16 * (8 - count)
        let tailHigh = tailBits > 64 ? high & (UInt64.max >> (128 - tailBits)) : 0
        let tailLow = tailBits >= 64 ? low : low & (UInt64.max >> (64 - tailBits))
        let head = shiftedLeft(high: high ^ tailHigh, low: low ^ tailLow, by: shift)
        return IPv6Address(high: head.high | tailHigh, low: head.low | tailLow)
    }

    /// The value of a hex digit, either case; nil for any other byte.
    @inlinable @inline(__always)
    static func hexDigit(_ byte: UInt8) -> UInt8? {
        let digit = byte &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = (byte | 0x20) &- UInt8(ascii: "a")
        return letter < 6 ? letter + 10 : nil
    }

    /// `high:low` as one 128-bit number shifted left by `shift` bits (0 to 128).
    @inlinable @inline(__always)
    static func shiftedLeft(high: UInt64, low: UInt64, by shift: Int) -> (high: UInt64, low: UInt64) {
        if shift == 0 { return (high, low) }
        if shift >= 64 { return (shift >= 128 ? 0 : low << (shift - 64), 0) }
        return (high << shift | low >> (64 - shift), low << shift)
    }
}

extension AddressText {
    /// `parse` applied to `bytes` copied to the stack, which is enough for any address
    /// text (a longer one is no address: nil). No allocation.
    @inlinable
    static func withContiguousBytes<Bytes: Collection, Result>(
        _ bytes: Bytes, _ parse: (Span<UInt8>) -> Result?
    ) -> Result? where Bytes.Element == UInt8 {
        var buffer = InlineArray<45, UInt8>(repeating: 0)
        var count = 0
        for byte in bytes {
            guard count < buffer.count else { return nil }
            buffer[count] = byte
            count += 1
        }
        return parse(buffer.span.extracting(0..<count))
    }
}
