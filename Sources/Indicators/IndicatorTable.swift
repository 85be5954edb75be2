import ByteParsing
import Concurrency
import Observations

/// The flat tables for one set of values (the indicators, or the allow entries that
/// match like indicators), keyed to positions in the array they were built from.
///
/// A class, so that a lookup reads the table it needs through one reference: as a
/// struct of nine tables (about 840 bytes) it was copied onto the stack on every
/// `IndicatorTable.match`, which cost more than the lookup itself.
final class LookupTables: Sendable {
    let ipv4: IPNetworkTable<UInt32>
    let ipv6: IPNetworkTable<IPv6Key>
    let domains: ByteStringTable
    let exactDomains: ByteStringTable
    let digests: DigestTable
    let urls: ByteStringTable
    let emails: ByteStringTable
    /// JA3 fingerprints: 32 hex digits, kept apart from MD5 file digests.
    let ja3: DigestTable
    let ja4: ByteStringTable

    init(ipv4: IPNetworkTable<UInt32>, ipv6: IPNetworkTable<IPv6Key>, domains: ByteStringTable,
         exactDomains: ByteStringTable, digests: DigestTable, urls: ByteStringTable, emails: ByteStringTable,
         ja3: DigestTable, ja4: ByteStringTable)
    {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.domains = domains
        self.exactDomains = exactDomains
        self.digests = digests
        self.urls = urls
        self.emails = emails
        self.ja3 = ja3
        self.ja4 = ja4
    }

    /// Builds the tables from a list of indicators, the one at position `i` stored under
    /// `positions[i]` (or `i` when `positions` is nil); positions are stored as UInt32 to
    /// keep the tables small (four billion indicators is far beyond any rule set that
    /// fits in memory). Reads the list's bytes: no `Indicator` is built. For a large
    /// list the address tables are built on a thread of their own meanwhile.
    init(_ list: IndicatorList, positions: [Int]? = nil) {
        let built = Lock<AddressTables?>(nil)
        let thread = list.count >= LookupTables.listSizeForAThread
            ? WorkerThreads(count: 1, name: "cairn-compile") { _ in
                let tables = AddressTables(list, positions: positions)
                built.withLock { $0 = tables }
            }
            : nil
        var domains = ByteStringTable.Builder()
        var exactDomains = ByteStringTable.Builder()
        var digests = DigestTable.Builder()
        var urls = ByteStringTable.Builder()
        var emails = ByteStringTable.Builder()
        var ja3 = DigestTable.Builder()
        var ja4 = ByteStringTable.Builder()
        // Sizes first, so that the buffers are allocated once, at their final size.
        var counts = [Int](repeating: 0, count: IndicatorType.byOrdinal.count)
        var bytes = [Int](repeating: 0, count: IndicatorType.byOrdinal.count)
        var exactCount = 0
        var exactBytes = 0
        for entry in list.indices {
            let ordinal = Int(list.type(at: entry).ordinal)
            let length = list.valueLength(at: entry)
            if ordinal == Int(IndicatorType.domain.ordinal), !list.matchesSubdomains(at: entry) {
                exactCount += 1
                exactBytes += length
            } else {
                counts[ordinal] += 1
                bytes[ordinal] += length
            }
        }
        func reserve(_ builder: inout ByteStringTable.Builder, _ type: IndicatorType) {
            builder.reserve(count: counts[Int(type.ordinal)], bytes: bytes[Int(type.ordinal)])
        }
        reserve(&domains, .domain)
        exactDomains.reserve(count: exactCount, bytes: exactBytes)
        reserve(&emails, .email)
        reserve(&ja4, .ja4)
        digests.reserve(md5: counts[Int(IndicatorType.md5.ordinal)], sha1: counts[Int(IndicatorType.sha1.ordinal)],
                        sha256: counts[Int(IndicatorType.sha256.ordinal)])
        ja3.reserve(md5: counts[Int(IndicatorType.ja3.ordinal)], sha1: 0, sha256: 0)
        for entry in list.indices {
            guard let index = LookupTables.storedIndex(entry, positions) else { break }
            let type = list.type(at: entry)
            // Addresses and ranges: `AddressTables`.
            guard type != .ipv4, type != .ipv6, type != .cidr else { continue }
            let matchesSubdomains = list.matchesSubdomains(at: entry)
            list.withValueBytes(at: entry) { value in
                switch type {
                case .ipv4, .ipv6, .cidr:
                    break  // skipped above
                case .domain:
                    var start = 0
                    var end = value.count
                    if value.uint8(at: start) == UInt8(ascii: "=") { start += 1 }
                    if value.uint8(at: start) == UInt8(ascii: "*"), value.uint8(at: start + 1) == UInt8(ascii: ".") { start += 2 }
                    if end > start, value[end - 1] == UInt8(ascii: ".") { end -= 1 }
                    guard end > start else { return }
                    let name = value.extracting(start..<end)
                    if matchesSubdomains {
                        domains.append(name, index: index, lowercase: true)
                    } else {
                        exactDomains.append(name, index: index, lowercase: true)
                    }
                case .md5, .sha1, .sha256:
                    // Decoding reads either case.
                    digests.append(value, index: index)
                case .url:
                    // Canonical already (scheme and host lower case, a path); hand-built
                    // values go through the same normalisation as observed URLs.
                    urls.append(URLKey.normalised(value), index: index)
                case .email:
                    emails.append(value, index: index, lowercase: true)
                case .ja3:
                    if value.count == 32 { ja3.append(value, index: index) }
                case .ja4:
                    ja4.append(value, index: index, lowercase: true)
                }
            }
        }
        self.domains = ByteStringTable(consume domains)
        self.exactDomains = ByteStringTable(consume exactDomains)
        self.digests = DigestTable(consume digests)
        self.urls = ByteStringTable(consume urls, foldsCase: false)
        self.emails = ByteStringTable(consume emails)
        self.ja3 = DigestTable(consume ja3)
        self.ja4 = ByteStringTable(consume ja4)
        // Built here when no thread was started (a small list, or none could be).
        thread?.join()
        let addresses = built.withLock { $0 } ?? AddressTables(list, positions: positions)
        self.ipv4 = addresses.ipv4
        self.ipv6 = addresses.ipv6
    }

