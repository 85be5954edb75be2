// The text scanner as it was before it classified 16 bytes at once (commit d905016),
// kept verbatim as the reference the block scanner is compared with: same observables,
// same order. Only its name changed.

import Observations
@testable import LogReading

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds IPv4 and IPv6 addresses, domain names, URLs, e-mail addresses and hex digests
/// in a line of log text.
///
/// One pass over borrowed bytes, no allocation: the text is cut into words (maximal
/// runs of `[A-Za-z0-9._-]`); each word is checked as a domain name, and its parts
/// are checked as dotted quads (runs of digits and dots not touching a letter or digit
/// outside them) and as hex digests (alphanumeric runs of exactly 32, 40 or 64 hex
/// digits). A word that is a URL scheme followed by `://` starts a URL; a word followed
/// by `@` and a domain name is the local part of an e-mail address. A second pass
/// finds IPv6 addresses. O(length of the text).
///
/// With a public suffix list, a word is a domain name only when its last label is a
/// top-level domain of the list's ICANN section and the word is not itself an ICANN
/// public suffix (`co.uk`): so `config.php`, `libc.so.6` and `chrome.exe` are not names.
/// The private section is left out of that test on purpose: its suffixes (`github.io`,
/// `dyndns.org`) are registered domains that indicator lists do name. A few real TLDs
/// that logs use as file extensions (`.properties`) and reverse-DNS identifiers
/// (`com.apple.…`) are set aside too. Without a list the
/// rule is syntactic: the last label alphabetic and at least two letters long.
enum ByteAtATimeScanner {
    /// The longest domain name (RFC 1035), without the trailing dot.
    static let maximumDomainLength = 253
    /// The longest DNS label (RFC 1035).
    static let maximumLabelLength = 63

    /// Calls `found` for every observable in `text[range]`, left to right.
    static func scan(
        _ text: UnsafeRawBufferPointer, in range: Range<Int>, suffixes: PublicSuffixList? = nil,
        found: (TextObservable) -> Void
    ) {
        var index = range.lowerBound
        let end = min(range.upperBound, text.count)
        while index < end {
            guard isWordByte(text[index]) else {
                index += 1
                continue
            }
            let start = index
            let hasDot: Bool
            (index, hasDot) = wordExtent(text, from: start, end: end)
            // The local part of an e-mail address is not a domain.
            let followedByAt = index < end && text[index] == UInt8(ascii: "@")
            if followedByAt,
               let email = emailRange(text, at: index, within: range.lowerBound..<end, suffixes: suffixes)
            {
                found(.email(email))
            }
            if index + 2 < end, text[index] == UInt8(ascii: ":"), text[index + 1] == UInt8(ascii: "/"),
               text[index + 2] == UInt8(ascii: "/"), isURLScheme(text, start..<index),
               let url = urlRange(text, from: start, schemeEnd: index, end: end)
            {
                found(.url(url))
            }
            // A word without a dot and shorter than the shortest digest can hold no
            // address, name or digest (e-mail and URL starts were checked above):
            // most words of a log line ("Failed", "password", "port") end here.
            if hasDot || index - start >= shortestDigestLength {
                scanWord(text, start..<index, domainAllowed: !followedByAt, suffixes: suffixes, found: found)
            }
        }
        scanIPv6(text, range.lowerBound..<end, found: found)
    }

    /// 32 hex digits: an MD5, the shortest digest the scanner reports.
    static let shortestDigestLength = 32

    /// The end of the word starting at `start` and whether it has a dot. Scalar on
    /// purpose: a `SIMD16<UInt8>` classifier of 16 bytes at once (compares, a mask,
    /// the first non-word lane) measured five times slower in release builds with
    /// Swift 6.3, whose SIMD masks compile to lane-by-lane loops through the stack.
    @inline(__always)
    static func wordExtent(_ text: UnsafeRawBufferPointer, from start: Int, end: Int) -> (end: Int, hasDot: Bool) {
        var index = start
        var hasDot = false
        while index < end {
            let byte = text[index]
            guard isWordByte(byte) else { break }
            if byte == UInt8(ascii: ".") { hasDot = true }
            index += 1
        }
        return (index, hasDot)
    }

