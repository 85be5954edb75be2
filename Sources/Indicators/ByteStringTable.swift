/// An immutable set of short ASCII strings (domains, hex digests, URLs) mapped to
/// indicator indices, looked up with borrowed bytes without allocating; ASCII case is
/// folded unless the table is built with `foldsCase: false` (URLs, whose paths are
/// compared byte for byte: callers lower-case the scheme and host themselves).
///
/// The canonical (lower-case) strings live back to back in one byte arena; an
/// open-addressing table with linear probing holds (hash, offset, length, index) per
/// string, at most half full. The hash is FNV-1a 64 taken over the bytes *from last to
/// first*, so one right-to-left pass over a domain yields the hash of every suffix:
/// that is what makes the label-boundary suffix search linear in the name's length.
struct ByteStringTable: Sendable {
    struct Slot: Sendable {
        var hash: UInt64
        var offset: Int
        var length: Int32
        /// Indicator index; `Slot.emptyIndex` marks a free slot.
        var index: UInt32

        static let emptyIndex = UInt32.max
        static let empty = Slot(hash: 0, offset: 0, length: 0, index: emptyIndex)
    }

    private var arena: [UInt8] = []
    private var slots: [Slot] = []
    /// `slots.count - 1`; slots.count is a power of two (or zero for an empty table).
    private var mask = 0
    /// The number of distinct strings stored.
    private(set) var count = 0
    /// Whether lookups fold ASCII upper case to lower case.
    private(set) var foldsCase = true

    /// Stores `entries` (already canonical: lower case where `foldsCase`). Where a
    /// string appears more than once, the first entry wins, so pass entries in
    /// indicator order.
    init(_ entries: [(bytes: [UInt8], index: UInt32)], foldsCase: Bool = true) {
        self.foldsCase = foldsCase
        guard !entries.isEmpty else { return }
        var capacity = 8
        while capacity < entries.count * 2 { capacity *= 2 }
        slots = Array(repeating: .empty, count: capacity)
        mask = capacity - 1
        arena.reserveCapacity(entries.reduce(0) { $0 + $1.bytes.count })
        for entry in entries {
            let hash = entry.bytes.withUnsafeBytes { self.hash($0, from: 0, to: $0.count) }
            let found = entry.bytes.withUnsafeBytes { probe(hash: hash, $0, from: 0, to: $0.count) }
            guard case .free(let slot) = found else { continue }  // a duplicate: keep the first
            slots[slot] = Slot(hash: hash, offset: arena.count, length: Int32(entry.bytes.count), index: entry.index)
            arena.append(contentsOf: entry.bytes)
            count += 1
        }
    }

    /// The index stored for exactly `bytes` (ASCII case folded when the table folds), or nil.
    func lookup(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        lookup(bytes, from: 0, to: bytes.count)
    }

    /// The index stored for exactly `bytes[from..<to]`, or nil. `0 ≤ from ≤ to ≤ bytes.count`.
    func lookup(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> UInt32? {
        guard !slots.isEmpty, from >= 0, from <= to, to <= bytes.count else { return nil }
        let hash = self.hash(bytes, from: from, to: to)
        if case .found(let index) = probe(hash: hash, bytes, from: from, to: to) { return index }
        return nil
    }

    /// The index stored for the longest suffix of `bytes` that starts on a label
    /// boundary (the whole name, or just after a `.`), or nil. `a.b.evil.com` tries
    /// `com`, `evil.com`, `b.evil.com` and `a.b.evil.com` (in one pass, keeping the
    /// longest hit); `notevil.com` never matches `evil.com`. One trailing `.` is ignored.
    func lookupDomainSuffix(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard !slots.isEmpty else { return nil }
        var end = bytes.count
        if end > 0, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
        var best: UInt32? = nil
        var state = ByteStringTable.fnvOffset
        var position = end
        while position > 0 {
            position -= 1
            let byte = fold(bytes[position])
            // `state` now covers bytes[position + 1 ..< end]: a suffix when this byte is a dot.
            if byte == UInt8(ascii: "."), position + 1 < end,
               case .found(let index) = probe(
                   hash: ByteStringTable.finish(state), bytes, from: position + 1, to: end)
            {
                best = index
            }
            state = (state ^ UInt64(byte)) &* ByteStringTable.fnvPrime
        }
        if end > 0, case .found(let index) = probe(hash: ByteStringTable.finish(state), bytes, from: 0, to: end) {
            best = index
        }
        return best
    }

    private enum Probe {
        case found(UInt32)
        case free(Int)
    }

    /// Linear probing for `bytes[from..<to]`. Always ends: the table is at most half full.
    private func probe(hash: UInt64, _ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Probe {
        let length = to - from
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let candidate = slots[slot]
            if candidate.index == Slot.emptyIndex { return .free(slot) }
            if candidate.hash == hash, Int(candidate.length) == length,
               equalFolded(arenaOffset: candidate.offset, bytes, from: from, length: length)
            {
                return .found(candidate.index)
            }
            slot = (slot + 1) & mask
        }
    }

    /// Compares arena bytes (lower case) with `bytes[from..<from + length]`, folding
    /// ASCII upper case in `bytes`. Callers pass ranges inside `bytes`: `from` and
    /// `from + length` come from positions already checked against `bytes.count`, which
    /// is what makes the unchecked raw-buffer reads here safe.
    private func equalFolded(arenaOffset: Int, _ bytes: UnsafeRawBufferPointer, from: Int, length: Int) -> Bool {
        var k = 0
        while k < length {
            if arena[arenaOffset + k] != fold(bytes[from + k]) { return false }
            k += 1
        }
        return true
    }

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// The hash of `bytes[from..<to]`, ASCII case folded when the table folds, taken
    /// last byte first.
    func hash(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> UInt64 {
        var state = ByteStringTable.fnvOffset
        var position = to
        while position > from {
            position -= 1
            state = (state ^ UInt64(fold(bytes[position]))) &* ByteStringTable.fnvPrime
        }
        return ByteStringTable.finish(state)
    }

    @inline(__always)
    func fold(_ byte: UInt8) -> UInt8 { foldsCase ? ByteStringTable.lowercased(byte) : byte }

    /// The bytes the table holds (arena and slots, by capacity).
    var memoryBytes: Int {
        arena.capacity + slots.capacity * MemoryLayout<Slot>.stride
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
