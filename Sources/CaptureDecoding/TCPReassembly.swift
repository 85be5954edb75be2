import ByteParsing
import Observations

/// One direction of a TCP connection: addresses (IPv4 in `low`) and ports.
struct StreamKey: Equatable {
    var sourceHigh: UInt64
    var sourceLow: UInt64
    var destinationHigh: UInt64
    var destinationLow: UInt64
    var sourcePort: UInt16
    var destinationPort: UInt16
    var isIPv6: Bool

    init?(source: HostAddress, destination: HostAddress, sourcePort: UInt16, destinationPort: UInt16) {
        switch (source, destination) {
        case (.ipv4(let a), .ipv4(let b)):
            (sourceHigh, sourceLow, destinationHigh, destinationLow) = (0, UInt64(a.value), 0, UInt64(b.value))
            isIPv6 = false
        case (.ipv6(let a), .ipv6(let b)):
            (sourceHigh, sourceLow, destinationHigh, destinationLow) = (a.high, a.low, b.high, b.low)
            isIPv6 = true
        default:
            return nil
        }
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    private init(
        sourceHigh: UInt64, sourceLow: UInt64, destinationHigh: UInt64, destinationLow: UInt64,
        sourcePort: UInt16, destinationPort: UInt16, isIPv6: Bool
    ) {
        (self.sourceHigh, self.sourceLow, self.destinationHigh, self.destinationLow) =
            (sourceHigh, sourceLow, destinationHigh, destinationLow)
        (self.sourcePort, self.destinationPort, self.isIPv6) = (sourcePort, destinationPort, isIPv6)
    }

    /// A key no stream has, for the empty positions of `FlowIndex`.
    static let placeholder = StreamKey(
        sourceHigh: 0, sourceLow: 0, destinationHigh: 0, destinationLow: 0, sourcePort: 0, destinationPort: 0, isIPv6: false)

    /// The other direction of the same connection.
    var reversed: StreamKey {
        var key = self
        swap(&key.sourceHigh, &key.destinationHigh)
        swap(&key.sourceLow, &key.destinationLow)
        swap(&key.sourcePort, &key.destinationPort)
        return key
    }

    var source: HostAddress {
        isIPv6 ? .ipv6(IPv6Address(high: sourceHigh, low: sourceLow)) : .ipv4(IPv4Address(UInt32(truncatingIfNeeded: sourceLow)))
    }

    var destination: HostAddress {
        isIPv6 ? .ipv6(IPv6Address(high: destinationHigh, low: destinationLow))
            : .ipv4(IPv4Address(UInt32(truncatingIfNeeded: destinationLow)))
    }
}

/// What a stream's bytes are read as.
enum StreamMode: Equatable {
    /// Not known yet: waiting for the stream's first bytes.
    case unknown
    /// DNS over TCP (port 53): 2-byte length, message; repeated.
    case dns
    /// A TLS ClientHello record, then nothing more.
    case tls
    /// HTTP/1.x requests: heads read, bodies hashed.
    case http
    /// HTTP/1.x responses: heads read for their framing, bodies hashed.
    case httpResponse
    /// HTTP/2 frames, either direction (HTTP2.swift).
    case http2
    /// Nothing more of interest: later segments cost one table look-up.
    case ignored
}

/// A segment that arrived before the data in front of it.
struct PendingSegment {
    /// Stream offset of the first byte.
    var offset: Int64
    var bytes: [UInt8]
    var end: Int64 { offset + Int64(bytes.count) }
}

/// The reassembly state of one stream direction. Buffers are allocated only while a
/// parser waits for more bytes; a stream in `.ignored` mode holds none.
struct TCPStream {
    var mode = StreamMode.unknown
    /// The sequence number of stream offset `next`.
    var nextSequence: UInt32 = 0
    /// Bytes delivered (or skipped) so far: the stream offset of the next byte expected.
    var next: Int64 = 0
    /// Delivered bytes the parser has not consumed yet: stream offsets
    /// `next - held.count ..< next`.
    var held: [UInt8] = []
    /// Out-of-order segments, sorted by offset.
    var pending: [PendingSegment] = []
    var pendingBytes = 0
    /// The HTTP requests (in a client's stream) or responses (in a server's) read so
    /// far, to know which response answers a HEAD request.
    var exchange = HTTPExchange()
    /// The HTTP body being hashed, between a head and the next.
    var body: HTTPBody? = nil
    /// Stream offset where the sender's FIN is, once seen.
    var finOffset: Int64? = nil
    /// Whether the stream's start is known (from a SYN) rather than guessed from the
    /// first segment seen.
    var sawSYN = false
    var lastTime = Timestamp(nanoseconds: 0)
    var lastLocator = Locator.packet(0)

