import Crypto
import Observations

/// The indicators of a set of rule files, with the errors and warnings found while
/// reading them.
public struct RuleSet: Sendable {
    /// Every valid indicator, in file order (files sorted by path). An indicator's
    /// position in this array is its index in `IndicatorTable` lookups. The same
    /// canonical (type, value, subdomain matching) appears once: where it was first found.
    public var indicators: [Indicator]
    /// Every bad line or unreadable file: the things that make `cairn ingest` and
    /// `cairn rules check` exit non-zero.
    public var errors: [RuleError]
    /// Lines skipped or details ignored on purpose (feed conventions Cairn does not use
    /// yet); never a reason to fail.
    public var warnings: [RuleWarning] = []
    /// The rule files read, sorted.
    public var files: [String]
    /// SHA-256 (lower-case hex) over the rule files' paths and contents, in order:
    /// recorded with each run so a result can be tied to the exact rules. For each file
    /// read: its path, a NUL, its byte length in decimal, a NUL, its bytes.
    public var digest: String
    /// Per file (in `files` order): what it was read as and what it yielded.
    public var fileSummaries: [RuleFileSummary] = []

    /// A rule set built from indicators already in hand (tests, other formats).
    public init(indicators: [Indicator], errors: [RuleError] = [], files: [String] = [], digest: String = "") {
        self.indicators = indicators
        self.errors = errors
        self.files = files
        self.digest = digest
    }

    /// Reads rule files; directories are walked recursively (hidden files and `*.md`
    /// skipped; a file named directly is read whatever its name). Each file's format is
    /// detected from its content (`RuleFormat`). Files are read in bytewise path order,
    /// lines in order; a bad line is an error and is skipped, the rest of its file still
    /// loads; an unreadable file is an error with line 0. Domains are checked against
    /// the system's public suffix list (`PublicSuffixList.system`); when it is absent,
    /// one warning says so. Never throws: problems are in `errors` and `warnings`.
    public static func load(paths: [String]) -> RuleSet {
        load(paths: paths, publicSuffixListPath: PublicSuffixList.defaultPath)
    }

