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
    }

    /// Longest silence, in nanoseconds of packet time, inside one conversation.
    let idle: Int64
    let maximumOpen: Int
    private var open: [Key: Folded] = [:]
    /// The latest time seen, for closing idle conversations.
    private var now = Timestamp(nanoseconds: .min)
    private var hitsSinceSweep = 0

    init(idleSeconds: Int64 = 120, maximumOpen: Int = 65_536) {
        idle = idleSeconds * 1_000_000_000
        self.maximumOpen = maximumOpen
    }

    /// Adds one hit; returns the conversations this closes (the key's own one when it
    /// had gone idle, and others found idle by the periodic sweep).
    mutating func add(_ key: Key, time: Timestamp, bytes: UInt64, value: () -> Value) -> [Folded] {
        if time > now { now = time }
        var closed: [Folded] = []
        if var current = open[key] {
            let (gap, overflow) = time.nanoseconds.subtractingReportingOverflow(current.last.nanoseconds)
            if !overflow, gap <= idle {
                current.packets += 1
                current.bytes &+= bytes
                if time > current.last { current.last = time }
                open[key] = current
                return closed
            }
            closed.append(current)
        }
        open[key] = Folded(value: value(), first: time, last: time, packets: 1, bytes: bytes)
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
        return open.values.sorted { $0.first < $1.first }
    }

    /// Closes the conversations idle for longer than `idle` at the latest time seen,
    /// and, above `maximumOpen`, the ones idle the longest.
    private mutating func closeIdle() -> [Folded] {
        var closed: [Folded] = []
        for (key, conversation) in open where now.nanoseconds &- conversation.last.nanoseconds > idle {
            closed.append(conversation)
            open[key] = nil
        }
        if open.count > maximumOpen {
            let oldest = open.sorted { $0.value.last < $1.value.last }.prefix(open.count - maximumOpen / 2)
            for (key, conversation) in oldest {
                closed.append(conversation)
                open[key] = nil
            }
        }
        return closed.sorted { $0.first < $1.first }
    }
}
