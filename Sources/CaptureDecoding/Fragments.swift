import ByteParsing
import Observations

/// Which datagram a fragment belongs to (RFC 791 §3.2, RFC 8200 §4.5): addresses,
/// identification and (IPv4) protocol.
struct FragmentKey: Hashable {
    var sourceHigh: UInt64
    var sourceLow: UInt64
    var destinationHigh: UInt64
    var destinationLow: UInt64
    var identification: UInt32
    var proto: UInt8
    var isIPv6: Bool
}

/// A datagram being put together.
struct PartialDatagram {
    /// The payload so far (zeros where nothing came yet).
    var bytes: [UInt8] = []
    /// Received byte ranges, sorted and merged.
    var ranges: [Range<Int>] = []
    /// The payload's length, once the last fragment has come.
    var total: Int? = nil
    /// Packet time of the first fragment.
    var firstTime: Int64
    /// Fragments received, to bound the work a flood of tiny fragments causes.
    var fragments = 0
    /// The protocol of the payload (IPv6: the header after the fragment header).
    var proto: UInt8 = 0
    /// Where the first fragment (offset 0) was seen, once it has come.
    var firstLocator: Locator? = nil
    var firstFragmentTime = Timestamp(nanoseconds: 0)
    /// The IP depth (1 = outermost header) the datagram was found at.
    var depth = 1
}

/// IP datagrams being reassembled from their fragments, bounded in count, bytes and
/// time (`DecodingOptions`).
final class FragmentTable {
    let options: DecodingOptions
    var datagrams: [FragmentKey: PartialDatagram] = [:]
    var buffered = 0
    var lastSweep = Int64.min
    init(options: DecodingOptions) { self.options = options }
}

extension PacketDecoder {
    /// The largest payload a fragmented datagram can carry: the 16-bit total length
    /// (IPv4) or payload length (IPv6) less the smallest header.
    static let maxDatagramPayload = 65_535
    /// Fragments of one datagram: a 64 KiB datagram in 1 280-byte fragments takes 52;
    /// more is a flood of tiny fragments (`ip.fragments_too_many`).
    static let maxFragmentsPerDatagram = 128

    /// Adds a fragment (`data` at byte `offset` of the payload; `more` when more
    /// follow) and returns the whole payload when this fragment completes it. The
    /// first data wins where fragments overlap (`ip.fragment_overlap`; differing bytes
    /// also `ip.fragment_conflict`).
    mutating func reassembleFragment(
        _ key: FragmentKey, proto: UInt8, offset: Int, more: Bool, data: Span<UInt8>,
        context: PacketContext, observe: (Observation) -> Void
    ) -> [UInt8]? {
        let time = context.time, depth = context.ipHeaders
        let now = time.nanoseconds
        let timeout = fragments.options.fragmentTimeoutSeconds &* 1_000_000_000
        if fragments.lastSweep == Int64.min { fragments.lastSweep = now }
        if now &- fragments.lastSweep >= 1_000_000_000 || now < fragments.lastSweep {
            fragments.lastSweep = now
            expireFragments(olderThan: now &- timeout, observe: observe)
        }
        let end = offset + data.count
        guard end <= PacketDecoder.maxDatagramPayload else {
            anomalies.record(.ipFragmentTooLarge)
            dropDatagram(key, observe: observe)
            return nil
        }
        var datagram: PartialDatagram
        if let existing = fragments.datagrams.removeValue(forKey: key) {
            datagram = existing
        } else {
            if fragments.datagrams.count >= max(fragments.options.maxFragmentedDatagrams, 1) { evictOldestDatagram(observe: observe) }
            datagram = PartialDatagram(firstTime: now)
            datagram.proto = proto
            datagram.depth = depth
        }
        datagram.fragments += 1
        if offset == 0, datagram.firstLocator == nil {
            datagram.firstLocator = context.locator
            datagram.firstFragmentTime = time
        }
        if !more {
            if let total = datagram.total, total != end {
                anomalies.record(.ipFragmentConflict)
            } else if datagram.total == nil {
                datagram.total = end
            }
        }
        let growth = max(0, end - datagram.bytes.count)
        guard datagram.fragments <= PacketDecoder.maxFragmentsPerDatagram,
              datagram.total.map({ end <= $0 && datagram.bytes.count <= $0 }) ?? true
        else {
            anomalies.record(datagram.fragments > PacketDecoder.maxFragmentsPerDatagram
                             ? .ipFragmentsTooMany : .ipFragmentConflict)
            fragments.buffered -= datagram.bytes.count
            return nil
        }
        guard fragments.buffered + growth <= fragments.options.maxFragmentBytesTotal else {
            anomalies.record(.ipFragmentsMemoryCap)
            fragments.buffered -= datagram.bytes.count
            return nil
        }
        if growth > 0 {
            datagram.bytes.append(contentsOf: repeatElement(0, count: growth))
            fragments.buffered += growth
        }
        // Copy the parts no earlier fragment covered; compare the parts one did.
        var overlap = false, conflict = false
        var position = offset
        for range in datagram.ranges where range.upperBound > offset && range.lowerBound < end {
            if range.lowerBound > position {
                PacketDecoder.copy(data, from: offset, range: position..<range.lowerBound, into: &datagram.bytes)
            }
            overlap = true
            for index in max(range.lowerBound, offset)..<min(range.upperBound, end)
            where datagram.bytes[index] != data[index - offset] {
                conflict = true
                break
            }
            position = max(position, range.upperBound)
        }
        if position < end { PacketDecoder.copy(data, from: offset, range: position..<end, into: &datagram.bytes) }
        if overlap { anomalies.record(.ipFragmentOverlap) }
        if conflict { anomalies.record(.ipFragmentConflict) }
        PacketDecoder.insert(offset..<end, into: &datagram.ranges)

        if let total = datagram.total, datagram.ranges.first == 0..<total {
            fragments.buffered -= datagram.bytes.count
            datagram.bytes.removeSubrange(total...)
            return datagram.bytes
        }
        fragments.datagrams[key] = datagram
        return nil
    }

