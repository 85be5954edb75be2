import Crypto
import Observations

/// The indicators of a set of rule files, with the errors found while reading them.
public struct RuleSet: Sendable {
    /// Every valid indicator, in file order (files sorted by path). An indicator's
    /// position in this array is its index in `IndicatorTable` lookups. The same
    /// canonical (type, value) appears once: where it was first found.
    public var indicators: [Indicator]
    /// Every bad line or unreadable file.
    public var errors: [RuleError]
    /// The rule files read, sorted.
    public var files: [String]
    /// SHA-256 (lower-case hex) over the rule files' paths and contents, in order:
    /// recorded with each run so a result can be tied to the exact rules. For each file
    /// read: its path, a NUL, its byte length in decimal, a NUL, its bytes.
    public var digest: String

    /// A rule set built from indicators already in hand (tests, other formats).
    public init(indicators: [Indicator], errors: [RuleError] = [], files: [String] = [], digest: String = "") {
        self.indicators = indicators
        self.errors = errors
        self.files = files
        self.digest = digest
    }

    /// Reads rule files; directories are walked recursively (hidden files and `*.md`
    /// skipped; a file named directly is read whatever its name). Files are read in
    /// bytewise path order, lines in order; a bad line is an error and is skipped, the
    /// rest of its file still loads; an unreadable file is an error with line 0.
    /// Never throws: problems are in `errors`.
    public static func load(paths: [String]) -> RuleSet {
        let (candidates, walkErrors) = RuleFiles.collect(paths)
        var errors = walkErrors
        var files: [String] = []
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
            let parsed = PlainListParser.parse(file: bytes, path: path)
            errors += parsed.errors
            for indicator in parsed.indicators
            where seen.insert(IndicatorKey(type: indicator.type, value: indicator.value)).inserted {
                indicators.append(indicator)
            }
        }
        let digest = hasher.finalize().map { byte in
            (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        return RuleSet(indicators: indicators, errors: errors, files: files, digest: digest)
    }

    /// Builds the lookup tables, once per run; shared read-only by all readers.
    /// O(n log n) in the number of indicators. Indicators whose value does not parse
    /// for their type (only possible for hand-built rule sets) are left out.
    public func compile() -> IndicatorTable {
        var ipv4: [(key: UInt32, prefix: Int, index: UInt32)] = []
        var ipv6: [(key: IPv6Key, prefix: Int, index: UInt32)] = []
        var domains: [(bytes: [UInt8], index: UInt32)] = []
        var digests: [(bytes: [UInt8], index: UInt32)] = []
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
                if name.hasPrefix("*.") { name = name.dropFirst(2) }
                if name.hasSuffix(".") { name = name.dropLast() }
                if !name.isEmpty { domains.append((Array(name.utf8), index)) }
            case .md5, .sha1, .sha256:
                digests.append((Array(value.lowercased().utf8), index))
            }
        }
        return IndicatorTable(
            ipv4: IPNetworkTable(ipv4), ipv6: IPNetworkTable(ipv6),
            domains: ByteStringTable(domains), digests: ByteStringTable(digests))
    }
}

/// The identity of an indicator for removing duplicates.
struct IndicatorKey: Hashable {
    var type: IndicatorType
    var value: String
}

/// Immutable lookup tables over a rule set's indicators.
public struct IndicatorTable: Sendable {
    let ipv4: IPNetworkTable<UInt32>
    let ipv6: IPNetworkTable<IPv6Key>
    let domains: ByteStringTable
    let digests: ByteStringTable

    /// The index (into `RuleSet.indicators`) of the most specific indicator matching
    /// `value`, or nil. IPv4/IPv6: the exact address, else the longest matching CIDR;
    /// an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) that matches no IPv6 indicator
    /// is also looked up as IPv4. Domains: case-insensitive, trailing dot ignored, the
    /// longest matching suffix on a label boundary. Hex digests: case-insensitive exact
    /// match of the same length (32, 40 or 64; anything else never matches).
    /// Allocates nothing. O(p log n) for addresses (p distinct prefix lengths), O(length)
    /// expected for names and digests.
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
            found = domains.lookupDomainSuffix(bytes)
        case .hexDigest(let bytes):
            guard bytes.count == 32 || bytes.count == 40 || bytes.count == 64 else { return nil }
            found = digests.lookup(bytes)
        case .url, .email:
            // No URL or e-mail indicators yet (plain lists do not infer them).
            found = nil
        }
        return found.map { Int($0) }
    }

    /// The number of distinct IPv4 networks, IPv6 networks, domains and digests held.
    public var counts: (ipv4: Int, ipv6: Int, domains: Int, digests: Int) {
        (ipv4.count, ipv6.count, domains.count, digests.count)
    }
}
