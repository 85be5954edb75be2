import Correlation
import Observations

/// Incidents made by correlation rules (`Rules/correlation`), and the log lines their
/// base rules selected.
///
/// A rule incident keeps its id from run to run like a grouping incident: a match of
/// the same rule and group whose time span overlaps a stored incident's continues it.
extension CaseDatabase {
    /// Stores log lines that base rules selected while a source was read.
    public func appendLineEvents(_ events: [NewLineEvent]) throws {
        guard !events.isEmpty else { return }
        try store.write { db in
            try db.insertRows(Self.lineEventInsert, events.map { event in
                [
                    event.sourceID, Int64(clamping: event.line), Int64(clamping: event.offset),
                    event.time.nanoseconds, event.host, event.logSource, event.logDestination,
                    event.baseRules.joined(separator: ","),
                ]
            })
        }
    }

    static let lineEventInsert = TableColumns(table: "line_events", columns: [
        ("source_id", .bigint), ("line", .bigint), ("byte_offset", .bigint), ("time_ns", .bigint), ("host", .text),
        ("log_src", .text), ("log_dst", .text), ("base_rules", .text),
    ])

    /// The stored line events of sources that are not being read.
    public func lineEvents() throws -> [StoredLineEvent] {
        try lineEvents(where: "src.status != 'reading'", [])
    }

    /// The line events of one incident, in time order.
    public func lineEvents(incident id: Int64) throws -> [StoredLineEvent] {
        try lineEvents(where: "e.id IN (SELECT line_event_id FROM incident_line_events WHERE incident_id = ?)", [id])
    }

    private func lineEvents(where condition: String, _ arguments: StoreArguments) throws -> [StoredLineEvent] {
        try store.read { db in
            // Every line event of the case, for rule correlation.
            var events: [StoredLineEvent] = []
            try db.forEachRow(sql: """
                SELECT e.id, e.source_id, e.line, e.byte_offset, e.time_ns, e.host, e.log_src, e.log_dst, e.base_rules,
                       src.path, src.sha256
                FROM line_events e JOIN sources src ON src.id = e.source_id
                WHERE \(condition)
                ORDER BY e.time_ns, e.id
                """, arguments: arguments
            ) { row in
                let names: String = try row.decode(forColumn: "base_rules")
                events.append(StoredLineEvent(
                    id: try row.decode(forColumn: "id"), sourceID: try row.decode(forColumn: "source_id"),
                    line: UInt64(clamping: try row.decode(forColumn: "line") as Int64),
                    offset: UInt64(clamping: try row.decode(forColumn: "byte_offset") as Int64),
                    time: Timestamp(nanoseconds: try row.decode(forColumn: "time_ns")),
                    host: try row.decode(forColumn: "host"), logSource: try row.decode(forColumn: "log_src"),
                    logDestination: try row.decode(forColumn: "log_dst"),
                    baseRules: names.split(separator: ",").map(String.init), sourcePath: try row.decode(forColumn: "path"),
                    sourceSHA256: try row.decode(forColumn: "sha256") ?? ""))
            }
            return events
        }
    }