    var bufferedBytes: Int { held.count + pendingBytes }

    /// Moves an ignored stream past a segment of `count` bytes at `sequence` seen at
    /// `time`; returns whether the segment starts at or past the next byte expected
    /// (new data, not a retransmission of what was already passed).
    mutating func skipIgnored(sequence: UInt32, count: Int, time: Timestamp) -> Bool {
        lastTime = time
        let start = offset(of: sequence)
        let fresh = start >= next
        if start + Int64(count) > next {
            next = start + Int64(count)
            nextSequence = sequence &+ UInt32(truncatingIfNeeded: count)
        }
        return fresh
    }

    /// The stream offset of sequence number `sequence`, assuming it lies within 2 GiB
    /// of the next byte expected (sequence numbers wrap).
    func offset(of sequence: UInt32) -> Int64 {
        next + Int64(Int32(bitPattern: sequence &- nextSequence))
    }
}

/// The TCP flow table: every stream direction being reassembled, by key, in slots
/// reused through a free list so that a finished stream's slot costs nothing to reuse.
/// A struct held in the decoder (itself mutated in place): as a class, every access
/// to its arrays on the per-segment path paid a dynamic exclusivity check.
struct FlowTable {
    let options: DecodingOptions
    var index = FlowIndex()
    var slots: [TCPStream] = []
    var keys: [StreamKey?] = []
    var free: [Int] = []
    /// Bytes buffered by all streams.
    var buffered = 0
    /// Packet time of the last sweep for idle streams.
    var lastSweep: Int64 = Int64.min

    /// Where a ClientHello spread over several records is joined (TCPStreams.swift):
    /// one record header and up to `helloCapacity` bytes, grown once per reader.
    let helloAssembly = AssemblyBuffer()
    /// A record header and a record's largest length.
    static let helloCapacity = 5 + 65_535

    /// Where a URL is assembled, or a host name copied to be read as an address
    /// (HTTP.swift).
    let valueAssembly = AssemblyBuffer()

    init(options: DecodingOptions) {
        self.options = options
    }

    var count: Int { index.count }

    /// The slots of every stream in the table, in slot order.
    var liveSlots: [Int] { keys.indices.filter { keys[$0] != nil } }
}

/// Bytes assembled for one value (a URL, a ClientHello joined from its records), owned
/// and reused: emptied but not freed, so assembling allocates only while it grows. A
/// class, so that it can be filled while a stream's bytes are borrowed from the table.
final class AssemblyBuffer {
    var bytes: [UInt8] = []

    /// The dotted quad in `text`, read from a copy (`IPv4Address` reads collections).
    func ipv4Address(ascii text: Span<UInt8>) -> IPv4Address? {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(span: text)
        return IPv4Address(ascii: bytes)
    }
}

extension PacketDecoder {
    /// Sweeps for idle streams at most this often (packet time): the sweep walks the
    /// table, so it must not run per packet.
    static let sweepIntervalNanoseconds: Int64 = 10_000_000_000

