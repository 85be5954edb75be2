import ByteParsing
import Observations

/// What an indicator carries besides its type, value and line: the rule file and the
/// metadata its format gave it. Shared by id between the indicators that have the same
/// (all the indicators of a plain list share one), so a rule set of millions of
/// indicators holds a few of these, not millions.
struct IndicatorDetails: Sendable, Hashable {
    var ruleFile: String
    var source: String? = nil
    var severity: String? = nil
    var confidence: Int? = nil
    var description: String? = nil
    var tags: [String] = []
    var tlp: String? = nil
    var validFrom: Timestamp? = nil
    var validUntil: Timestamp? = nil

    init(ruleFile: String) { self.ruleFile = ruleFile }

    init(_ indicator: Indicator) {
        ruleFile = indicator.ruleFile
        source = indicator.source
        severity = indicator.severity
        confidence = indicator.confidence
        description = indicator.description
        tags = indicator.tags
        tlp = indicator.tlp
        validFrom = indicator.validFrom
        validUntil = indicator.validUntil
    }

    var hasValidity: Bool { validFrom != nil || validUntil != nil }
}

extension IndicatorType {
    /// The type's position in `allCases`: how `IndicatorList` stores it in one byte.
    var ordinal: UInt8 {
        switch self {
        case .ipv4: 0
        case .ipv6: 1
        case .cidr: 2
        case .domain: 3
        case .md5: 4
        case .sha1: 5
        case .sha256: 6
        case .url: 7
        case .email: 8
        case .ja3: 9
        case .ja4: 10
        }
    }

    static let byOrdinal: [IndicatorType] = [.ipv4, .ipv6, .cidr, .domain, .md5, .sha1, .sha256, .url, .email, .ja3, .ja4]
}

/// The indicators of a rule set in a compact, column-wise store: every value's bytes
/// back to back in one buffer, and per indicator 8 bytes of span, 1 byte of type, 8 of
/// line and 4 of details id (the rule file and metadata, shared between indicators that
/// have the same; see `IndicatorDetails`). About 21 bytes plus the value's text per
/// indicator, against 176 bytes plus a heap string for an `Indicator` value, and no
/// allocation per indicator while loading.
///
/// A random-access collection of `Indicator`: reading an element builds the value
/// (its `String`s) on demand, so read only the indicators you need (those that matched);
/// a loop over millions of them allocates millions of strings.
public struct IndicatorList: RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral, Sendable, Equatable {
    public typealias Element = Indicator
    public typealias Index = Int

    /// The values' canonical text (UTF-8), back to back.
    private(set) var text: [UInt8] = []
    /// Per indicator: start in `text` << 24 | length; a length of `longLength` or more is
    /// stored as `longLength` with the real length in `longLengths` (no rule format has
    /// values that long; a JSON string could).
    private var spans: [UInt64] = []
    /// Per indicator: `IndicatorType.ordinal`, | `exactFlag` when `matchesSubdomains` is false.
    private var kinds: [UInt8] = []
    private var lines: [Int] = []
    /// Per indicator: index into `details`.
    private var detailIDs: [UInt32] = []
    private(set) var details: [IndicatorDetails] = []
    private var longLengths: [Int: Int] = [:]

    static let longLength = (1 << 24) - 1
    static let exactFlag: UInt8 = 0x80

    public init() {}

    /// A list holding `indicators`, in order.
    public init<S: Sequence<Indicator>>(_ indicators: S) {
        for indicator in indicators { append(indicator) }
    }

