/// Hex digests (MD5, SHA-1, SHA-256) as fixed-width binary keys: one open-addressing
/// table per digest length, keyed by the decoded bytes packed into 64-bit words (2, 3
/// and 4 words; SHA-1's last word holds 32 bits). The hex text is decoded eight
/// characters at a time (SWAR: validation and nibble packing in a handful of word
/// operations), compared as words, and never turned into a String. Each slot is 8
/// bytes: a 32-bit tag of the key's hash and the entry number, so a miss usually costs
/// one slot read. Allocates nothing on lookup.
struct DigestTable: Sendable {
    /// The decoded words of one digest (unused words zero).
    typealias Words = (UInt64, UInt64, UInt64, UInt64)

    private var md5 = FixedKeyTable(words: 2)
    private var sha1 = FixedKeyTable(words: 3)
    private var sha256 = FixedKeyTable(words: 4)

    /// The digests to store, decoded as they are gathered: per width, the keys' words
    /// back to back and the indices, the arrays the tables then keep (duplicates taken
    /// out in place). No allocation per entry.
    struct Builder {
        var md5 = Entries(words: 2)
        var sha1 = Entries(words: 3)
        var sha256 = Entries(words: 4)

        /// The digests of one width: entry `e`'s key is `keys[e * words ..< (e + 1) * words]`.
        struct Entries {
            let words: Int
            var keys: [UInt64] = []
            var indices: [UInt32] = []

            mutating func reserve(_ count: Int) {
                keys.reserveCapacity(count * words)
                indices.reserveCapacity(count)
            }

            mutating func append(_ key: Words, index: UInt32) {
                keys.append(key.0)
                keys.append(key.1)
                if words > 2 { keys.append(key.2) }
                if words > 3 { keys.append(key.3) }
                indices.append(index)
            }
        }

        init() {}

        /// Makes room for about this many digests of each width.
        mutating func reserve(md5: Int, sha1: Int, sha256: Int) {
            self.md5.reserve(md5)
            self.sha1.reserve(sha1)
            self.sha256.reserve(sha256)
        }

        /// Decodes the hex text `bytes` (32, 40 or 64 characters, either case; anything
        /// else is left out) and appends it for `index`.
        mutating func append(_ bytes: Span<UInt8>, index: UInt32) {
            guard let words = DigestTable.decode(bytes) else { return }
            switch bytes.count {
            case 32: md5.append(words, index: index)
            case 40: sha1.append(words, index: index)
            default: sha256.append(words, index: index)
            }
        }
    }

    /// Stores `entries` (hex text of 32, 40 or 64 characters; others are left out). The
    /// first entry of a digest wins.
    init(_ entries: [(bytes: [UInt8], index: UInt32)]) {
        var builder = Builder()
        for entry in entries { builder.append(entry.bytes.span, index: entry.index) }
        self.init(consume builder)
    }

    /// Stores the builder's digests. The first entry of a digest wins.
    init(_ builder: consuming Builder) {
        md5 = FixedKeyTable(DigestTable.take(&builder.md5))
        sha1 = FixedKeyTable(DigestTable.take(&builder.sha1))
        sha256 = FixedKeyTable(DigestTable.take(&builder.sha256))
    }

    /// The builder's entries of one width, left empty behind: the table is then their
    /// arrays' only owner and changes them in place.
    private static func take(_ entries: inout Builder.Entries) -> Builder.Entries {
        let taken = entries
        entries = Builder.Entries(words: taken.words)
        return taken
    }

    /// The index stored for the digest whose hex text (either case) is `bytes`, or nil
    /// (also for a length other than 32, 40 or 64, or a non-hex character).
    @inline(__always)
    func lookup(_ bytes: Span<UInt8>) -> UInt32? {
        switch bytes.count {
        case 32: guard md5.count > 0 else { return nil }
        case 40: guard sha1.count > 0 else { return nil }
        case 64: guard sha256.count > 0 else { return nil }
        default: return nil
        }
        guard let words = DigestTable.decode(bytes) else { return nil }
        switch bytes.count {
        case 32: return md5.lookup(words)
        case 40: return sha1.lookup(words)
        default: return sha256.lookup(words)
        }
    }