    /// Stores the incidents correlation rules made from all events of the case,
    /// keeping the ids of the stored ones they continue (same rule and group,
    /// overlapping time span). Stored rule incidents no match continues keep their row
    /// with no events and are not listed. One transaction; returns the ids in order.
    @discardableResult
    public func updateRuleIncidents(_ incidents: [RuleIncident]) throws -> [Int64] {
        try store.write { db in
            var stored: [String: [(id: Int64, first: Int64, last: Int64)]] = [:]
            let rows = try db.fetchAll(sql: """
                SELECT id, rule_id, group_key, first_seen_ns, last_seen_ns FROM incidents
                WHERE rule_id IS NOT NULL AND merged_into IS NULL ORDER BY id
                """)
            for row in rows {
                let key = (try row.decode(forColumn: "rule_id") as String) + "\u{0}"
                    + (try row.decode(forColumn: "group_key") as String)
                stored[key, default: []].append((
                    try row.decode(forColumn: "id"), try row.decode(forColumn: "first_seen_ns"),
                    try row.decode(forColumn: "last_seen_ns")))
            }
            var taken = Set<Int64>()
            var ids: [Int64] = []
            for incident in incidents {
                let key = incident.ruleID + "\u{0}" + incident.groupKey
                let continued = stored[key]?.first { candidate in
                    !taken.contains(candidate.id) && candidate.first <= incident.lastSeen.nanoseconds
                        && incident.firstSeen.nanoseconds <= candidate.last
                }
                let id = try CaseDatabase.write(
                    IncidentRecord(
                        host: incident.host, firstSeen: incident.firstSeen, lastSeen: incident.lastSeen,
                        severity: incident.severity, confidence: incident.confidence, title: incident.title,
                        indicatorValues: incident.indicatorValues, explanation: incident.explanation,
                        sightingIDs: incident.sightingIDs, ruleID: incident.ruleID, groupKey: incident.groupKey,
                        lineEventIDs: incident.lineEventIDs),
                    as: continued?.id, in: db)
                taken.insert(id)
                ids.append(id)
            }
            for id in stored.values.flatMap({ $0.map(\.id) }) where !taken.contains(id) {
                try db.execute(sql: "DELETE FROM incident_sightings WHERE incident_id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM incident_line_events WHERE incident_id = ?", arguments: [id])
                try db.execute(sql: "UPDATE incidents SET sighting_count = 0, line_count = 0 WHERE id = ?", arguments: [id])
            }
            return ids
        }
    }
}

/// A log line a base rule selected, as the reader hands it over.
public struct NewLineEvent: Sendable, Hashable {
    public var sourceID: Int64
    public var line: UInt64
    public var offset: UInt64
    public var time: Timestamp
    /// The host of the line's header.
    public var host: String
    /// The line's `log.src` and `log.dst` addresses, when it names them.
    public var logSource: String?
    public var logDestination: String?
    /// The names of the base rules that selected it.
    public var baseRules: [String]

    public init(
        sourceID: Int64, line: UInt64, offset: UInt64, time: Timestamp, host: String, logSource: String?,
        logDestination: String?, baseRules: [String]
    ) {
        self.sourceID = sourceID
        self.line = line
        self.offset = offset
        self.time = time
        self.host = host
        self.logSource = logSource
        self.logDestination = logDestination
        self.baseRules = baseRules
    }
}

/// A stored line event.
public struct StoredLineEvent: Sendable, Hashable {
    public var id: Int64
    public var sourceID: Int64
    public var line: UInt64
    public var offset: UInt64
    public var time: Timestamp
    public var host: String
    public var logSource: String?
    public var logDestination: String?
    public var baseRules: [String]
    public var sourcePath: String
    /// The SHA-256 of the source file as ingested (empty for a source never hashed).
    public var sourceSHA256: String = ""
}

/// An incident a correlation rule made.
public struct RuleIncident: Sendable, Hashable {
    public var ruleID: String
    /// `log.src=203.0.113.9`: the group the rule fired for.
    public var groupKey: String
    public var host: String
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    public var severity: Severity
    public var confidence: Int
    public var title: String
    public var explanation: String
    public var indicatorValues: [String]
    public var sightingIDs: [Int64]
    public var lineEventIDs: [Int64]

    public init(
        ruleID: String, groupKey: String, host: String, firstSeen: Timestamp, lastSeen: Timestamp, severity: Severity,
        confidence: Int, title: String, explanation: String, indicatorValues: [String], sightingIDs: [Int64],
        lineEventIDs: [Int64]
    ) {
        self.ruleID = ruleID
        self.groupKey = groupKey
        self.host = host
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.severity = severity
        self.confidence = confidence
        self.title = title
        self.explanation = explanation
        self.indicatorValues = indicatorValues
        self.sightingIDs = sightingIDs
        self.lineEventIDs = lineEventIDs
    }
}
