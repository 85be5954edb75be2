import ByteParsing
import Observations

/// A value recognised as an indicator.
struct ParsedValue: Equatable, Sendable {
    var type: IndicatorType
    /// Canonical text (see `Indicator.value`).
    var value: String
    var matchesSubdomains: Bool = true
    /// A warning that goes with an accepted value (a private-section public suffix).
    var note: String? = nil
}

/// What one indicator value is.
enum Classified: Equatable {
    case indicator(ParsedValue)
    /// A convention of some feed that Cairn does not use (yet): a warning.
    /// `offset`: UTF-8 bytes from the start of the value to the part concerned.
    case skipped(String, offset: Int)
    /// A mistake: an error.
    case invalid(String, offset: Int)
}

/// What a format declares a value to be; `.inferred` lets the text decide.
enum Expected: Equatable {
    case inferred
    /// One of these types; `name` says it in messages (`an IP address`).
    case oneOf(Set<IndicatorType>, name: String)
    case domain(exact: Bool)
    case url
    case email
    /// A JA3 fingerprint (32 hex digits, an MD5).
    case ja3
    /// A JA4 fingerprint (`t13d1516h2_8daaf6152771_02713d6af862`).
    case ja4
}

/// The syntax of indicator values, shared by every rule format: type inference,
/// validation with messages that say what was expected, canonical forms.
///
/// Loading rules is not a hot path: this favours clear messages over speed.
enum ValueSyntax {
    /// What every message ends with when a value is not recognised at all.
    static let expectation =
        "expected one indicator per line (an IP address, CIDR range, domain, URL, e-mail address, or MD5/SHA-1/SHA-256 hash)"

    static let portMessage = "port-specific indicators are not supported yet; skipped"

    /// Classifies `value` (trimmed, non-empty) as `expected` says.
    static func classify(_ value: Substring, as expected: Expected, suffixes: PublicSuffixList) -> Classified {
        switch expected {
        case .inferred:
            return infer(value, suffixes: suffixes)
        case .domain(let exact):
            var name = value
            var exact = exact
            if name.hasPrefix("=") {
                name = name.dropFirst()
                exact = true
            }
            return shift(classifyDomain(name, exact: exact, suffixes: suffixes), by: value.utf8.count - name.utf8.count)
        case .url:
            return classifyURL(value)
        case .email:
            return classifyEmail(value, suffixes: suffixes)
        case .ja3:
            return classifyJA3(value)
        case .ja4:
            return classifyJA4(value)
        case .oneOf(let types, let name):
            let result = infer(value, suffixes: suffixes)
            if case .indicator(let parsed) = result, !types.contains(parsed.type) {
                return .invalid("\(quoted(value)) is not \(name) (it reads as \(article(parsed.type)))", offset: 0)
            }
            return result
        }
    }

    static func article(_ type: IndicatorType) -> String {
        switch type {
        case .ipv4: "an IPv4 address"
        case .ipv6: "an IPv6 address"
        case .cidr: "a CIDR range"
        case .domain: "a domain"
        case .md5: "an MD5 hash"
        case .sha1: "a SHA-1 hash"
        case .sha256: "a SHA-256 hash"
        case .url: "a URL"
        case .email: "an e-mail address"
        case .ja3: "a JA3 fingerprint"
        case .ja4: "a JA4 fingerprint"
        }
    }

    static func shift(_ result: Classified, by offset: Int) -> Classified {
        switch result {
        case .indicator: result
        case .skipped(let message, let at): .skipped(message, offset: at + offset)
        case .invalid(let message, let at): .invalid(message, offset: at + offset)
        }
    }

