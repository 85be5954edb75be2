import Observations

/// A key of a longest-prefix-match table: an address that can be cut to a prefix.
protocol NetworkKey: Comparable, Sendable {
    /// The number of bits in an address (32 or 128).
    static var bitWidth: Int { get }
    /// The address with all bits after the first `prefix` cleared; `prefix` is in
    /// `0...bitWidth`.
    func masked(prefix: Int) -> Self
}

/// IPv4 networks as host-order 32-bit integers.
enum IPv4Network {
    /// `value` with the host bits of a /`prefix` network cleared; `prefix` in 0...32.
    static func mask(_ value: UInt32, prefix: Int) -> UInt32 {
        // Swift's `<<` is a "smart shift": shifting by 32 yields 0 rather than trapping.
        prefix <= 0 ? 0 : value & (UInt32.max << UInt32(32 - min(prefix, 32)))
    }
}

// `bitWidth` (32) comes from FixedWidthInteger.
extension UInt32: NetworkKey {
    func masked(prefix: Int) -> UInt32 { IPv4Network.mask(self, prefix: prefix) }
}

/// IPv6 networks as two host-order 64-bit halves.
enum IPv6Network {
    /// `address` with the host bits of a /`prefix` network cleared; `prefix` in 0...128.
    static func mask(_ address: IPv6Address, prefix: Int) -> IPv6Address {
        let key = IPv6Key(high: address.high, low: address.low).masked(prefix: prefix)
        return IPv6Address(high: key.high, low: key.low)
    }
}

/// An IPv6 address as a comparable key (first half first).
struct IPv6Key: NetworkKey {
    var high: UInt64
    var low: UInt64

    static var bitWidth: Int { 128 }

    static func < (lhs: IPv6Key, rhs: IPv6Key) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }

    func masked(prefix: Int) -> IPv6Key {
        if prefix <= 0 { return IPv6Key(high: 0, low: 0) }
        if prefix <= 64 { return IPv6Key(high: high & (UInt64.max << UInt64(64 - prefix)), low: 0) }
        if prefix >= 128 { return self }
        return IPv6Key(high: high, low: low & (UInt64.max << UInt64(128 - prefix)))
    }
}

/// Longest-prefix match over a fixed set of networks.
///
/// For each prefix length present there is one sorted run of masked networks; a lookup
/// tries the runs from the longest prefix to the shortest, masking the address and
/// binary-searching the run, and stops at the first hit. Cost: O(p · log n) for p
/// distinct prefix lengths; plain-address lists (the common case) have p = 1. Keys are
/// stored flat in one array so the search walks contiguous memory. Allocates nothing.
struct IPNetworkTable<Key: NetworkKey>: Sendable {
    /// A run of `keys[start..<end]`, all masked to `prefix` bits.
    struct Run: Sendable {
        var prefix: Int
        var start: Int
        var end: Int
    }

    /// Runs in descending prefix order.
    private(set) var runs: [Run] = []
    /// Masked networks, sorted within each run.
    private(set) var keys: [Key] = []
    /// `values[i]` is the indicator index for `keys[i]`.
    private(set) var values: [UInt32] = []

    /// Builds the table from (network, prefix, indicator index) entries. Networks are
    /// masked here. Where one network appears several times, the smallest index wins
    /// (the first in rule-file order).
    init(_ entries: [(key: Key, prefix: Int, index: UInt32)]) {
        var byPrefix: [Int: [(key: Key, index: UInt32)]] = [:]
        for entry in entries {
            let prefix = max(0, min(entry.prefix, Key.bitWidth))
            byPrefix[prefix, default: []].append((entry.key.masked(prefix: prefix), entry.index))
        }
        for prefix in byPrefix.keys.sorted(by: >) {
            let sorted = (byPrefix[prefix] ?? []).sorted { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
            let start = keys.count
            for entry in sorted where keys.count == start || keys[keys.count - 1] != entry.key {
                keys.append(entry.key)
                values.append(entry.index)
            }
            runs.append(Run(prefix: prefix, start: start, end: keys.count))
        }
    }

    /// The indicator index of the most specific network containing `address`, or nil.
    func lookup(_ address: Key) -> UInt32? {
        for run in runs {
            let wanted = address.masked(prefix: run.prefix)
            // Lower-bound binary search in keys[run.start..<run.end].
            var low = run.start
            var high = run.end
            while low < high {
                let middle = low + (high - low) / 2
                if keys[middle] < wanted { low = middle + 1 } else { high = middle }
            }
            if low < run.end, keys[low] == wanted { return values[low] }
        }
        return nil
    }

    /// The number of distinct networks.
    var count: Int { keys.count }

    /// The bytes the table holds (keys, values and runs, by capacity).
    var memoryBytes: Int {
        keys.capacity * MemoryLayout<Key>.stride + values.capacity * MemoryLayout<UInt32>.stride
            + runs.capacity * MemoryLayout<Run>.stride
    }
}