    var count: Int { md5.count + sha1.count + sha256.count }

    var memoryBytes: Int { md5.memoryBytes + sha1.memoryBytes + sha256.memoryBytes }

    /// Eight hex characters (the little-endian word `x`) as 32 bits (the decoded bytes in
    /// text order, first byte lowest), or nil when one is not a hex digit.
    @inline(__always)
    static func decode8(_ x: UInt64) -> UInt64? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        guard x & high == 0 else { return nil }
        // Per byte, the high bit of `x + (0x80 - lo)` says byte ≥ lo and that of
        // `x + (0x7F - hi)` says byte > hi (no carries: every byte is below 0x80).
        let isDigit = (x &+ ones &* (0x80 - 0x30)) & ~(x &+ ones &* (0x7F - 0x39))
        let folded = x | 0x2020_2020_2020_2020
        let isLetter = (folded &+ ones &* (0x80 - 0x61)) & ~(folded &+ ones &* (0x7F - 0x66))
        guard (isDigit | isLetter) & high == high else { return nil }
        // Nibble per byte: the low four bits, plus 9 for letters (bit 6 set).
        let nibbles = (x & 0x0F0F_0F0F_0F0F_0F0F) &+ ((x >> 6) & ones) &* 9
        // Pairs: the first character of each two-byte lane is the high nibble.
        let pairs = ((nibbles << 4) & 0x00F0_00F0_00F0_00F0) | ((nibbles >> 8) & 0x000F_000F_000F_000F)
        let quads = (pairs | pairs >> 8) & 0x0000_FFFF_0000_FFFF
        return (quads | quads >> 16) & 0xFFFF_FFFF
    }

    /// The words of a 32-, 40- or 64-character hex digest, or nil.
    @inline(__always)
    static func decode(_ bytes: Span<UInt8>) -> Words? {
        let chunks = bytes.count / 8
        guard bytes.count % 8 == 0, chunks == 4 || chunks == 5 || chunks == 8 else { return nil }
        var words: Words = (0, 0, 0, 0)
        var chunk = 0
        while chunk < chunks {
            guard let text = bytes.uint64LittleEndian(at: chunk * 8), let value = decode8(text) else { return nil }
            let shifted = chunk & 1 == 0 ? value : value << 32
            switch chunk >> 1 {
            case 0: words.0 |= shifted
            case 1: words.1 |= shifted
            case 2: words.2 |= shifted
            default: words.3 |= shifted
            }
            chunk += 1
        }
        return words
    }
}

/// Open addressing over keys of a fixed number of 64-bit words, at most half full.
struct FixedKeyTable: Sendable {
    let words: Int
    /// Entry `e`'s key is `keys[e * words ..< (e + 1) * words]`.
    private var keys: [UInt64] = []
    private var indices: [UInt32] = []
    /// Tag (high 32 bits of the hash) | entry number; `emptySlot` when free.
    private var slots: [UInt64] = []
    private var mask = 0
    /// Rejects most absent digests without reading `slots`.
    private var filter = PresenceBits(bits: 0)

    /// The slots are laid out as the string table's (`ByteStringTable.probe`).
    static let emptySlot = ByteStringTable.emptySlot
    /// Where building leaves the sum of the slots it read ahead.
    private var buildSink: UInt64 = 0

    var count: Int { indices.count }

    var memoryBytes: Int { keys.capacity * 8 + indices.capacity * 4 + slots.capacity * 8 + filter.memoryBytes }

    init(words: Int) { self.words = words }