    /// Top-level domains of the ICANN list that in logs are nearly always file name
    /// extensions (`workers2.properties`, `eth0.network`); names under them are not
    /// reported. Kept short: `.zip` and `.mov` stay, as phishing uses them.
    static let fileExtensionTopLevelDomains: [StaticString] = ["properties", "network"]

    /// First labels that mark a reverse-DNS identifier (`com.apple.ncplugin.weather`,
    /// `org.gnome.Shell.app`) rather than a host name: Java packages, macOS bundle and
    /// D-Bus names. A registered name starting with `com.` is vanishingly rare.
    static let reverseDNSFirstLabels: [StaticString] = ["com", "org", "net"]

    /// Special-use top-level domains (RFC 2606, RFC 6761) the list does not hold but
    /// that documentation, test data and sample rules use (`paypa1-login.test`); names
    /// under them are reported as if their top-level domain were delegated.
    static let specialUseTopLevelDomains: [StaticString] = ["test", "example", "invalid"]

    /// The longest local part of an e-mail address (RFC 5321).
    static let maximumLocalPartLength = 64

    /// The e-mail address around the `@` at `at`: the local part (`[A-Za-z0-9._%+-]`,
    /// not starting with a dot) before it and a domain name right after it.
    static func emailRange(
        _ text: UnsafeRawBufferPointer, at: Int, within range: Range<Int>, suffixes: PublicSuffixList?
    ) -> Range<Int>? {
        var localStart = at
        while localStart > range.lowerBound, isLocalPartByte(text[localStart - 1]) { localStart -= 1 }
        while localStart < at, text[localStart] == UInt8(ascii: ".") { localStart += 1 }
        guard localStart < at, at - localStart <= maximumLocalPartLength else { return nil }
        var wordEnd = at + 1
        while wordEnd < range.upperBound, isWordByte(text[wordEnd]) { wordEnd += 1 }
        guard let domain = domainRange(text, (at + 1)..<wordEnd, suffixes: suffixes),
              domain.lowerBound == at + 1
        else { return nil }
        return localStart..<domain.upperBound
    }