    /// `load(paths:)` with the public suffix list read from `publicSuffixListPath`.
    public static func load(paths: [String], publicSuffixListPath: String) -> RuleSet {
        var warnings: [RuleWarning] = []
        let suffixes: PublicSuffixList
        if publicSuffixListPath == PublicSuffixList.defaultPath, let system = PublicSuffixList.system {
            suffixes = system
        } else if publicSuffixListPath != PublicSuffixList.defaultPath, let list = PublicSuffixList(path: publicSuffixListPath) {
            suffixes = list
        } else {
            suffixes = .empty
            warnings.append(RuleWarning(
                file: publicSuffixListPath, line: 0,
                message: "public suffix list not found (install the publicsuffix package): "
                    + "domain indicators are not checked against it, only single labels are refused"))
        }
        let (candidates, walkErrors) = RuleFiles.collect(paths)
        var errors = walkErrors
        var files: [String] = []
        var summaries: [RuleFileSummary] = []
        var indicators: [Indicator] = []
        var seen: Set<IndicatorKey> = []
        var hasher = SHA256()
        for path in candidates {
            let bytes: [UInt8]
            switch RuleFiles.read(path) {
            case .success(let read): bytes = read
            case .failure(let error):
                errors.append(error)
                continue
            }
            files.append(path)
            hasher.update(data: Array(path.utf8))
            hasher.update(data: [0])
            hasher.update(data: Array(String(bytes.count).utf8))
            hasher.update(data: [0])
            hasher.update(data: bytes)
            let format = RuleFormat.detect(bytes)
            let parsed = format.parse(bytes, path: path, suffixes: suffixes)
            errors += parsed.errors
            warnings += parsed.warnings
            // JSON that is not a STIX bundle is reported as not a rule file.
            let notABundle = format == .stixBundle && parsed.errors.first?.message == STIXBundleParser.notABundle
            var summary = RuleFileSummary(
                path: path, format: notABundle ? .unrecognised : format,
                errors: parsed.errors.count, warnings: parsed.warnings.count)
            for indicator in parsed.indicators {
                summary.indicatorsByType[indicator.type, default: 0] += 1
                if seen.insert(IndicatorKey(indicator)).inserted {
                    indicators.append(indicator)
                } else {
                    summary.duplicates += 1
                }
            }
            summaries.append(summary)
        }
        let digest = hasher.finalize().map { byte in
            (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        var rules = RuleSet(indicators: indicators, errors: errors, files: files, digest: digest)
        rules.warnings = warnings
        rules.fileSummaries = summaries
        return rules
    }

    /// Builds the lookup tables, once per run; shared read-only by all readers.
    /// O(n log n) in the number of indicators. Indicators whose value does not parse
    /// for their type (only possible for hand-built rule sets) are left out.
    public func compile() -> IndicatorTable {
        var ipv4: [(key: UInt32, prefix: Int, index: UInt32)] = []
        var ipv6: [(key: IPv6Key, prefix: Int, index: UInt32)] = []
        var domains: [(bytes: [UInt8], index: UInt32)] = []
        var exactDomains: [(bytes: [UInt8], index: UInt32)] = []
        var digests: [(bytes: [UInt8], index: UInt32)] = []
        var urls: [(bytes: [UInt8], index: UInt32)] = []
        var emails: [(bytes: [UInt8], index: UInt32)] = []
        // Indices are stored as UInt32 to keep the tables small; four billion
        // indicators is far beyond any rule set that fits in memory.
        for (position, indicator) in indicators.enumerated() {
            guard let index = UInt32(exactly: position), index != UInt32.max else { break }
            let value = indicator.value
            switch indicator.type {
            case .ipv4:
                if let address = IPv4Address(value) { ipv4.append((address.value, 32, index)) }
            case .ipv6:
                if let address = IPv6Address(value) {
                    ipv6.append((IPv6Key(high: address.high, low: address.low), 128, index))
                }
            case .cidr:
                guard let slash = value.firstIndex(of: "/"),
                      let prefix = Int(value[value.index(after: slash)...]), prefix >= 0
                else { continue }
                let addressText = value[..<slash]
                if let address = IPv4Address(addressText), prefix <= 32 {
                    ipv4.append((address.value, prefix, index))
                } else if let address = IPv6Address(addressText), prefix <= 128 {
                    ipv6.append((IPv6Key(high: address.high, low: address.low), prefix, index))
                }
            case .domain:
                var name = Substring(value.lowercased())
                if name.hasPrefix("=") { name = name.dropFirst() }
                if name.hasPrefix("*.") { name = name.dropFirst(2) }
                if name.hasSuffix(".") { name = name.dropLast() }
                guard !name.isEmpty else { continue }
                if indicator.matchesSubdomains {
                    domains.append((Array(name.utf8), index))
                } else {
                    exactDomains.append((Array(name.utf8), index))
                }
            case .md5, .sha1, .sha256:
                digests.append((Array(value.lowercased().utf8), index))
            case .url:
                // Canonical already (scheme and host lower case, a path); hand-built
                // values go through the same normalisation as observed URLs.
                urls.append((URLKey.normalised(Array(value.utf8)), index))
            case .email:
                emails.append((Array(value.lowercased().utf8), index))
            }
        }
        return IndicatorTable(
            ipv4: IPNetworkTable(ipv4), ipv6: IPNetworkTable(ipv6),
            domains: ByteStringTable(domains), exactDomains: ByteStringTable(exactDomains),
            digests: DigestTable(digests), urls: ByteStringTable(urls, foldsCase: false),
            emails: ByteStringTable(emails))
    }
}

/// What one rule file was read as and what it yielded (for `cairn rules check`).
public struct RuleFileSummary: Sendable, Hashable {
    public var path: String
    public var format: RuleFormat
    /// Indicators read, by type (duplicates included).
    public var indicatorsByType: [IndicatorType: Int] = [:]
    /// Indicators already read earlier in this file or an earlier one.
    public var duplicates = 0
    /// Lines (or entries) refused: each is one error.
    public var errors: Int
    /// Lines skipped or details ignored: each is one warning.
    public var warnings: Int

    /// All indicators read from the file (duplicates included).
    public var indicatorCount: Int { indicatorsByType.values.reduce(0, +) }
}

/// The identity of an indicator for removing duplicates.
struct IndicatorKey: Hashable {
    var type: IndicatorType
    var value: String
    var matchesSubdomains: Bool

    init(_ indicator: Indicator) {
        type = indicator.type
        value = indicator.value
        matchesSubdomains = indicator.type != .domain || indicator.matchesSubdomains
    }
}

/// The key form of a URL shared by indicators and observations:
/// `scheme://host[:port]/path?query` with scheme and authority in lower case, the
/// fragment dropped and a missing path made `/`; or the same without `scheme://`.
enum URLKey {
    /// Where the authority starts (after `scheme://`, or 0) and ends, and where the
    /// fragment starts (or the end), for `bytes[0..<count]`.
    static func parts(_ bytes: UnsafeRawBufferPointer) -> (authority: Int, pathStart: Int, end: Int) {
        var authority = 0
        // A scheme is letters, digits, `+`, `-`, `.` then `://`; look a short way only.
        var index = 0
        while index < bytes.count, index < 32 {
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") {
                if index > 0, index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "/"),
                   bytes[index + 2] == UInt8(ascii: "/")
                {
                    authority = index + 3
                }
                break
            }
            let isSchemeByte = ValueSyntax.isLetter(byte) || ValueSyntax.isDigit(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            if !isSchemeByte { break }
            index += 1
        }
        var end = bytes.count
        var pathStart = end
        var position = authority
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "#") {
                end = position
                if pathStart > end { pathStart = end }
                break
            }
            if pathStart == bytes.count, byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") { pathStart = position }
            position += 1
        }
        return (authority, min(pathStart, end), end)
    }

    /// Writes the key of `bytes` into `buffer` (at least `bytes.count + 1` bytes) and
    /// returns its length and where the part without the scheme starts.
    static func write(_ bytes: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, authority: Int) {
        let (authority, pathStart, end) = parts(bytes)
        var count = 0
        for index in 0..<pathStart {
            buffer[count] = ByteStringTable.lowercased(bytes[index])
            count += 1
        }
        if pathStart == end || bytes[pathStart] == UInt8(ascii: "?") {
            buffer[count] = UInt8(ascii: "/")
            count += 1
        }
        for index in pathStart..<end {
            buffer[count] = bytes[index]
            count += 1
        }
        return (count, authority)
    }

    /// The key of a URL as an array (for compiling; lookups use `write`).
    static func normalised(_ url: [UInt8]) -> [UInt8] {
        url.withUnsafeBytes { bytes in
            var key = [UInt8](repeating: 0, count: bytes.count + 1)
            let count = key.withUnsafeMutableBytes { write(bytes, into: $0).count }
            key.removeLast(key.count - count)
            return key
        }
    }
}

