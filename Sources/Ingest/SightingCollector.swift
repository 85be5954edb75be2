import ByteParsing
import CaseStore
import Correlation
import Indicators
import LogReading
import Observations

/// The matcher glue: looks every observation up and keeps only the hits, handing them
/// in batches to the case database's writer (`SightingWriter`). Hits on addresses in
/// IP headers are folded per conversation (`Conversations`): one sighting per
/// indicator, remote address and local host while its packets come less than two
/// minutes apart.
struct SightingCollector {
    /// Sightings per write transaction: large enough that commits and WAL checkpoints
    /// cost little per row (4,096-row batches made a store 2× slower in CPU and wall
    /// time than one transaction; 65,536 come within 1.3×: `cairn-bench store`), small
    /// enough that a batch holds about 15 MB. A killed run loses the open batch, and
    /// its source is read again anyway.
    static let batchSize = 65_536
    /// The smallest batch handed to a writer that is idle: the writer then stores the
    /// hits while the reader goes on, and little is left to write when the source ends.
    /// Smaller batches cost more per row (4,096: 1.35× the CPU of 65,536 rows), paid on
    /// the writer's thread.
    static let eagerBatchSize = 8_192

    /// The rule set's indicators and allow entries, as sightings name them.
    let indicatorRecords: IndicatorRecords
    let sourceID: Int64
    let writer: SightingWriter
    /// This source's writes, for `writer.finish`.
    let writes = SightingWriter.Source()
    private let batchSize: Int
    private let eagerBatchSize: Int
    private(set) var pending: [PendingSighting] = []
    private(set) var total: UInt64 = 0
    /// Told of each sighting as it is kept (`cairn ingest`'s progress line).
    var progress: (any IngestProgress)? = nil
    /// Of `total`, the sightings an allow list suppressed.
    private(set) var suppressed: UInt64 = 0
    /// Addresses of DNS answers whose name matched a domain indicator (DNS chains).
    private(set) var resolutions: [PendingResolution] = []
    /// DHCP leases that name a host (`Field.dhcpLease`), each name and address once per
    /// source, at most `addressesKeptPerName` addresses per name and `namesKept` names.
    private(set) var hostAddresses: [NewHostAddress] = []
    /// The addresses kept so far of each name.
    private var leasedAddresses: [String: Set<IPv4Address>] = [:]
    /// Leases of names past `namesKept`, not kept (said in the source's notes).
    private(set) var leasesNotKept = 0
    /// A name leased this many addresses is ambiguous already (`resolveHostNames`
    /// resolves a name only when its leases agree): more are not kept, so that a DHCP
    /// server's log of a busy network does not fill the case.
    static let addressesKeptPerName = 4
    /// Names whose leases one source keeps: memory does not grow with a hostile log of
    /// ever new names.
    static let namesKept = 65_536
    /// The DNS response being decoded whose name matched a domain indicator: its
    /// packet, and what its answer addresses resolve.
    private var resolving: (packet: UInt64, indicator: Int, name: String, host: String)?
    /// The earliest and latest event time of the observations.
    private(set) var firstEvent = Timestamp(nanoseconds: .max)
    private(set) var lastEvent = Timestamp(nanoseconds: .min)
    /// IP sightings, one per conversation while it is open.
    private var conversations = Conversations<ConversationKey, PendingSighting>()
    /// A capture's DNS chains, found as it is read (nil for logs, whose scanning threads
    /// pass on only the hits).
    var chains: FirstPassChains? = nil

    /// The hits one IP sighting folds: the same indicator, remote address and local
    /// host, either direction. Addresses are kept as numbers: when every packet
    /// matches, the key is made for each packet and the sighting's text only for the
    /// first packet of a conversation.
    struct ConversationKey: Hashable {
        /// The indicator's index in the rule set.
        var indicator: Int
        var observed: OwnedValue
        var host: Host

        enum Host: Hashable {
            case none
            case ipv4(IPv4Address)
            case ipv6(IPv6Address)
            case name(String)

            init(_ reference: HostReference) {
                switch reference {
                case .none: self = .none
                case .ipv4(let address): self = .ipv4(address)
                case .ipv6(let address): self = .ipv6(address)
                case .name(let bytes): self = .name(bytes.string)
                }
            }
        }
    }