    public init(arrayLiteral elements: Indicator...) {
        self.init(elements)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { kinds.count }
    public var count: Int { kinds.count }
    public var isEmpty: Bool { kinds.isEmpty }

    /// The indicator at `position`, built on demand (its value and metadata strings).
    /// Setting replaces it; the old value's bytes stay in the buffer unused.
    public subscript(position: Int) -> Indicator {
        get {
            let details = details[Int(detailIDs[position])]
            let value = withValueBytes(at: position) { $0.string }
            var indicator = Indicator(type: type(at: position), value: value, ruleFile: details.ruleFile, line: lines[position])
            indicator.matchesSubdomains = kinds[position] & IndicatorList.exactFlag == 0
            indicator.source = details.source
            indicator.severity = details.severity
            indicator.confidence = details.confidence
            indicator.description = details.description
            indicator.tags = details.tags
            indicator.tlp = details.tlp
            indicator.validFrom = details.validFrom
            indicator.validUntil = details.validUntil
            return indicator
        }
        set {
            let start = text.count
            text.append(contentsOf: newValue.value.utf8)
            spans[position] = span(start: start, length: text.count - start, position: position)
            kinds[position] = IndicatorList.kind(newValue.type, matchesSubdomains: newValue.matchesSubdomains)
            lines[position] = newValue.line
            setDetails(at: position, IndicatorDetails(newValue))
        }
    }

    public static func == (lhs: IndicatorList, rhs: IndicatorList) -> Bool {
        lhs.elementsEqual(rhs)
    }

    public static func += (lhs: inout IndicatorList, rhs: IndicatorList) {
        lhs.append(contentsOf: rhs)
    }

    /// Appends `indicator`; its details share the last indicator's record when equal.
    public mutating func append(_ indicator: Indicator) {
        let details = IndicatorDetails(indicator)
        let id: UInt32
        if let last = self.details.last, last == details {
            id = UInt32(self.details.count - 1)
        } else {
            id = addDetails(details)
        }
        let start = text.count
        text.append(contentsOf: indicator.value.utf8)
        finishValue(
            start: start, kind: IndicatorList.kind(indicator.type, matchesSubdomains: indicator.matchesSubdomains),
            line: indicator.line, details: id)
    }

    /// Appends every indicator of `other`, in order.
    public mutating func append(contentsOf other: IndicatorList) {
        guard !isEmpty || !details.isEmpty else {
            self = other
            return
        }
        let offset = adoptDetails(of: other)
        let textOffset = UInt64(text.count)
        let positionOffset = count
        text += other.text
        spans.reserveCapacity(count + other.count)
        for span in other.spans { spans.append(span &+ textOffset << 24) }
        for (position, length) in other.longLengths { longLengths[position + positionOffset] = length }
        kinds += other.kinds
        lines += other.lines
        detailIDs.reserveCapacity(count + other.count)
        for id in other.detailIDs { detailIDs.append(id &+ offset) }
    }

    public mutating func reserveCapacity(_ count: Int) {
        spans.reserveCapacity(count)
        kinds.reserveCapacity(count)
        lines.reserveCapacity(count)
        detailIDs.reserveCapacity(count)
    }

    // MARK: Column access, for loading and compiling without building `Indicator`s.

    static func kind(_ type: IndicatorType, matchesSubdomains: Bool) -> UInt8 {
        type.ordinal | (matchesSubdomains ? 0 : exactFlag)
    }

    /// The type of the indicator at `position`, without building the indicator.
    public func type(at position: Int) -> IndicatorType {
        IndicatorType.byOrdinal[Int(kinds[position] & 0x7F)]
    }

    func matchesSubdomains(at position: Int) -> Bool {
        kinds[position] & IndicatorList.exactFlag == 0
    }

    /// The line of the indicator at `position`, without building the indicator.
    public func line(at position: Int) -> Int { lines[position] }

    func details(at position: Int) -> IndicatorDetails { details[Int(detailIDs[position])] }

    /// Whether any indicator has a validity bound.
    var hasValidity: Bool { details.contains { $0.hasValidity } }

    private func valueRange(at position: Int) -> Range<Int> {
        let span = spans[position]
        let start = Int(span >> 24)
        var length = Int(span & UInt64(IndicatorList.longLength))
        if length == IndicatorList.longLength { length = longLengths[position] ?? length }
        return start..<start + length
    }

    /// The length in bytes of the value's text.
    func valueLength(at position: Int) -> Int { valueRange(at: position).count }

    /// Lends the value's bytes (its canonical text).
    func withValueBytes<R>(at position: Int, _ body: (Span<UInt8>) -> R) -> R {
        body(text.span.extracting(valueRange(at: position)))
    }

    private mutating func span(start: Int, length: Int, position: Int) -> UInt64 {
        if length >= IndicatorList.longLength {
            longLengths[position] = length
            return UInt64(start) << 24 | UInt64(IndicatorList.longLength)
        }
        if !longLengths.isEmpty { longLengths[position] = nil }
        return UInt64(start) << 24 | UInt64(length)
    }

    /// Adds a details record and returns its id.
    mutating func addDetails(_ record: IndicatorDetails) -> UInt32 {
        details.append(record)
        return UInt32(truncatingIfNeeded: details.count - 1)
    }

    /// Appends `other`'s details records; returns the offset to add to its ids.
    mutating func adoptDetails(of other: IndicatorList) -> UInt32 {
        let offset = UInt32(truncatingIfNeeded: details.count)
        details += other.details
        return offset
    }

    /// Records the indicator whose value was appended to `text` from `start` on
    /// (see `appendText`).
    mutating func finishValue(start: Int, kind: UInt8, line: Int, details id: UInt32) {
        spans.append(span(start: start, length: text.count - start, position: spans.count))
        kinds.append(kind)
        lines.append(line)
        detailIDs.append(id)
    }

    /// Appends raw value bytes (between reading `text.count` as the start and calling
    /// `finishValue`).
    mutating func appendText<C: Collection<UInt8>>(_ bytes: C) {
        text.append(contentsOf: bytes)
    }

    mutating func appendText(_ byte: UInt8) {
        text.append(byte)
    }

    var textCount: Int { text.count }

    /// Appends `other`'s indicator at `position`, whose details were adopted with
    /// `detailsOffset` (`adoptDetails`).
    mutating func appendEntry(from other: IndicatorList, at position: Int, detailsOffset: UInt32) {
        let start = text.count
        let range = other.valueRange(at: position)
        text.append(span: other.text.span.extracting(range))
        finishValue(start: start, kind: other.kinds[position], line: other.lines[position],
                    details: other.detailIDs[position] &+ detailsOffset)
    }

    /// Gives the indicator at `position` the details `record`, sharing nothing with others.
    mutating func setDetails(at position: Int, _ record: IndicatorDetails) {
        if details[Int(detailIDs[position])] == record { return }
        detailIDs[position] = addDetails(record)
    }

    // MARK: Identity (type, canonical value, subdomain matching), for removing duplicates.

    /// The kind byte of the identity: the exact flag counts for domains only.
    private func identityKind(at position: Int) -> UInt8 {
        let kind = kinds[position]
        return kind & 0x7F == IndicatorType.domain.ordinal ? kind : kind & 0x7F
    }

    /// A 64-bit hash of the identity of the indicator at `position`.
    func identityHash(at position: Int) -> UInt64 {
        let kind = identityKind(at: position)
        return withValueBytes(at: position) { bytes in
            var hash = (0x9E37_79B9_7F4A_7C15 &* (UInt64(kind) &+ 1)) ^ UInt64(bytes.count)
            var index = 0
            while index + 8 <= bytes.count {
                hash = IndicatorList.mix(hash ^ (bytes.uint64LittleEndian(at: index) ?? 0))
                index += 8
            }
            if index < bytes.count {
                var tail: UInt64 = 0
                var shift: UInt64 = 0
                while index < bytes.count {
                    tail |= UInt64(bytes[index]) << shift
                    shift += 8
                    index += 1
                }
                hash = IndicatorList.mix(hash ^ tail)
            }
            return IndicatorList.mix(hash)
        }
    }

    /// The 64-bit finaliser of MurmurHash3: every input bit affects every output bit.
    /// (Also the compiled rule cache's checksum's last step.)
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x = x &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x = x &* 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    /// Whether the indicator at `position` has the same identity as `other`'s at `otherPosition`.
    func sameIdentity(at position: Int, as other: IndicatorList, at otherPosition: Int) -> Bool {
        guard identityKind(at: position) == other.identityKind(at: otherPosition) else { return false }
        let range = valueRange(at: position)
        let otherRange = other.valueRange(at: otherPosition)
        guard range.count == otherRange.count else { return false }
        return text.span.extracting(range).elementsEqual(other.text.span.extracting(otherRange))
    }
}

// MARK: Compiled rule cache

extension IndicatorList {
    func encode(into writer: inout CacheWriter) {
        writer.raw(text)
        writer.raw(spans)
        writer.raw(kinds)
        writer.raw(lines)
        writer.raw(detailIDs)
        writer.sequence(details) { $0.details($1) }
        writer.sequence(longLengths) {
            $0.int($1.key)
            $0.int($1.value)
        }
    }