    /// Reassembles one TCP segment: a segment of a stream nobody reads costs one table
    /// look-up (or, without a stream entry, a glance at its first bytes); the bytes of
    /// streams that carry a ClientHello, HTTP requests or DNS messages are handed to
    /// their parser as soon as a whole unit is there, straight from the packet when it
    /// holds the unit whole, from the stream's buffer otherwise.
    mutating func reassemble(
        sequence: UInt32, flags: UInt8, sourcePort: UInt16, destinationPort: UInt16,
        payload: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) {
        guard let key = StreamKey(source: context.source, destination: context.destination,
                                  sourcePort: sourcePort, destinationPort: destinationPort)
        else { return }
        let syn = flags & 0x02 != 0, fin = flags & 0x01 != 0, rst = flags & 0x04 != 0
        let now = context.time.nanoseconds
        if flows.lastSweep == Int64.min { flows.lastSweep = now }
        if now &- flows.lastSweep >= PacketDecoder.sweepIntervalNanoseconds || now < flows.lastSweep {
            flows.lastSweep = now
            sweepIdle(now: now, observe: observe)
        }
        if rst, let reverse = flows.index[key.reversed] { finishStream(at: reverse, observe: observe) }

        var slot = flows.index[key]
        if let index = slot {
            // The common case for bulk data: a stream already known to carry nothing.
            if flows.slots[index].mode == .ignored, !syn {
                // One access to the slot (each access to the class's array is checked).
                let fresh = flows.slots[index].skipIgnored(sequence: sequence, count: payload.count, time: context.time)
                if fresh, PacketDecoder.restartsStream(payload, sourcePort: sourcePort, destinationPort: destinationPort) {
                    // A ClientHello or a request line after something else (SOCKS,
                    // STARTTLS, a proxy's CONNECT): read from this segment on.
                    flows.slots[index] = TCPStream()
                    flows.slots[index].nextSequence = sequence
                } else {
                    if fin || rst { release(index) }
                    return
                }
            }
            if syn, flows.slots[index].nextSequence != sequence &+ 1 || !flows.slots[index].sawSYN {
                // A new connection on the same ports: the old one is over.
                finishStream(at: index, observe: observe)
                slot = nil
            }
        }
        let index: Int
        if let slot {
            index = slot
        } else {
            if rst { return }
            if !syn {
                // No SYN seen: the first segment with data is taken as the stream's start.
                guard !payload.isEmpty else { return }
                if PacketDecoder.classify(payload, sourcePort: sourcePort, destinationPort: destinationPort) == .ignored {
                    return
                }
            }
            index = newStream(key, observe: observe)
            flows.slots[index].nextSequence = syn ? sequence &+ 1 : sequence
            flows.slots[index].sawSYN = syn
            flows.slots[index].exchange.fromSYN = syn
        }
        var stream = TCPStream()
        swap(&stream, &flows.slots[index])
        stream.lastTime = context.time
        stream.lastLocator = context.locator
        let dataSequence = syn ? sequence &+ 1 : sequence
        let offset = stream.offset(of: dataSequence)
        if fin { stream.finOffset = offset + Int64(payload.count) }
        if !payload.isEmpty {
            deliver(&stream, key: key, offset: offset, payload: payload, observe: observe)
        }
        // An ignored stream keeps its entry (so its later segments take the fast path)
        // but no buffer.
        if stream.mode == .ignored, stream.bufferedBytes > 0 { abandon(&stream) }
        let done = rst || (stream.finOffset.map { stream.next >= $0 } ?? false)
        swap(&stream, &flows.slots[index])
        if done { finishStream(at: index, observe: observe) }
    }

    /// Whether a segment of an ignored stream starts something worth reading: a TLS
    /// record holding a ClientHello, or an HTTP request line (as the decoder read every
    /// segment before reassembly). Not on port 53, whose framing cannot be found again.
    static func restartsStream(_ payload: Span<UInt8>, sourcePort: UInt16, destinationPort: UInt16) -> Bool {
        guard payload.count >= 6, sourcePort != 53, destinationPort != 53 else { return false }
        if payload[0] == 0x16 { return payload[1] == 3 && payload[5] == 1 }
        return httpRequestStart(payload) == .yes
    }

    /// A fresh stream entry, evicting the least recently used eighth of the table
    /// first when it is full.
    private mutating func newStream(_ key: StreamKey, observe: (Observation) -> Void) -> Int {
        if flows.count >= max(flows.options.maxTCPStreams, 1) { evictOldest(observe: observe) }
        let index: Int
        if let reused = flows.free.popLast() {
            index = reused
            flows.slots[index] = TCPStream()
            flows.keys[index] = key
        } else {
            index = flows.slots.count
            flows.slots.append(TCPStream())
            flows.keys.append(key)
        }
        flows.index[key] = index
        return index
    }

