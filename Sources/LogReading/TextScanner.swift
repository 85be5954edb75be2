import Observations

/// What the text scanner found, with the byte range it came from (in the scanned buffer).
enum TextObservable: Equatable {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    case domain(Range<Int>)
    case hexDigest(Range<Int>)
}

/// Finds IPv4 addresses, domain names and hex digests in a line of log text.
///
/// One pass over borrowed bytes, no allocation: the text is cut into words (maximal
/// runs of `[A-Za-z0-9._-]`); each word is checked as a domain name, and its parts
/// are checked as dotted quads (runs of digits and dots not touching a letter or digit
/// outside them) and as hex digests (alphanumeric runs of exactly 32, 40 or 64 hex
/// digits). O(length of the text).
enum TextScanner {
    /// The longest domain name (RFC 1035), without the trailing dot.
    static let maximumDomainLength = 253
    /// The longest DNS label (RFC 1035).
    static let maximumLabelLength = 63

    /// Calls `found` for every observable in `text[range]`, left to right.
    static func scan(
        _ text: UnsafeRawBufferPointer, in range: Range<Int>, found: (TextObservable) -> Void
    ) {
        var index = range.lowerBound
        let end = min(range.upperBound, text.count)
        while index < end {
            guard isWordByte(text[index]) else {
                index += 1
                continue
            }
            let start = index
            while index < end, isWordByte(text[index]) { index += 1 }
            // The local part of an e-mail address is not a domain.
            let followedByAt = index < end && text[index] == UInt8(ascii: "@")
            scanWord(text, start..<index, domainAllowed: !followedByAt, found: found)
        }
        scanIPv6(text, range.lowerBound..<end, found: found)
    }

