import Observations

/// The plain-list rule format: one indicator per line, its type inferred from its text.
///
/// - `#` starts a comment: a whole line, or after whitespace at the end of a value
///   (`10.0.0.0/8 # office`). Blank lines are ignored; whitespace around a value is
///   trimmed; CRLF line ends and a UTF-8 byte order mark at the start are accepted.
/// - Accepted values: IPv4 and IPv6 addresses, CIDR ranges (host bits are cleared),
///   domains (lower-cased, trailing dot and a leading `*.` dropped), MD5, SHA-1 and
///   SHA-256 digests (lower-cased).
/// - Anything else is a `RuleError` for that line; the other lines still load.
///
/// Loading rules is not a hot path: this parser favours clear messages over speed.
enum PlainListParser {
    /// Lines longer than this are rejected without being looked at: the longest valid
    /// value is a 253-byte domain, so 4 KiB leaves ample room for a trailing comment
    /// while keeping a binary file fed in by mistake from producing huge messages.
    static let maximumLineLength = 4096

    /// What a single line holds.
    enum Line: Equatable {
        /// Blank or comment only.
        case empty
        case indicator(IndicatorType, String)
        /// What is wrong and what was expected.
        case invalid(String)
    }

    /// Parses a whole file's bytes; `path` is used for the indicators' `ruleFile` and
    /// for errors. Duplicates are not removed here.
    static func parse(file bytes: [UInt8], path: String) -> (indicators: [Indicator], errors: [RuleError]) {
        var indicators: [Indicator] = []
        var errors: [RuleError] = []
        var start = 0
        // A UTF-8 byte order mark is an editor's artefact, not part of the first value.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var lineNumber = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            lineNumber += 1
            var contentEnd = end
            if contentEnd > start, bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            switch parseLine(bytes[start..<contentEnd]) {
            case .empty:
                break
            case .indicator(let type, let value):
                indicators.append(Indicator(type: type, value: value, ruleFile: path, line: lineNumber))
            case .invalid(let message):
                errors.append(RuleError(file: path, line: lineNumber, message: message))
            }
            start = end + 1
        }
        return (indicators, errors)
    }

    /// Parses one line (without its line end).
    static func parseLine(_ raw: ArraySlice<UInt8>) -> Line {
        if raw.count > maximumLineLength {
            return .invalid(
                "line is \(raw.count) bytes long; the limit is \(maximumLineLength) "
                    + "(expected one indicator per line; is this a rule file?)")
        }
        if let nul = raw.firstIndex(of: 0) {
            return .invalid(
                "line contains a NUL byte at column \(nul - raw.startIndex + 1) "
                    + "(expected text; is this a binary file?)")
        }
        guard let text = String(validating: raw, as: UTF8.self) else {
            return .invalid("line is not valid UTF-8 (expected UTF-8 or ASCII text)")
        }
        let value = stripCommentAndWhitespace(text)
        if value.isEmpty { return .empty }
        return classify(value)
    }

    /// The value part of a line: the text before a `#` that starts the line or follows
    /// whitespace, trimmed.
    static func stripCommentAndWhitespace(_ text: String) -> Substring {
        var utf8 = Substring(text).utf8
        var previousWasSpace = true  // so that a `#` at the very start is a comment
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "#"), previousWasSpace {
                utf8 = utf8[utf8.startIndex..<index]
                break
            }
            previousWasSpace = isSpace(byte)
            index = utf8.index(after: index)
        }
        while let first = utf8.first, isSpace(first) { utf8 = utf8.dropFirst() }
        while let last = utf8.last, isSpace(last) { utf8 = utf8.dropLast() }
        return Substring(utf8)
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// What every message ends with when a line is not recognised at all.
    static let expectation = "expected one indicator per line (an IP address, CIDR range, domain, or MD5/SHA-1/SHA-256 hash)"

    /// Infers the type of a trimmed, non-empty value and canonicalises it.
    static func classify(_ value: Substring) -> Line {
        let shown = quoted(value)
        // `value;comment`, `value<TAB>score`, `value,field`: other list conventions. Say
        // so when the first field is itself a valid indicator.
        if let separator = value.utf8.firstIndex(where: isFieldSeparator) {
            let first = value[..<separator]
            if !first.isEmpty, case .indicator(_, let canonical) = classify(first) {
                return .invalid(
                    "\(shown): expected one indicator per line, found more text after \(canonical) "
                        + "(comments start with \"#\" after whitespace)")
            }
            if value.utf8.contains(where: isSpace) {
                return .invalid("\(shown): \(expectation)")
            }
        }
        if value.contains("://") {
            return .invalid("\(shown): URLs are not supported; \(expectation)")
        }
        if let slash = value.firstIndex(of: "/") {
            return classifyNetwork(value, slash: slash)
        }
        let bytes = value.utf8
        if bytes.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
            if let address = IPv4Address(value) { return .indicator(.ipv4, address.description) }
            return .invalid("\(shown): not a valid IPv4 address (\(ipv4Problem(value)))")
        }
        if value.contains(":") {
            return classifyColon(value)
        }
        if bytes.allSatisfy(isHexDigit), bytes.count >= 24 {
            switch bytes.count {
            case 32: return .indicator(.md5, value.lowercased())
            case 40: return .indicator(.sha1, value.lowercased())
            case 64: return .indicator(.sha256, value.lowercased())
            default:
                return .invalid(
                    "\(shown): a hex string of \(bytes.count) digits is not a hash "
                        + "(expected 32 for MD5, 40 for SHA-1 or 64 for SHA-256)")
            }
        }
        return classifyDomain(value)
    }

    /// `address/prefix`.
    static func classifyNetwork(_ value: Substring, slash: Substring.Index) -> Line {
        let shown = quoted(value)
        let addressText = value[value.startIndex..<slash]
        let prefixText = value[value.index(after: slash)...]
        // An address part with a colon is meant as IPv6 (URLs were caught before).
        let addressLooksNumeric = !addressText.isEmpty
            && (addressText.contains(":") || addressText.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }))
        guard addressLooksNumeric else {
            return .invalid("\(shown): URLs and paths are not supported; \(expectation)")
        }
        guard !prefixText.isEmpty, prefixText.utf8.count <= 3, prefixText.utf8.allSatisfy(isDigit),
              let prefix = Int(prefixText)
        else {
            return .invalid(
                "\(shown): the prefix length \(quoted(prefixText)) is not a number "
                    + "(expected a CIDR range like 10.0.0.0/8 or 2001:db8::/32)")
        }
        if addressText.contains(":") {
            guard let address = IPv6Address(addressText) else {
                return .invalid("\(shown): \(quoted(addressText)) is not a valid IPv6 address (expected e.g. 2001:db8::/32)")
            }
            guard prefix <= 128 else {
                return .invalid("\(shown): /\(prefix) is not a valid prefix length for IPv6 (0-128)")
            }
            let network = IPv6Network.mask(address, prefix: prefix)
            return .indicator(.cidr, "\(network)/\(prefix)")
        }
        guard let address = IPv4Address(addressText) else {
            if addressText.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
                return .invalid("\(shown): not a valid IPv4 address (\(ipv4Problem(addressText)))")
            }
            return .invalid("\(shown): \(quoted(addressText)) is not an IP address (expected a CIDR range like 10.0.0.0/8)")
        }
        guard prefix <= 32 else {
            return .invalid("\(shown): /\(prefix) is not a valid prefix length for IPv4 (0-32)")
        }
        let network = IPv4Address(IPv4Network.mask(address.value, prefix: prefix))
        return .indicator(.cidr, "\(network)/\(prefix)")
    }

    /// IPv6 addresses, and the `address:port` forms some feeds use.
    static func classifyColon(_ value: Substring) -> Line {
        let shown = quoted(value)
        if value.contains("%") {
            return .invalid("\(shown): an IPv6 zone index (%...) is not allowed in an indicator (expected e.g. fe80::1)")
        }
        if let address = IPv6Address(value) { return .indicator(.ipv6, address.description) }
        // `1.2.3.4:443` or `evil.com:8080`: one colon followed by digits.
        if let colon = value.firstIndex(of: ":"), value[value.index(after: colon)...].utf8.allSatisfy(isDigit),
           value.utf8.filter({ $0 == UInt8(ascii: ":") }).count == 1
        {
            return .invalid(
                "\(shown): ports are not supported; expected an IP address or domain without \":port\"")
        }
        return .invalid("\(shown): not a valid IPv6 address (expected e.g. 2001:db8::1)")
    }

    /// Domains: labels of letters, digits, hyphens and underscores, 1-63 bytes each,
    /// at most 253 bytes in all, at least two labels, the last not all digits.
    static func classifyDomain(_ value: Substring) -> Line {
        let shown = quoted(value)
        var name = value
        if name.hasPrefix("*.") { name = name.dropFirst(2) }
        if name.hasSuffix(".") { name = name.dropLast() }
        if let bad = name.unicodeScalars.first(where: { !$0.isASCII }) {
            return .invalid(
                "\(shown): domain contains the non-ASCII character \(quoted(String(bad))) "
                    + "(expected an ASCII name; write internationalised names in punycode, xn--...)")
        }
        if name.contains("*") {
            return .invalid("\(shown): wildcards are only allowed as a leading \"*.\" (a domain already matches its subdomains)")
        }
        if let bad = name.utf8.first(where: { !isLabelByte($0) && $0 != UInt8(ascii: ".") }) {
            return .invalid(
                "\(shown): \(quoted(String(UnicodeScalar(bad)))) is not allowed in a domain "
                    + "(expected letters, digits, hyphens and underscores in dot-separated labels); "
                    + expectation)
        }
        if name.isEmpty {
            return .invalid("\(shown): \(expectation)")
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.contains(where: \.isEmpty) {
            return .invalid("\(shown): domain has an empty label (two dots in a row, or a leading dot)")
        }
        if let long = labels.first(where: { $0.utf8.count > 63 }) {
            return .invalid("\(shown): domain label \(quoted(long)) is \(long.utf8.count) bytes long (at most 63)")
        }
        if name.utf8.count > 253 {
            return .invalid("\(shown): domain is \(name.utf8.count) bytes long (at most 253)")
        }
        if labels.count < 2 {
            return .invalid("\(shown): a domain needs at least two labels, like example.com; \(expectation)")
        }
        if let last = labels.last, last.utf8.allSatisfy(isDigit) {
            return .invalid("\(shown): a domain's last label cannot be all digits (expected a name like example.com or an IPv4 address)")
        }
        return .indicator(.domain, name.lowercased())
    }

    /// Why a digits-and-dots string is not an IPv4 address.
    static func ipv4Problem(_ text: Substring) -> String {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count != 4 {
            return "expected four decimal octets separated by dots, found \(octets.count)"
        }
        for octet in octets {
            if octet.isEmpty { return "empty octet" }
            if octet.utf8.count > 3 { return "octet \(octet) > 255" }
            if let number = Int(octet), number > 255 { return "octet \(number) > 255" }
            if octet.utf8.count > 1, octet.hasPrefix("0") {
                return "octet \(octet) has a leading zero, which some tools read as octal"
            }
        }
        return "expected four decimal octets 0-255"
    }

    /// The value as shown in a message: bare when it is plain, else quoted; cut short
    /// when long.
    static func quoted<S: StringProtocol>(_ value: S) -> String {
        let limit = 80
        var text = String(value)
        var cut = false
        if text.count > limit {
            text = String(text.prefix(limit))
            cut = true
        }
        let plain = !text.isEmpty && text.utf8.allSatisfy { byte in
            isLabelByte(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "/")
        }
        if plain && !cut { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            escaped += scalar == "\"" ? "\\\"" : scalar.escaped(asASCII: false)
        }
        return "\"" + escaped + (cut ? "…" : "") + "\""
    }

    static func isFieldSeparator(_ byte: UInt8) -> Bool {
        isSpace(byte) || byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",")
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66)
    }

    static func isLabelByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