    @inline(__always)
    static func isLocalPartByte(_ byte: UInt8) -> Bool {
        isWordByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "%")
    }

    /// http, https, ftp, hxxp, hxxps, any case.
    static func isURLScheme(_ text: UnsafeRawBufferPointer, _ word: Range<Int>) -> Bool {
        guard word.count >= 3, word.count <= 5 else { return false }
        var key: UInt64 = 0
        for index in word { key = key << 8 | UInt64(text[index] | 0x20) }
        switch key {
        case 0x6874_7470, 0x68_7474_7073, 0x66_7470, 0x6878_7870, 0x68_7878_7073: return true
        default: return false
        }
    }

    /// The URL starting at `start` whose scheme ends at `schemeEnd` (at `://`): up to the
    /// first space, control byte, quote or angle bracket, without trailing punctuation
    /// and without a closing bracket or parenthesis it does not open. Nil when no host
    /// follows `://`.
    static func urlRange(_ text: UnsafeRawBufferPointer, from start: Int, schemeEnd: Int, end: Int) -> Range<Int>? {
        let hostStart = schemeEnd + 3
        guard hostStart < end, isAlphanumeric(text[hostStart]) || text[hostStart] == UInt8(ascii: "[") else {
            return nil
        }
        var index = hostStart
        var parentheses = 0
        var brackets = 0
        while index < end {
            let byte = text[index]
            guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "'"),
                  byte != UInt8(ascii: "<"), byte != UInt8(ascii: ">"), byte != UInt8(ascii: "`"),
                  byte != UInt8(ascii: "{"), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "|"),
                  byte != UInt8(ascii: "\\"), byte != UInt8(ascii: "^")
            else { break }
            switch byte {
            case UInt8(ascii: "("): parentheses += 1
            case UInt8(ascii: ")"): parentheses -= 1
            case UInt8(ascii: "["): brackets += 1
            case UInt8(ascii: "]"): brackets -= 1
            default: break
            }
            index += 1
        }
        while index > hostStart {
            let last = text[index - 1]
            if last == UInt8(ascii: ".") || last == UInt8(ascii: ",") || last == UInt8(ascii: ";")
                || last == UInt8(ascii: ":") || last == UInt8(ascii: "!") || last == UInt8(ascii: "?")
            {
                index -= 1
            } else if last == UInt8(ascii: ")"), parentheses < 0 {
                parentheses += 1
                index -= 1
            } else if last == UInt8(ascii: "]"), brackets < 0 {
                brackets += 1
                index -= 1
            } else {
                break
            }
        }
        return index > hostStart ? start..<index : nil
    }

    /// IPv6 addresses: maximal runs of `[0-9A-Za-z:.]` made only of hex digits, colons
    /// and dots, with at least two colons, that parse as RFC 4291 text. A second pass
    /// over the text, so these come after the line's other observables.
    private static func scanIPv6(
        _ text: UnsafeRawBufferPointer, _ range: Range<Int>, found: (TextObservable) -> Void
    ) {
        var index = range.lowerBound
        guard let base = text.baseAddress, range.upperBound <= text.count else { return }
        while index < range.upperBound {
            // Only runs with a colon can be addresses: jump to the next colon (memchr
            // is vectorised), then back to the start of its run.
            // Safe: index..<upperBound lies inside text.
            guard let colon = memchr(base + index, Int32(UInt8(ascii: ":")), range.upperBound - index) else { return }
            var runStart = base.distance(to: UnsafeRawPointer(colon))
            while runStart > index, isIPv6RunByte(text[runStart - 1]) { runStart -= 1 }
            index = runStart
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
            if !candidate, let afterLabel = addressAfterLabel(text, runStart..<index) {
                // A label before the address (`IPv6:2001:db8::1`, `client:fe80::1`): added
                // with the block scanner's address notations.
                runStart = afterLabel
                colons = 0
                candidate = true
                for byte in text[runStart..<index] {
                    if byte == UInt8(ascii: ":") { colons += 1 }
                    if isLetter(byte), !hexValue(byte) { candidate = false }
                }
            }
            guard candidate, colons >= 2 else { continue }
            var start = runStart
            // A separator before the address: "en0+:2607:f140::1", "port:fe80::1".
            if index - start > 2, text[start] == UInt8(ascii: ":"), text[start + 1] != UInt8(ascii: ":") {
                start += 1
            }
            var end = index
            // Punctuation after the address: "from fe80::1: error", "to 2001:db8::1."
            if end - start > 2, text[end - 1] == UInt8(ascii: ".") || text[end - 1] == UInt8(ascii: ":"),
               text[end - 2] != UInt8(ascii: ":")
            {
                end -= 1
            }
            if let address = parseIPv6(text, start..<end) {
                found(.ipv6(address, start..<end))
            } else if let port = portStart(text, start..<end, colon: true),
                      let address = parseIPv6(text, start..<(port - 1)), address != IPv6Address(high: 0, low: 0)
            {
                // An address and its port (`2001:db8::1.50550`, `2001:db8::1:58430`).
                found(.ipv6(address, start..<(port - 1)))
            }
        }
    }

    /// Where a label before an address ends, after its colon: letters and digits, one
    /// of them a letter no hex digit has, then a colon and a hex digit, or `IPv6:`.
    static func addressAfterLabel(_ text: UnsafeRawBufferPointer, _ run: Range<Int>) -> Int? {
        guard let colon = text[run].firstIndex(of: UInt8(ascii: ":")), colon - run.lowerBound <= 16,
              colon + 1 < run.upperBound
        else { return nil }
        let label = text[run.lowerBound..<colon]
        guard label.allSatisfy(isAlphanumeric), label.contains(where: { isLetter($0) && !hexValue($0) }) else {
            return nil
        }
        let isIPv6Label = String(decoding: label, as: UTF8.self).lowercased() == "ipv6"
        return hexValue(text[colon + 1]) || isIPv6Label ? colon + 1 : nil
    }

    /// Where a port of 0 to 65535 (decimal, no leading zero) starts at the end of
    /// `range`, after a `.` (or a `:` when `colon`).
    static func portStart(_ text: UnsafeRawBufferPointer, _ range: Range<Int>, colon: Bool) -> Int? {
        var start = range.upperBound
        while start > range.lowerBound, isDigit(text[start - 1]) { start -= 1 }
        let digits = String(decoding: text[start..<range.upperBound], as: UTF8.self)
        guard start > range.lowerBound, let port = Int(digits), port <= 65535, digits == String(port) else { return nil }
        let separator = text[start - 1]
        return separator == UInt8(ascii: ".") || colon && separator == UInt8(ascii: ":") ? start : nil
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

    /// A byte of a run the IPv6 pass looks at: `[0-9A-Za-z:.]`.
    @inline(__always)
    static func isIPv6RunByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
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
        _ text: UnsafeRawBufferPointer, _ word: Range<Int>, domainAllowed: Bool, suffixes: PublicSuffixList?,
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
                    found(.ipv4(address, start..<quadEnd))
                } else if allDigitsOrDots, let port = portStart(text, start..<quadEnd, colon: false),
                          let address = parseIPv4(text, start..<(port - 1))
                {
                    // A quad and its port after a dot (`192.0.2.1.50550`): added with the block
                    // scanner's address notations.
                    found(.ipv4(address, start..<(port - 1)))
                } else {
                    scanDigests(text, start..<index, found: found)
                }
            } else {
                index += 1
            }
        }
        if domainAllowed, let domain = domainRange(text, word, suffixes: suffixes) { found(.domain(domain)) }
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
    /// two or more labels of `[A-Za-z0-9_-]`, none empty or longer than 63, 253 bytes at
    /// most, and a known top-level domain (see the type's comment), or without a list a
    /// last label alphabetic and 2 to 63 long.
    static func domainRange(
        _ text: UnsafeRawBufferPointer, _ word: Range<Int>, suffixes: PublicSuffixList? = nil
    ) -> Range<Int>? {
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
        guard labels >= 1 else { return nil }
        // Safe: the name lies inside `text`, which outlives its use in the checks below.
        let name = unsafe Span<UInt8>(_unsafeBytes: UnsafeRawBufferPointer(rebasing: text[start..<end]))
        if let suffixes {
            let lastLabel = (end - labelLength)..<end
            guard suffixes.hasKnownTopLevelDomain(name) || isOne(of: specialUseTopLevelDomains, text, lastLabel),
                  !suffixes.isPublicSuffix(name, section: .icann),
                  !isOne(of: fileExtensionTopLevelDomains, text, lastLabel),
                  !isOne(of: reverseDNSFirstLabels, text, start..<firstLabelEnd(text, start..<end))
            else { return nil }
        } else {
            guard labelLength >= 2, lastLabelAlphabetic else { return nil }
        }
        return start..<end
    }

    /// The end of the first label of the name at `name`.
    static func firstLabelEnd(_ text: UnsafeRawBufferPointer, _ name: Range<Int>) -> Int {
        var index = name.lowerBound
        while index < name.upperBound, text[index] != UInt8(ascii: ".") { index += 1 }
        return index
    }

    /// Whether `text[label]` is one of `labels`, ASCII case folded.
    static func isOne(of labels: [StaticString], _ text: UnsafeRawBufferPointer, _ label: Range<Int>) -> Bool {
        for candidate in labels where candidate.utf8CodeUnitCount == label.count {
            let matches = candidate.withUTF8Buffer { bytes in
                var offset = 0
                for index in label {
                    let byte = text[index]
                    let folded = byte &- 65 < 26 ? byte | 0x20 : byte
                    if folded != bytes[offset] { return false }
                    offset += 1
                }
                return true
            }
            if matches { return true }
        }
        return false
    }
}
