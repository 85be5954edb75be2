import Correlation
import GRDB
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
        try queue.write { db in
            var walk = Correlator.Walk(correlator)
            var store = IncidentStore()
            try CaseDatabase.forEachSightingFact(in: db, orderedByHost: true) { fact in
                if let closed = walk.add(fact) { try store.store(closed, in: db) }
                try store.note(fact, in: db)
            }
            if let last = walk.finish() { try store.store(last, in: db) }
            try store.emptyOrphans(in: db)
            return store.count
        }
    }
}

/// Stores incidents one at a time as a walk closes them, host after host, matching
/// each to the stored incidents whose spans its sightings fall in.
struct IncidentStore {
    /// The stored grouping incidents of `rangesHost` before this run, by first time:
    /// disjoint spans, as one host's incidents are.
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
    /// Every id an incident of this run took.
    private var taken = Set<Int64>()
    private(set) var count = 0

    /// Notes the stored incident whose span `fact` falls in, for the open incident.
    mutating func note(_ fact: SightingFact, in db: Database) throws {
        let host = Correlator.host(of: fact)
        if host != rangesHost {
            rangesHost = host
            nextRange = 0
            // Run once per host: a cached statement, since preparing one (with GRDB's
            // authorizer) cost more than the query.
            let select = try db.cachedStatement(sql: """
                SELECT id, first_seen_ns, last_seen_ns FROM incidents
                WHERE host = ? AND rule_id IS NULL AND merged_into IS NULL AND sighting_count > 0
                ORDER BY first_seen_ns, id
                """)
            ranges = try Row.fetchAll(select, arguments: [host]).map {
                (try $0.decode(forColumn: "id"), try $0.decode(forColumn: "first_seen_ns"),
                 try $0.decode(forColumn: "last_seen_ns"))
            }
        }
        let time = fact.time.nanoseconds
        while nextRange < ranges.count, ranges[nextRange].last < time { nextRange += 1 }
        if nextRange < ranges.count, ranges[nextRange].first <= time { owners.insert(ranges[nextRange].id) }
    }

    /// Stores `incident`, whose sightings were noted since the last one closed.
    mutating func store(_ incident: Incident, in db: Database) throws {
        if incident.host != takenHost {
            // A stored incident has one host: the ids of other hosts cannot be taken.
            takenHost = incident.host
            takenByHost.removeAll(keepingCapacity: true)
        }
        count += 1
        let record = IncidentRecord(
            host: incident.host, firstSeen: incident.firstSeen, lastSeen: incident.lastSeen,
            severity: incident.severity, confidence: incident.confidence, title: incident.title,
            indicatorValues: incident.indicatorValues, explanation: incident.explanation,
            sightingIDs: incident.sightingIDs)
        let previous = owners.subtracting(takenByHost).sorted()
        owners.removeAll(keepingCapacity: true)
        if let survivor = previous.first {
            try CaseDatabase.writeRow(record, as: survivor, in: db)
            for absorbed in previous.dropFirst() {
                try db.cachedStatement(sql: "UPDATE incidents SET merged_into = ? WHERE id = ?")
                    .execute(arguments: [survivor, absorbed])
            }
            takenByHost.formUnion(previous)
            taken.formUnion(previous)
            return
        }
        let id = try CaseDatabase.writeRow(record, as: nil, in: db)
        takenByHost.insert(id)
        taken.insert(id)
    }

    /// Stored incidents no incident of this run continues have lost their sightings
    /// (their sources were replaced): they keep their rows, with no sightings, and are
    /// no longer listed.
    func emptyOrphans(in db: Database) throws {
        let active = try Int64.fetchAll(
            db, sql: "SELECT id FROM incidents WHERE merged_into IS NULL AND rule_id IS NULL AND sighting_count > 0")
        for id in active where !taken.contains(id) {
            try db.execute(sql: "UPDATE incidents SET sighting_count = 0 WHERE id = ?", arguments: [id])
        }
    }
}