    /// A list as `encode` wrote it, checked so that reading any element stays in bounds.
    init(decoding reader: inout CacheReader) throws(CacheFileError) {
        self.init()
        text = try reader.raw(UInt8.self)
        spans = try reader.raw(UInt64.self)
        kinds = try reader.raw(UInt8.self)
        lines = try reader.raw(Int.self)
        detailIDs = try reader.raw(UInt32.self)
        details = try reader.array { r throws(CacheFileError) in try r.details() }
        let count = kinds.count
        for _ in 0..<(try reader.count(minimumSize: 16)) {
            let position = try reader.int()
            let length = try reader.int()
            guard (0..<count).contains(position), length >= IndicatorList.longLength else {
                throw CacheFileError("indicator list: bad long length")
            }
            longLengths[position] = length
        }
        guard spans.count == count, lines.count == count, detailIDs.count == count else {
            throw CacheFileError("indicator list: columns of different lengths")
        }
        let typeCount = UInt8(IndicatorType.byOrdinal.count)
        guard !kinds.contains(where: { $0 & 0x7F >= typeCount }) else { throw CacheFileError("indicator list: bad type") }
        try checkPositions(detailIDs, limit: details.count, table: "indicator list details")
        for position in 0..<count {
            let range = valueRange(at: position)
            guard range.lowerBound >= 0, range.upperBound <= text.count else {
                throw CacheFileError("indicator list: a value beyond the text")
            }
        }
    }
}
