/// A bit array that says "certainly absent" for most keys that are not in a table, read
/// before the table itself: at about 16 bits per key it stays in the processor's
/// second-level cache where the table does not, so the common case of a lookup (a
/// miss) costs one cached bit test instead of a read from main memory.
struct PresenceBits: Sendable {
    private var words: [UInt64] = []
    /// The number of bits minus one (a power of two minus one), or -1 when empty.
    private var mask = -1

    /// A filter sized for `count` keys (16 bits per key, at least 512, at most 2^27).
    init(count: Int) {
        guard count > 0 else { return }
        var bits = 512
        while bits < count * 16, bits < 1 << 27 { bits <<= 1 }
        words = Array(repeating: 0, count: bits / 64)
        mask = bits - 1
    }

    /// A filter of exactly `bits` bits (a power of two, at least 64).
    init(bits: Int) {
        words = Array(repeating: 0, count: bits / 64)
        mask = bits - 1
    }

    mutating func insert(_ position: Int) {
        guard mask >= 0 else { return }
        let bit = position & mask
        words[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    /// Sets every bit from `first` through `last` (positions already within the size).
    mutating func insertRange(_ first: Int, _ last: Int) {
        var bit = first
        while bit <= last {
            if bit & 63 == 0, last - bit >= 63 {
                words[bit >> 6] = UInt64.max
                bit += 64
            } else {
                words[bit >> 6] |= 1 << UInt64(bit & 63)
                bit += 1
            }
        }
    }

    /// False when no key inserted has this position (true for an empty filter: no filtering).
    @inline(__always)
    func mayContain(_ position: Int) -> Bool {
        guard mask >= 0 else { return true }
        let bit = position & mask
        // A checked read: an unchecked one measured no faster (`cairn-bench lookups`).
        return (words[bit >> 6] >> UInt64(bit & 63)) & 1 != 0
    }

    var memoryBytes: Int { words.capacity * 8 }

    /// The filter position of a table hash (bits the slot index does not use first).
    @inline(__always)
    static func position(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 20) }
}

// MARK: Compiled rule cache

extension PresenceBits {
    func encode(into writer: inout CacheWriter) {
        writer.int(mask)
        writer.raw(words)
    }

    init(decoding reader: inout CacheReader) throws(CacheFileError) {
        let mask = try reader.int()
        let words = try reader.raw(UInt64.self)
        if mask == -1 {
            guard words.isEmpty else { throw CacheFileError("presence bits: words without a size") }
        } else {
            guard mask >= 63, mask < Int.max / 2, (mask + 1) & mask == 0, words.count == (mask + 1) / 64 else {
                throw CacheFileError("presence bits: bad size")
            }
        }
        self.init(bits: 0)
        self.words = words
        self.mask = mask
    }
}
