import Observations

/// Folds the repeated hits of one conversation into one record: a conversation is the
/// hits with the same key (for IP sightings: the indicator, the remote address and the
/// local host, either direction) no more than `idle` apart in packet time. A
/// million-packet download from a listed address is one sighting, carrying the first
/// packet's locator, the packet and byte counts, and the last time seen.
///
/// Memory is bounded by the conversations open at once: those idle for longer than
/// `idle` are closed as time moves on, and at most `maximumOpen` are kept (the one
/// idle the longest is closed first).
struct Conversations<Key: Hashable, Value> {
    struct Folded {
        var value: Value
        var first: Timestamp
        var last: Timestamp
        var packets: UInt64
        var bytes: UInt64
        /// The order in which the conversations were opened: closed conversations that
        /// began at the same time are handed back in it, not in the dictionary's order
        /// (which changes from run to run), so that they are stored the same way each time.
        var opened: UInt64
    }

    /// Longest silence, in nanoseconds of packet time, inside one conversation.
    let idle: Int64
    let maximumOpen: Int
    private var open: [Key: Folded] = [:]
    /// The latest time seen, for closing idle conversations.
    private var now = Timestamp(nanoseconds: .min)
    private var hitsSinceSweep = 0
    private var openedCount: UInt64 = 0

    init(idleSeconds: Int64 = 120, maximumOpen: Int = 65_536) {
        idle = idleSeconds * 1_000_000_000
        self.maximumOpen = maximumOpen
    }

    /// Adds one hit; returns the conversations this closes (the key's own one when it
    /// had gone idle, and others found idle by the periodic sweep).
    mutating func add(_ key: Key, time: Timestamp, bytes: UInt64, value: () -> Value) -> [Folded] {
        if time > now { now = time }
        var closed: [Folded] = []
        if let index = open.index(forKey: key) {
            // Updated in place: a copy of the folded value per hit costs more than the
            // rest of the hit when every packet matches.
            let (gap, overflow) = time.nanoseconds.subtractingReportingOverflow(open.values[index].last.nanoseconds)
            if !overflow, gap <= idle {
                open.values[index].packets += 1
                open.values[index].bytes &+= bytes
                if time > open.values[index].last { open.values[index].last = time }
                return closed
            }
            closed.append(open.values[index])
        }
        open[key] = Folded(value: value(), first: time, last: time, packets: 1, bytes: bytes, opened: openedCount)
        openedCount += 1
        hitsSinceSweep += 1
        if hitsSinceSweep >= 4096 || open.count > maximumOpen {
            hitsSinceSweep = 0
            closed += closeIdle()
        }
        return closed
    }

    /// Closes every conversation; the caller stores them.
    mutating func closeAll() -> [Folded] {
        defer { open.removeAll() }
        return open.values.sorted(by: Self.openedFirst)
    }

    /// Closes the conversations idle for longer than `idle` at the latest time seen,
    /// and, above `maximumOpen`, the ones idle the longest.
    private mutating func closeIdle() -> [Folded] {
        var idleKeys: [Key] = []
        for index in open.indices where now.nanoseconds &- open.values[index].last.nanoseconds > idle {
            idleKeys.append(open.keys[index])
        }
        if open.count - idleKeys.count > maximumOpen {
            // Sorted by last time seen (keys only: the values stay where they are).
            var byLast = open.indices.map { (last: open.values[$0].last, key: open.keys[$0]) }
            byLast.sort { $0.last < $1.last }
            idleKeys = byLast.prefix(open.count - maximumOpen / 2).map(\.key)
        }
        var closed = idleKeys.compactMap { open.removeValue(forKey: $0) }
        closed.sort(by: Self.openedFirst)
        return closed
    }

    /// Earlier first time first; for the same first time, the one opened first.
    private static func openedFirst(_ a: Folded, _ b: Folded) -> Bool { (a.first, a.opened) < (b.first, b.opened) }
}
