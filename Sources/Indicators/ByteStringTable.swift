/// An immutable set of short ASCII strings (domains, hex digests, URLs) mapped to
/// indicator indices, looked up with borrowed bytes without allocating; ASCII case is
/// folded unless the table is built with `foldsCase: false` (URLs, whose paths are
/// compared byte for byte: callers lower-case the scheme and host themselves).
///
/// The canonical (lower-case) strings live back to back in one byte arena; an
/// open-addressing table with linear probing holds one 8-byte slot per string (a
/// 32-bit hash tag and the entry number), at most half full; per entry, the arena span
/// and the indicator index sit in two side arrays read only when a tag matches. The hash is FNV-1a 64 taken over the bytes *from last to
/// first*, so one right-to-left pass over a domain yields the hash of every suffix:
/// that is what makes the label-boundary suffix search linear in the name's length.
struct ByteStringTable: Sendable {
    /// A slot: the high 32 bits of the string's hash (a tag that rejects almost every
    /// other string without touching the arena) and its entry number in the low 32 bits;
    /// `emptySlot` marks a free slot.
    static let emptySlot = UInt64.max
    /// The longest string stored (longer entries are left out; no indicator is this long).
    static let maximumLength = (1 << 24) - 1
    /// Entries hashed ahead while building.
    static let batchSize = 16

    private var arena: [UInt8] = []
    /// Per entry: arena offset << 24 | length.
    private var spans: [UInt64] = []
    /// Per entry: the indicator index.
    private var indices: [UInt32] = []
    private var slots: [UInt64] = []
    /// `slots.count - 1`; slots.count is a power of two (or zero for an empty table).
    private var mask = 0
    /// Rejects most absent strings without reading `slots`.
    private var filter = PresenceBits(bits: 0)
    /// The number of distinct strings stored.
    var count: Int { indices.count }
    /// Whether lookups fold ASCII upper case to lower case.
    private(set) var foldsCase = true
    /// Where building leaves the sum of the slots it read ahead.
    private var buildSink: UInt64 = 0

    /// The strings to store, gathered before building: their bytes back to back in one
    /// buffer (which becomes the table's arena), with a span and an indicator index per
    /// entry. No allocation per entry.
    struct Builder {
        var arena: [UInt8] = []
        /// Per entry: arena offset << 24 | length.
        var spans: [UInt64] = []
        var indices: [UInt32] = []

        init() {}

        /// Makes room for `count` more strings of `bytes` bytes in all.
        mutating func reserve(count: Int, bytes: Int) {
            guard count > 0 else { return }
            arena.reserveCapacity(arena.count + bytes)
            spans.reserveCapacity(spans.count + count)
            indices.reserveCapacity(indices.count + count)
        }

        /// Appends `bytes` (lower-cased on the way in when `lowercase`) for `index`;
        /// a string longer than `maximumLength` is left out.
        mutating func append(_ bytes: [UInt8], index: UInt32, lowercase: Bool = false) {
            append(bytes.span, index: index, lowercase: lowercase)
        }

        /// Appends `bytes` (lower-cased on the way in when `lowercase`) for `index`;
        /// a string longer than `maximumLength` is left out.
        mutating func append(_ bytes: Span<UInt8>, index: UInt32, lowercase: Bool = false) {
            let length = bytes.count
            guard length <= ByteStringTable.maximumLength else { return }
            let start = arena.count
            arena.append(span: bytes)
            if lowercase {
                var bytes = arena.mutableSpan
                for k in start..<start + length { bytes[k] = ByteStringTable.lowercased(bytes[k]) }
            }
            spans.append(UInt64(start) << 24 | UInt64(length))
            indices.append(index)
        }

        var isEmpty: Bool { indices.isEmpty }
    }

    /// Stores `entries` (already canonical: lower case where `foldsCase`). Where a
    /// string appears more than once, the first entry wins, so pass entries in
    /// indicator order.
    init(_ entries: [(bytes: [UInt8], index: UInt32)], foldsCase: Bool = true) {
        var builder = Builder()
        for entry in entries { builder.append(entry.bytes, index: entry.index) }
        self.init(builder, foldsCase: foldsCase)
    }