    /// Evicts the least recently used eighth of the streams (at least one): sorting
    /// the times allocates, but at most once per eighth of the table's size new streams.
    private mutating func evictOldest(observe: (Observation) -> Void) {
        let live = flows.liveSlots
        var times = live.map { flows.slots[$0].lastTime.nanoseconds }
        guard !times.isEmpty else { return }
        times.sort()
        let cutoff = times[max(times.count / 8, 1) - 1]
        let victims = live.filter { flows.slots[$0].lastTime.nanoseconds <= cutoff }
        for victim in victims {
            anomalies.record(.tcpFlowEvicted)
            finishStream(at: victim, observe: observe)
        }
    }

    /// Finishes streams idle for longer than the timeout, as if they had closed.
    private mutating func sweepIdle(now: Int64, observe: (Observation) -> Void) {
        let limit = now &- flows.options.tcpIdleTimeoutSeconds &* 1_000_000_000
        // Cheap walk first: most sweeps find nothing, and then allocate nothing.
        var any = false
        for index in flows.keys.indices where flows.keys[index] != nil && flows.slots[index].lastTime.nanoseconds < limit {
            any = true
            break
        }
        guard any else { return }
        let idle = flows.liveSlots.filter { flows.slots[$0].lastTime.nanoseconds < limit }
        for index in idle {
            if flows.slots[index].bufferedBytes > 0 { anomalies.record(.tcpIdleWithData) }
            finishStream(at: index, observe: observe)
        }
    }

    /// Finishes every stream (the end of the capture): what is buffered is parsed as
    /// far as it goes, past any hole.
    mutating func finishAllStreams(observe: (Observation) -> Void) {
        for index in flows.liveSlots { finishStream(at: index, observe: observe) }
    }

    /// Ends a stream: holes are skipped, what is buffered is parsed for the last time
    /// (an incomplete unit is counted by its parser), and the entry is freed.
    private mutating func finishStream(at index: Int, observe: (Observation) -> Void) {
        guard let key = flows.keys[index] else { return }
        var stream = TCPStream()
        swap(&stream, &flows.slots[index])
        while stream.mode != .ignored, !stream.pending.isEmpty {
            skipHole(&stream, key: key, observe: observe)
        }
        if stream.mode != .ignored, !stream.held.isEmpty {
            parseHeld(&stream, key: key, final: true, observe: observe)
        }
        if let body = stream.body {
            // A body delimited by the connection's end is whole. Any other is cut short
            // by it (no hole: a hole drops the body first), and is hashed as the client
            // received it, as browsers keep what came.
            if case .close = body.framing {} else if !body.observed {
                anomalies.record(.httpBodyIncomplete)
            }
            endBody(body, context: context(stream, key), observe: observe)
            stream.body = nil
        }
        // HTTP/2 bodies still open are cut by the connection's end, in stream order.
        if let connection = stream.exchange.http2 {
            for (_, body) in connection.bodies.sorted(by: { $0.key < $1.key }) {
                anomalies.record(.httpBodyIncomplete)
                endBody(body, context: context(stream, key), observe: observe)
            }
            connection.bodies.removeAll()
        }
        swap(&stream, &flows.slots[index])
        release(index)
    }

    private mutating func release(_ index: Int) {
        guard let key = flows.keys[index] else { return }
        flows.buffered -= flows.slots[index].bufferedBytes
        flows.slots[index] = TCPStream()
        flows.keys[index] = nil
        flows.index[key] = nil
        flows.free.append(index)
    }

    private func context(_ stream: TCPStream, _ key: StreamKey) -> PacketContext {
        PacketContext(locator: stream.lastLocator, time: stream.lastTime, source: key.source,
                      destination: key.destination, ipHeaders: 1)
    }

    /// Places a segment's bytes at `offset` in the stream.
    private mutating func deliver(
        _ stream: inout TCPStream, key: StreamKey, offset: Int64, payload: Span<UInt8>,
        observe: (Observation) -> Void
    ) {
        let end = offset + Int64(payload.count)
        checkConflicts(stream, offset: offset, payload: payload)
        if end <= stream.next { return }  // a retransmission of what was delivered
        if offset > stream.next {
            holdOutOfOrder(&stream, key: key, offset: offset, payload: payload, observe: observe)
            return
        }
        feed(&stream, key: key, payload.extracting(Int(stream.next - offset)...), observe: observe)
        drainPending(&stream, key: key, observe: observe)
    }

