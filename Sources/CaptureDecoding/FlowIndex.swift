/// The flow table's index from a stream direction's key to its slot: open addressing
/// with linear probing over one array of keys, a stream's slot number beside each.
///
/// Swift's `Dictionary` hashed the key with SipHash on every TCP segment, about a
/// tenth of the decoder's time; this index mixes it with two multiplications. Like
/// SipHash's, the mix starts from a random seed per index, so that a capture crafted
/// to pile its flows onto one probe sequence cannot know where its keys land.
struct FlowIndex {
    private var keys: [StreamKey]
    /// The slot of the key at the same position, or -1 where the position is empty.
    private var slots: [Int]
    /// Positions minus one (the count of positions is a power of two).
    private var mask: Int
    private(set) var count = 0
    private let seed = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))

    init() {
        let positions = 1_024
        keys = Array(repeating: StreamKey.placeholder, count: positions)
        slots = Array(repeating: -1, count: positions)
        mask = positions - 1
    }

    /// The slot of `key`, or nil; setting nil removes the key.
    subscript(key: StreamKey) -> Int? {
        get {
            guard let position = position(of: key) else { return nil }
            return slots[position]
        }
        set {
            if let slot = newValue {
                insert(key, slot: slot)
            } else {
                remove(key)
            }
        }
    }

    private func position(of key: StreamKey) -> Int? {
        var position = home(of: key)
        while slots[position] >= 0 {
            if keys[position] == key { return position }
            position = (position + 1) & mask
        }
        return nil
    }

    private mutating func insert(_ key: StreamKey, slot: Int) {
        if let position = position(of: key) {
            slots[position] = slot
            return
        }
        if (count + 1) * 2 > slots.count { grow() }
        var position = home(of: key)
        while slots[position] >= 0 { position = (position + 1) & mask }
        keys[position] = key
        slots[position] = slot
        count += 1
    }

    /// Removes `key` by shifting back the entries after it that probed past its
    /// position, so that no probe sequence is broken and no tombstone is left.
    private mutating func remove(_ key: StreamKey) {
        guard var hole = position(of: key) else { return }
        slots[hole] = -1
        count -= 1
        var next = (hole + 1) & mask
        while slots[next] >= 0 {
            // The entry at `next` may fill the hole if the hole lies on its probe
            // sequence: between its home and `next`, going round.
            if (next &- home(of: keys[next])) & mask >= (next &- hole) & mask {
                keys[hole] = keys[next]
                slots[hole] = slots[next]
                slots[next] = -1
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldSlots = slots
        let positions = oldSlots.count * 2
        keys = Array(repeating: StreamKey.placeholder, count: positions)
        slots = Array(repeating: -1, count: positions)
        mask = positions - 1
        count = 0
        for position in oldSlots.indices where oldSlots[position] >= 0 {
            insert(oldKeys[position], slot: oldSlots[position])
        }
    }

    /// Where the probe sequence of `key` starts.
    private func home(of key: StreamKey) -> Int {
        let ports = UInt64(key.sourcePort) << 32 | UInt64(key.destinationPort) << 16 | (key.isIPv6 ? 1 : 0)
        let low = FlowIndex.fold(key.sourceLow ^ seed.0, key.destinationLow ^ seed.1)
        let mixed = FlowIndex.fold(low ^ ports ^ key.sourceHigh, key.destinationHigh ^ seed.0 ^ 0x9E37_79B9_7F4A_7C15)
        return Int(truncatingIfNeeded: mixed) & mask
    }

    /// The two halves of the 128-bit product, xored: every input bit reaches the low
    /// bits the position is taken from.
    private static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }
}