    /// Correlation rules that select log lines, and the lines they selected.
    let lineRules: CorrelationRules?
    private(set) var lineEvents: [NewLineEvent] = []

    init(
        indicatorRecords: IndicatorRecords, sourceID: Int64, writer: SightingWriter,
        lineRules: CorrelationRules? = nil, batchSize: Int = SightingCollector.batchSize
    ) {
        self.lineRules = lineRules
        self.indicatorRecords = indicatorRecords
        self.sourceID = sourceID
        self.writer = writer
        self.batchSize = max(batchSize, 1)
        self.eagerBatchSize = min(Self.eagerBatchSize, self.batchSize)
    }

    /// Looks `observation` up in `table`; on a hit of an indicator valid at the
    /// observation's time, keeps a sighting (also when an allow list suppresses it,
    /// marked so). The miss path reads only the value, field and time, and allocates
    /// nothing.
    ///
    /// The table is a parameter, borrowed from the caller, rather than a stored
    /// property: `IndicatorTable` is a struct of about 1.5 KB, and calling `match` on a
    /// property of this `inout` collector copied all of it for every observation (from
    /// a class's property or a pointer's `pointee`, the copy retained its buffers too).
    mutating func observe(_ observation: Observation, matchingIn table: IndicatorTable) {
        let time = observation.time
        if time < firstEvent { firstEvent = time }
        if time > lastEvent { lastEvent = time }
        if observation.field == .dnsAnswer, resolving != nil { resolve(observation) }
        chains?.observe(observation)
        if observation.field == .dhcpLease { return keepHostAddress(observation) }
        guard let match = table.match(observation.value, at: time) else { return }
        keepHit(observation, match: match)
    }

    /// Counts observations that were not looked up here in the event time range: those
    /// the scanning threads found in a log and did not pass on (`LogReader.read(pool:…)`).
    mutating func noteEventTimes(first: Timestamp, last: Timestamp) {
        if first < firstEvent { firstEvent = first }
        if last > lastEvent { lastEvent = last }
    }

    /// Keeps the address of a DNS answer when it belongs to the response whose name
    /// matched (`resolving`).
    @inline(never)
    private mutating func resolve(_ observation: Observation) {
        if let resolving, case .packet(let packet) = observation.locator, packet == resolving.packet {
            keepResolution(observation, of: resolving)
        }
    }

    /// The hit path of `observe`: the indicator's record, the sighting (folded per
    /// conversation for IP headers), the DNS chain's start.
    @inline(never)
    private mutating func keepHit(_ observation: Observation, match: IndicatorMatch) {
        let index = match.indicator
        let records = indicatorRecords
        let source = sourceID
        let member: String? = if let bytes = observation.member { bytes.string } else { nil }
        func sighting() -> PendingSighting {
            PendingSighting(indicator: index, sighting: NewSighting(
                sourceID: source,
                locator: observation.locator,
                time: observation.time,
                indicatorID: 0,  // set by the writer
                observed: observation.value.owned.description,
                field: observation.field,
                host: observation.host.text ?? "",
                member: member,
                suppressedBy: match.suppressedBy.map(records.describe(allowEntryAt:)),
                context: match.context.map(records.value(ofIndicatorAt:))))
        }
        if observation.field.isIPHeader {
            let key = ConversationKey(
                indicator: index, observed: observation.value.owned, host: ConversationKey.Host(observation.host))
            let closed = conversations.add(
                key, time: observation.time, bytes: UInt64(observation.packetLength), value: sighting)
            for conversation in closed { keep(conversation) }
        } else {
            keep(sighting())
        }
        if match.suppressedBy == nil, observation.field == .dnsQuery || observation.field == .dnsAnswer,
           case .domain = observation.value, case .packet(let packet) = observation.locator,
           indicatorRecords.isDomain(indicatorAt: index)
        {
            // The answer's addresses, which the decoder hands over after the names, are
            // what this domain resolves to for the querier.
            resolving = (packet, index, observation.value.owned.description, observation.host.text ?? "")
        }
        if pending.count >= batchSize || pending.count >= eagerBatchSize && writer.isIdle { flush() }
    }

