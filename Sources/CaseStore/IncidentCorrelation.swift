import Correlation
import Observations

/// Correlation of the whole case, streamed: the sightings are read from SQLite in
/// (host, time, id) order and walked (`Correlator.Walk`); each incident is stored as
/// soon as it closes. A grouping incident is stored as its row alone: its sightings are
/// those of its host within its time span (the `incident_members` view), so no row is
/// written per sighting. Memory holds the open incident (its sighting ids and distinct
/// indicator values), the stored incidents of the current host, the stored
/// indicators' metadata, and one id per incident — never the case's sightings.
extension CaseDatabase {
    /// Correlates every sighting of the case (those `sightingFacts()` returns) into
    /// incidents and stores them, keeping the ids of the stored incidents they continue
    /// ("How incidents keep their ids" in Incidents.swift: a stored incident is continued
    /// by the incident that now holds sightings within its span). One transaction.
    /// Returns the number of incidents.
    @discardableResult
    public func correlateIncidents(_ correlator: Correlator = Correlator()) throws -> Int {
        try store.write { db in
            var walk = Correlator.Walk(correlator)
            var store = try IncidentStore(in: db)
            try CaseDatabase.forEachSightingFact(in: db, orderedByHost: true) { fact in
                if let closed = walk.add(fact) { try store.store(closed, in: db) }
                store.note(fact)
            }
            if let last = walk.finish() { try store.store(last, in: db) }
            try store.finish(in: db)
            return store.count
        }
    }
}

/// Stores incidents as a walk closes them, host after host, matching each to the
/// stored incidents whose spans its sightings fall in. Rows are written in batches
/// (`StoreSession.insertRows`, `updateRows`): in PostgreSQL a statement per incident
/// was a round trip per incident.
struct IncidentStore {
    /// The stored grouping incidents before this run, by host, each host's by first
    /// time: disjoint spans, as one host's incidents are. Read once, in one query.
    private let stored: [String: [(id: Int64, first: Int64, last: Int64)]]
    private var ranges: [(id: Int64, first: Int64, last: Int64)] = []
    private var rangesHost: String?
    /// The first of `ranges` that may hold the next sighting (times only grow within a host).
    private var nextRange = 0
    /// The stored incidents the open incident's sightings fall in.
    private var owners = Set<Int64>()
    /// Stored incidents taken by an incident of the current host: as survivor or
    /// merged into one. An id is taken once.
    private var takenByHost = Set<Int64>()
    private var takenHost: String?
    /// Every stored id an incident of this run took.
    private var taken = Set<Int64>()
    /// Rows not written yet: new incidents (they get their ids in this order), and
    /// stored incidents continued (their values, then their id).
    private var inserts: [StoreArguments] = []
    private var updates: [StoreArguments] = []
    private(set) var count = 0

    /// Rows held before they are written: a few MB.
    static let batch = 5_000

    init(in db: any StoreSession) throws {
        var stored: [String: [(id: Int64, first: Int64, last: Int64)]] = [:]
        try db.forEachRow(
            sql: """
                SELECT id, host, first_seen_ns, last_seen_ns FROM incidents
                WHERE rule_id IS NULL AND merged_into IS NULL AND sighting_count > 0
                ORDER BY host, first_seen_ns, id
                """,
            arguments: []
        ) { row in
            stored[try row.decode(forColumn: "host"), default: []].append(
                (try row.decode(forColumn: "id"), try row.decode(forColumn: "first_seen_ns"),
                 try row.decode(forColumn: "last_seen_ns")))
        }
        self.stored = stored
    }

    /// Notes the stored incident whose span `fact` falls in, for the open incident.
    mutating func note(_ fact: SightingFact) {
        let host = Correlator.host(of: fact)
        if host != rangesHost {
            rangesHost = host
            nextRange = 0
            ranges = stored[host] ?? []
        }
        let time = fact.time.nanoseconds
        while nextRange < ranges.count, ranges[nextRange].last < time { nextRange += 1 }
        if nextRange < ranges.count, ranges[nextRange].first <= time { owners.insert(ranges[nextRange].id) }
    }

    /// Stores `incident`, whose sightings were noted since the last one closed.
    mutating func store(_ incident: Incident, in db: any StoreSession) throws {
        if incident.host != takenHost {
            // A stored incident has one host: the ids of other hosts cannot be taken.
            takenHost = incident.host
            takenByHost.removeAll(keepingCapacity: true)
        }
        count += 1
        let values = CaseDatabase.rowValues(IncidentRecord(
            host: incident.host, firstSeen: incident.firstSeen, lastSeen: incident.lastSeen,
            severity: incident.severity, confidence: incident.confidence, title: incident.title,
            indicatorValues: incident.indicatorValues, explanation: incident.explanation,
            sightingIDs: incident.sightingIDs))
        let previous = owners.subtracting(takenByHost).sorted()
        owners.removeAll(keepingCapacity: true)
        if let survivor = previous.first {
            updates.append(values + [survivor])
            for absorbed in previous.dropFirst() {
                try db.execute(sql: "UPDATE incidents SET merged_into = ? WHERE id = ?", arguments: [survivor, absorbed])
            }
            takenByHost.formUnion(previous)
            taken.formUnion(previous)
        } else {
            inserts.append(values)
        }
        if inserts.count + updates.count >= Self.batch { try write(in: db) }
    }

