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
    /// The indicator's severity as its rule file gives it (`info` … `critical`), nil
    /// when the file gives none.
    public var indicatorSeverity: Severity?
    /// The indicator's confidence, 0–100, nil when the rule file gives none.
    public var indicatorConfidence: Int?
    /// The feed the indicator came from: its `source` when the rule file names one,
    /// else the rule file. Two sightings from different feeds are independent evidence.
    public var feed: String
    /// The last time of a sighting that spans a conversation (`time` for one packet or
    /// line).
    public var lastTime: Timestamp
    /// The indicator's type (`ipv4`, `domain`…) and where the value was seen
    /// (`dns.query`…), for correlation rules.
    public var indicatorType: String = ""
    public var field: String = ""

    public init(
        id: Int64, host: String, time: Timestamp, indicatorID: Int64, indicatorValue: String, sourceKind: SourceKind,
        indicatorSeverity: Severity? = nil, indicatorConfidence: Int? = nil, feed: String = "",
        lastTime: Timestamp? = nil
    ) {
        self.id = id
        self.host = host
        self.time = time
        self.indicatorID = indicatorID
        self.indicatorValue = indicatorValue
        self.sourceKind = sourceKind
        self.indicatorSeverity = indicatorSeverity
        self.indicatorConfidence = indicatorConfidence
        self.feed = feed
        self.lastTime = max(time, lastTime ?? time)
    }
}

/// How serious an indicator or an incident is: the five levels rule files use.
public enum Severity: String, Sendable, Comparable, CaseIterable {
    case info, low, medium, high, critical

    /// 0 (`info`) to 4 (`critical`).
    public var rank: Int {
        switch self {
        case .info: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        }
    }

