import Observations

/// A key of a longest-prefix-match table: an address that can be cut to a prefix. Plain
/// data, so that the compiled rule cache stores a table's intervals as their bytes.
protocol NetworkKey: Comparable, Sendable, BitwiseCopyable {
    /// The number of bits in an address (32 or 128).
    static var bitWidth: Int { get }
    /// The address with all bits after the first `prefix` cleared; `prefix` is in
    /// `0...bitWidth`.
    func masked(prefix: Int) -> Self
    /// The last address of the /`prefix` network holding this address (host bits set).
    func lastAddress(prefix: Int) -> Self
    /// The next address, or nil after the last one.
    var successor: Self? { get }
    /// The top 16 bits, `0..<65536`: the first-level index.
    var top16: Int { get }
    /// The top 24 bits: the presence filter's index.
    var top24: Int { get }
    /// The all-zero address.
    static var zero: Self { get }
    /// Byte `k` of the address, counting from the least significant (`k` in
    /// `0..<bitWidth / 8`): the digits of the radix sort that orders networks.
    func byte(_ k: Int) -> Int
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
    func lastAddress(prefix: Int) -> UInt32 { self | ~IPv4Network.mask(UInt32.max, prefix: prefix) }
    var successor: UInt32? { self == UInt32.max ? nil : self + 1 }
    @inline(__always) var top16: Int { Int(truncatingIfNeeded: self >> 16) }
    @inline(__always) var top24: Int { Int(truncatingIfNeeded: self >> 8) }
    @inline(__always) func byte(_ k: Int) -> Int { Int(truncatingIfNeeded: self >> UInt32(8 * k)) & 0xFF }
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

    func lastAddress(prefix: Int) -> IPv6Key {
        let network = masked(prefix: prefix)
        let all = IPv6Key(high: UInt64.max, low: UInt64.max).masked(prefix: prefix)
        return IPv6Key(high: network.high | ~all.high, low: network.low | ~all.low)
    }

    var successor: IPv6Key? {
        if low != UInt64.max { return IPv6Key(high: high, low: low + 1) }
        if high != UInt64.max { return IPv6Key(high: high + 1, low: 0) }
        return nil
    }

    @inline(__always) var top16: Int { Int(truncatingIfNeeded: high >> 48) }
    @inline(__always) var top24: Int { Int(truncatingIfNeeded: high >> 40) }

    static var zero: IPv6Key { IPv6Key(high: 0, low: 0) }

    @inline(__always) func byte(_ k: Int) -> Int {
        Int(truncatingIfNeeded: (k < 8 ? low >> UInt64(8 * k) : high >> UInt64(8 * (k - 8)))) & 0xFF
    }
}

/// Longest-prefix match over a fixed set of networks, flattened.
///
/// Networks (CIDRs are nested or disjoint) are swept once, sorted by (start, prefix
/// length), into sorted disjoint intervals covering the whole address space: interval
/// `i` runs from `starts[i]` to just before `starts[i + 1]` and carries the indicator
/// index of the most specific network covering it (or `none`). Neighbouring intervals
/// with the same index are merged. A direct-indexed first level on the top 16 bits of
/// the address gives the interval holding the first address of each /16 block, so a
/// lookup is one first-level read plus a binary search over the few boundaries inside
/// one /16 (about 2 per network in the block): typically 3–5 compares in one or two
/// cache lines. Allocates nothing. Build: O(n log n); memory: about two boundaries
/// (key + UInt32) per network plus 256 KiB for the first level.
struct IPNetworkTable<Key: NetworkKey>: Sendable {
    /// Marks an interval that no network covers.
    static var none: UInt32 { UInt32.max }

    /// An interval: where it starts and its indicator index (or `none`), side by side
    /// so that the search's last read brings the answer with it.
    struct Interval: Sendable, BitwiseCopyable {
        var start: Key
        var value: UInt32
    }

    /// Intervals by start, strictly increasing; `intervals[0]` starts at the zero address.
    private(set) var intervals: [Interval] = []
    /// `first[t]` is the interval holding the first address whose top 16 bits are `t`;
    /// `first[65536]` is the last interval. 65,537 entries (empty for an empty table).
    private(set) var first: [UInt32] = []
    /// The number of distinct networks.
    private(set) var count = 0
    /// One bit per top-24-bit block (a /24 of IPv4, a /24 of IPv6): set when a network
    /// overlaps the block. 2 MiB; most misses stop here, in cache.
    private(set) var blocks = PresenceBits(bits: 0)
    /// The same per top-16-bit block (a /16 of IPv4): 8 KiB, read first, so that with a
    /// few networks a miss stays in the first-level cache instead of reaching into the
    /// 2 MiB above.
    private(set) var wideBlocks = PresenceBits(bits: 0)
    /// For each network inside another (or listed twice, as `192.0.2.1` and
    /// `192.0.2.1/32`), the indicator index of the next wider one: read only after a hit,
    /// to list every network containing an address (`allMatches`).
    private(set) var parents: [UInt32: UInt32] = [:]

