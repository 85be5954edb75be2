import ByteParsing
import Observations

/// Why a compiled rule cache file was not used: read as a miss, never a crash.
struct CacheFileError: Error, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Builds a compiled rule cache payload: integers little-endian, arrays of plain values
/// as their raw bytes in the host's byte order after their count (the cache key includes
/// the executable's hash, so a file is never read by another build, let alone another
/// machine), strings as UTF-8 after their length.
struct CacheWriter {
    var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func uint64(_ value: UInt64) {
        for shift in stride(from: UInt64(0), to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func int(_ value: Int) { uint64(UInt64(bitPattern: Int64(value))) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func string(_ value: String) {
        int(value.utf8.count)
        bytes.append(contentsOf: value.utf8)
    }

    mutating func optional<T>(_ value: T?, _ write: (inout CacheWriter, T) -> Void) {
        if let value {
            bool(true)
            write(&self, value)
        } else {
            bool(false)
        }
    }

    mutating func string(_ value: String?) { optional(value) { $0.string($1) } }
    mutating func int(_ value: Int?) { optional(value) { $0.int($1) } }
    mutating func timestamp(_ value: Timestamp?) { optional(value) { $0.int(Int($1.nanoseconds)) } }

    mutating func sequence<C: Collection>(_ values: C, _ write: (inout CacheWriter, C.Element) -> Void) {
        int(values.count)
        for value in values { write(&self, value) }
    }

    /// The count, then the elements' bytes as they lie in memory (plain values only).
    mutating func raw<T: BitwiseCopyable>(_ values: [T]) {
        int(values.count)
        bytes.append(bytesOf: values.span)
    }
}

/// Reads what `CacheWriter` wrote, checking every length against the bytes left:
/// a lie throws `CacheFileError`, it never traps. A view of the file's bytes (a
/// `ByteCursor`), so it cannot outlive them.
struct CacheReader: ~Escapable {
    private var cursor: ByteCursor
    /// The mapped file `data` lies in, from `fileOffset` on: the pages read are let go
    /// of, `releaseRun` bytes at a time, and parts of it may be read in place later
    /// instead of copied (`rawInPlace`).
    let file: MappedFile?
    private let fileOffset: Int
    /// Bytes of `data` let go of so far.
    private var released = 0
    static let releaseRun = 32 << 20

    @_lifetime(copy data)
    init(_ data: Span<UInt8>, file: MappedFile? = nil, fileOffset: Int = 0) {
        cursor = ByteCursor(data)
        self.file = file
        self.fileOffset = fileOffset
    }

    var offset: Int { cursor.offset }
    var remaining: Int { cursor.remaining }

    /// The next `count` bytes, borrowed.
    @_lifetime(copy self)
    mutating func bytes(_ count: Int) throws(CacheFileError) -> Span<UInt8> {
        if cursor.offset - released >= Self.releaseRun {
            file?.release((fileOffset + released)..<(fileOffset + cursor.offset))
            released = cursor.offset
        }
        guard let bytes = cursor.readBytes(count) else { throw truncated(count) }
        return bytes
    }

    private func truncated(_ count: Int) -> CacheFileError {
        CacheFileError("truncated: \(count) bytes needed at offset \(offset), \(remaining) left")
    }

    mutating func uint64() throws(CacheFileError) -> UInt64 {
        guard let value = cursor.rest.uint64LittleEndian(at: 0), cursor.skip(8) else { throw truncated(8) }
        return value
    }

    mutating func int() throws(CacheFileError) -> Int {
        let value = Int64(bitPattern: try uint64())
        guard let int = Int(exactly: value) else { throw CacheFileError("integer out of range at offset \(offset - 8)") }
        return int
    }

    mutating func byte() throws(CacheFileError) -> UInt8 {
        guard let byte = cursor.readUInt8() else { throw truncated(1) }
        return byte
    }

    mutating func bool() throws(CacheFileError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        default: throw CacheFileError("bad flag at offset \(offset - 1)")
        }
    }

    /// A count of items of at least `minimumSize` bytes each, checked against the bytes left.
    mutating func count(minimumSize: Int = 1) throws(CacheFileError) -> Int {
        let count = try int()
        guard count >= 0, count <= remaining / max(1, minimumSize) else {
            throw CacheFileError("bad count \(count) at offset \(offset - 8)")
        }
        return count
    }

    mutating func string() throws(CacheFileError) -> String { try bytes(try count()).string }

    mutating func optional<T>(_ read: (inout CacheReader) throws(CacheFileError) -> T) throws(CacheFileError) -> T? {
        try bool() ? try read(&self) : nil
    }

    mutating func optionalString() throws(CacheFileError) -> String? { try optional { r throws(CacheFileError) in try r.string() } }
    mutating func optionalInt() throws(CacheFileError) -> Int? { try optional { r throws(CacheFileError) in try r.int() } }
    mutating func timestamp() throws(CacheFileError) -> Timestamp? {
        try optional { r throws(CacheFileError) in Timestamp(nanoseconds: Int64(try r.int())) }
    }

    mutating func array<T>(_ read: (inout CacheReader) throws(CacheFileError) -> T) throws(CacheFileError) -> [T] {
        let count = try count()
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    /// What `CacheWriter.raw` wrote: one copy of the bytes into a new array. Any bytes
    /// make valid plain values; whether they are the right ones is what the checksum
    /// and the tables' own checks decide.
    mutating func raw<T: BitwiseCopyable>(_ type: T.Type) throws(CacheFileError) -> [T] {
        let stride = MemoryLayout<T>.stride
        let count = try count(minimumSize: stride)
        guard let values = try bytes(count * stride).values(of: T.self) else {
            throw CacheFileError("bad array of \(count) values at offset \(offset)")
        }
        return values
    }

    /// What `CacheWriter.raw` wrote, left in place: where its values start in `file`
    /// and how many there are (read them with `MappedFile.load`).
    mutating func rawInPlace<T: BitwiseCopyable>(_ type: T.Type) throws(CacheFileError) -> (offset: Int, count: Int) {
        let count = try count(minimumSize: MemoryLayout<T>.stride)
        let start = fileOffset + offset
        _ = try bytes(count * MemoryLayout<T>.stride)
        return (start, count)
    }
}

/// A fast 64-bit checksum of a cache payload: Fletcher's two running sums (the sum of
/// the 64-bit words, and the sum of those sums, so that moved words change it too) in
/// four SIMD lanes, at memory speed. Any single changed word changes the first sum; a
/// torn or truncated write changes the length the header gives. It is not a defence
/// against someone who can write the cache directory (they could as well replace the
/// executable).
enum CacheChecksum {
    /// `afterEach` is told of each `chunk` bytes summed (a multiple of 32), in order.
    static func of(
        _ bytes: Span<UInt8>, chunk: Int = 32 << 20, afterEach: (Range<Int>) -> Void = { _ in }
    ) -> UInt64 {
        let count = bytes.count
        var sums = SIMD4<UInt64>(repeating: 0)
        var sumsOfSums = SIMD4<UInt64>(repeating: 0)
        var offset = 0
        while offset + 32 <= count {
            let start = offset
            let end = min(offset + chunk, count - count % 32)
            while offset < end {
                sums &+= words(bytes, at: offset)
                sumsOfSums &+= sums
                offset += 32
            }
            afterEach(start..<end)
        }
        var tail = [UInt8](repeating: 0, count: 32)
        for k in offset..<count { tail[k - offset] = bytes[k] }
        sums &+= words(tail.span, at: 0)
        sumsOfSums &+= sums
        // Mix the eight sums and the length into one word (murmur3's finaliser after each).
        var hash = UInt64(count) &* 0x9E37_79B9_7F4A_7C15
        for lane in 0..<4 {
            hash = IndicatorList.mix(hash ^ sums[lane])
            hash = IndicatorList.mix(hash ^ sumsOfSums[lane])
        }
        return hash
    }

    /// The four little-endian words at `offset` (which the caller keeps 32 bytes inside `bytes`).
    @inline(__always)
    private static func words(_ bytes: Span<UInt8>, at offset: Int) -> SIMD4<UInt64> {
        SIMD4(bytes.uint64LittleEndian(at: offset) ?? 0, bytes.uint64LittleEndian(at: offset + 8) ?? 0,
              bytes.uint64LittleEndian(at: offset + 16) ?? 0, bytes.uint64LittleEndian(at: offset + 24) ?? 0)
    }
}

// MARK: The rule set's small parts, field by field (every field, so that a hit gives an equal value).

extension CacheWriter {
    mutating func ruleError(_ error: RuleError) {
        string(error.file)
        int(error.line)
        int(error.column)
        string(error.message)
    }

    mutating func ruleWarning(_ warning: RuleWarning) {
        string(warning.file)
        int(warning.line)
        int(warning.column)
        string(warning.message)
    }

    mutating func indicatorType(_ type: IndicatorType) { byte(type.ordinal) }

    mutating func fileSummary(_ summary: RuleFileSummary) {
        string(summary.path)
        string(summary.format.rawValue)
        sequence(summary.indicatorsByType.sorted { $0.key.ordinal < $1.key.ordinal }) {
            $0.indicatorType($1.key)
            $0.int($1.value)
        }
        int(summary.duplicates)
        int(summary.errors)
        int(summary.warnings)
        bool(summary.isAllowList)
        int(summary.allowEntries)
        int(summary.conflicts)
    }

    mutating func allowEntry(_ entry: AllowEntry) {
        string(entry.kind.rawValue)
        optional(entry.type) { $0.indicatorType($1) }
        string(entry.value)
        bool(entry.matchesSubdomains)
        string(entry.ruleFile)
        int(entry.line)
        string(entry.listName)
        string(entry.description)
        timestamp(entry.validFrom)
        timestamp(entry.validUntil)
    }

    mutating func origin(_ origin: IndicatorOrigin) {
        string(origin.ruleFile)
        int(origin.line)
        string(origin.source)
    }

    mutating func details(_ details: IndicatorDetails) {
        string(details.ruleFile)
        string(details.source)
        string(details.severity)
        int(details.confidence)
        string(details.description)
        sequence(details.tags) { $0.string($1) }
        string(details.tlp)
        timestamp(details.validFrom)
        timestamp(details.validUntil)
    }
}

extension CacheReader {
    mutating func ruleError() throws(CacheFileError) -> RuleError {
        let file = try string()
        let line = try int()
        let column = try int()
        return RuleError(file: file, line: line, column: column, message: try string())
    }

    mutating func ruleWarning() throws(CacheFileError) -> RuleWarning {
        let file = try string()
        let line = try int()
        let column = try int()
        return RuleWarning(file: file, line: line, column: column, message: try string())
    }

    mutating func indicatorType() throws(CacheFileError) -> IndicatorType {
        let ordinal = Int(try byte())
        guard ordinal < IndicatorType.byOrdinal.count else { throw CacheFileError("bad indicator type \(ordinal)") }
        return IndicatorType.byOrdinal[ordinal]
    }

    mutating func fileSummary() throws(CacheFileError) -> RuleFileSummary {
        let path = try string()
        let formatName = try string()
        guard let format = RuleFormat(rawValue: formatName) else { throw CacheFileError("bad rule format \(formatName)") }
        var byType: [IndicatorType: Int] = [:]
        for _ in 0..<(try count()) {
            let type = try indicatorType()
            byType[type] = try int()
        }
        let duplicates = try int()
        let errors = try int()
        let warnings = try int()
        var summary = RuleFileSummary(path: path, format: format, errors: errors, warnings: warnings)
        summary.indicatorsByType = byType
        summary.duplicates = duplicates
        summary.isAllowList = try bool()
        summary.allowEntries = try int()
        summary.conflicts = try int()
        return summary
    }

    mutating func allowEntry() throws(CacheFileError) -> AllowEntry {
        let kindName = try string()
        guard let kind = AllowEntry.Kind(rawValue: kindName) else { throw CacheFileError("bad allow entry kind \(kindName)") }
        let type = try optional { r throws(CacheFileError) in try r.indicatorType() }
        let value = try string()
        let matchesSubdomains = try bool()
        let ruleFile = try string()
        let line = try int()
        let listName = try optionalString()
        let description = try optionalString()
        let validFrom = try timestamp()
        return AllowEntry(kind: kind, type: type, value: value, matchesSubdomains: matchesSubdomains, ruleFile: ruleFile,
                          line: line, listName: listName, description: description, validFrom: validFrom,
                          validUntil: try timestamp())
    }

    mutating func origin() throws(CacheFileError) -> IndicatorOrigin {
        let ruleFile = try string()
        let line = try int()
        return IndicatorOrigin(ruleFile: ruleFile, line: line, source: try optionalString())
    }

    mutating func details() throws(CacheFileError) -> IndicatorDetails {
        var details = IndicatorDetails(ruleFile: try string())
        details.source = try optionalString()
        details.severity = try optionalString()
        details.confidence = try optionalInt()
        details.description = try optionalString()
        details.tags = try array { r throws(CacheFileError) in try r.string() }
        details.tlp = try optionalString()
        details.validFrom = try timestamp()
        details.validUntil = try timestamp()
        return details
    }
}

/// Checks an open-addressing slot array read from a cache file: a power of two in
/// size (or empty), `mask` its size minus one, every used slot naming an entry below
/// `entries`, and at least one free slot (so that every probe ends).
func checkSlots(_ slots: [UInt64], mask: Int, entries: Int, empty: UInt64, table: String) throws(CacheFileError) {
    if slots.isEmpty {
        guard entries == 0 else { throw CacheFileError("\(table): entries without slots") }
        return
    }
    guard slots.count & (slots.count - 1) == 0, mask == slots.count - 1 else {
        throw CacheFileError("\(table): bad slot count \(slots.count)")
    }
    var used = 0
    var bad = false
    for slot in slots where slot != empty {
        used += 1
        bad = bad || Int(truncatingIfNeeded: slot & 0xFFFF_FFFF) >= entries
    }
    guard !bad, used < slots.count else { throw CacheFileError("\(table): bad slots") }
}

/// Checks indicator (or allow entry) positions read from a cache file against the
/// number there are.
func checkPositions(_ positions: [UInt32], limit: Int, table: String) throws(CacheFileError) {
    guard !positions.contains(where: { Int($0) >= limit }) else { throw CacheFileError("\(table): a position beyond \(limit)") }
}