    /// The lists from this many indicators on build their address tables on a second
    /// thread: about a third of a second of building at a million indicators, far more
    /// than a thread costs.
    static let listSizeForAThread = 100_000

    /// The index the indicator at `entry` is stored under; nil from the first that does
    /// not fit in a UInt32 (below `UInt32.max`, which marks an empty slot).
    static func storedIndex(_ entry: Int, _ positions: [Int]?) -> UInt32? {
        guard let index = UInt32(exactly: positions?[entry] ?? entry), index != UInt32.max else { return nil }
        return index
    }

    /// The IPv4 and IPv6 tables of a list (addresses and ranges): the part of
    /// `LookupTables.init` that reads only the addresses, so it can run beside the rest.
    struct AddressTables: Sendable {
        let ipv4: IPNetworkTable<UInt32>
        let ipv6: IPNetworkTable<IPv6Key>

        init(_ list: IndicatorList, positions: [Int]?) {
            var ipv4: [IPNetworkTable<UInt32>.Network] = []
            var ipv6: [IPNetworkTable<IPv6Key>.Network] = []
            var counts = (ipv4: 0, ipv6: 0)
            for entry in list.indices {
                switch list.type(at: entry) {
                case .ipv4, .cidr: counts.ipv4 += 1
                case .ipv6: counts.ipv6 += 1
                default: break
                }
            }
            ipv4.reserveCapacity(counts.ipv4)
            ipv6.reserveCapacity(counts.ipv6)
            for entry in list.indices {
                guard let index = LookupTables.storedIndex(entry, positions) else { break }
                let type = list.type(at: entry)
                guard type == .ipv4 || type == .ipv6 || type == .cidr else { continue }
                list.withValueBytes(at: entry) { value in
                    switch type {
                    case .ipv4:
                        if let address = AddressText.parseIPv4(value, 0..<value.count) {
                            ipv4.append(.init(start: address, prefix: 32, index: index))
                        }
                    case .ipv6:
                        if let address = AddressText.parseIPv6(value, 0..<value.count) {
                            ipv6.append(.init(start: IPv6Key(high: address.high, low: address.low), prefix: 128, index: index))
                        }
                    default:
                        guard let slash = value.firstIndex(of: UInt8(ascii: "/")),
                              let prefix = LookupTables.decimal(value.suffix(from: slash + 1))
                        else { return }
                        if prefix <= 32, let address = AddressText.parseIPv4(value, 0..<slash) {
                            ipv4.append(.init(start: address, prefix: prefix, index: index))
                        } else if prefix <= 128, let address = AddressText.parseIPv6(value, 0..<slash) {
                            ipv6.append(.init(start: IPv6Key(high: address.high, low: address.low), prefix: prefix, index: index))
                        }
                    }
                }
            }
            self.ipv4 = IPNetworkTable(networks: ipv4)
            self.ipv6 = IPNetworkTable(networks: ipv6)
        }
    }

