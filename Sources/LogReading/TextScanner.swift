import Observations

/// What the text scanner found, with the byte range it came from (in the scanned buffer).
enum TextObservable: Equatable {
    case ipv4(IPv4Address)
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
        guard range.count >= 7, range.count <= 15 else { return nil }
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for index in range {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
                leadingZero = false
            } else {
                guard !leadingZero else { return nil }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                current = current * 10 + UInt32(byte - 48)
                digits += 1
                guard digits <= 3, current <= 255 else { return nil }
            }
        }
        guard octets == 3, digits > 0 else { return nil }
        return IPv4Address(value << 8 | current)
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