    /// Infers the type of a trimmed, non-empty value and canonicalises it.
    static func infer(_ value: Substring, suffixes: PublicSuffixList) -> Classified {
        let shown = quoted(value)
        if let space = value.utf8.firstIndex(where: isSpace) {
            let first = value[..<space]
            if !first.isEmpty, case .indicator(let parsed) = infer(first, suffixes: suffixes) {
                return .invalid(
                    "\(shown): expected one indicator per line, found more text after \(parsed.value) "
                        + "(comments start with \"#\" after whitespace)",
                    offset: value.utf8.distance(from: value.utf8.startIndex, to: space))
            }
            return .invalid("\(shown): \(expectation)", offset: 0)
        }
        if let comma = value.utf8.firstIndex(of: UInt8(ascii: ",")), !value.hasBytes("/") {
            let first = value[..<comma]
            if !first.isEmpty, case .indicator(let parsed) = infer(first, suffixes: suffixes) {
                return .invalid(
                    "\(shown): expected one indicator per line, found more text after \(parsed.value) "
                        + "(comments start with \"#\" after whitespace, or \";\" after the value)",
                    offset: value.utf8.distance(from: value.utf8.startIndex, to: comma))
            }
        }
        if value.hasPrefix("=") {
            return classify(value, as: .domain(exact: true), suffixes: suffixes)
        }
        if value.hasPrefix("/") {
            return .skipped(
                "\(shown): a URL path without a host (a maltrail path trail) is not supported yet; skipped", offset: 0)
        }
        if value.hasBytes("://") {
            return classifyURL(value)
        }
        if value.hasPrefix(".") {
            return classifyLeadingDot(value, suffixes: suffixes)
        }
        if value.hasPrefix("["), let close = value.firstIndex(of: "]"),
           value[value.index(after: close)...].hasPrefix(":")
        {
            return .skipped("\(shown): \(portMessage)", offset: value.utf8.distance(from: value.startIndex, to: close) + 1)
        }
        if looksLikeRegularExpression(value) {
            return .skipped("\(shown): regular-expression trails are not supported; skipped", offset: 0)
        }
        if value.hasBytes("@"), !value.hasBytes("/") {
            return classifyEmail(value, suffixes: suffixes)
        }
        if let slash = value.firstIndex(of: "/") {
            let before = value[..<slash]
            let numeric = !before.isEmpty
                && (before.utf8.allSatisfy { isDigit($0) || $0 == UInt8(ascii: ".") }
                    || (before.hasBytes(":") && IPv6Address(before) != nil)
                    || (before.hasBytes(":") && !before.hasBytes(".")))
            if numeric { return classifyNetwork(value, slash: slash) }
            return classifyURL(value)
        }
        let bytes = value.utf8
        // Before the address check: a digest may be all decimal digits (an MD5 of 32
        // digits is not a malformed IPv4 address).
        if bytes.allSatisfy(isHexDigit), bytes.count >= 24 {
            switch bytes.count {
            case 32: return .indicator(ParsedValue(type: .md5, value: value.lowercased()))
            case 40: return .indicator(ParsedValue(type: .sha1, value: value.lowercased()))
            case 64: return .indicator(ParsedValue(type: .sha256, value: value.lowercased()))
            default:
                return .invalid(
                    "\(shown): a hex string of \(bytes.count) digits is not a hash "
                        + "(expected 32 for MD5, 40 for SHA-1 or 64 for SHA-256)", offset: 0)
            }
        }
        if isJA4(value) { return .indicator(ParsedValue(type: .ja4, value: value.lowercased())) }
        if bytes.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
            if let address = IPv4Address(value) { return .indicator(ParsedValue(type: .ipv4, value: address.description)) }
            return .invalid("\(shown): not a valid IPv4 address (\(ipv4Problem(value)))", offset: 0)
        }
        if value.hasBytes(":") {
            return classifyColon(value, suffixes: suffixes)
        }
        return classifyDomain(value, exact: false, suffixes: suffixes)
    }

    /// Maltrail's `.suffix` trails: every name under `suffix`. A public suffix (`.onion`,
    /// `.cc`) is too broad to match and is skipped; otherwise it is the domain `suffix`.
    static func classifyLeadingDot(_ value: Substring, suffixes: PublicSuffixList) -> Classified {
        var rest = value.dropFirst()
        if rest.hasSuffix(".") { rest = rest.dropLast() }
        let name = rest.lowercased()
        if !name.isEmpty, name.utf8.allSatisfy({ isLabelByte($0) || $0 == UInt8(ascii: ".") }),
           suffixes.rule(for: name) == .icann
        {
            return .skipped(
                "\(quoted(value)): a leading dot means every name under \(name), which is a public suffix: "
                    + "too broad to match; skipped", offset: 0)
        }
        return shift(classifyDomain(rest, exact: false, suffixes: suffixes), by: 1)
    }

    /// Characters of regular expressions that never occur in a domain or an address.
    static func looksLikeRegularExpression(_ value: Substring) -> Bool {
        if value.hasBytes("/") || value.hasBytes("@") { return false }
        return value.utf8.contains { byte in
            byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "(")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "{") || byte == UInt8(ascii: "|")
                || byte == UInt8(ascii: "^") || byte == UInt8(ascii: "$") || byte == UInt8(ascii: "?")
        }
    }

    /// `address/prefix`.
    static func classifyNetwork(_ value: Substring, slash: Substring.Index) -> Classified {
        let shown = quoted(value)
        let addressText = value[value.startIndex..<slash]
        let prefixText = value[value.index(after: slash)...]
        let prefixOffset = value.utf8.distance(from: value.startIndex, to: slash)
        guard !prefixText.isEmpty, prefixText.utf8.count <= 3, prefixText.utf8.allSatisfy(isDigit),
              let prefix = Int(prefixText)
        else {
            return .invalid(
                "\(shown): the prefix length \(quoted(prefixText)) is not a number "
                    + "(expected a CIDR range like 10.0.0.0/8 or 2001:db8::/32)", offset: prefixOffset + 1)
        }
        if addressText.hasBytes(":") {
            guard let address = IPv6Address(addressText) else {
                return .invalid(
                    "\(shown): \(quoted(addressText)) is not a valid IPv6 address (expected e.g. 2001:db8::/32)", offset: 0)
            }
            guard prefix <= 128 else {
                return .invalid("\(shown): /\(prefix) is not a valid prefix length for IPv6 (0-128)", offset: prefixOffset)
            }
            let network = IPv6Network.mask(address, prefix: prefix)
            return .indicator(ParsedValue(type: .cidr, value: "\(network)/\(prefix)"))
        }
        guard let address = IPv4Address(addressText) else {
            return .invalid("\(shown): not a valid IPv4 address (\(ipv4Problem(addressText)))", offset: 0)
        }
        guard prefix <= 32 else {
            return .invalid("\(shown): /\(prefix) is not a valid prefix length for IPv4 (0-32)", offset: prefixOffset)
        }
        let network = IPv4Address(IPv4Network.mask(address.value, prefix: prefix))
        return .indicator(ParsedValue(type: .cidr, value: "\(network)/\(prefix)"))
    }

    /// IPv6 addresses, and the `address:port` (`address:port:port`) forms some feeds use.
    static func classifyColon(_ value: Substring, suffixes: PublicSuffixList) -> Classified {
        let shown = quoted(value)
        if value.hasBytes("%") {
            return .invalid(
                "\(shown): an IPv6 zone index (%...) is not allowed in an indicator (expected e.g. fe80::1)", offset: 0)
        }
        if let address = IPv6Address(value) { return .indicator(ParsedValue(type: .ipv6, value: address.description)) }
        // `1.2.3.4:443`, `1.2.3.4:22:50050` or `evil.com:8080`: a host, then ports.
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count >= 2, parts.count <= 3, let host = parts.first, !host.isEmpty,
           parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.utf8.count <= 5 && $0.utf8.allSatisfy(isDigit) })
        {
            let hostValid: Bool
            if host.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
                guard IPv4Address(host) != nil else {
                    return .invalid("\(shown): not a valid IPv4 address (\(ipv4Problem(host)))", offset: 0)
                }
                hostValid = true
            } else {
                hostValid = classifyDomain(host, exact: false, suffixes: .empty).isIndicator
            }
            if hostValid {
                return .skipped("\(shown): \(portMessage)", offset: host.utf8.count)
            }
        }
        return .invalid("\(shown): not a valid IPv6 address (expected e.g. 2001:db8::1)", offset: 0)
    }

    /// Domains: labels of letters, digits, hyphens and underscores, 1-63 bytes each,
    /// at most 253 bytes in all, at least two labels, the last not all digits, and not
    /// a public suffix. A leading `*.` and a trailing dot are dropped.
    static func classifyDomain(_ value: Substring, exact: Bool, suffixes: PublicSuffixList) -> Classified {
        let shown = quoted(value)
        var name = value
        if name.hasPrefix("*.") {
            if exact {
                return .invalid("\(shown): \"=\" (this domain only) and \"*.\" (its subdomains) contradict each other", offset: 0)
            }
            name = name.dropFirst(2)
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        if let bad = name.unicodeScalars.firstIndex(where: { !$0.isASCII }) {
            return .invalid(
                "\(shown): domain contains the non-ASCII character \(quoted(String(name.unicodeScalars[bad]))) "
                    + "(expected an ASCII name; write internationalised names in punycode, xn--...)",
                offset: value.utf8.distance(from: value.startIndex, to: bad))
        }
        if name.hasBytes("*") {
            return .invalid(
                "\(shown): wildcards are only allowed as a leading \"*.\" (a domain already matches its subdomains)",
                offset: value.utf8.distance(from: value.startIndex, to: name.firstIndex(of: "*") ?? name.startIndex))
        }
        if let bad = name.utf8.firstIndex(where: { !isLabelByte($0) && $0 != UInt8(ascii: ".") }) {
            return .invalid(
                "\(shown): \(quoted(String(UnicodeScalar(name.utf8[bad])))) is not allowed in a domain "
                    + "(expected letters, digits, hyphens and underscores in dot-separated labels); "
                    + expectation, offset: value.utf8.distance(from: value.utf8.startIndex, to: bad))
        }
        if name.isEmpty {
            return .invalid("\(shown): \(expectation)", offset: 0)
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.contains(where: \.isEmpty) {
            return .invalid("\(shown): domain has an empty label (two dots in a row, or a leading dot)", offset: 0)
        }
        if let long = labels.first(where: { $0.utf8.count > 63 }) {
            return .invalid("\(shown): domain label \(quoted(long)) is \(long.utf8.count) bytes long (at most 63)", offset: 0)
        }
        if name.utf8.count > 253 {
            return .invalid("\(shown): domain is \(name.utf8.count) bytes long (at most 253)", offset: 0)
        }
        if labels.count < 2 {
            return .invalid("\(shown): a domain needs at least two labels, like example.com; \(expectation)", offset: 0)
        }
        if let last = labels.last, last.utf8.allSatisfy(isDigit) {
            return .invalid(
                "\(shown): a domain's last label cannot be all digits (expected a name like example.com or an IPv4 address)",
                offset: 0)
        }
        let canonical = name.lowercased()
        switch suffixes.rule(for: canonical) {
        case .icann:
            return .invalid(
                "\(shown): \(canonical) is a public suffix (in the ICANN section of the public suffix list); as an "
                    + "indicator it would match every domain under it: list the registered domains instead", offset: 0)
        case .privateDomains:
            // A private-section suffix (duckdns.org, blogspot.com) is a company's service
            // whose customers get subdomains: feeds list them on purpose (maltrail's
            // dynamic_domain.txt), so it is accepted, with a warning about its reach.
            var parsed = ParsedValue(type: .domain, value: canonical, matchesSubdomains: !exact)
            if !exact {
                parsed.note = "\(canonical) is a public suffix in the private section of the public suffix list: "
                    + "it matches the subdomains of every customer of that service (write =\(canonical) to match only the name itself)"
            }
            return .indicator(parsed)
        case nil:
            break
        }
        return .indicator(ParsedValue(type: .domain, value: canonical, matchesSubdomains: !exact))
    }

    /// `scheme://host[:port][/path][?query]` or `host[:port]/path` (any scheme). Scheme
    /// and host are lower-cased, the path and query kept byte for byte, a fragment
    /// dropped, a missing path made `/`.
    static func classifyURL(_ value: Substring) -> Classified {
        let shown = quoted(value)
        var rest = value
        var scheme: Substring? = nil
        if let separator = value.range(of: "://") {
            let name = value[..<separator.lowerBound]
            guard let first = name.utf8.first, isLetter(first),
                  name.utf8.allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "+")
                      || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else {
                return .invalid("\(shown): \(quoted(name)) is not a URL scheme (expected e.g. http://host/path)", offset: 0)
            }
            scheme = name
            rest = value[separator.upperBound...]
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        let authorityOffset = value.utf8.distance(from: value.startIndex, to: authority.startIndex)
        let pathPart = rest[authorityEnd...]
        if let bad = pathPart.utf8.firstIndex(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return .invalid(
                "\(shown): a URL cannot contain spaces or control characters (write them %-encoded)",
                offset: value.utf8.distance(from: value.utf8.startIndex, to: bad))
        }
        if authority.hasBytes("@") {
            return .invalid("\(shown): user names in URLs are not supported (expected scheme://host/path)", offset: authorityOffset)
        }
        var host = authority
        var port: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .invalid("\(shown): an IPv6 host in a URL needs a closing \"]\"", offset: authorityOffset)
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    return .invalid("\(shown): expected \":port\" or a path after the IPv6 host", offset: authorityOffset)
                }
                port = after.dropFirst()
            }
            guard let address = IPv6Address(host) else {
                return .invalid("\(shown): \(quoted(host)) is not a valid IPv6 address", offset: authorityOffset + 1)
            }
            host = Substring("[\(address)]")
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        if authority.hasPrefix("[") || authority.hasBytes(":") {
            guard !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy(isDigit), let number = Int(port), number <= 65535
            else {
                return .invalid("\(shown): the port \(quoted(port)) is not a number 0-65535", offset: authorityOffset)
            }
        }
        if host.isEmpty {
            return .invalid("\(shown): the URL has no host (expected scheme://host/path)", offset: authorityOffset)
        }
        if !host.hasPrefix("[") {
            if host.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
                guard IPv4Address(host) != nil else {
                    return .invalid(
                        "\(shown): the host is not a valid IPv4 address (\(ipv4Problem(host)))", offset: authorityOffset)
                }
            } else if case .invalid(let message, _) = classifyDomain(host, exact: false, suffixes: .empty) {
                return .invalid("\(shown): the host is not valid: \(message)", offset: authorityOffset)
            }
        }
        var canonical = ""
        if let scheme { canonical = scheme.lowercased() + "://" }
        canonical += host.lowercased()
        if authority.hasPrefix("[") || authority.hasBytes(":") { canonical += ":" + port }
        canonical += path
        return .indicator(ParsedValue(type: .url, value: canonical))
    }

    /// A JA3 fingerprint: the MD5 of the ClientHello string, 32 hex digits.
    static func classifyJA3(_ value: Substring) -> Classified {
        guard value.utf8.count == 32, value.utf8.allSatisfy(isHexDigit) else {
            return .invalid(
                "\(quoted(value)): a JA3 fingerprint is 32 hex digits (an MD5), found \(value.utf8.count) characters", offset: 0)
        }
        return .indicator(ParsedValue(type: .ja3, value: value.lowercased()))
    }

    /// A JA4 fingerprint: `a_b_c`, `a` ten characters (`t13d1516h2`: protocol, version,
    /// SNI, cipher and extension counts, ALPN), `b` and `c` 12 hex digits each.
    static func classifyJA4(_ value: Substring) -> Classified {
        guard isJA4(value) else {
            return .invalid(
                "\(quoted(value)): not a JA4 fingerprint (expected e.g. t13d1516h2_8daaf6152771_02713d6af862)", offset: 0)
        }
        return .indicator(ParsedValue(type: .ja4, value: value.lowercased()))
    }

    /// Whether `value` has the shape of a JA4 fingerprint (see `classifyJA4`).
    static func isJA4(_ value: Substring) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.count == 36, bytes[10] == UInt8(ascii: "_"), bytes[23] == UInt8(ascii: "_") else { return false }
        let first = bytes[0] | 0x20
        guard first == UInt8(ascii: "t") || first == UInt8(ascii: "q") || first == UInt8(ascii: "d") else { return false }
        let sni = bytes[3] | 0x20
        guard bytes[1...2].allSatisfy(isLetterOrDigit), sni == UInt8(ascii: "d") || sni == UInt8(ascii: "i"),
              bytes[4...7].allSatisfy(isDigit)
        else { return false }
        return bytes[8...9].allSatisfy(isLetterOrDigit)
            && bytes[11...22].allSatisfy(isHexDigit) && bytes[24...35].allSatisfy(isHexDigit)
    }

    /// `local@domain`; the whole address is lower-cased (matching ignores case).
    static func classifyEmail(_ value: Substring, suffixes: PublicSuffixList) -> Classified {
        let shown = quoted(value)
        guard let at = value.lastIndex(of: "@") else {
            return .invalid("\(shown): an e-mail address needs an \"@\" (expected local@example.com)", offset: 0)
        }
        let local = value[..<at]
        let domain = value[value.index(after: at)...]
        let atOffset = value.utf8.distance(from: value.startIndex, to: at)
        if local.isEmpty || local.utf8.count > 64 {
            return .invalid("\(shown): the part before \"@\" must be 1 to 64 bytes long", offset: 0)
        }
        let forbidden = Set("@\"(),:;<>[\\]".utf8)
        if let bad = local.utf8.firstIndex(where: { $0 <= 0x20 || $0 >= 0x7F || forbidden.contains($0) }) {
            return .invalid(
                "\(shown): \(quoted(String(decoding: [local.utf8[bad]], as: UTF8.self))) is not allowed in an e-mail address "
                    + "(expected local@example.com)", offset: value.utf8.distance(from: value.utf8.startIndex, to: bad))
        }
        switch classifyDomain(domain, exact: true, suffixes: .empty) {
        case .invalid(let message, let offset):
            return .invalid("\(shown): the domain after \"@\" is not valid: \(message)", offset: atOffset + 1 + offset)
        case .skipped(let message, let offset):
            return .skipped(message, offset: atOffset + 1 + offset)
        case .indicator(let parsed):
            return .indicator(ParsedValue(type: .email, value: local.lowercased() + "@" + parsed.value))
        }
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

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66)
    }

    static func isLetterOrDigit(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) }

    static func isLabelByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || isLetter(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}

extension Classified {
    var isIndicator: Bool {
        if case .indicator = self { return true }
        return false
    }
}

extension Substring {
    /// Whether the UTF-8 bytes hold `needle`'s bytes: a literal byte search (ByteParsing's
    /// vectorised search for the first byte). (With Foundation imported, `contains(_:)` on strings is
    /// Foundation's Unicode-aware `range(of:)`, which took a tenth of the time of loading
    /// 10 million indicators.)
    @inline(__always)
    func hasBytes(_ needle: StaticString) -> Bool {
        guard needle.utf8CodeUnitCount > 0 else { return true }
        let haystack = utf8.span
        return needle.withUTF8Span { haystack.contains($0) }
    }
}
