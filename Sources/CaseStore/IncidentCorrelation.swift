import Correlation
import GRDB
import Observations

/// Correlation of the whole case, streamed: the sightings are read from SQLite in
/// (host, time, id) order and walked (`Correlator.Walk`); each incident is stored as
/// soon as it closes. Memory holds the open incident (its sighting ids and distinct
/// indicator values), the stored indicators' metadata, and one id per incident —
/// never the case's sightings, so a case of tens of millions of sightings correlates
/// in the memory of its largest incident.
extension CaseDatabase {
    /// Correlates every sighting of the case (those `sightingFacts()` returns) into
    /// incidents and stores them, keeping the ids of the stored incidents they continue
    /// by the rules documented on `updateIncidents`. Only the links of sightings whose
    /// incident changed are written. One transaction. Returns the number of incidents.
    @discardableResult
    public func correlateIncidents(_ correlator: Correlator = Correlator()) throws -> Int {
        try queue.write { db in
            var walk = Correlator.Walk(correlator)
            var store = IncidentStore()
            // The sightings of the open incident and the incident each was linked to.
            var members: [(sighting: Int64, owner: Int64?)] = []
            try CaseDatabase.forEachSightingFact(in: db, orderedByHost: true) { fact, owner in
                if let closed = walk.add(fact) {
                    try store.store(closed, members: members, in: db)
                    members.removeAll(keepingCapacity: true)
                }
                members.append((fact.id, owner))
            }
            if let last = walk.finish() { try store.store(last, members: members, in: db) }
            try store.emptyOrphans(in: db)
            return store.count
        }
    }
}

/// Stores incidents one at a time as a walk closes them, host after host.
struct IncidentStore {
    /// Stored incidents taken by an incident of the current host: as survivor or
    /// merged into one. An id is taken once.
    private var takenByHost = Set<Int64>()
    private var host: String?
    /// Every id an incident of this run took.
    private var taken = Set<Int64>()
    private(set) var count = 0

    /// Stores `incident` whose sightings are `members`, each with the grouping
    /// incident it was linked to before this run.
    @discardableResult
    mutating func store(_ incident: Incident, members: [(sighting: Int64, owner: Int64?)], in db: Database) throws -> Int64 {
        if incident.host != host {
            // A stored incident has one host: the ids of other hosts cannot be taken.
            host = incident.host
            takenByHost.removeAll(keepingCapacity: true)
        }
        count += 1
        let record = IncidentRecord(
            host: incident.host, firstSeen: incident.firstSeen, lastSeen: incident.lastSeen,
            severity: incident.severity, confidence: incident.confidence, title: incident.title,
            indicatorValues: incident.indicatorValues, explanation: incident.explanation,
            sightingIDs: incident.sightingIDs)
        let previous = Set(members.compactMap(\.owner)).subtracting(takenByHost).sorted()
        let id: Int64
        if let survivor = previous.first {
            id = survivor
            try CaseDatabase.writeRow(record, as: id, in: db)
            for absorbed in previous.dropFirst() {
                try db.cachedStatement(sql: "UPDATE incidents SET merged_into = ? WHERE id = ?")
                    .execute(arguments: [survivor, absorbed])
            }
            takenByHost.formUnion(previous)
            taken.formUnion(previous)
        } else {
            id = try CaseDatabase.writeRow(record, as: nil, in: db)
            takenByHost.insert(id)
            taken.insert(id)
        }
        var moved: [Int64: [Int64]] = [:]  // previous incident → its sightings that move
        var linked: [Int64] = []
        for member in members where member.owner != id {
            if let owner = member.owner { moved[owner, default: []].append(member.sighting) }
            linked.append(member.sighting)
        }
        for (owner, sightings) in moved.sorted(by: { $0.key < $1.key }) {
            try IncidentStore.execute(
                "DELETE FROM incident_sightings WHERE incident_id = ? AND sighting_id IN (SELECT value FROM json_each(?))",
                incident: owner, sightings: sightings, in: db)
        }
        try IncidentStore.execute(
            "INSERT OR IGNORE INTO incident_sightings (incident_id, sighting_id) SELECT ?, value FROM json_each(?)",
            incident: id, sightings: linked, in: db)
        return id
    }

    /// Runs `sql`, whose arguments are an incident id and a JSON array of sighting ids,
    /// for `sightings` in batches: one statement per 50,000 links, not one per link.
    private static func execute(_ sql: String, incident: Int64, sightings: [Int64], in db: Database) throws {
        let statement = try db.cachedStatement(sql: sql)
        var start = 0
        while start < sightings.count {
            let batch = sightings[start..<min(start + 50_000, sightings.count)]
            let list = "[" + batch.map(String.init).joined(separator: ",") + "]"
            try statement.execute(arguments: [incident, list])
            start += batch.count
        }
    }