    /// Stores the builder's entries (already canonical: lower case where `foldsCase`),
    /// taking over its buffer as the arena (the bytes of a duplicate stay there unused).
    /// Where a string appears more than once, the first entry wins.
    init(_ builder: consuming Builder, foldsCase: Bool = true) {
        self.foldsCase = foldsCase
        guard !builder.isEmpty else { return }
        let total = builder.indices.count
        var capacity = 8
        while capacity < total * 2 { capacity *= 2 }
        slots = Array(repeating: ByteStringTable.emptySlot, count: capacity)
        mask = capacity - 1
        filter = PresenceBits(count: total)
        arena = builder.arena
        spans = builder.spans
        indices = builder.indices
        // The table is now the arrays' only owner: moving entries down changes them in place.
        builder = Builder()
        // Entries are kept in place, moved down over the duplicates left out: a probe
        // reads only kept entries, all below `kept`.
        // Hashes are taken a batch ahead and their home slots read first: those reads do
        // not depend on one another, so their cache misses overlap.
        var kept = 0
        var hashes = [UInt64](repeating: 0, count: ByteStringTable.batchSize)
        var touched: UInt64 = 0
        for batchStart in stride(from: 0, to: total, by: ByteStringTable.batchSize) {
            let batchEnd = min(total, batchStart + ByteStringTable.batchSize)
            for entry in batchStart..<batchEnd {
                let span = spans[entry]
                let offset = Int(truncatingIfNeeded: span >> 24)
                let hash = self.hash(key(arena.span, from: offset, to: offset + Int(truncatingIfNeeded: span & 0xFF_FFFF)))
                hashes[entry - batchStart] = hash
                touched &+= slots[Int(truncatingIfNeeded: hash) & mask]
            }
            for entry in batchStart..<batchEnd {
                let span = spans[entry]
                let offset = Int(truncatingIfNeeded: span >> 24)
                let length = Int(truncatingIfNeeded: span & 0xFF_FFFF)
                let hash = hashes[entry - batchStart]
                let found = probe(hash: hash, key(arena.span, from: offset, to: offset + length))
                guard found < 0 else { continue }  // a duplicate: keep the first
                slots[~found] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(kept)
                filter.insert(PresenceBits.position(hash))
                spans[kept] = span
                indices[kept] = indices[entry]
                kept += 1
            }
        }
        buildSink = touched  // keeps the reads from being optimised away
        spans.removeLast(total - kept)
        indices.removeLast(total - kept)
    }

    /// The index stored for exactly `bytes` (ASCII case folded when the table folds), or nil.
    func lookup(_ bytes: Span<UInt8>) -> UInt32? {
        lookup(bytes, from: 0, to: bytes.count)
    }

    /// The index stored for exactly `bytes[from..<to]`, or nil. `0 ≤ from ≤ to ≤ bytes.count`.
    func lookup(_ bytes: Span<UInt8>, from: Int, to: Int) -> UInt32? {
        guard from >= 0, from <= to, to <= bytes.count else { return nil }
        return lookup(key(bytes, from: from, to: to))
    }

    /// The index stored for exactly the bytes `key` stands for, or nil.
    func lookup(_ key: Key) -> UInt32? {
        guard !slots.isEmpty else { return nil }
        let hash = self.hash(key)
        guard filter.mayContain(PresenceBits.position(hash)) else { return nil }
        let found = probe(hash: hash, key)
        return found >= 0 ? indices[found] : nil
    }