    /// Writes the rows held, then marks the stored incidents no incident of this run
    /// continues: they have lost their sightings (their sources were replaced), keep
    /// their rows, with no sightings, and are no longer listed.
    mutating func finish(in db: any StoreSession) throws {
        try write(in: db)
        for id in stored.values.joined().map(\.id) where !taken.contains(id) {
            try db.execute(sql: "UPDATE incidents SET sighting_count = 0 WHERE id = ?", arguments: [id])
        }
    }

    private mutating func write(in db: any StoreSession) throws {
        try db.updateRows(CaseDatabase.incidentColumns, updates)
        try db.insertRows(CaseDatabase.incidentColumns, inserts)
        updates.removeAll(keepingCapacity: true)
        inserts.removeAll(keepingCapacity: true)
    }
}

extension CaseDatabase {
    /// Calls `body` with every sighting of the case as correlation needs it — of sources
    /// that are `complete` or `failed` (a damaged file keeps what was read before the
    /// damage), not suppressed by an allow list. Ordered by sighting id, or by (host,
    /// time, id) when `orderedByHost` (the `sightings_host_time` index's order).
    /// Indicator metadata and source kinds are read once, not joined per sighting; each
    /// statement's columns are found by name once (`forEachRow(positions:)`), not on each of
    /// the millions of rows.
    static func forEachSightingFact(
        in db: any StoreSession, orderedByHost: Bool, _ body: (SightingFact) throws -> Void
    ) throws {
        struct IndicatorFacts {
            var value: String
            var type: String
            var severity: Severity?
            var confidence: Int?
            var feed: String
        }
        var indicators: [Int64: IndicatorFacts] = [:]
        try db.forEachRow(
            sql: "SELECT id, value, type, severity, confidence, COALESCE(source, rule_file) AS feed FROM indicators",
            positions: { column in
                (id: try column.position(of: "id"), value: try column.position(of: "value"),
                 type: try column.position(of: "type"), severity: try column.position(of: "severity"),
                 confidence: try column.position(of: "confidence"), feed: try column.position(of: "feed"))
            }
        ) { row, column in
            let severityText: String? = try row.decode(atIndex: column.severity)
            indicators[try row.decode(atIndex: column.id)] = IndicatorFacts(
                value: try row.decode(atIndex: column.value), type: try row.decode(atIndex: column.type),
                severity: severityText.flatMap { Severity(rawValue: $0.lowercased()) },
                confidence: try row.decode(atIndex: column.confidence), feed: try row.decode(atIndex: column.feed))
        }
        var kinds: [Int64: SourceKind] = [:]
        for row in try db.fetchAll(sql: "SELECT id, kind FROM sources WHERE status != 'reading'") {
            let kindText: String? = try row.decode(forColumn: "kind")
            // A kind this version does not know counts as a log, per the formula.
            kinds[try row.decode(forColumn: "id")] = kindText.flatMap(SourceKind.init(rawValue:)) ?? .text
        }
        // Sightings without a host ('') come first: the walk groups them under `(unknown)`.
        try db.forEachRow(
            sql: """
                SELECT s.id, s.host, s.time_ns, s.last_time_ns, s.indicator_id, s.source_id, s.field
                FROM sightings s
                WHERE s.suppressed_by IS NULL
                ORDER BY \(orderedByHost ? "s.host, s.time_ns, s.id" : "s.id")
                """,
            positions: { column in
                (id: try column.position(of: "id"), host: try column.position(of: "host"),
                 time: try column.position(of: "time_ns"), lastTime: try column.position(of: "last_time_ns"),
                 indicator: try column.position(of: "indicator_id"), source: try column.position(of: "source_id"),
                 field: try column.position(of: "field"))
            }
        ) { row, column in
            // Sightings of a source still `reading` are left out: they are a run in
            // progress or the remains of a killed one, which the next run replaces.
            guard let kind = kinds[try row.decode(atIndex: column.source)] else { return }
            let indicatorID: Int64 = try row.decode(atIndex: column.indicator)
            guard let indicator = indicators[indicatorID] else {
                throw CaseStoreError.corruptRow("sighting \(try row.decode(atIndex: column.id) as Int64) names indicator \(indicatorID), which is not stored")
            }
            var fact = SightingFact(
                id: try row.decode(atIndex: column.id),
                host: try row.decode(atIndex: column.host),
                time: Timestamp(nanoseconds: try row.decode(atIndex: column.time)),
                indicatorID: indicatorID,
                indicatorValue: indicator.value,
                sourceKind: kind,
                indicatorSeverity: indicator.severity,
                indicatorConfidence: indicator.confidence,
                feed: indicator.feed,
                lastTime: (try row.decode(atIndex: column.lastTime) as Int64?).map(Timestamp.init(nanoseconds:)))
            fact.indicatorType = indicator.type
            fact.field = try row.decode(atIndex: column.field)
            try body(fact)
        }
    }
}