    /// Stored incidents no incident of this run continues have lost their sightings
    /// (their sources were replaced; the links went with them by cascade): they keep
    /// their rows, with no sightings, and are no longer listed.
    func emptyOrphans(in db: Database) throws {
        let active = try Int64.fetchAll(
            db, sql: "SELECT id FROM incidents WHERE merged_into IS NULL AND rule_id IS NULL AND sighting_count > 0")
        for id in active where !taken.contains(id) {
            try db.execute(sql: "DELETE FROM incident_sightings WHERE incident_id = ?", arguments: [id])
            try db.execute(sql: "UPDATE incidents SET sighting_count = 0 WHERE id = ?", arguments: [id])
        }
    }
}

extension CaseDatabase {
    /// The grouping incident (not a rule incident) sighting `?` is linked to, merged or
    /// not: merged ones are taken like the others, so their links are moved.
    static let groupingIncidentOfSighting = """
        SELECT l.incident_id FROM incident_sightings l JOIN incidents i ON i.id = l.incident_id
        WHERE l.sighting_id = ? AND i.rule_id IS NULL LIMIT 1
        """

    /// Calls `body` with every sighting of the case as correlation needs it — of sources
    /// that are `complete` or `failed` (a damaged file keeps what was read before the
    /// damage), not suppressed by an allow list — and the grouping incident it is linked
    /// to, if any. Ordered by sighting id, or by (host, time, id) when `orderedByHost`.
    /// Indicator metadata and source kinds are read once, not joined per sighting.
    static func forEachSightingFact(
        in db: Database, orderedByHost: Bool, _ body: (SightingFact, _ owner: Int64?) throws -> Void
    ) throws {
        struct IndicatorFacts {
            var value: String
            var type: String
            var severity: Severity?
            var confidence: Int?
            var feed: String
        }
        var indicators: [Int64: IndicatorFacts] = [:]
        let indicatorRows = try Row.fetchCursor(
            db, sql: "SELECT id, value, type, severity, confidence, COALESCE(source, rule_file) FROM indicators")
        while let row = try indicatorRows.next() {
            let severity: String? = try row.decode(atIndex: 3)
            indicators[try row.decode(atIndex: 0)] = IndicatorFacts(
                value: try row.decode(atIndex: 1), type: try row.decode(atIndex: 2),
                severity: severity.flatMap { Severity(rawValue: $0.lowercased()) },
                confidence: try row.decode(atIndex: 4), feed: try row.decode(atIndex: 5))
        }
        var kinds: [Int64: SourceKind] = [:]
        let sourceRows = try Row.fetchCursor(db, sql: "SELECT id, kind FROM sources WHERE status != 'reading'")
        while let row = try sourceRows.next() {
            let kind: String? = try row.decode(atIndex: 1)
            // A kind this version does not know counts as a log, per the formula.
            kinds[try row.decode(atIndex: 0)] = kind.flatMap(SourceKind.init(rawValue:)) ?? .text
        }
        // Ordered by the host the sighting is grouped under (`Correlator.host(of:)`).
        let rows = try Row.fetchCursor(db, sql: """
            SELECT s.id, s.host, s.time_ns, s.last_time_ns, s.indicator_id, s.source_id, s.field,
                   (\(groupingIncidentOfSighting.replacingOccurrences(of: "?", with: "s.id")))
            FROM sightings s
            WHERE s.suppressed_by IS NULL
            ORDER BY \(orderedByHost ? "CASE s.host WHEN '' THEN ? ELSE s.host END, s.time_ns, s.id" : "s.id")
            """, arguments: orderedByHost ? [Correlator.unknownHost] : [])
        while let row = try rows.next() {
            // Sightings of a source still `reading` are left out: they are a run in
            // progress or the remains of a killed one, which the next run replaces.
            guard let kind = kinds[try row.decode(atIndex: 5)] else { continue }
            let indicatorID: Int64 = try row.decode(atIndex: 4)
            guard let indicator = indicators[indicatorID] else {
                throw CaseStoreError.corruptRow("sighting \(try row.decode(atIndex: 0) as Int64) names indicator \(indicatorID), which is not stored")
            }
            var fact = SightingFact(
                id: try row.decode(atIndex: 0),
                host: try row.decode(atIndex: 1),
                time: Timestamp(nanoseconds: try row.decode(atIndex: 2)),
                indicatorID: indicatorID,
                indicatorValue: indicator.value,
                sourceKind: kind,
                indicatorSeverity: indicator.severity,
                indicatorConfidence: indicator.confidence,
                feed: indicator.feed,
                lastTime: (try row.decode(atIndex: 3) as Int64?).map(Timestamp.init(nanoseconds:)))
            fact.indicatorType = indicator.type
            fact.field = try row.decode(atIndex: 6)
            try body(fact, try row.decode(atIndex: 7))
        }
    }
}
