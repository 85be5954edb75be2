import CaseStore
import Correlation
import Indicators
import LogReading
import Observations

/// The matcher glue: looks every observation up and keeps only the hits, in batches
/// for the case database's single writer. Hits on addresses in IP headers are folded
/// per conversation (`Conversations`): one sighting per indicator, remote address and
/// local host while its packets come less than two minutes apart.
struct SightingCollector {
    /// Sightings per write transaction: large enough that commits and WAL checkpoints
    /// cost little per row (4,096-row batches made a store 2× slower in CPU and wall
    /// time than one transaction; 65,536 come within 1.3×: `cairn-bench store`), small
    /// enough that a batch holds about 15 MB. A killed run loses the open batch, and
    /// its source is read again anyway.
    static let batchSize = 65_536

    /// Database ids of the indicators, stored on their first sighting.
    let indicatorRecords: IndicatorRecords
    let sourceID: Int64
    let database: CaseDatabase
    private(set) var pending: [NewSighting] = []
    private(set) var total: UInt64 = 0
    /// Of `total`, the sightings an allow list suppressed.
    private(set) var suppressed: UInt64 = 0
    /// Addresses of DNS answers whose name matched a domain indicator (DNS chains).
    private(set) var resolutions: [NewResolution] = []
    /// The DNS response being decoded whose name matched a domain indicator: its
    /// packet, and what its answer addresses resolve.
    private var resolving: (packet: UInt64, indicatorID: Int64, name: String, host: String)?
    /// The earliest and latest event time of the observations.
    private(set) var firstEvent = Timestamp(nanoseconds: .max)
    private(set) var lastEvent = Timestamp(nanoseconds: .min)
    /// The first write error; once set, no more writes are tried for this source.
    private(set) var writeError: (any Error)?
    /// IP sightings, one per conversation while it is open.
    private var conversations = Conversations<ConversationKey, NewSighting>()

    /// The hits one IP sighting folds: the same indicator, remote address and local
    /// host, either direction. Addresses are kept as numbers: when every packet
    /// matches, the key is made for each packet and the sighting's text only for the
    /// first packet of a conversation.
    struct ConversationKey: Hashable {
        var indicatorID: Int64
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
                case .name(let bytes): self = .name(String(decoding: bytes, as: UTF8.self))
                }
            }
        }
    }

    /// Wall time spent in the case database's writes so far (`flush`).
    var storeSeconds = 0.0

    /// Correlation rules that select log lines, and the lines they selected.
    let lineRules: CorrelationRules?
    private(set) var lineEvents: [NewLineEvent] = []

    init(
        indicatorRecords: IndicatorRecords, sourceID: Int64, database: CaseDatabase,
        lineRules: CorrelationRules? = nil
    ) {
        self.lineRules = lineRules
        self.indicatorRecords = indicatorRecords
        self.sourceID = sourceID
        self.database = database
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
        guard let match = table.match(observation.value, at: time) else { return }
        keepHit(observation, match: match)
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
        guard writeError == nil else { return }
        let index = match.indicator
        let indicatorID: Int64
        do {
            indicatorID = try indicatorRecords.id(forIndicatorAt: index)
        } catch {
            writeError = error
            return
        }
        let records = indicatorRecords
        let source = sourceID
        func sighting() -> NewSighting {
            NewSighting(
                sourceID: source,
                locator: observation.locator,
                time: observation.time,
                indicatorID: indicatorID,
                observed: observation.value.owned.description,
                field: observation.field,
                host: observation.host.text ?? "",
                member: observation.member.map { String(decoding: $0, as: UTF8.self) },
                suppressedBy: match.suppressedBy.map(records.describe(allowEntryAt:)),
                context: match.context.map(records.value(ofIndicatorAt:)))
        }
        if observation.field.isIPHeader {
            let key = ConversationKey(
                indicatorID: indicatorID, observed: observation.value.owned, host: ConversationKey.Host(observation.host))
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
            resolving = (packet, indicatorID, observation.value.owned.description, observation.host.text ?? "")
        }
        if pending.count >= Self.batchSize { flush() }
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
        if lineEvents.count >= Self.batchSize { flush() }
    }

    /// Queues a finished sighting for the next write.
    private mutating func keep(_ sighting: NewSighting) {
        pending.append(sighting)
        total += 1
        if sighting.suppressedBy != nil { suppressed += 1 }
    }

    /// Queues a closed conversation as one sighting.
    private mutating func keep(_ conversation: Conversations<ConversationKey, NewSighting>.Folded) {
        var sighting = conversation.value
        if conversation.packets > 1 {
            sighting.packets = conversation.packets
            sighting.lastTime = conversation.last
        }
        sighting.bytes = conversation.bytes
        keep(sighting)
    }

    /// Keeps an A or AAAA address of the answer `resolving` describes.
    private mutating func keepResolution(
        _ observation: Observation, of resolving: (packet: UInt64, indicatorID: Int64, name: String, host: String)
    ) {
        let address: String
        switch observation.value {
        case .ipv4(let value): address = value.description
        case .ipv6(let value): address = value.description
        default: return
        }
        guard !resolving.host.isEmpty else { return }
        resolutions.append(NewResolution(
            sourceID: sourceID, packet: resolving.packet, time: observation.time, host: resolving.host,
            indicatorID: resolving.indicatorID, name: resolving.name, address: address))
    }

    /// Writes the pending sightings in one transaction, and the resolutions in another.
    mutating func flush() {
        guard writeError == nil else { return }
        let started = ContinuousClock.now
        defer { storeSeconds += secondsElapsed(since: started) }
        do {
            try database.appendSightings(pending)
            try database.appendResolutions(resolutions)
            try database.appendLineEvents(lineEvents)
        } catch {
            writeError = error
        }
        pending.removeAll(keepingCapacity: true)
        resolutions.removeAll()
        lineEvents.removeAll()
    }

    /// Closes the open conversations, queuing them for the final write; call once the
    /// source has been read.
    mutating func finish() {
        for conversation in conversations.closeAll() { keep(conversation) }
    }

    /// Hands over what is left for the source's final transaction.
    mutating func takePending() -> [NewSighting] {
        defer { pending = [] }
        return pending
    }
}

extension Field {
    /// Whether the field is an address of an IP header (a packet's own or a tunnel's):
    /// sightings of these are folded per conversation.
    var isIPHeader: Bool {
        switch self {
        case .ipSource, .ipDestination, .ipv6Source, .ipv6Destination,
             .tunnelIPSource, .tunnelIPDestination, .tunnelIPv6Source, .tunnelIPv6Destination:
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