    /// A non-negative decimal number of at most 9 digits (a prefix length), or nil.
    static func decimal(_ digits: Span<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        var number = 0
        for index in digits.indices {
            let digit = digits[index]
            guard digit &- 0x30 < 10 else { return nil }
            number = number * 10 + Int(digit &- 0x30)
        }
        return number
    }

    /// See `IndicatorTable.lookup`.
    @inline(__always)
    func lookup(_ value: ObservedValue) -> UInt32? {
        switch value {
        case .ipv4(let address):
            return ipv4.lookup(address.value)
        case .ipv6(let address):
            if let hit = ipv6.lookup(IPv6Key(high: address.high, low: address.low)) { return hit }
            if address.high == 0, address.low >> 32 == 0x0000_FFFF {
                return ipv4.lookup(UInt32(truncatingIfNeeded: address.low))
            }
            return nil
        case .domain(let bytes):
            return lookupDomain(bytes)
        case .hexDigest(let bytes):
            return digests.lookup(bytes)
        case .url(let bytes):
            return lookupURL(bytes)
        case .email(let bytes):
            return emails.lookup(bytes)
        case .ja3(let bytes):
            return ja3.lookup(bytes)
        case .ja4(let bytes):
            return ja4.lookup(bytes)
        }
    }

    /// A domain name: an exact-only entry for the whole name (a trailing dot ignored),
    /// else the longest suffix on a label boundary.
    @inline(__always)
    func lookupDomain(_ bytes: Span<UInt8>) -> UInt32? {
        exactDomains.lookup(bytes, from: 0, to: LookupTables.endWithoutDot(bytes))
            ?? domains.lookupDomainSuffix(bytes)
    }

    /// A URL, by its key (`URLKey`): with the scheme, then without it.
    @inline(__always)
    func lookupURL(_ bytes: Span<UInt8>) -> UInt32? {
        guard urls.count > 0, bytes.count <= IndicatorTable.maximumURLLength else { return nil }
        let parts = URLKey.parts(bytes)
        return urls.lookup(URLKey.key(bytes, parts, withScheme: true))
            ?? (parts.authority > 0 ? urls.lookup(URLKey.key(bytes, parts, withScheme: false)) : nil)
    }

    /// Where a name ends without its one trailing dot.
    @inline(__always)
    static func endWithoutDot(_ bytes: Span<UInt8>) -> Int {
        let end = bytes.count
        return end > 0 && bytes[end - 1] == UInt8(ascii: ".") ? end - 1 : end
    }

