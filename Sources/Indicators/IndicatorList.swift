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
///
/// A list decoded from a mapped compiled rule cache keeps its columns in the file
/// (`MappedColumns`) and reads an indicator from there when asked: an ingest reads the
/// few indicators it sights, and the rest never take memory. Changing such a list
/// copies the columns into memory first.
public struct IndicatorList: RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral, Sendable, Equatable {
    public typealias Element = Indicator
    public typealias Index = Int

    /// The values' canonical text (UTF-8), back to back.
    private var text: [UInt8] = []
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
    /// The columns `text`, `spans`, `kinds`, `lines` and `detailIDs` when they are read
    /// in a mapped file instead (then those arrays are empty).
    private var mapped: MappedColumns?

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
    public var endIndex: Int { count }
    public var count: Int { mapped?.count ?? kinds.count }
    public var isEmpty: Bool { count == 0 }

    /// The indicator at `position`, built on demand (its value and metadata strings).
    /// Setting replaces it; the old value's bytes stay in the buffer unused.
    public subscript(position: Int) -> Indicator {
        get {
            let details = details(at: position)
            let value = withValueBytes(at: position) { $0.string }
            var indicator = Indicator(type: type(at: position), value: value, ruleFile: details.ruleFile, line: line(at: position))
            indicator.matchesSubdomains = matchesSubdomains(at: position)
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
            materialize()
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
        if let last = self.details.last, last == details {
            append(indicator, details: UInt32(self.details.count - 1))
        } else {
            append(indicator, details: addDetails(details))
        }
    }

    /// Appends `indicator` with the details record `id` (`addDetails`), which must hold
    /// its rule file and metadata.
    mutating func append(_ indicator: Indicator, details id: UInt32) {
        materialize()
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
        materialize()
        var other = other
        other.materialize()
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
        materialize()
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
        IndicatorType.byOrdinal[Int(kind(at: position) & 0x7F)]
    }

    func matchesSubdomains(at position: Int) -> Bool {
        kind(at: position) & IndicatorList.exactFlag == 0
    }

    /// The line of the indicator at `position`, without building the indicator.
    public func line(at position: Int) -> Int { mapped?.line(at: position) ?? lines[position] }

    func details(at position: Int) -> IndicatorDetails { details[detailID(at: position)] }

    private func kind(at position: Int) -> UInt8 { mapped?.kind(at: position) ?? kinds[position] }

    private func detailID(at position: Int) -> Int { Int(mapped?.detailID(at: position) ?? detailIDs[position]) }

    /// Whether any indicator has a validity bound.
    var hasValidity: Bool { details.contains { $0.hasValidity } }

    /// Whether reading the table cache file the list is kept in failed since it was
    /// loaded (a disk error, or the file cut short): what was read then reads as zeros,
    /// so the indicators read since cannot be trusted.
    public var failedToRead: Bool { mapped?.file.faulted ?? false }

    private func valueRange(at position: Int) -> Range<Int> {
        IndicatorList.valueRange(span: mapped?.span(at: position) ?? spans[position], at: position, longLengths: longLengths)
    }

    private static func valueRange(span: UInt64, at position: Int, longLengths: [Int: Int]) -> Range<Int> {
        let start = Int(span >> 24)
        var length = Int(span & UInt64(IndicatorList.longLength))
        if length == IndicatorList.longLength { length = longLengths[position] ?? length }
        return start..<start + length
    }

    /// The length in bytes of the value's text.
    func valueLength(at position: Int) -> Int { valueRange(at: position).count }

    /// Lends the value's bytes (its canonical text).
    func withValueBytes<R>(at position: Int, _ body: (Span<UInt8>) -> R) -> R {
        if let mapped { return mapped.withText(valueRange(at: position), body) }
        return body(text.span.extracting(valueRange(at: position)))
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
        materialize()
        spans.append(span(start: start, length: text.count - start, position: spans.count))
        kinds.append(kind)
        lines.append(line)
        detailIDs.append(id)
    }

    /// Appends raw value bytes (between reading `text.count` as the start and calling
    /// `finishValue`).
    mutating func appendText<C: Collection<UInt8>>(_ bytes: C) {
        materialize()
        text.append(contentsOf: bytes)
    }

    mutating func appendText(_ byte: UInt8) {
        materialize()
        text.append(byte)
    }

    var textCount: Int { mapped?.text.count ?? text.count }

    /// Appends `other`'s indicator at `position`, whose details were adopted with
    /// `detailsOffset` (`adoptDetails`).
    mutating func appendEntry(from other: IndicatorList, at position: Int, detailsOffset: UInt32) {
        materialize()
        let start = text.count
        other.withValueBytes(at: position) { text.append(span: $0) }
        finishValue(start: start, kind: other.kind(at: position), line: other.line(at: position),
                    details: UInt32(truncatingIfNeeded: other.detailID(at: position)) &+ detailsOffset)
    }

    /// Gives the indicator at `position` the details `record`, sharing nothing with others.
    mutating func setDetails(at position: Int, _ record: IndicatorDetails) {
        if details[detailID(at: position)] == record { return }
        materialize()
        detailIDs[position] = addDetails(record)
    }

    // MARK: Identity (type, canonical value, subdomain matching), for removing duplicates.

    /// The kind byte of the identity: the exact flag counts for domains only.
    private func identityKind(at position: Int) -> UInt8 {
        let kind = kind(at: position)
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
        guard valueLength(at: position) == other.valueLength(at: otherPosition) else { return false }
        return withValueBytes(at: position) { bytes in
            other.withValueBytes(at: otherPosition) { bytes.elementsEqual($0) }
        }
    }
}

// MARK: Compiled rule cache

extension IndicatorList {
    func encode(into writer: inout CacheWriter) {
        var list = self
        list.materialize()
        writer.raw(list.text)
        writer.raw(list.spans)
        writer.raw(list.kinds)
        writer.raw(list.lines)
        writer.raw(list.detailIDs)
        writer.sequence(details) { $0.details($1) }
        writer.sequence(longLengths) {
            $0.int($1.key)
            $0.int($1.value)
        }
    }