    /// Counts `tcp.overlap_conflict` when bytes of the segment differ from bytes the
    /// stream still holds for the same offsets (the first data wins either way).
    private mutating func checkConflicts(_ stream: TCPStream, offset: Int64, payload: Span<UInt8>) {
        let end = offset + Int64(payload.count)
        var conflict = false
        let heldStart = stream.next - Int64(stream.held.count)
        if offset < stream.next, end > heldStart, !stream.held.isEmpty {
            conflict = PacketDecoder.differ(stream.held, from: heldStart, payload, at: offset)
        }
        for segment in stream.pending where !conflict && segment.offset < end && offset < segment.end {
            conflict = PacketDecoder.differ(segment.bytes, from: segment.offset, payload, at: offset)
        }
        if conflict { anomalies.record(.tcpOverlapConflict) }
    }

    /// Whether `bytes` (starting at stream offset `start`) and `payload` (at `offset`)
    /// differ where they overlap.
    private static func differ(_ bytes: [UInt8], from start: Int64, _ payload: Span<UInt8>, at offset: Int64) -> Bool {
        let low = max(start, offset), high = min(start + Int64(bytes.count), offset + Int64(payload.count))
        guard low < high else { return false }
        var position = low
        while position < high {
            if bytes[Int(position - start)] != payload[Int(position - offset)] { return true }
            position += 1
        }
        return false
    }

    private mutating func holdOutOfOrder(
        _ stream: inout TCPStream, key: StreamKey, offset: Int64, payload: Span<UInt8>,
        observe: (Observation) -> Void
    ) {
        // A segment entirely within one already held adds nothing (first data wins).
        if stream.pending.contains(where: { $0.offset <= offset && offset + Int64(payload.count) <= $0.end }) { return }
        guard flows.buffered + payload.count <= flows.options.maxBytesTotal else {
            anomalies.record(.tcpMemoryCap)
            abandon(&stream)
            return
        }
        let at = stream.pending.firstIndex { $0.offset > offset } ?? stream.pending.count
        stream.pending.insert(PendingSegment(offset: offset, bytes: payload.array), at: at)
        stream.pendingBytes += payload.count
        flows.buffered += payload.count
        // Data waiting beyond a hole past the per-stream bound: the hole will not fill.
        while stream.mode != .ignored, !stream.pending.isEmpty, stream.bufferedBytes > flows.options.maxBytesPerStream {
            skipHole(&stream, key: key, observe: observe)
        }
    }

    /// Delivers the out-of-order segments that have become contiguous.
    private mutating func drainPending(_ stream: inout TCPStream, key: StreamKey, observe: (Observation) -> Void) {
        while stream.mode != .ignored, let first = stream.pending.first, first.offset <= stream.next {
            stream.pending.removeFirst()
            stream.pendingBytes -= first.bytes.count
            flows.buffered -= first.bytes.count
            if first.end > stream.next {
                feed(&stream, key: key, first.bytes.span.extracting(Int(stream.next - first.offset)...), observe: observe)
            }
        }
    }

    /// Skips the hole before the first out-of-order segment (`tcp.gap`): the unit the
    /// parser was waiting for is parsed as far as it goes; HTTP looks for the next
    /// request line after the hole, the other modes lose their framing and stop.
    private mutating func skipHole(_ stream: inout TCPStream, key: StreamKey, observe: (Observation) -> Void) {
        guard let first = stream.pending.first, first.offset > stream.next else {
            drainPending(&stream, key: key, observe: observe)
            return
        }
        anomalies.record(.tcpGap)
        if stream.body != nil {
            // The body's bytes are lost: no digests, and no framing to find the next head.
            anomalies.record(.httpBodyIncomplete)
            stream.body = nil
            stream.mode = .ignored
        }
        let before = stream.mode
        if !stream.held.isEmpty { parseHeld(&stream, key: key, final: true, observe: observe) }
        if before == .http || before == .unknown { stream.mode = before }
        dropHeld(&stream)
        stream.nextSequence = stream.nextSequence &+ UInt32(truncatingIfNeeded: first.offset - stream.next)
        stream.next = first.offset
        // HTTP resynchronises on the next request line, an unknown stream is classified
        // by the bytes after the hole; DNS, TLS and HTTP/2 have lost their framing (and
        // HTTP/2's bodies their bytes).
        if let connection = stream.exchange.http2, !connection.bodies.isEmpty {
            anomalies.record(.httpBodyIncomplete, count: UInt64(connection.bodies.count))
            connection.bodies.removeAll()
        }
        if stream.mode == .dns || stream.mode == .tls || stream.mode == .http2 { stream.mode = .ignored }
        if stream.mode == .ignored {
            abandon(&stream)
            return
        }
        drainPending(&stream, key: key, observe: observe)
    }