    /// Every entry matching `value`, the one `lookup` gives first, then the wider ones
    /// (containing networks, parent domains, a URL indicator without a scheme). Allocates.
    func allMatches(_ value: ObservedValue) -> [UInt32] {
        switch value {
        case .ipv4(let address):
            return ipv4.allMatches(address.value)
        case .ipv6(let address):
            var result = ipv6.allMatches(IPv6Key(high: address.high, low: address.low))
            if address.high == 0, address.low >> 32 == 0x0000_FFFF {
                result += ipv4.allMatches(UInt32(truncatingIfNeeded: address.low))
            }
            return result
        case .domain(let bytes):
            return allDomainMatches(bytes)
        case .url(let bytes):
            return allURLMatches(bytes)
        case .hexDigest, .email, .ja3, .ja4:
            return lookup(value).map { [$0] } ?? []
        }
    }

    /// The exact-only entry for the whole name, then every suffix entry, longest first.
    func allDomainMatches(_ bytes: Span<UInt8>) -> [UInt32] {
        let end = LookupTables.endWithoutDot(bytes)
        var result: [UInt32] = []
        if let exact = exactDomains.lookup(bytes, from: 0, to: end) { result.append(exact) }
        return result + domains.domainSuffixMatches(bytes, end: end)
    }

    /// The entry for the URL with its scheme, then the one without.
    func allURLMatches(_ bytes: Span<UInt8>) -> [UInt32] {
        guard urls.count > 0, bytes.count <= IndicatorTable.maximumURLLength else { return [] }
        let parts = URLKey.parts(bytes)
        var result: [UInt32] = []
        if let hit = urls.lookup(URLKey.key(bytes, parts, withScheme: true)) { result.append(hit) }
        if parts.authority > 0, let hit = urls.lookup(URLKey.key(bytes, parts, withScheme: false)) { result.append(hit) }
        return result
    }

    var memoryBytes: Int {
        ipv4.memoryBytes + ipv6.memoryBytes + domains.memoryBytes + exactDomains.memoryBytes
            + digests.memoryBytes + urls.memoryBytes + emails.memoryBytes + ja3.memoryBytes + ja4.memoryBytes
    }
}

/// A validity window in nanoseconds; `Int64.min`/`Int64.max` for an open bound.
struct ValidityWindow: Sendable {
    var from: Int64
    var until: Int64

    static let always = ValidityWindow(from: Int64.min, until: Int64.max)

    init(from: Int64, until: Int64) {
        self.from = from
        self.until = until
    }

    init(from: Timestamp?, until: Timestamp?) {
        self.from = from?.nanoseconds ?? Int64.min
        self.until = until?.nanoseconds ?? Int64.max
    }

    @inline(__always)
    func contains(_ time: Timestamp) -> Bool { time.nanoseconds >= from && time.nanoseconds < until }

    func validity(at time: Timestamp) -> Validity {
        Validity(from: from == Int64.min ? nil : Timestamp(nanoseconds: from),
                 until: until == Int64.max ? nil : Timestamp(nanoseconds: until), at: time)
    }
}

/// What `IndicatorTable.match` found for an observed value.
public struct IndicatorMatch: Sendable, Hashable {
    /// Index into `RuleSet.indicators` of the most specific indicator matching the value
    /// and valid at the observation's time. When the most specific one is outside its
    /// validity window, the next wider valid one (a containing range, a parent domain).
    public var indicator: Int
    /// The other matching indicators valid at that time, most specific first (wider
    /// ranges, parent domains, the same address as an IPv4 indicator for an IPv4-mapped
    /// IPv6 address, a URL indicator written without a scheme).
    public var context: [Int]
    /// Index into `RuleSet.allowEntries` of the allow entry that suppresses this
    /// sighting, or nil. A suppressed sighting is still a sighting: keep it, marked.
    public var suppressedBy: Int?

    public init(indicator: Int, context: [Int] = [], suppressedBy: Int? = nil) {
        self.indicator = indicator
        self.context = context
        self.suppressedBy = suppressedBy
    }
}