    /// IPv6 addresses: maximal runs of `[0-9A-Za-z:.]` made only of hex digits, colons
    /// and dots, with at least two colons, that parse as RFC 4291 text. A second pass
    /// over the text, so these come after the line's other observables.
    private static func scanIPv6(
        _ text: UnsafeRawBufferPointer, _ range: Range<Int>, found: (TextObservable) -> Void
    ) {
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = text[index]
            guard isAlphanumeric(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") else {
                index += 1
                continue
            }
            let start = index
            var colons = 0
            var candidate = true
            while index < range.upperBound {
                let current = text[index]
                if current == UInt8(ascii: ":") {
                    colons += 1
                } else if current == UInt8(ascii: ".") {
                } else if isAlphanumeric(current) {
                    if !hexValue(current) { candidate = false }
                } else {
                    break
                }
                index += 1
            }
            guard candidate, colons >= 2 else { continue }
            var end = index
            // Punctuation after the address: "from fe80::1: error", "to 2001:db8::1."
            if end - start > 2, text[end - 1] == UInt8(ascii: ".") || text[end - 1] == UInt8(ascii: ":"),
               text[end - 2] != UInt8(ascii: ":")
            {
                end -= 1
            }
            if let address = parseIPv6(text, start..<end) { found(.ipv6(address)) }
        }
    }

    /// Parses RFC 4291 text occupying exactly `range` (`2001:db8::1`, `::ffff:192.0.2.1`);
    /// needs at least one hex digit, so a bare `::` is not taken. No allocation.
    static func parseIPv6(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> IPv6Address? {
        guard range.count >= 3, range.count <= 45 else { return nil }
        var groups = SIMD8<UInt16>()
        var count = 0
        var gap = -1
        var index = range.lowerBound
        let end = range.upperBound
        if text[index] == UInt8(ascii: ":") {
            guard text[index + 1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            index += 2
        }
        while index < end {
            let start = index
            var value: UInt32 = 0
            var digits = 0
            while index < end, hexValue(text[index]) {
                let byte = text[index]
                value = value << 4 | UInt32(isDigit(byte) ? byte - 48 : (byte | 0x20) - 87)
                digits += 1
                index += 1
            }
            if index < end, text[index] == UInt8(ascii: ".") {
                // An embedded IPv4 address ends the text.
                guard count <= 6, let v4 = parseIPv4(text, start..<end) else { return nil }
                groups[count] = UInt16(truncatingIfNeeded: v4.value >> 16)
                groups[count + 1] = UInt16(truncatingIfNeeded: v4.value)
                count += 2
                index = end
                break
            }
            guard digits > 0, digits <= 4, count < 8 else { return nil }
            groups[count] = UInt16(value)
            count += 1
            if index == end { break }
            guard text[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            if index < end, text[index] == UInt8(ascii: ":") {
                guard gap < 0 else { return nil }
                gap = count
                index += 1
            } else if index == end {
                return nil
            }
        }
        guard count > 0 else { return nil }
        if gap >= 0 {
            guard count < 8 else { return nil }
            // Move the groups after the gap to the end; the gap is zeros.
            let tail = count - gap
            var expanded = SIMD8<UInt16>()
            for position in 0..<gap { expanded[position] = groups[position] }
            for position in 0..<tail { expanded[8 - tail + position] = groups[gap + position] }
            groups = expanded
        } else {
            guard count == 8 else { return nil }
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for position in 0..<4 { high = high << 16 | UInt64(groups[position]) }
        for position in 4..<8 { low = low << 16 | UInt64(groups[position]) }
        return IPv6Address(high: high, low: low)
    }

    @inline(__always)
    static func isWordByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }

    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || isLetter(byte)
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

    @inline(__always)
    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 97 < 26 }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- 97 < 6
    }

    private static func scanWord(
        _ text: UnsafeRawBufferPointer, _ word: Range<Int>, domainAllowed: Bool,
        found: (TextObservable) -> Void
    ) {
        // Dotted quads and digests, in the order they appear.
        var index = word.lowerBound
        while index < word.upperBound {
            let byte = text[index]
            if isAlphanumeric(byte) {
                let start = index
                var allDigitsOrDots = true
                while index < word.upperBound {
                    let current = text[index]
                    if isAlphanumeric(current) {
                        if !isDigit(current) { allDigitsOrDots = false }
                    } else if current != UInt8(ascii: ".") {
                        break
                    }
                    index += 1
                }
                // start..<index is a run of [A-Za-z0-9.], bounded by '-', '_' or the word's ends.
                var quadEnd = index
                // A sentence's full stop after an address ("from 192.0.2.1.").
                if quadEnd == word.upperBound, quadEnd - start > 1, text[quadEnd - 1] == UInt8(ascii: "."),
                   text[quadEnd - 2] != UInt8(ascii: ".")
                {
                    quadEnd -= 1
                }
                if allDigitsOrDots, let address = parseIPv4(text, start..<quadEnd) {
                    found(.ipv4(address))
                } else {
                    scanDigests(text, start..<index, found: found)
                }
            } else {
                index += 1
            }
        }
        if domainAllowed, let domain = domainRange(text, word) { found(.domain(domain)) }
    }

    /// Digests in a run of `[A-Za-z0-9.]`: the dot-separated parts that are exactly
    /// 32, 40 or 64 hex digits (a bare digest, or e.g. "file.<md5>.gz").
    private static func scanDigests(
        _ text: UnsafeRawBufferPointer, _ run: Range<Int>, found: (TextObservable) -> Void
    ) {
        var index = run.lowerBound
        while index < run.upperBound {
            let start = index
            var allHex = true
            while index < run.upperBound, text[index] != UInt8(ascii: ".") {
                if !hexValue(text[index]) { allHex = false }
                index += 1
            }
            let length = index - start
            if allHex, length == 32 || length == 40 || length == 64 { found(.hexDigest(start..<index)) }
            index += 1
        }
    }

    /// Parses a dotted quad occupying exactly `range`; no leading zeros, octets <= 255.
    static func parseIPv4(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> IPv4Address? {
        IPv4Address(ascii: text[range])
    }

    /// The domain name in a word, if the word (without leading and trailing `.`, `-`, `_`) is one:
    /// two or more labels of `[A-Za-z0-9_-]`, none empty or longer than 63, the last
    /// alphabetic and 2 to 63 long, 253 bytes at most.
    static func domainRange(_ text: UnsafeRawBufferPointer, _ word: Range<Int>) -> Range<Int>? {
        var start = word.lowerBound
        var end = word.upperBound
        // Punctuation at the ends belongs to the text around the name ("-file.txt", "name.").
        while start < end, !isAlphanumeric(text[start]) { start += 1 }
        while end > start, !isAlphanumeric(text[end - 1]) { end -= 1 }
        guard end - start >= 4, end - start <= maximumDomainLength else { return nil }
        var labels = 0
        var labelLength = 0
        var lastLabelAlphabetic = true
        for index in start..<end {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0 else { return nil }
                labels += 1
                labelLength = 0
                lastLabelAlphabetic = true
            } else {
                labelLength += 1
                guard labelLength <= maximumLabelLength else { return nil }
                if !isLetter(byte) { lastLabelAlphabetic = false }
            }
        }
        guard labels >= 1, labelLength >= 2, lastLabelAlphabetic else { return nil }
        return start..<end
    }
}