    /// A list as `encode` wrote it, checked so that reading any element stays in bounds.
    /// From a reader over a mapped file, the columns stay in the file (`MappedColumns`).
    init(decoding reader: inout CacheReader) throws(CacheFileError) {
        self.init()
        if let file = reader.file {
            let text = try reader.rawInPlace(UInt8.self)
            let spans = try reader.rawInPlace(UInt64.self)
            let kinds = try reader.rawInPlace(UInt8.self)
            let lines = try reader.rawInPlace(Int.self)
            let detailIDs = try reader.rawInPlace(UInt32.self)
            guard spans.count == kinds.count, lines.count == kinds.count, detailIDs.count == kinds.count else {
                throw CacheFileError("indicator list: columns of different lengths")
            }
            mapped = MappedColumns(
                file: file, count: kinds.count, text: text.offset..<text.offset + text.count, spans: spans.offset,
                kinds: kinds.offset, lines: lines.offset, detailIDs: detailIDs.offset)
        } else {
            text = try reader.raw(UInt8.self)
            spans = try reader.raw(UInt64.self)
            kinds = try reader.raw(UInt8.self)
            lines = try reader.raw(Int.self)
            detailIDs = try reader.raw(UInt32.self)
            guard spans.count == kinds.count, lines.count == kinds.count, detailIDs.count == kinds.count else {
                throw CacheFileError("indicator list: columns of different lengths")
            }
        }
        details = try reader.array { r throws(CacheFileError) in try r.details() }
        let count = self.count
        for _ in 0..<(try reader.count(minimumSize: 16)) {
            let position = try reader.int()
            let length = try reader.int()
            guard (0..<count).contains(position), length >= IndicatorList.longLength else {
                throw CacheFileError("indicator list: bad long length")
            }
            longLengths[position] = length
        }
        if let mapped {
            // Through the mapping, in one pass (not `MappedColumns`' reads, one call each).
            try mapped.file.withBytes { bytes throws(CacheFileError) in
                try check { bytes[mapped.kinds + $0] } detailID: {
                    bytes.uint32LittleEndian(at: mapped.detailIDs + $0 * 4) ?? 0
                } span: {
                    bytes.uint64LittleEndian(at: mapped.spans + $0 * 8) ?? 0
                }
            }
        } else {
            try check { kinds[$0] } detailID: { detailIDs[$0] } span: { spans[$0] }
        }
    }