/// One entry that matches a value, with its validity at the time asked about.
public struct ExplainedEntry: Sendable, Hashable {
    /// Index into `RuleSet.indicators` or `RuleSet.allowEntries`.
    public var index: Int
    /// `.valid` when no time was given.
    public var validity: Validity

    public init(index: Int, validity: Validity) {
        self.index = index
        self.validity = validity
    }
}

/// Why a value typed by a user matches or does not match (for `cairn explain`).
public struct Explanation: Sendable, Hashable {
    /// How the text was read (a 32-digit hex string is read both as an MD5 digest
    /// and as a JA3 fingerprint: one explanation each).
    public var value: OwnedValue
    /// Every indicator matching the value (indices into `RuleSet.indicators`), most
    /// specific first: the exact address then each containing range, the exact-only
    /// entry then the name and each parent domain.
    public var indicators: [ExplainedEntry] = []
    /// Every allow entry matching the value (indices into `RuleSet.allowEntries`), most
    /// specific first.
    public var allowEntries: [ExplainedEntry] = []
    /// What `IndicatorTable.match` reports for this value at that time; nil when no
    /// indicator matching the value is valid then (or none matches).
    public var match: IndicatorMatch?

    public init(value: OwnedValue) { self.value = value }
}

/// Immutable lookup tables over a rule set's indicators and allow entries.
public struct IndicatorTable: Sendable {
    let tables: LookupTables
    /// Allow entries of kind `.value`, keyed by their position in `RuleSet.allowEntries`.
    let allow: LookupTables
    /// Allow entries of kind `.text`: lower-case text → position in `allowEntries`.
    let allowTexts: [String: Int]
    /// Allow entries of kind `.substring`: (lower-case bytes, position), scanned in order.
    let allowSubstrings: [(bytes: [UInt8], index: Int)]
    /// The validity window of each indicator, by index (16 bytes each); empty when no
    /// indicator has one, as in most rule sets.
    let windows: [ValidityWindow]
    /// The same for the allow entries.
    let allowWindows: [ValidityWindow]
    /// The types of the indicators held, so that a reader can skip computing what no
    /// indicator can match (body digests, TLS fingerprints).
    public let indicatorTypes: Set<IndicatorType>

    /// URLs longer than this are not looked up: no URL indicator is that long (the
    /// plain-list line limit is 16 KiB, and HTTP servers refuse request lines past 8 KiB).
    static let maximumURLLength = 8192

    init(indicators: IndicatorList, allowEntries: [AllowEntry]) {
        tables = LookupTables(indicators)
        var present = [Bool](repeating: false, count: IndicatorType.byOrdinal.count)
        for position in indicators.indices { present[Int(indicators.type(at: position).ordinal)] = true }
        indicatorTypes = Set(IndicatorType.byOrdinal.indices.filter { present[$0] }.map { IndicatorType.byOrdinal[$0] })
        windows = indicators.hasValidity
            ? indicators.indices.map {
                let details = indicators.details(at: $0)
                return ValidityWindow(from: details.validFrom, until: details.validUntil)
            } : []
        allowWindows = allowEntries.contains { $0.validFrom != nil || $0.validUntil != nil }
            ? allowEntries.map { ValidityWindow(from: $0.validFrom, until: $0.validUntil) } : []
        var valueEntries = IndicatorList()
        var valuePositions: [Int] = []
        var texts: [String: Int] = [:]
        var substrings: [(bytes: [UInt8], index: Int)] = []
        for (position, entry) in allowEntries.enumerated() {
            switch entry.kind {
            case .value:
                if let indicator = entry.asIndicator {
                    valueEntries.append(indicator)
                    valuePositions.append(position)
                }
            case .text:
                if texts[entry.value.lowercased()] == nil { texts[entry.value.lowercased()] = position }
            case .substring:
                if !entry.value.isEmpty { substrings.append((Array(entry.value.lowercased().utf8), position)) }
            }
        }
        allow = LookupTables(valueEntries, positions: valuePositions)
        allowTexts = texts
        allowSubstrings = substrings
    }