    /// The level `steps` above this one, at most `critical`.
    public func raised(by steps: Int) -> Severity {
        let rank = min(self.rank + steps, Severity.critical.rank)
        return Severity.allCases.first { $0.rank == rank } ?? .critical
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// Sightings of one host grouped in event time. CONTRACT.
public struct Incident: Sendable, Hashable {
    public var host: String
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    public var severity: Severity
    /// 0–100: how sure the incident is, from its indicators' confidence and the
    /// independence of its evidence.
    public var confidence: Int
    public var title: String
    /// Distinct indicator values, sorted bytewise.
    public var indicatorValues: [String]
    /// The sightings it groups, ascending.
    public var sightingIDs: [Int64]
    /// What made it an incident and how its severity and confidence were reached, in
    /// words (`cairn show` prints it).
    public var explanation: String

    public init(
        host: String, firstSeen: Timestamp, lastSeen: Timestamp, severity: Severity, confidence: Int = 50,
        title: String, indicatorValues: [String], sightingIDs: [Int64], explanation: String = ""
    ) {
        self.host = host
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.severity = severity
        self.confidence = confidence
        self.title = title
        self.indicatorValues = indicatorValues
        self.sightingIDs = sightingIDs
        self.explanation = explanation
    }
}

/// Groups sightings into incidents.
///
/// ## How sightings become incidents
///
/// 1. Sightings are grouped by host. A sighting whose host is empty (the reader could
///    not attribute it to a local host) goes to the host `(unknown)`.
/// 2. Within a host, sightings are ordered by event time, then by sighting id.
/// 3. Walking that order, a sighting joins the current incident when it starts at
///    most `gap` after the latest time the incident has reached so far (the last
///    packet of a conversation sighting counts; exactly `gap` apart still joins); a
///    larger gap starts a new incident. The default gap is 30 minutes, so an incident can
///    last longer than 30 minutes as long as its hits keep coming.
/// 4. Incidents are listed by first sighting time, then host.
///
/// The result depends only on the set of sightings, never on their input order.
///
/// ## Severity
///
/// The *base* is the highest severity of the incident's indicators, an indicator whose
/// rule file gives none counting as `low`. It is raised one level, up to `critical`, for each of:
///
/// 1. *several indicators*: at least 2 distinct indicator values;
/// 2. *independent feeds*: the indicators come from at least 2 feeds (an indicator's
///    feed is its `source`, else its rule file) — Maltrail's minimum-feeds idea;
/// 3. *corroborated*: the sightings come from both a capture (pcap, pcapng) and a log.
///
/// So one indicator without a severity, seen in one capture, is `low`; the same
/// address also found in a firewall log is `medium`; a `high` indicator confirmed by a
/// second feed and a log is `critical`.
///
/// ## Confidence
///
/// The highest confidence of the incident's indicators (an indicator whose rule file
/// gives none counting as 50), plus 10 for each feed beyond the first and 10 when corroborated, at most 100.
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
    /// O(n log n) in the number of sightings. A case's sightings stream through
    /// `Walk` instead, in (host, time, id) order, without being held in memory.
    public func incidents(from sightings: [SightingFact]) -> [Incident] {
        // One sort of indices by (host, time, id), then one walk: no per-host copies of
        // the facts.
        let order = sightings.indices.sorted { a, b in
            let (x, y) = (sightings[a], sightings[b])
            let (hostX, hostY) = (Correlator.host(of: x), Correlator.host(of: y))
            if hostX != hostY { return hostX < hostY }
            return (x.time, x.id) < (y.time, y.id)
        }
        var walk = Walk(self)
        var result: [Incident] = []
        for index in order {
            if let closed = walk.add(sightings[index]) { result.append(closed) }
        }
        if let last = walk.finish() { result.append(last) }
        // The first sighting id breaks ties only when `gap` is negative (then one host
        // can have two incidents starting at the same time).
        result.sort {
            ($0.firstSeen, $0.host, $0.sightingIDs.first ?? 0)
                < ($1.firstSeen, $1.host, $1.sightingIDs.first ?? 0)
        }
        return result
    }

    /// The host a sighting is grouped under: its own, or `unknownHost` when it names none.
    public static func host(of fact: SightingFact) -> String {
        fact.host.isEmpty ? unknownHost : fact.host
    }

    /// Builds incidents from sightings given one at a time in (host, time, id) order
    /// (steps 2 and 3 above): memory holds the open incident only — its sighting ids
    /// and distinct indicator values and feeds — never the sightings already passed.
    public struct Walk: Sendable {
        private let correlator: Correlator
        private var open: OpenIncident?

        public init(_ correlator: Correlator) { self.correlator = correlator }

        /// Adds the next sighting; returns the incident it closes, if it starts a new
        /// one (another host, or more than `gap` after the open incident).
        public mutating func add(_ fact: SightingFact) -> Incident? {
            let host = Correlator.host(of: fact)
            let continues = open.map { $0.host == host && correlator.withinGap($0.end, fact.time) } ?? false
            if continues {
                open?.add(fact)  // in place: the id array is not copied
                return nil
            }
            let closed = open.map { correlator.incident($0) }
            open = OpenIncident(host: host, first: fact)
            return closed
        }

        /// The last incident, if any sighting was added since the last one closed.
        public mutating func finish() -> Incident? {
            defer { open = nil }
            return open.map { correlator.incident($0) }
        }
    }

    /// The incident being built by a `Walk`.
    struct OpenIncident: Sendable {
        let host: String
        let firstSeen: Timestamp
        /// The latest time reached so far: the next sighting must start within `gap` of it.
        var end: Timestamp
        var sightingIDs: [Int64]
        var basis: Assessment.Basis

        init(host: String, first: SightingFact) {
            self.host = host
            firstSeen = first.time
            end = first.lastTime
            sightingIDs = [first.id]
            basis = Assessment.Basis()
            basis.add(first)
        }

        mutating func add(_ fact: SightingFact) {
            end = max(end, fact.lastTime)
            sightingIDs.append(fact.id)
            basis.add(fact)
        }
    }

    /// Whether `later` is at most `gap` after `earlier` (`later >= earlier`). Times come
    /// from the input, so the difference may overflow: an overflow is a gap too large.
    private func withinGap(_ earlier: Timestamp, _ later: Timestamp) -> Bool {
        let (difference, overflow) = later.nanoseconds.subtractingReportingOverflow(earlier.nanoseconds)
        return !overflow && difference <= gap
    }

    /// The incident a walk built.
    private func incident(_ open: OpenIncident) -> Incident {
        let values = open.basis.values.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let assessment = Assessment(open.basis)
        let minutes = gap / 60_000_000_000
        let grouping = "the sightings of host \(open.host) no more than \(minutes) minutes apart (default grouping)"
        return Incident(
            host: open.host,
            firstSeen: open.firstSeen,
            lastSeen: open.end,
            severity: assessment.severity,
            confidence: assessment.confidence,
            title: Correlator.title(host: open.host, values: values),
            indicatorValues: values,
            sightingIDs: open.sightingIDs.sorted(),
            explanation: "Grouped: \(grouping). " + assessment.explanation)
    }

    /// The title documented on `Correlator`; `values` sorted and distinct.
    public static func title(host: String, values: [String]) -> String {
        let noun = values.count == 1 ? "indicator" : "indicators"
        var named = values.prefix(titleValueLimit).joined(separator: ", ")
        if values.count > titleValueLimit { named += ", …" }
        return "\(host): \(values.count) \(noun) — \(named)"
    }
}

/// The severity and confidence of a group of sightings, by the formulas documented on
/// `Correlator`, with the reasons in words.
public struct Assessment: Sendable, Equatable {
    public var severity: Severity
    public var confidence: Int
    public var explanation: String