    /// Builds the table from (network, prefix, indicator index) entries. Networks are
    /// masked here. Where one network appears several times, the smallest index wins
    /// (the first in rule-file order); where networks nest, the longest prefix wins.
    init(_ entries: [(key: Key, prefix: Int, index: UInt32)]) {
        self.init(networks: entries.map { Network(start: $0.key, prefix: $0.prefix, index: $0.index) })
    }

    /// A network to store: an address, a prefix length (clamped to `0...bitWidth`) and
    /// an indicator index, as plain integers (sorted in place while building).
    struct Network: Sendable {
        var start: Key
        var prefix: UInt8
        var index: UInt32

        init(start: Key, prefix: Int, index: UInt32) {
            self.start = start
            self.prefix = UInt8(truncatingIfNeeded: max(0, min(prefix, Key.bitWidth)))
            self.index = index
        }
    }

    /// Builds the table from `networks` (masked and sorted here, in place). Where one
    /// network appears several times, the smallest index wins; where networks nest, the
    /// longest prefix wins.
    init(networks: consuming [Network]) {
        guard !networks.isEmpty else { return }
        var networks = networks
        var inIndexOrder = true
        var masked = networks.mutableSpan
        for k in masked.indices {
            masked[k].start = masked[k].start.masked(prefix: Int(masked[k].prefix))
            if k > 0, masked[k].index < masked[k - 1].index { inIndexOrder = false }
        }
        if inIndexOrder {
            // As compiled from a rule set: a stable radix sort by (start, prefix) leaves
            // equal networks in index order.
            IPNetworkTable.radixSort(&networks)
        } else {
            networks.sort {
                $0.start != $1.start ? $0.start < $1.start
                    : $0.prefix != $1.prefix ? $0.prefix < $1.prefix : $0.index < $1.index
            }
        }
        // Built in place (not as starts and values zipped at the end): the table's
        // largest array is then never held twice.
        var intervals: [Interval] = []
        intervals.reserveCapacity(networks.count * 2 + 1)
        /// Starts an interval at `start` with `value`, replacing an interval that would be
        /// empty and merging with an equal neighbour.
        func emit(_ start: Key, _ value: UInt32) {
            if let last = intervals.last, last.start == start {
                intervals[intervals.count - 1].value = value
                if intervals.count >= 2, intervals[intervals.count - 2].value == value {
                    intervals.removeLast()
                }
            } else if intervals.last?.value != value {
                intervals.append(Interval(start: start, value: value))
            }
        }
        emit(Key.zero, IPNetworkTable.none)
        /// The enclosing networks of the current position, innermost last: (last address, index).
        var stack: [(last: Key, index: UInt32)] = []
        /// Closes every network on the stack that ends before `position` (all of them for nil).
        func close(before position: Key?) {
            while let top = stack.last, position.map({ top.last < $0 }) ?? true {
                stack.removeLast()
                guard let next = top.last.successor else { continue }  // ends at the last address
                // Drop the outer networks that end at the same place.
                emit(next, stack.last.map { $0.last < next ? IPNetworkTable.none : $0.index } ?? IPNetworkTable.none)
            }
        }
        var previous: (start: Key, prefix: UInt8, index: UInt32)? = nil
        var parents: [UInt32: UInt32] = [:]
        for network in networks {
            let prefix = Int(network.prefix)
            if let last = previous, last.start == network.start, last.prefix == network.prefix {
                // The same network again: chain it right after the previous listing
                // (the first is what the intervals report), before the wider parent.
                if let outer = parents[last.index] { parents[network.index] = outer }
                parents[last.index] = network.index
                previous = (last.start, last.prefix, network.index)
                continue
            }
            previous = (network.start, network.prefix, network.index)
            close(before: network.start)
            if let outer = stack.last { parents[network.index] = outer.index }
            if count == 0 {
                blocks = PresenceBits(bits: 1 << 24)
                wideBlocks = PresenceBits(bits: 1 << 16)
            }
            let lastAddress = network.start.lastAddress(prefix: prefix)
            blocks.insertRange(network.start.top24, lastAddress.top24)
            wideBlocks.insertRange(network.start.top16, lastAddress.top16)
            count += 1
            stack.append((lastAddress, network.index))
            emit(network.start, network.index)
        }
        close(before: nil)
        // First level: for each /16 block, the last interval starting at or before its
        // first address.
        var first = [UInt32](repeating: 0, count: 65_537)
        var interval = 0
        for block in 0..<65_536 {
            while interval + 1 < intervals.count, intervals[interval + 1].start.top16 <= block,
                  intervals[interval + 1].start.masked(prefix: 16) == intervals[interval + 1].start
                    || intervals[interval + 1].start.top16 < block
            {
                interval += 1
            }
            first[block] = UInt32(interval)
        }
        first[65_536] = UInt32(intervals.count - 1)
        self.intervals = intervals
        self.first = first
        self.parents = parents
    }

