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

/// Groups sightings into incidents. CONTRACT STUB.
public struct Correlator: Sendable {
    /// Largest gap, in event time, between consecutive sightings of one incident.
    public var gap: Int64

    /// Default gap: 30 minutes.
    public init(gapSeconds: Int64 = 30 * 60) {
        self.gap = gapSeconds * 1_000_000_000
    }

    /// The incidents of `sightings`: deterministic whatever the input order.
    public func incidents(from sightings: [SightingFact]) -> [Incident] {
        fatalError("contract stub")
    }
}