extension CaseDatabase {
    /// Calls `body` with every sighting of the case as correlation needs it — of sources
    /// that are `complete` or `failed` (a damaged file keeps what was read before the
    /// damage), not suppressed by an allow list. Ordered by sighting id, or by (host,
    /// time, id) when `orderedByHost` (the `sightings_host_time` index's order).
    /// Indicator metadata and source kinds are read once, not joined per sighting; each
    /// statement's columns are found by name once (`ColumnPositions`), not on each of
    /// the millions of rows.
    static func forEachSightingFact(
        in db: Database, orderedByHost: Bool, _ body: (SightingFact) throws -> Void
    ) throws {
        struct IndicatorFacts {
            var value: String
            var type: String
            var severity: Severity?
            var confidence: Int?
            var feed: String
        }
        var indicators: [Int64: IndicatorFacts] = [:]
        // Each statement's positions in a scope of their own: all three select an `id`.
        let indicatorStatement = try db.makeStatement(sql: """
            SELECT id, value, type, severity, confidence, COALESCE(source, rule_file) AS feed FROM indicators
            """)
        do {
            let position = ColumnPositions(indicatorStatement)
            let id = try position("id"), value = try position("value"), type = try position("type")
            let severity = try position("severity"), confidence = try position("confidence"), feed = try position("feed")
            let rows = try Row.fetchCursor(indicatorStatement)
            while let row = try rows.next() {
                let severityText: String? = try row.decode(atIndex: severity)
                indicators[try row.decode(atIndex: id)] = IndicatorFacts(
                    value: try row.decode(atIndex: value), type: try row.decode(atIndex: type),
                    severity: severityText.flatMap { Severity(rawValue: $0.lowercased()) },
                    confidence: try row.decode(atIndex: confidence), feed: try row.decode(atIndex: feed))
            }
        }
        var kinds: [Int64: SourceKind] = [:]
        let sourceStatement = try db.makeStatement(sql: "SELECT id, kind FROM sources WHERE status != 'reading'")
        do {
            let position = ColumnPositions(sourceStatement)
            let id = try position("id"), kind = try position("kind")
            let rows = try Row.fetchCursor(sourceStatement)
            while let row = try rows.next() {
                let kindText: String? = try row.decode(atIndex: kind)
                // A kind this version does not know counts as a log, per the formula.
                kinds[try row.decode(atIndex: id)] = kindText.flatMap(SourceKind.init(rawValue:)) ?? .text
            }
        }
        // Sightings without a host ('') come first: the walk groups them under `(unknown)`.
        let sightingStatement = try db.makeStatement(sql: """
            SELECT s.id, s.host, s.time_ns, s.last_time_ns, s.indicator_id, s.source_id, s.field
            FROM sightings s
            WHERE s.suppressed_by IS NULL
            ORDER BY \(orderedByHost ? "s.host, s.time_ns, s.id" : "s.id")
            """)
        let position = ColumnPositions(sightingStatement)
        let id = try position("id"), host = try position("host"), time = try position("time_ns")
        let lastTime = try position("last_time_ns"), indicatorColumn = try position("indicator_id")
        let source = try position("source_id"), field = try position("field")
        let rows = try Row.fetchCursor(sightingStatement)
        while let row = try rows.next() {
            // Sightings of a source still `reading` are left out: they are a run in
            // progress or the remains of a killed one, which the next run replaces.
            guard let kind = kinds[try row.decode(atIndex: source)] else { continue }
            let indicatorID: Int64 = try row.decode(atIndex: indicatorColumn)
            guard let indicator = indicators[indicatorID] else {
                throw CaseStoreError.corruptRow("sighting \(try row.decode(atIndex: id) as Int64) names indicator \(indicatorID), which is not stored")
            }
            var fact = SightingFact(
                id: try row.decode(atIndex: id),
                host: try row.decode(atIndex: host),
                time: Timestamp(nanoseconds: try row.decode(atIndex: time)),
                indicatorID: indicatorID,
                indicatorValue: indicator.value,
                sourceKind: kind,
                indicatorSeverity: indicator.severity,
                indicatorConfidence: indicator.confidence,
                feed: indicator.feed,
                lastTime: (try row.decode(atIndex: lastTime) as Int64?).map(Timestamp.init(nanoseconds:)))
            fact.indicatorType = indicator.type
            fact.field = try row.decode(atIndex: field)
            try body(fact)
        }
    }
}