    /// The index stored for the longest suffix of `bytes` that starts on a label
    /// boundary (the whole name, or just after a `.`), or nil. `a.b.evil.com` tries
    /// `com`, `evil.com`, `b.evil.com` and `a.b.evil.com` (in one pass, keeping the
    /// longest hit); `notevil.com` never matches `evil.com`. One trailing `.` is ignored.
    /// The probes do not depend on one another, so the processor overlaps their reads.
    func lookupDomainSuffix(_ bytes: Span<UInt8>) -> UInt32? {
        guard !slots.isEmpty else { return nil }
        var end = bytes.count
        if end > 0, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
        var best = -1
        var state = ByteStringTable.fnvOffset
        var position = end
        while position > 0 {
            position -= 1
            let byte = ByteStringTable.lowercased(bytes[position])
            // `state` now covers bytes[position + 1 ..< end]: a suffix when this byte is a dot.
            if byte == UInt8(ascii: "."), position + 1 < end {
                let hash = ByteStringTable.finish(state)
                if filter.mayContain(PresenceBits.position(hash)) {
                    let found = probe(hash: hash, key(bytes, from: position + 1, to: end))
                    if found >= 0 { best = found }
                }
            }
            state = (state ^ UInt64(byte)) &* ByteStringTable.fnvPrime
        }
        if end > 0 {
            let hash = ByteStringTable.finish(state)
            if filter.mayContain(PresenceBits.position(hash)) {
                let found = probe(hash: hash, key(bytes, from: 0, to: end))
                if found >= 0 { best = found }
            }
        }
        return best >= 0 ? indices[best] : nil
    }

    /// Every entry that is `bytes[0..<end]` or a suffix of it starting after a `.`,
    /// longest first. Allocates; for use after a hit.
    func domainSuffixMatches(_ bytes: Span<UInt8>, end: Int) -> [UInt32] {
        guard !slots.isEmpty, end <= bytes.count else { return [] }
        var result: [UInt32] = []
        var start = 0
        while start < end {
            if let found = lookup(bytes, from: start, to: end) { result.append(found) }
            while start < end, bytes[start] != UInt8(ascii: ".") { start += 1 }
            start += 1
        }
        return result
    }

    /// The bytes a lookup looks for: `bytes[from..<to]`, those before `foldedEnd` ASCII
    /// lower-cased, and a `/` between the two parts when `insertsSlash`. A case-folding
    /// table folds the whole range; a URL key (`URLKey.key`) folds the scheme and host
    /// and puts in the `/` of a missing path, without copying the URL.
    struct Key: ~Escapable {
        let bytes: Span<UInt8>
        let from: Int
        let foldedEnd: Int
        let to: Int
        let insertsSlash: Bool

        /// `from ≤ foldedEnd ≤ to ≤ bytes.count` (callers check it).
        @_lifetime(copy bytes)
        init(_ bytes: Span<UInt8>, from: Int, foldedEnd: Int, to: Int, insertsSlash: Bool = false) {
            self.bytes = bytes
            self.from = from
            self.foldedEnd = foldedEnd
            self.to = to
            self.insertsSlash = insertsSlash
        }

        /// The number of bytes the key stands for.
        var count: Int { to - from + (insertsSlash ? 1 : 0) }
    }

    /// The key for `bytes[from..<to]`, folded when the table folds.
    @inline(__always) @_lifetime(copy bytes)
    func key(_ bytes: Span<UInt8>, from: Int, to: Int) -> Key {
        Key(bytes, from: from, foldedEnd: foldsCase ? to : from, to: to)
    }

    /// Linear probing for `key`: the entry number when found, else the bitwise
    /// complement (negative) of the free slot where it would go.
    @inline(__always)
    private func probe(hash: UInt64, _ key: Key) -> Int {
        ByteStringTable.probe(slots, mask: mask, hash: hash) { equal(entry: $0, key) }
    }