    /// The index (into `RuleSet.indicators`) of the most specific indicator matching
    /// `value`, or nil, whatever its validity window (see `match` for that). IPv4/IPv6:
    /// the exact address, else the longest matching CIDR; an IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`) that matches no IPv6 indicator is also looked up as IPv4.
    /// Domains: case-insensitive, trailing dot ignored; an exact-only (`=domain`)
    /// indicator for the whole name first, else the longest matching suffix on a label
    /// boundary. Hex digests: case-insensitive exact match of the same length (32, 40 or
    /// 64; anything else never matches). URLs: scheme and host case-insensitive, path and
    /// query byte for byte, a missing path read as `/`, the fragment ignored; an
    /// indicator with a scheme first, then one without. E-mail: case-insensitive exact
    /// match. JA3: JA3 indicators only (not MD5 digests); JA4: case-insensitive exact.
    /// Allocates nothing (a URL's key is read in place). O(log n) for addresses, O(length)
    /// expected for names, digests, URLs, e-mail and fingerprints.
    public func lookup(_ value: ObservedValue) -> Int? {
        tables.lookup(value).map { Int($0) }
    }

    /// The sighting `value`, observed at `time`, makes, or nil when no indicator valid
    /// at `time` matches it. A miss costs what `lookup` costs and allocates nothing;
    /// a hit lists the matching indicators (allocating) and checks the allow entries
    /// (entries valid at `time`: `.value` entries through their own tables, then `.text`
    /// entries, then `.substring` entries by a scan of the value's text).
    public func match(_ value: ObservedValue, at time: Timestamp) -> IndicatorMatch? {
        guard let first = tables.lookup(value) else { return nil }
        var found: IndicatorMatch
        if !hasWiderMatches(value) {
            guard isValid(indicator: first, at: time) else { return nil }
            found = IndicatorMatch(indicator: Int(first))
        } else {
            let valid = tables.allMatches(value).filter { isValid(indicator: $0, at: time) }
            guard let best = valid.first else { return nil }
            found = IndicatorMatch(indicator: Int(best), context: valid.dropFirst().map { Int($0) })
        }
        found.suppressedBy = suppression(of: value, at: time)
        return found
    }

    /// Whether a value of this kind can match more than one indicator (networks nest,
    /// domains have parents, URLs two forms).
    private func hasWiderMatches(_ value: ObservedValue) -> Bool {
        switch value {
        case .ipv4, .ipv6, .domain, .url: true
        case .hexDigest, .email, .ja3, .ja4: false
        }
    }

    func isValid(indicator index: UInt32, at time: Timestamp) -> Bool {
        let position = Int(index)
        return position >= windows.count || windows[position].contains(time)
    }

    func indicatorValidity(_ index: UInt32, at time: Timestamp?) -> Validity {
        let position = Int(index)
        guard let time, position < windows.count else { return .valid }
        return windows[position].validity(at: time)
    }

    func allowValidity(_ index: Int, at time: Timestamp?) -> Validity {
        guard let time, index < allowWindows.count else { return .valid }
        return allowWindows[index].validity(at: time)
    }

    /// The allow entry (index into `RuleSet.allowEntries`) that suppresses a sighting of
    /// `value` at `time`, or nil; the most specific `.value` entry first.
    public func suppression(of value: ObservedValue, at time: Timestamp) -> Int? {
        allowMatches(value).first { allowValidity($0, at: time) == .valid }
    }