    /// Checks that every indicator's kind is a type, its details id a record, and its
    /// value inside the text, reading the columns with the functions given.
    private func check(
        kind: (Int) -> UInt8, detailID: (Int) -> UInt32, span: (Int) -> UInt64
    ) throws(CacheFileError) {
        let typeCount = UInt8(IndicatorType.byOrdinal.count)
        let textCount = self.textCount
        for position in 0..<count {
            guard kind(position) & 0x7F < typeCount else { throw CacheFileError("indicator list: bad type") }
            guard Int(detailID(position)) < details.count else {
                throw CacheFileError("indicator list details: a position beyond \(details.count)")
            }
            let range = IndicatorList.valueRange(span: span(position), at: position, longLengths: longLengths)
            guard range.lowerBound >= 0, range.upperBound <= textCount else {
                throw CacheFileError("indicator list: a value beyond the text")
            }
        }
    }

    /// The columns copied out of the mapped file into arrays of the list's own, before
    /// it changes (every change calls this: inlined, a list that is not mapped pays
    /// one test).
    @inline(__always)
    private mutating func materialize() {
        if mapped != nil { copyColumnsOut() }
    }

    private mutating func copyColumnsOut() {
        guard let columns = mapped else { return }
        mapped = nil
        func column<T: BitwiseCopyable>(_ start: Int, _ type: T.Type, count: Int = columns.count) -> [T] {
            let length = count * MemoryLayout<T>.stride
            return columns.file.withBytes { $0.extracting(start..<start + length).values(of: T.self) } ?? []
        }
        text = column(columns.text.lowerBound, UInt8.self, count: columns.text.count)
        spans = column(columns.spans, UInt64.self)
        kinds = column(columns.kinds, UInt8.self)
        lines = column(columns.lines, Int.self)
        detailIDs = column(columns.detailIDs, UInt32.self)
    }
}

/// The columns of an `IndicatorList` in a mapped compiled rule cache, as
/// `CacheWriter.raw` wrote them (values in the host's byte order, little-endian on
/// every platform Cairn builds for): where each starts in the file, and how many
/// indicators they hold. `IndicatorList(decoding:)` has checked that they lie inside
/// the file and hold valid values. An indicator is read with pread(2), a few bytes
/// per column (`MappedFile.read`).
struct MappedColumns: Sendable {
    let file: MappedFile
    let count: Int
    let text: Range<Int>
    let spans: Int
    let kinds: Int
    let lines: Int
    let detailIDs: Int

    private func load<T: BitwiseCopyable>(_ column: Int, _ position: Int, as type: T.Type) -> T {
        precondition(position >= 0 && position < count, "indicator position out of range")
        return file.load(at: column + position * MemoryLayout<T>.stride, as: T.self)
    }

    func span(at position: Int) -> UInt64 { load(spans, position, as: UInt64.self) }
    func kind(at position: Int) -> UInt8 { load(kinds, position, as: UInt8.self) }
    func line(at position: Int) -> Int { load(lines, position, as: Int.self) }
    func detailID(at position: Int) -> UInt32 { load(detailIDs, position, as: UInt32.self) }

    /// Lends the bytes `range` of the values' text.
    func withText<R>(_ range: Range<Int>, _ body: (Span<UInt8>) -> R) -> R {
        body(file.read(text.lowerBound + range.lowerBound..<text.lowerBound + range.upperBound).span)
    }
}