    private static func copy(
        _ data: Span<UInt8>, from offset: Int, range: Range<Int>, into bytes: inout [UInt8]
    ) {
        guard !range.isEmpty else { return }
        bytes.overwrite(at: range.lowerBound, with: data.extracting((range.lowerBound - offset)..<(range.upperBound - offset)))
    }

    /// Adds `range` to sorted, merged `ranges`, merging what touches it.
    private static func insert(_ range: Range<Int>, into ranges: inout [Range<Int>]) {
        guard !range.isEmpty else { return }
        var merged = range
        var kept: [Range<Int>] = []
        kept.reserveCapacity(ranges.count + 1)
        for existing in ranges {
            if existing.upperBound < merged.lowerBound || existing.lowerBound > merged.upperBound {
                kept.append(existing)
            } else {
                merged = min(existing.lowerBound, merged.lowerBound)..<max(existing.upperBound, merged.upperBound)
            }
        }
        kept.append(merged)
        kept.sort { $0.lowerBound < $1.lowerBound }
        ranges = kept
    }

    /// Drops a datagram that will not complete; the bytes of its first fragment (and
    /// what follows it without a hole) are decoded alone, as they were before
    /// reassembly, with the first fragment's packet number.
    private mutating func dropDatagram(_ key: FragmentKey, observe: (Observation) -> Void) {
        guard let dropped = fragments.datagrams.removeValue(forKey: key) else { return }
        fragments.buffered -= dropped.bytes.count
        guard let locator = dropped.firstLocator, let prefix = dropped.ranges.first, prefix.lowerBound == 0,
              let layer = PacketDecoder.layer(forIPProtocol: dropped.proto)
        else { return }
        var context = PacketContext(
            locator: locator, time: dropped.firstFragmentTime,
            source: key.isIPv6 ? .ipv6(IPv6Address(high: key.sourceHigh, low: key.sourceLow))
                : .ipv4(IPv4Address(UInt32(truncatingIfNeeded: key.sourceLow))),
            destination: key.isIPv6 ? .ipv6(IPv6Address(high: key.destinationHigh, low: key.destinationLow))
                : .ipv4(IPv4Address(UInt32(truncatingIfNeeded: key.destinationLow))),
            ipHeaders: dropped.depth)
        run(layer, dropped.bytes.span.extracting(prefix), context: &context, observe: observe)
    }

    private mutating func expireFragments(olderThan limit: Int64, observe: (Observation) -> Void) {
        var any = false
        for datagram in fragments.datagrams.values where datagram.firstTime < limit {
            any = true
            break
        }
        guard any else { return }
        for (key, datagram) in fragments.datagrams where datagram.firstTime < limit {
            anomalies.record(.ipFragmentsTimeout)
            dropDatagram(key, observe: observe)
        }
    }

    private mutating func evictOldestDatagram(observe: (Observation) -> Void) {
        guard let oldest = fragments.datagrams.min(by: { $0.value.firstTime < $1.value.firstTime }) else { return }
        anomalies.record(.ipFragmentsEvicted)
        dropDatagram(oldest.key, observe: observe)
    }

    /// The end of the capture: datagrams still missing fragments are counted
    /// (`ip.fragments_incomplete`) and their first fragments decoded alone.
    mutating func finishFragments(observe: (Observation) -> Void) {
        guard !fragments.datagrams.isEmpty else { return }
        anomalies.record(.ipFragmentsIncomplete, count: UInt64(fragments.datagrams.count))
        for key in Array(fragments.datagrams.keys) { dropDatagram(key, observe: observe) }
        fragments.buffered = 0
    }
}