    /// Every allow entry matching `value`, most specific first.
    func allowMatches(_ value: ObservedValue) -> [Int] {
        var result = allow.allMatches(value).map { Int($0) }
        guard !allowTexts.isEmpty || !allowSubstrings.isEmpty else { return result }
        var text = value.owned.description.lowercased()
        if case .domain = value, text.hasSuffix(".") { text.removeLast() }
        if let exact = allowTexts[text] { result.append(exact) }
        if !allowSubstrings.isEmpty {
            let bytes = Array(text.utf8)
            for (needle, index) in allowSubstrings where contains(bytes, needle) { result.append(index) }
        }
        return result
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count, let first = needle.first else { return needle.isEmpty }
        var start = 0
        while start + needle.count <= haystack.count {
            if haystack[start] == first, haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }

    /// Every indicator and allow entry matching `text`, a value typed by a user (an
    /// address, domain, URL, e-mail address, hash or JA3/JA4 fingerprint), with each
    /// one's validity at `time` (all `.valid` when `time` is nil), and what `match`
    /// reports. One explanation per reading of the text; empty when the text reads as
    /// no observable value. Not for the hot path.
    public func explain(_ text: String, at time: Timestamp?) -> [Explanation] {
        IndicatorTable.readings(of: text).map { owned in
            owned.withObservedValue { value in
                var explanation = Explanation(value: owned)
                explanation.indicators = tables.allMatches(value).map {
                    ExplainedEntry(index: Int($0), validity: indicatorValidity($0, at: time))
                }
                explanation.allowEntries = allowMatches(value).map {
                    ExplainedEntry(index: $0, validity: allowValidity($0, at: time))
                }
                let valid = explanation.indicators.filter { $0.validity == .valid }.map(\.index)
                if let best = valid.first {
                    var found = IndicatorMatch(indicator: best, context: Array(valid.dropFirst()))
                    found.suppressedBy = explanation.allowEntries.first { $0.validity == .valid }?.index
                    explanation.match = found
                }
                return explanation
            }
        }
    }

    /// The observable values a typed text can be.
    static func readings(of text: String) -> [OwnedValue] {
        let trimmed = String(PlainListParser.trimmed(Substring(text)))
        guard !trimmed.isEmpty else { return [] }
        if let address = IPv4Address(Substring(trimmed)) { return [.ipv4(address)] }
        if trimmed.contains(":"), !trimmed.contains("/"), !trimmed.contains("@"),
           let address = IPv6Address(Substring(trimmed.hasPrefix("[") ? String(trimmed.dropFirst().dropLast()) : trimmed))
        {
            return [.ipv6(address)]
        }
        let bytes = trimmed.utf8
        if bytes.allSatisfy(ValueSyntax.isHexDigit), [32, 40, 64].contains(bytes.count) {
            return bytes.count == 32 ? [.hexDigest(trimmed), .ja3(trimmed)] : [.hexDigest(trimmed)]
        }
        if ValueSyntax.isJA4(Substring(trimmed)) { return [.ja4(trimmed)] }
        if trimmed.contains("://") || trimmed.contains("/") { return [.url(trimmed)] }
        if trimmed.contains("@") { return [.email(trimmed)] }
        return [.domain(trimmed)]
    }

    /// The number of distinct IPv4 networks, IPv6 networks, domains and digests held.
    public var counts: (ipv4: Int, ipv6: Int, domains: Int, digests: Int) {
        (tables.ipv4.count, tables.ipv6.count, tables.domains.count + tables.exactDomains.count, tables.digests.count)
    }

    /// The number of distinct URLs and e-mail addresses held.
    public var urlAndEmailCounts: (urls: Int, emails: Int) { (tables.urls.count, tables.emails.count) }

    /// The number of distinct JA3 and JA4 fingerprints held.
    public var fingerprintCounts: (ja3: Int, ja4: Int) { (tables.ja3.count, tables.ja4.count) }

    /// The number of allow entries held (all kinds).
    public var allowEntryCount: Int {
        allow.ipv4.count + allow.ipv6.count + allow.domains.count + allow.exactDomains.count + allow.digests.count
            + allow.urls.count + allow.emails.count + allow.ja3.count + allow.ja4.count
            + allowTexts.count + allowSubstrings.count
    }

    /// An estimate of the memory the tables take, in bytes: their arrays by capacity
    /// (not the indicators' metadata, which `RuleSet` holds), allow tables included.
    public var memoryBytes: Int {
        tables.memoryBytes + allow.memoryBytes + windows.capacity * 16 + allowWindows.capacity * 16
            + allowTexts.reduce(0) { $0 + $1.key.utf8.count + 24 } + allowSubstrings.reduce(0) { $0 + $1.bytes.count + 24 }
    }
}

// MARK: Compiled rule cache

extension LookupTables {
    func encode(into writer: inout CacheWriter) {
        ipv4.encode(into: &writer)
        ipv6.encode(into: &writer)
        domains.encode(into: &writer)
        exactDomains.encode(into: &writer)
        digests.encode(into: &writer)
        urls.encode(into: &writer)
        emails.encode(into: &writer)
        ja3.encode(into: &writer)
        ja4.encode(into: &writer)
    }

