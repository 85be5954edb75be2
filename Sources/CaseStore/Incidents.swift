import Correlation
import Observations

/// Incidents: stored so that an incident keeps its id from run to run, listed with
/// filters, and triaged with an append-only history.
///
/// ## How incidents keep their ids
///
/// Each run computes the incidents from all sightings (`Correlator`), which makes
/// them independent of file order, `--jobs` and the number of runs.
/// `correlateIncidents` then matches them to the stored ones. A stored grouping
/// incident holds the sightings of its host within its time span (`incident_members`),
/// so a computed incident continues the stored incidents whose spans its sightings fall
/// in:
///
/// 1. A computed incident none of whose sightings falls in a stored incident's span is
///    new.
/// 2. Otherwise it takes the smallest id among those stored incidents (they are
///    processed by host, then in order of first sighting; an id already taken by an
///    earlier computed incident is not taken twice — a stored incident has one host,
///    so only the incidents of the same host compete for it).
/// 3. The other stored incidents it absorbed are marked `merged_into` it, keep their
///    rows and their triage history, and are no longer listed.
/// 4. A stored incident that no computed incident took has lost all its sightings (its
///    sources were replaced); it keeps its row with no sightings and is not listed.
extension CaseDatabase {
    /// Every sighting, as correlation needs it, of sources that are `complete` or
    /// `failed` (a damaged file keeps what was read before the damage), except those an
    /// allow list suppressed, by id. Sightings of a source still `reading` are left out:
    /// they are a run in progress or the remains of a killed one, which the next run
    /// replaces. (`correlateIncidents` streams them instead of holding them.)
    public func sightingFacts() throws -> [SightingFact] {
        var facts: [SightingFact] = []
        try forEachSightingFact { facts.append($0) }
        return facts
    }

    /// Calls `body` with each sighting `sightingFacts()` returns, in the same order,
    /// without holding them.
    public func forEachSightingFact(_ body: (SightingFact) throws -> Void) throws {
        try store.read { db in
            try CaseDatabase.forEachSightingFact(in: db, orderedByHost: false, body)
        }
    }