    /// Keeps a log line that a correlation base rule selects (as a line event). The
    /// path where no rule matches allocates nothing.
    mutating func observeLine(_ line: LogReader.LineView) {
        guard let lineRules else { return }
        let matching = lineRules.baseRules(matchingLine: line.bytes)
        guard !matching.isEmpty, case .line(let number, let offset) = line.locator else { return }
        lineEvents.append(NewLineEvent(
            sourceID: sourceID, line: number, offset: offset, time: line.time, host: line.host.text ?? "",
            logSource: line.source.text, logDestination: line.destination.text,
            baseRules: matching.map { lineRules.baseRules[$0].name }))
        if lineEvents.count >= batchSize { flush() }
    }

    /// Queues a finished sighting for the next write.
    private mutating func keep(_ sighting: PendingSighting) {
        pending.append(sighting)
        total += 1
        progress?.found(sightings: 1)
        if sighting.sighting.suppressedBy != nil { suppressed += 1 }
    }

    /// Queues a closed conversation as one sighting.
    private mutating func keep(_ conversation: Conversations<ConversationKey, PendingSighting>.Folded) {
        var pending = conversation.value
        if conversation.packets > 1 {
            pending.sighting.packets = conversation.packets
            pending.sighting.lastTime = conversation.last
        }
        pending.sighting.bytes = conversation.bytes
        keep(pending)
    }

    /// Keeps an A or AAAA address of the answer `resolving` describes.
    private mutating func keepResolution(
        _ observation: Observation, of resolving: (packet: UInt64, indicator: Int, name: String, host: String)
    ) {
        let address: String
        switch observation.value {
        case .ipv4(let value): address = value.description
        case .ipv6(let value): address = value.description
        default: return
        }
        guard !resolving.host.isEmpty else { return }
        resolutions.append(PendingResolution(indicator: resolving.indicator, resolution: NewResolution(
            sourceID: sourceID, packet: resolving.packet, time: observation.time, host: resolving.host,
            indicatorID: 0,  // set by the writer
            name: resolving.name, address: address)))
        chains?.resolved(observation.value, text: address, at: observation.time)
    }

    /// Keeps the first lease of each host name and address (`resolveHostNames` reads them).
    @inline(never)
    private mutating func keepHostAddress(_ observation: Observation) {
        guard case .name(let bytes) = observation.host, case .ipv4(let address) = observation.value else { return }
        let name = bytes.string
        if leasedAddresses[name] == nil, leasedAddresses.count >= Self.namesKept {
            leasesNotKept += 1
            return
        }
        let kept = leasedAddresses[name, default: []]
        guard kept.count < Self.addressesKeptPerName, !kept.contains(address) else { return }
        leasedAddresses[name, default: []].insert(address)
        hostAddresses.append(NewHostAddress(
            sourceID: sourceID, locator: observation.locator, time: observation.time, name: name,
            address: address.description))
    }

    /// Hands the pending sightings, resolutions, leases and line events to the writer.
    mutating func flush() {
        writer.write(
            SightingBatch(sightings: pending, resolutions: resolutions, hostAddresses: hostAddresses, lineEvents: lineEvents),
            for: writes)
        pending.removeAll(keepingCapacity: true)
        resolutions.removeAll()
        hostAddresses.removeAll()
        lineEvents.removeAll()
    }

    /// Closes the open conversations and hands everything left to the writer; call
    /// once the source has been read, then `writer.finish(writes)`.
    mutating func finish() {
        for conversation in conversations.closeAll() { keep(conversation) }
        flush()
    }
}

extension Field {
    /// Whether the field is an address of an IP header (a packet's own, a tunnel's, or
    /// one an ICMP error quotes):
    /// sightings of these are folded per conversation.
    var isIPHeader: Bool {
        switch self {
        case .ipSource, .ipDestination, .ipv6Source, .ipv6Destination,
             .tunnelIPSource, .tunnelIPDestination, .tunnelIPv6Source, .tunnelIPv6Destination,
             .quotedIPSource, .quotedIPDestination, .quotedIPv6Source, .quotedIPv6Destination:
            true
        default:
            false
        }
    }
}

/// Seconds of wall time since `start`: the one clock the ingest times its parts with.
func secondsElapsed(since start: ContinuousClock.Instant) -> Double {
    (ContinuousClock.now - start).inSeconds
}