    /// Tables as `encode` wrote them, every position below `limit`.
    static func decode(_ reader: inout CacheReader, limit: Int) throws(CacheFileError) -> LookupTables {
        let ipv4 = try IPNetworkTable<UInt32>(decoding: &reader, limit: limit)
        let ipv6 = try IPNetworkTable<IPv6Key>(decoding: &reader, limit: limit)
        let domains = try ByteStringTable(decoding: &reader, limit: limit)
        let exactDomains = try ByteStringTable(decoding: &reader, limit: limit)
        let digests = try DigestTable(decoding: &reader, limit: limit)
        let urls = try ByteStringTable(decoding: &reader, limit: limit)
        let emails = try ByteStringTable(decoding: &reader, limit: limit)
        let ja3 = try DigestTable(decoding: &reader, limit: limit)
        let ja4 = try ByteStringTable(decoding: &reader, limit: limit)
        return LookupTables(ipv4: ipv4, ipv6: ipv6, domains: domains, exactDomains: exactDomains, digests: digests,
                            urls: urls, emails: emails, ja3: ja3, ja4: ja4)
    }
}

extension IndicatorTable {
    func encode(into writer: inout CacheWriter) {
        tables.encode(into: &writer)
        allow.encode(into: &writer)
        writer.sequence(allowTexts) {
            $0.string($1.key)
            $0.int($1.value)
        }
        writer.sequence(allowSubstrings) {
            $0.raw($1.bytes)
            $0.int($1.index)
        }
        writer.raw(windows)
        writer.raw(allowWindows)
        writer.sequence(indicatorTypes.sorted { $0.ordinal < $1.ordinal }) { $0.indicatorType($1) }
    }

    /// A table as `encode` wrote it, for `indicators` indicators and `allowEntries` allow
    /// entries: every position it can return is checked against those counts.
    init(decoding reader: inout CacheReader, indicators: Int, allowEntries: Int) throws(CacheFileError) {
        tables = try LookupTables.decode(&reader, limit: indicators)
        allow = try LookupTables.decode(&reader, limit: allowEntries)
        var texts: [String: Int] = [:]
        for _ in 0..<(try reader.count()) {
            let text = try reader.string()
            let position = try reader.int()
            guard (0..<allowEntries).contains(position) else { throw CacheFileError("allow texts: bad position") }
            texts[text] = position
        }
        allowTexts = texts
        allowSubstrings = try reader.array { r throws(CacheFileError) in
            let bytes = try r.raw(UInt8.self)
            let position = try r.int()
            guard (0..<allowEntries).contains(position) else { throw CacheFileError("allow substrings: bad position") }
            return (bytes, position)
        }
        windows = try reader.raw(ValidityWindow.self)
        allowWindows = try reader.raw(ValidityWindow.self)
        guard windows.isEmpty || windows.count == indicators, allowWindows.isEmpty || allowWindows.count == allowEntries else {
            throw CacheFileError("validity windows: wrong count")
        }
        indicatorTypes = Set(try reader.array { r throws(CacheFileError) in try r.indicatorType() })
    }
}