    /// Inserts (`id` nil) or overwrites an incident row, grouping or rule, and replaces
    /// its sighting and line-event links; returns its id.
    @discardableResult
    static func write(_ incident: IncidentRecord, as id: Int64?, in db: any StoreSession) throws -> Int64 {
        let incidentID = try writeRow(incident, as: id, in: db)
        if id != nil {
            try db.execute(sql: "DELETE FROM incident_sightings WHERE incident_id = ?", arguments: [incidentID])
            try db.execute(sql: "DELETE FROM incident_line_events WHERE incident_id = ?", arguments: [incidentID])
        }
        for sightingID in incident.sightingIDs {
            try db.execute(
                sql: "INSERT INTO incident_sightings (incident_id, sighting_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                arguments: [incidentID, sightingID])
        }
        for eventID in incident.lineEventIDs {
            try db.execute(
                sql: "INSERT INTO incident_line_events (incident_id, line_event_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                arguments: [incidentID, eventID])
        }
        return incidentID
    }

    /// Inserts (`id` nil) or overwrites the row of an incident, not its links; returns
    /// its id.
    @discardableResult
    static func writeRow(_ incident: IncidentRecord, as id: Int64?, in db: any StoreSession) throws -> Int64 {
        let values = rowValues(incident)
        if let id {
            try db.execute(sql: incidentColumns.updateSQL, arguments: values + [id])
            return id
        }
        return try db.insert(sql: incidentColumns.insertSQL, arguments: values)
    }

    /// The columns of an incident row, as `rowValues` gives them.
    static let incidentColumns = TableColumns(table: "incidents", columns: [
        ("host", .text), ("first_seen", .text), ("last_seen", .text), ("first_seen_ns", .bigint),
        ("last_seen_ns", .bigint), ("severity", .text), ("confidence", .bigint), ("title", .text),
        ("indicators", .text), ("sighting_count", .bigint), ("explanation", .text), ("rule_id", .text),
        ("group_key", .text), ("line_count", .bigint),
    ])

    /// An incident's values, in the order of `incidentColumns`.
    static func rowValues(_ incident: IncidentRecord) -> StoreArguments {
        [
            incident.host, incident.firstSeen.iso8601, incident.lastSeen.iso8601, incident.firstSeen.nanoseconds,
            incident.lastSeen.nanoseconds, incident.severity.rawValue, incident.confidence, incident.title,
            incident.indicatorValues.joined(separator: ","), incident.sightingIDs.count, incident.explanation,
            incident.ruleID, incident.groupKey, incident.lineEventIDs.count,
        ]
    }

    /// The listed incidents (not merged, with sightings) that pass `filter`, newest
    /// first (by last_seen, then id).
    public func incidents(_ filter: IncidentFilter = IncidentFilter()) throws -> [IncidentRow] {
        try store.read { db in try CaseDatabase.incidents(filter, in: db) }
    }

    /// One page of the listed incidents that pass `filter`, in `order`, with how many
    /// pass it in all: what a browser shows a screen of at a time (`cairn serve`).
    public func incidentPage(
        _ filter: IncidentFilter, order: IncidentOrder = .lastSeen, descending: Bool = true, limit: Int, offset: Int
    ) throws -> IncidentPage {
        try store.read { db in
            let (conditions, arguments) = CaseDatabase.conditions(filter, in: db)
            let count = try db.fetchOne(
                sql: "SELECT COUNT(*) AS n FROM incidents i WHERE \(conditions)", arguments: arguments)
            var pageArguments = arguments
            pageArguments.append(contentsOf: [max(0, limit), max(0, offset)])
            let ordering = "ORDER BY \(order.expression) \(descending ? "DESC" : "ASC"), i.id \(descending ? "DESC" : "ASC")"
            // The page's ids first, then their rows: the status and assignee of an
            // incident (subqueries) are computed for the page only, not for every
            // incident the sort passes over.
            let rows = try db.fetchAll(
                sql: """
                    \(CaseDatabase.incidentSelect)
                    JOIN (SELECT i.id FROM incidents i WHERE \(conditions) \(ordering) LIMIT ? OFFSET ?) page ON page.id = i.id
                    \(ordering)
                    """,
                arguments: pageArguments
            ).map(CaseDatabase.incidentRow)
            return IncidentPage(rows: rows, total: try count?.decode(forColumn: "n") ?? 0)
        }
    }

    private static func incidents(_ filter: IncidentFilter, in db: any StoreSession) throws -> [IncidentRow] {
        let (conditions, arguments) = CaseDatabase.conditions(filter, in: db)
        return try db.fetchAll(
            sql: "\(CaseDatabase.incidentSelect) WHERE \(conditions) ORDER BY i.last_seen_ns DESC, i.id DESC",
            arguments: arguments
        ).map(CaseDatabase.incidentRow)
    }

    /// The WHERE clause (on `incidents i`) of the listed incidents that pass `filter`.
    private static func conditions(_ filter: IncidentFilter, in db: any StoreSession) -> (String, StoreArguments) {
        var conditions = ["i.merged_into IS NULL", "(i.sighting_count > 0 OR i.line_count > 0)"]
        var arguments = StoreArguments()
        if let since = filter.since {
            conditions.append("i.last_seen_ns >= ?")
            arguments.append(since.nanoseconds)
        }
        if let until = filter.until {
            conditions.append("i.first_seen_ns <= ?")
            arguments.append(until.nanoseconds)
        }
        if let minimum = filter.minimumSeverity {
            let levels = Severity.allCases.filter { $0 >= minimum }.map { "'\($0.rawValue)'" }
            conditions.append("i.severity IN (\(levels.joined(separator: ", ")))")
        }
        if let host = filter.host {
            conditions.append("i.host = ?")
            arguments.append(host)
        }
        if let status = filter.status {
            // Through the triage events (few) rather than each incident's latest event
            // (every incident of the case): an incident is `new` unless its latest
            // event says otherwise.
            let latest = """
                SELECT t.incident_id FROM triage_events t
                WHERE t.id = (SELECT MAX(u.id) FROM triage_events u WHERE u.incident_id = t.incident_id)
                """
            if status == .new {
                conditions.append("i.id NOT IN (\(latest) AND t.status != 'new')")
            } else {
                conditions.append("i.id IN (\(latest) AND t.status = ?)")
                arguments.append(status.rawValue)
            }
        }
        if let indicator = filter.indicator {
            // The matching sightings first, then their incidents: the store finds the
            // incidents of a few sightings through the host and time indexes, where
            // asking each incident for its members visits every sighting of the case.
            conditions.append("""
                i.id IN (SELECT l.incident_id FROM incident_members l WHERE l.sighting_id IN
                         (SELECT s.id FROM sightings s
                          WHERE s.indicator_id IN (SELECT ind.id FROM indicators ind WHERE ind.value = ?) OR s.observed = ?))
                """)
            arguments.append(contentsOf: [indicator, indicator])
        }
        if let source = filter.source {
            conditions.append("""
                i.id IN (SELECT l.incident_id FROM incident_members l WHERE l.sighting_id IN
                         (SELECT s.id FROM sightings s JOIN sources src ON src.id = s.source_id
                          WHERE src.path = ? OR src.path \(db.dialect.caseInsensitiveLike) ? ESCAPE '\\' OR src.sha256 = ?))
                """)
            arguments.append(contentsOf: [source, "%/" + CaseDatabase.likeEscaped(source), source.lowercased()])
        }
        return (conditions.joined(separator: " AND "), arguments)
    }

    /// One incident by id, whether listed or not (merged, emptied); nil when no
    /// incident has this id.
    public func incident(_ id: Int64) throws -> IncidentRow? {
        try store.read { db in
            try db.fetchOne(sql: "\(CaseDatabase.incidentSelect) WHERE i.id = ?", arguments: [id])
                .map(CaseDatabase.incidentRow)
        }
    }

    /// Appends a triage event to an incident's history: its new status, with an
    /// optional note and assignee, recorded with the time and the operating-system
    /// user. Nothing is overwritten. Throws `unknownIncident` for an id that no
    /// incident has, and `mergedIncident` for one merged into another.
    public func triage(
        incident id: Int64, status: TriageStatus, note: String?, assignee: String?,
        user: String = CustodyChain.currentUser()
    ) throws {
        try store.write { db in
            guard let merged = try db.fetchOne(sql: "SELECT merged_into FROM incidents WHERE id = ?", arguments: [id])
            else { throw CaseStoreError.unknownIncident(id) }
            if let into: Int64 = try merged.decode(forColumn: "merged_into") { throw CaseStoreError.mergedIncident(id, into: into) }
            try db.execute(
                sql: """
                    INSERT INTO triage_events (incident_id, recorded_at, "user", status, assignee, note)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, CustodyChain.now(), user, status.rawValue, assignee, note])
        }
    }

    /// The triage history of an incident, oldest first.
    public func triageHistory(incident id: Int64) throws -> [TriageEvent] {
        try store.read { db in
            try db.fetchAll(sql: """
                SELECT recorded_at, "user", status, assignee, note FROM triage_events
                WHERE incident_id = ? ORDER BY id
                """, arguments: [id]
            ).map { row in
                let status: String = try row.decode(forColumn: "status")
                guard let parsed = TriageStatus(rawValue: status) else {
                    throw CaseStoreError.corruptRow("a triage event has status \(status)")
                }
                return TriageEvent(
                    recordedAt: try row.decode(forColumn: "recorded_at"), user: try row.decode(forColumn: "user"),
                    status: parsed, assignee: try row.decode(forColumn: "assignee"), note: try row.decode(forColumn: "note"))
            }
        }
    }

    /// The status of incident `i`: that of its latest triage event, else `new`.
    static let statusExpression = """
        COALESCE((SELECT t.status FROM triage_events t WHERE t.incident_id = i.id ORDER BY t.id DESC LIMIT 1), 'new')
        """

    private static let incidentSelect = """
        SELECT i.id, i.first_seen_ns, i.last_seen_ns, i.host, i.severity, i.confidence, i.indicators,
               i.sighting_count, i.title, i.explanation, i.merged_into, i.rule_id, i.line_count,
               \(statusExpression) AS status,
               (SELECT t.assignee FROM triage_events t WHERE t.incident_id = i.id AND t.assignee IS NOT NULL
                ORDER BY t.id DESC LIMIT 1) AS assignee
        FROM incidents i
        """

    private static func incidentRow(_ row: StoreRow) throws -> IncidentRow {
        let indicators: String = try row.decode(forColumn: "indicators")
        let status: String = try row.decode(forColumn: "status")
        return IncidentRow(
            id: try row.decode(forColumn: "id"),
            firstSeen: Timestamp(nanoseconds: try row.decode(forColumn: "first_seen_ns")),
            lastSeen: Timestamp(nanoseconds: try row.decode(forColumn: "last_seen_ns")),
            host: try row.decode(forColumn: "host"),
            severity: try row.decode(forColumn: "severity"),
            confidence: try row.decode(forColumn: "confidence"),
            indicators: indicators.isEmpty ? [] : indicators.split(separator: ",").map(String.init),
            sightingCount: try row.decode(forColumn: "sighting_count"),
            title: try row.decode(forColumn: "title"),
            explanation: try row.decode(forColumn: "explanation"),
            mergedInto: try row.decode(forColumn: "merged_into"),
            ruleID: try row.decode(forColumn: "rule_id"),
            lineCount: try row.decode(forColumn: "line_count"),
            status: TriageStatus(rawValue: status) ?? .new,
            assignee: try row.decode(forColumn: "assignee"))
    }

    /// `text` with `%`, `_` and `\` escaped for a LIKE pattern with `ESCAPE '\'`.
    private static func likeEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}

/// The columns and links of one incident row, whatever made it (the grouping by host,
/// or a correlation rule).
struct IncidentRecord {
    var host: String
    var firstSeen: Timestamp
    var lastSeen: Timestamp
    var severity: Severity
    var confidence: Int
    var title: String
    var indicatorValues: [String]
    var explanation: String
    var sightingIDs: [Int64]
    var ruleID: String? = nil
    var groupKey: String? = nil
    var lineEventIDs: [Int64] = []
}

/// An incident as listed.
public struct IncidentRow: Sendable, Hashable {
    public var id: Int64
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    public var host: String
    /// `info`, `low`, `medium`, `high` or `critical`.
    public var severity: String
    /// 0–100.
    public var confidence: Int = 50
    /// Sorted distinct indicator values.
    public var indicators: [String]
    public var sightingCount: Int
    public var title: String
    /// What made it an incident and how severity and confidence were reached.
    public var explanation: String = ""
    /// The incident it was merged into by a later run, if it was.
    public var mergedInto: Int64? = nil
    /// The correlation rule that made it; nil for the default grouping by host.
    public var ruleID: String? = nil
    /// The log lines (selected by correlation base rules) it holds besides sightings.
    public var lineCount: Int = 0
    /// Its latest triage status (`new` when never triaged).
    public var status: TriageStatus = .new
    /// Its latest assignee, if any triage event named one.
    public var assignee: String? = nil
}

/// What `incidents(_:)` lists; every condition set must hold.
public struct IncidentFilter: Sendable, Equatable {
    /// Incidents still going at or after this time (last sighting ≥ since).
    public var since: Timestamp?
    /// Incidents begun at or before this time (first sighting ≤ until).
    public var until: Timestamp?
    /// Incidents at least this severe.
    public var minimumSeverity: Severity?
    /// Incidents of this host (exact text, as listed).
    public var host: String?
    /// Incidents with a sighting of this indicator value, or of this observed value.
    public var indicator: String?
    /// Incidents whose latest triage status is this.
    public var status: TriageStatus?
    /// Incidents with a sighting from this source: its full path, its file name (or
    /// a trailing part of its path after a `/`), or its SHA-256.
    public var source: String?

    public init() {}
}

/// The order of an incident list (ties broken by id, in the same direction).
public enum IncidentOrder: String, Sendable, CaseIterable {
    case lastSeen = "last_seen", firstSeen = "first_seen", severity, host, sightings, id

    var expression: String {
        switch self {
        case .lastSeen: "i.last_seen_ns"
        case .firstSeen: "i.first_seen_ns"
        case .severity:
            "CASE i.severity " + Severity.allCases.map { "WHEN '\($0.rawValue)' THEN \($0.rank)" }.joined(separator: " ")
                + " END"
        case .host: "i.host"
        case .sightings: "i.sighting_count + i.line_count"
        case .id: "i.id"
        }
    }
}

/// One page of an incident list, and the number of incidents the list has in all.
public struct IncidentPage: Sendable, Equatable {
    public var rows: [IncidentRow]
    public var total: Int
}

/// Where an analyst is with an incident.
public enum TriageStatus: String, Sendable, CaseIterable, Encodable {
    case new, investigating, escalated, closed
}

/// One change of an incident's triage status, as recorded; encoded as
/// `{"recorded_at", "user", "status", "assignee", "note"}` (in `cairn show --format
/// json` and in an export's incident.json).
public struct TriageEvent: Sendable, Hashable, Encodable {
    /// UTC, ISO 8601.
    public var recordedAt: String
    /// The operating-system user who made the change.
    public var user: String
    public var status: TriageStatus
    public var assignee: String?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case user, status, assignee, note
        case recordedAt = "recorded_at"
    }
}