    /// Linear probing of an open-addressing slot array (the tag in a used slot's high 32
    /// bits, its entry number in the low 32, `emptySlot` when free), shared by the string
    /// and digest tables: the first entry with `hash`'s tag that `matches` accepts, else
    /// the bitwise complement (negative) of the free slot where it would go. Always ends:
    /// the tables are at most half full.
    @inline(__always)
    static func probe(_ slots: [UInt64], mask: Int, hash: UInt64, matches: (Int) -> Bool) -> Int {
        let tag = hash & 0xFFFF_FFFF_0000_0000
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let candidate = slots[slot]
            if candidate == emptySlot { return ~slot }
            if candidate & 0xFFFF_FFFF_0000_0000 == tag {
                let entry = Int(truncatingIfNeeded: candidate & 0xFFFF_FFFF)
                if matches(entry) { return entry }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Whether entry `entry`'s arena bytes (lower case where the table folds) are the
    /// bytes `key` stands for.
    @inline(__always)
    private func equal(entry: Int, _ key: Key) -> Bool {
        let span = spans[entry]
        guard Int(truncatingIfNeeded: span & 0xFF_FFFF) == key.count else { return false }
        let offset = Int(truncatingIfNeeded: span >> 24)
        let stored = arena.span.extracting(offset..<(offset + key.count))
        let bytes = key.bytes
        var k = 0
        var position = key.from
        while position < key.foldedEnd {
            if stored[k] != ByteStringTable.lowercased(bytes[position]) { return false }
            k += 1
            position += 1
        }
        if key.insertsSlash {
            if stored[k] != UInt8(ascii: "/") { return false }
            k += 1
        }
        while position < key.to {
            if stored[k] != bytes[position] { return false }
            k += 1
            position += 1
        }
        return true
    }

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// The hash of the bytes `key` stands for, taken last byte first.
    func hash(_ key: Key) -> UInt64 {
        let bytes = key.bytes
        var state = ByteStringTable.fnvOffset
        var position = key.to
        while position > key.foldedEnd {
            position -= 1
            state = (state ^ UInt64(bytes[position])) &* ByteStringTable.fnvPrime
        }
        if key.insertsSlash { state = (state ^ UInt64(UInt8(ascii: "/"))) &* ByteStringTable.fnvPrime }
        while position > key.from {
            position -= 1
            state = (state ^ UInt64(ByteStringTable.lowercased(bytes[position]))) &* ByteStringTable.fnvPrime
        }
        return ByteStringTable.finish(state)
    }

    /// The bytes the table holds (arena and slots, by capacity).
    var memoryBytes: Int {
        arena.capacity + spans.capacity * 8 + indices.capacity * 4 + slots.capacity * 8 + filter.memoryBytes
    }

    /// Mixes the FNV state so that the low bits used for the slot depend on every byte
    /// (a murmur3-style finaliser; FNV alone leaves the low bits weak).
    @inline(__always)
    static func finish(_ state: UInt64) -> UInt64 {
        var h = state
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

// MARK: Compiled rule cache

extension ByteStringTable {
    func encode(into writer: inout CacheWriter) {
        writer.bool(foldsCase)
        writer.raw(arena)
        writer.raw(spans)
        writer.raw(indices)
        writer.raw(slots)
        writer.int(mask)
        filter.encode(into: &writer)
    }

    /// A table as `encode` wrote it, checked so that no lookup can read out of bounds
    /// or return a position of `limit` or more.
    init(decoding reader: inout CacheReader, limit: Int) throws(CacheFileError) {
        self.init([], foldsCase: try reader.bool())
        arena = try reader.raw(UInt8.self)
        spans = try reader.raw(UInt64.self)
        indices = try reader.raw(UInt32.self)
        slots = try reader.raw(UInt64.self)
        mask = try reader.int()
        filter = try PresenceBits(decoding: &reader)
        guard spans.count == indices.count else { throw CacheFileError("string table: spans and indices differ") }
        let arenaCount = arena.count
        let badSpan = spans.contains { Int(truncatingIfNeeded: $0 >> 24) + Int(truncatingIfNeeded: $0 & 0xFF_FFFF) > arenaCount }
        guard !badSpan else { throw CacheFileError("string table: a span beyond the arena") }
        try checkSlots(slots, mask: mask, entries: indices.count, empty: ByteStringTable.emptySlot, table: "string table")
        try checkPositions(indices, limit: limit, table: "string table")
    }
}