    /// Sorts `networks` by (start, prefix), stably: least significant digit first, one
    /// counting pass per byte (the prefix length, then each byte of the address), each
    /// skipped when every network has the same digit there. O(n) per pass, no compares.
    static func radixSort(_ networks: inout [Network]) {
        let count = networks.count
        guard count > 1 else { return }
        var other = networks
        var counts = [Int](repeating: 0, count: 257)
        func pass(_ digit: (Network) -> Int) {
            let moved = distribute(networks.span, into: &other, counts: &counts, digit)
            if moved { swap(&networks, &other) }
        }
        pass { Int($0.prefix) }
        for k in 0..<Key.bitWidth / 8 { pass { $0.start.byte(k) } }
    }

    /// One counting pass of the radix sort: `source` stably into `target` by `digit`;
    /// false (and nothing moved) when every network has the same digit.
    private static func distribute(
        _ source: Span<Network>, into target: inout [Network], counts: inout [Int], _ digit: (Network) -> Int
    ) -> Bool {
        var tally = counts.mutableSpan
        for k in tally.indices { tally[k] = 0 }
        for k in source.indices { tally[digit(source[k]) + 1] += 1 }
        guard tally[digit(source[0]) + 1] != source.count else { return false }  // one digit: nothing moves
        for k in 1..<257 { tally[k] += tally[k - 1] }
        var moved = target.mutableSpan
        for k in source.indices {
            let d = digit(source[k])
            moved[tally[d]] = source[k]
            tally[d] += 1
        }
        return true
    }

    /// The indicator index of the most specific network containing `address`, or nil.
    /// The search is branch-free (conditional moves), so the processor does not stall on
    /// mispredictions and can overlap the memory reads of consecutive lookups.
    @inline(__always)
    func lookup(_ address: Key) -> UInt32? {
        guard first.count == 65_537, wideBlocks.mayContain(address.top16), blocks.mayContain(address.top24)
        else { return nil }
        let block = address.top16
        // The answer is the last interval in [low, high] starting at or before the
        // address; intervals[low].start ≤ address always holds.
        let low = Int(first[block])
        let high = Int(first[block + 1])
        var base = low
        var length = high - low + 1
        while length > 1 {
            let half = length >> 1
            base = intervals[base + half].start <= address ? base + half : base
            length -= half
        }
        let value = intervals[base].value
        return value == IPNetworkTable.none ? nil : value
    }

    /// Every network containing `address`, most specific first (then each wider one in
    /// turn). Allocates; for use after a hit.
    func allMatches(_ address: Key) -> [UInt32] {
        guard var index = lookup(address) else { return [] }
        var result = [index]
        while let outer = parents[index], result.count <= Key.bitWidth * 4 + 4 {
            result.append(outer)
            index = outer
        }
        return result
    }

    /// The number of intervals (for tests and statistics).
    var intervalCount: Int { intervals.count }

    /// The bytes the table holds (intervals and the first level, by capacity).
    var memoryBytes: Int {
        intervals.capacity * MemoryLayout<Interval>.stride + first.capacity * MemoryLayout<UInt32>.stride
            + blocks.memoryBytes + wideBlocks.memoryBytes + parents.capacity * 9
    }
}

// MARK: Compiled rule cache

extension IPNetworkTable {
    func encode(into writer: inout CacheWriter) {
        writer.raw(intervals)
        writer.raw(first)
        writer.int(count)
        blocks.encode(into: &writer)
        wideBlocks.encode(into: &writer)
        writer.sequence(parents) {
            $0.uint64(UInt64($1.key))
            $0.uint64(UInt64($1.value))
        }
    }

    /// A table as `encode` wrote it, checked so that no lookup can read out of bounds
    /// or return a position of `limit` or more.
    init(decoding reader: inout CacheReader, limit: Int) throws(CacheFileError) {
        self.init(networks: [])
        intervals = try reader.raw(Interval.self)
        first = try reader.raw(UInt32.self)
        count = try reader.int()
        blocks = try PresenceBits(decoding: &reader)
        wideBlocks = try PresenceBits(decoding: &reader)
        let parentCount = try reader.count(minimumSize: 16)
        parents.reserveCapacity(parentCount)
        for _ in 0..<parentCount {
            let child = try reader.uint64()
            let parent = try reader.uint64()
            guard child < UInt64(limit), parent < UInt64(limit) else { throw CacheFileError("network table: bad parent") }
            parents[UInt32(child)] = UInt32(parent)
        }
        guard first.isEmpty || first.count == 65_537 else { throw CacheFileError("network table: bad first level") }
        let intervalCount = intervals.count
        guard !first.contains(where: { Int($0) >= intervalCount }) else {
            throw CacheFileError("network table: first level beyond the intervals")
        }
        let badValue = intervals.contains { $0.value != IPNetworkTable.none && Int($0.value) >= limit }
        guard !badValue else { throw CacheFileError("network table: a position beyond \(limit)") }
    }
}