    /// Keeps `entries`' arrays, the first entry of each key: the others are taken out in
    /// place (kept entries moved down over them), so that no array is held twice.
    init(_ entries: consuming DigestTable.Builder.Entries) {
        words = entries.words
        let total = entries.indices.count
        guard total > 0 else { return }
        var capacity = 8
        while capacity < total * 2 { capacity *= 2 }
        slots = Array(repeating: FixedKeyTable.emptySlot, count: capacity)
        mask = capacity - 1
        filter = PresenceBits(count: total)
        keys = entries.keys
        indices = entries.indices
        entries = DigestTable.Builder.Entries(words: words)
        // Home slots are read a batch ahead: those reads do not depend on one another,
        // so their cache misses overlap. Entries from `entry` on are not moved yet.
        var touched: UInt64 = 0
        var kept = 0
        for entry in 0..<total {
            if entry % 16 == 0 {
                for ahead in entry..<min(total, entry + 16) {
                    touched &+= slots[Int(truncatingIfNeeded: FixedKeyTable.hash(key(at: ahead))) & mask]
                }
            }
            let key = key(at: entry)
            let hash = FixedKeyTable.hash(key)
            let found = probe(key, hash)
            guard found < 0 else { continue }  // a duplicate: keep the first
            slots[~found] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(kept)
            filter.insert(PresenceBits.position(hash))
            for word in 0..<words { keys[kept * words + word] = keys[entry * words + word] }
            indices[kept] = indices[entry]
            kept += 1
        }
        buildSink = touched  // keeps the reads from being optimised away
        keys.removeLast((total - kept) * words)
        indices.removeLast(total - kept)
    }

    /// The key of entry `entry`, unused words zero.
    @inline(__always)
    private func key(at entry: Int) -> DigestTable.Words {
        let base = entry * words
        return (keys[base], keys[base + 1], words > 2 ? keys[base + 2] : 0, words > 3 ? keys[base + 3] : 0)
    }

    /// Digests are uniformly random, but rule files are not trusted to be: mix all words.
    @inline(__always)
    static func hash(_ key: DigestTable.Words) -> UInt64 {
        ByteStringTable.finish(
            key.0 &* 0x9E37_79B9_7F4A_7C15 ^ key.1 &* 0xC2B2_AE3D_27D4_EB4F ^ key.2 &* 0x1656_67B1_9E37_79F9 ^ key.3)
    }

    @inline(__always)
    func lookup(_ key: DigestTable.Words) -> UInt32? {
        guard !slots.isEmpty else { return nil }
        let hash = FixedKeyTable.hash(key)
        guard filter.mayContain(PresenceBits.position(hash)) else { return nil }
        let found = probe(key, hash)
        return found >= 0 ? indices[found] : nil
    }

    /// The entry number of `key`, or the complement (negative) of its free slot.
    @inline(__always)
    private func probe(_ key: DigestTable.Words, _ hash: UInt64) -> Int {
        ByteStringTable.probe(slots, mask: mask, hash: hash) { entry in
            let base = entry * words
            return keys[base] == key.0 && keys[base + 1] == key.1
                && (words < 3 || keys[base + 2] == key.2) && (words < 4 || keys[base + 3] == key.3)
        }
    }
}

// MARK: Compiled rule cache

extension DigestTable {
    func encode(into writer: inout CacheWriter) {
        md5.encode(into: &writer)
        sha1.encode(into: &writer)
        sha256.encode(into: &writer)
    }

    init(decoding reader: inout CacheReader, limit: Int) throws(CacheFileError) {
        self.init(Builder())
        md5 = try FixedKeyTable(words: 2, decoding: &reader, limit: limit)
        sha1 = try FixedKeyTable(words: 3, decoding: &reader, limit: limit)
        sha256 = try FixedKeyTable(words: 4, decoding: &reader, limit: limit)
    }
}

extension FixedKeyTable {
    func encode(into writer: inout CacheWriter) {
        writer.raw(keys)
        writer.raw(indices)
        writer.raw(slots)
        writer.int(mask)
        filter.encode(into: &writer)
    }

    init(words: Int, decoding reader: inout CacheReader, limit: Int) throws(CacheFileError) {
        self.init(words: words)
        keys = try reader.raw(UInt64.self)
        indices = try reader.raw(UInt32.self)
        slots = try reader.raw(UInt64.self)
        mask = try reader.int()
        filter = try PresenceBits(decoding: &reader)
        guard keys.count == indices.count * words else { throw CacheFileError("digest table: keys and indices differ") }
        try checkSlots(slots, mask: mask, entries: indices.count, empty: FixedKeyTable.emptySlot, table: "digest table")
        try checkPositions(indices, limit: limit, table: "digest table")
    }
}