    /// Stops reassembling the stream and frees its buffers.
    private mutating func abandon(_ stream: inout TCPStream) {
        dropHeld(&stream)
        flows.buffered -= stream.pendingBytes
        stream.pending = []
        stream.pendingBytes = 0
        stream.mode = .ignored
        stream.body = nil
    }

    private mutating func dropHeld(_ stream: inout TCPStream) {
        flows.buffered -= stream.held.count
        stream.held = []
        stream.exchange.scanned = 0
    }

    /// Hands the next contiguous bytes of the stream to its parser: straight from the
    /// packet when nothing is held, otherwise after appending them to what is held.
    /// What the parser leaves (an incomplete unit) is kept, within the caps.
    private mutating func feed(
        _ stream: inout TCPStream, key: StreamKey, _ bytes: Span<UInt8>, observe: (Observation) -> Void
    ) {
        guard !bytes.isEmpty else { return }
        stream.next += Int64(bytes.count)
        stream.nextSequence = stream.nextSequence &+ UInt32(truncatingIfNeeded: bytes.count)
        if stream.mode == .ignored { return }
        if stream.held.isEmpty {
            var mode = stream.mode, exchange = stream.exchange
            var body: HTTPBody? = nil
            swap(&body, &stream.body)
            let used = parseStream(bytes, mode: &mode, exchange: &exchange, body: &body, key: key, final: false,
                                   context: context(stream, key), observe: observe)
            swap(&body, &stream.body)
            stream.mode = mode
            stream.exchange = exchange
            if mode != .ignored, used < bytes.count {
                keep(&stream, bytes.extracting(used...), key: key, observe: observe)
            }
            return
        }
        keep(&stream, bytes, key: key, observe: observe)
        if stream.mode != .ignored { parseHeld(&stream, key: key, final: false, observe: observe) }
    }

    /// Appends to what the stream holds, unless that would pass a cap: then what is
    /// held is parsed as far as it goes and the stream stops.
    private mutating func keep(
        _ stream: inout TCPStream, _ bytes: Span<UInt8>, key: StreamKey, observe: (Observation) -> Void
    ) {
        // A body kept whole to be read every way may grow past the usual bound.
        let cap = stream.body?.isBuffered == true ? flows.options.maxBufferedBodyBytes : flows.options.maxBytesPerStream
        if stream.bufferedBytes + bytes.count > cap || flows.buffered + bytes.count > flows.options.maxBytesTotal {
            anomalies.record(stream.bufferedBytes + bytes.count > cap ? .tcpStreamCap : .tcpMemoryCap)
            if !stream.held.isEmpty { parseHeld(&stream, key: key, final: true, observe: observe) }
            abandon(&stream)
            return
        }
        stream.held.append(span: bytes)
        flows.buffered += bytes.count
    }

    /// Runs the parser over what the stream holds and drops what it consumed.
    private mutating func parseHeld(_ stream: inout TCPStream, key: StreamKey, final: Bool, observe: (Observation) -> Void) {
        var mode = stream.mode, exchange = stream.exchange
        var body: HTTPBody? = nil
        swap(&body, &stream.body)
        let context = context(stream, key)
        let used = parseStream(stream.held.span, mode: &mode, exchange: &exchange, body: &body, key: key, final: final,
                               context: context, observe: observe)
        swap(&body, &stream.body)
        stream.mode = mode
        stream.exchange = exchange
        if mode == .ignored || final {
            dropHeld(&stream)
        } else if used > 0 {
            let consumed = min(used, stream.held.count)
            stream.held.removeFirst(consumed)
            flows.buffered -= consumed
        }
    }
}