    public init(_ sightings: [SightingFact]) {
        var basis = Assessment.Basis()
        for fact in sightings { basis.add(fact) }
        self.init(basis)
    }

    /// The assessment of the sightings `basis` gathered.
    public init(_ basis: Basis) {
        let base = basis.highestSeverity ?? .low
        let distinct = basis.values.count
        let feeds = basis.feeds.count
        let corroborated = basis.fromCapture && basis.fromLog
        var raises: [String] = []
        if distinct >= 2 { raises.append("\(distinct) distinct indicators") }
        if feeds >= 2 { raises.append("\(feeds) independent feeds") }
        if corroborated { raises.append("seen in both captures and logs") }
        severity = base.raised(by: raises.count)
        let baseConfidence = basis.highestConfidence ?? 50
        confidence = min(100, max(0, baseConfidence) + 10 * max(0, feeds - 1) + (corroborated ? 10 : 0))
        var words = "Severity \(severity.rawValue): base \(base.rawValue) (highest indicator severity)"
        words += raises.isEmpty ? ", not raised" : ", raised for " + raises.joined(separator: ", ")
        words += ". Confidence \(confidence): highest indicator confidence \(baseConfidence)"
        if feeds >= 2 { words += ", +\(10 * (feeds - 1)) for \(feeds) feeds" }
        if corroborated { words += ", +10 for corroboration" }
        explanation = words + "."
    }
}

extension Assessment {
    /// What an assessment is based on, gathered one sighting at a time: the
    /// distinct indicator values and feeds, the highest severity and confidence, and
    /// the kinds of source. Its size grows with the distinct values, not the sightings.
    public struct Basis: Sendable {
        public private(set) var values: Set<String> = []
        public private(set) var feeds: Set<String> = []
        /// The highest indicator severity, an indicator without one counting as `low`; nil
        /// before the first sighting.
        public private(set) var highestSeverity: Severity?
        /// The highest indicator confidence, an indicator without one counting as 50.
        public private(set) var highestConfidence: Int?
        public private(set) var fromCapture = false
        public private(set) var fromLog = false

        public init() {}

        public mutating func add(_ fact: SightingFact) {
            values.insert(fact.indicatorValue)
            feeds.insert(fact.feed)
            highestSeverity = max(highestSeverity ?? .info, fact.indicatorSeverity ?? .low)
            highestConfidence = max(highestConfidence ?? .min, fact.indicatorConfidence ?? 50)
            if fact.sourceKind.isCapture { fromCapture = true } else { fromLog = true }
        }
    }
}