/// Immutable lookup tables over a rule set's indicators.
public struct IndicatorTable: Sendable {
    let ipv4: IPNetworkTable<UInt32>
    let ipv6: IPNetworkTable<IPv6Key>
    let domains: ByteStringTable
    let exactDomains: ByteStringTable
    let digests: DigestTable
    let urls: ByteStringTable
    let emails: ByteStringTable

    /// URLs longer than this are not looked up: the key is built in a stack buffer of
    /// this size (plus one byte), and no URL indicator is that long (the plain-list line
    /// limit is 16 KiB, and HTTP servers refuse request lines past 8 KiB).
    static let maximumURLLength = 8192

    /// The index (into `RuleSet.indicators`) of the most specific indicator matching
    /// `value`, or nil. IPv4/IPv6: the exact address, else the longest matching CIDR;
    /// an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) that matches no IPv6 indicator
    /// is also looked up as IPv4. Domains: case-insensitive, trailing dot ignored; an
    /// exact-only (`=domain`) indicator for the whole name first, else the longest
    /// matching suffix on a label boundary. Hex digests: case-insensitive exact match
    /// of the same length (32, 40 or 64; anything else never matches). URLs: scheme and
    /// host case-insensitive, path and query byte for byte, a missing path read as `/`,
    /// the fragment ignored; an indicator with a scheme first, then one without.
    /// E-mail: case-insensitive exact match.
    /// Allocates nothing (URLs use a stack buffer). O(p log n) for addresses (p distinct
    /// prefix lengths), O(length) expected for names, digests, URLs and e-mail.
    public func lookup(_ value: ObservedValue) -> Int? {
        let found: UInt32?
        switch value {
        case .ipv4(let address):
            found = ipv4.lookup(address.value)
        case .ipv6(let address):
            if let hit = ipv6.lookup(IPv6Key(high: address.high, low: address.low)) {
                found = hit
            } else if address.high == 0, address.low >> 32 == 0x0000_FFFF {
                found = ipv4.lookup(UInt32(truncatingIfNeeded: address.low))
            } else {
                found = nil
            }
        case .domain(let bytes):
            var end = bytes.count
            if end > 0, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
            found = exactDomains.lookup(bytes, from: 0, to: end) ?? domains.lookupDomainSuffix(bytes)
        case .hexDigest(let bytes):
            found = digests.lookup(bytes)
        case .url(let bytes):
            guard urls.count > 0, bytes.count <= IndicatorTable.maximumURLLength else { return nil }
            found = withUnsafeTemporaryAllocation(byteCount: bytes.count + 1, alignment: 1) { buffer in
                let (count, authority) = URLKey.write(bytes, into: buffer)
                let key = UnsafeRawBufferPointer(buffer)
                return urls.lookup(key, from: 0, to: count)
                    ?? (authority > 0 ? urls.lookup(key, from: authority, to: count) : nil)
            }
        case .email(let bytes):
            found = emails.lookup(bytes)
        case .ja3, .ja4:
            // No indicator type holds TLS fingerprints yet.
            found = nil
        }
        return found.map { Int($0) }
    }

    /// The number of distinct IPv4 networks, IPv6 networks, domains and digests held.
    public var counts: (ipv4: Int, ipv6: Int, domains: Int, digests: Int) {
        (ipv4.count, ipv6.count, domains.count + exactDomains.count, digests.count)
    }

    /// The number of distinct URLs and e-mail addresses held.
    public var urlAndEmailCounts: (urls: Int, emails: Int) { (urls.count, emails.count) }

    /// An estimate of the memory the tables take, in bytes: their arrays by capacity
    /// (not the indicators' metadata, which `RuleSet` holds).
    public var memoryBytes: Int {
        ipv4.memoryBytes + ipv6.memoryBytes + domains.memoryBytes + exactDomains.memoryBytes
            + digests.memoryBytes + urls.memoryBytes + emails.memoryBytes
    }
}
