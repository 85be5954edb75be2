import Observations

/// One sighting as correlation sees it. CONTRACT.
public struct SightingFact: Sendable, Hashable {
    /// The sighting's id in the case database.
    public var id: Int64
    /// The local host it is attributed to (address text or log host name).
    public var host: String
    public var time: Timestamp
    /// The indicator's id in the case database, and its value.
    public var indicatorID: Int64
    public var indicatorValue: String
    /// Whether it came from a capture or a log.
    public var sourceKind: SourceKind

    public init(id: Int64, host: String, time: Timestamp, indicatorID: Int64, indicatorValue: String, sourceKind: SourceKind) {
        self.id = id
        self.host = host
        self.time = time
        self.indicatorID = indicatorID
        self.indicatorValue = indicatorValue
        self.sourceKind = sourceKind
    }
}

/// How serious an incident is.
public enum Severity: String, Sendable, Comparable, CaseIterable {
    case low, medium, high

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// Sightings of one host grouped in event time. CONTRACT.
public struct Incident: Sendable, Hashable {
    public var host: String
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    public var severity: Severity
    public var title: String
    /// Distinct indicator values, sorted bytewise.
    public var indicatorValues: [String]
    /// The sightings it groups, ascending.
    public var sightingIDs: [Int64]

    public init(host: String, firstSeen: Timestamp, lastSeen: Timestamp, severity: Severity, title: String, indicatorValues: [String], sightingIDs: [Int64]) {
        self.host = host
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.severity = severity
        self.title = title
        self.indicatorValues = indicatorValues
        self.sightingIDs = sightingIDs
    }
}

/// Groups sightings into incidents.
///
/// ## How sightings become incidents
///
/// 1. Sightings are grouped by host. A sighting whose host is empty (the reader could
///    not attribute it to a local host) goes to the host `(unknown)`.
/// 2. Within a host, sightings are ordered by event time, then by sighting id.
/// 3. Walking that order, a sighting joins the current incident when it is at most
///    `gap` after the previous sighting (exactly `gap` apart still joins); a larger
///    gap starts a new incident. The default gap is 30 minutes, so an incident can
///    last longer than 30 minutes as long as its hits keep coming.
/// 4. Incidents are listed by first sighting time, then host.
///
/// The result depends only on the set of sightings, never on their input order.
///
/// ## Severity
///
/// Let *n* be the number of distinct indicator values among an incident's sightings,
/// and call the incident *corroborated* when its sightings come from both a capture
/// (pcap or pcapng) and a log (plain or gzip syslog).
///
/// | severity | when |
/// | --- | --- |
/// | high | *n* ≥ 3, or corroborated |
/// | medium | *n* = 2 (and not corroborated) |
/// | low | otherwise: one indicator, seen in one kind of source |
///
/// ## Title
///
/// `<host>: <n> indicator(s) — <values>`, where `<values>` are the first three
/// indicator values in bytewise order joined by `, `, followed by `, …` when there are
/// more; e.g. `10.0.0.5: 2 indicators — 203.0.113.7, evil.example`.
public struct Correlator: Sendable {
    /// Largest gap, in event time (nanoseconds), between consecutive sightings of one
    /// incident.
    public var gap: Int64

    /// The host an incident gets when its sightings name none.
    public static let unknownHost = "(unknown)"

    /// How many indicator values a title names before it ends with `…`.
    public static let titleValueLimit = 3

    /// Default gap: 30 minutes.
    public init(gapSeconds: Int64 = 30 * 60) {
        self.gap = gapSeconds * 1_000_000_000
    }

    /// The incidents of `sightings`: deterministic whatever the input order.
    /// O(n log n) in the number of sightings.
    public func incidents(from sightings: [SightingFact]) -> [Incident] {
        var byHost: [String: [SightingFact]] = [:]
        for sighting in sightings {
            let host = sighting.host.isEmpty ? Correlator.unknownHost : sighting.host
            byHost[host, default: []].append(sighting)
        }
        var result: [Incident] = []
        for (host, facts) in byHost {
            let ordered = facts.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
            var group: [SightingFact] = []
            for fact in ordered {
                if let previous = group.last, !withinGap(previous.time, fact.time) {
                    result.append(Correlator.incident(host: host, sightings: group))
                    group.removeAll(keepingCapacity: true)
                }
                group.append(fact)
            }
            if !group.isEmpty { result.append(Correlator.incident(host: host, sightings: group)) }
        }
        // The first sighting id breaks ties only when `gap` is negative (then one host
        // can have two incidents starting at the same time).
        result.sort {
            ($0.firstSeen, $0.host, $0.sightingIDs.first ?? 0)
                < ($1.firstSeen, $1.host, $1.sightingIDs.first ?? 0)
        }
        return result
    }

    /// Whether `later` is at most `gap` after `earlier` (`later >= earlier`). Times come
    /// from the input, so the difference may overflow: an overflow is a gap too large.
    private func withinGap(_ earlier: Timestamp, _ later: Timestamp) -> Bool {
        let (difference, overflow) = later.nanoseconds.subtractingReportingOverflow(earlier.nanoseconds)
        return !overflow && difference <= gap
    }

    /// One incident from a non-empty run of sightings ordered by (time, id).
    private static func incident(host: String, sightings: [SightingFact]) -> Incident {
        let values = Set(sightings.map(\.indicatorValue)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let fromCapture = sightings.contains { $0.sourceKind.isCapture }
        let fromLog = sightings.contains { !$0.sourceKind.isCapture }
        return Incident(
            host: host,
            firstSeen: sightings[0].time,
            lastSeen: sightings[sightings.count - 1].time,
            severity: severity(distinctIndicators: values.count, corroborated: fromCapture && fromLog),
            title: title(host: host, values: values),
            indicatorValues: values,
            sightingIDs: sightings.map(\.id).sorted())
    }

    /// The severity formula documented on `Correlator`.
    public static func severity(distinctIndicators: Int, corroborated: Bool) -> Severity {
        if distinctIndicators >= 3 || corroborated { return .high }
        if distinctIndicators == 2 { return .medium }
        return .low
    }

    /// The title documented on `Correlator`; `values` sorted and distinct.
    public static func title(host: String, values: [String]) -> String {
        let noun = values.count == 1 ? "indicator" : "indicators"
        var named = values.prefix(titleValueLimit).joined(separator: ", ")
        if values.count > titleValueLimit { named += ", …" }
        return "\(host): \(values.count) \(noun) — \(named)"
    }
}
