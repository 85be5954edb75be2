import Observations

/// Queries of the evidence export, which reads incidents of up to hundreds of
/// thousands of sightings: one statement for all of them, its columns found by name
/// once (`SightingRow.Columns`) and read by position on each row.
extension CaseDatabase {
    /// The sightings of each of `incidents`, as `sightings(incident:)` lists them (by
    /// time, source path, locator, then id), read with one query. An id with no
    /// sightings maps to an empty array.
    public func sightings(incidents ids: [Int64]) throws -> [Int64: [SightingRow]] {
        var result: [Int64: [SightingRow]] = [:]
        for id in ids { result[id] = [] }
        guard !ids.isEmpty else { return result }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        let sql = """
            SELECT l.incident_id, \(CaseDatabase.sightingColumns)
            FROM incident_members l JOIN sightings s ON s.id = l.sighting_id \(CaseDatabase.sightingJoins)
            WHERE l.incident_id IN (\(placeholders))
            ORDER BY l.incident_id, s.time_ns, src.path, s.locator, s.byte_offset, s.id
            """
        try store.read { db in
            try CaseDatabase.forEachSightingRow(sql: sql, arguments: StoreArguments(ids), in: db) { row in
                if let incident = row.incidentID { result[incident, default: []].append(row) }
            }
        }
        return result
    }

    /// The indicators sighted in `incidents`, with the TLP the case stored for each
    /// (migration `v3-incident-identity`): nil where none is stored.
    public func sightedIndicators(incidents ids: [Int64]) throws -> [StoredIndicatorLabel] {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        return try store.read { db in
            var labels: [StoredIndicatorLabel] = []
            // Through forEachRow: its SQL, built for this many ids, is prepared for this call only.
            try db.forEachRow(sql: """
                SELECT DISTINCT i.rule_file, i.rule_line, i.value, i.tlp,
                       (i.source IS NOT NULL OR i.severity IS NOT NULL OR i.confidence IS NOT NULL
                        OR i.description IS NOT NULL) AS has_metadata
                FROM incident_members l
                JOIN sightings s ON s.id = l.sighting_id
                JOIN indicators i ON i.id = s.indicator_id
                WHERE l.incident_id IN (\(placeholders))
                ORDER BY i.rule_file, i.rule_line, i.value
                """, arguments: StoreArguments(ids)
            ) { row in
                labels.append(StoredIndicatorLabel(
                    ruleFile: try row.decode(forColumn: "rule_file"), ruleLine: try row.decode(forColumn: "rule_line"),
                    value: try row.decode(forColumn: "value"), tlp: try row.decode(forColumn: "tlp"),
                    hasMetadata: try row.decode(forColumn: "has_metadata")))
            }
            return labels
        }
    }
}

/// An indicator sighted in an incident, with the TLP label the case stored for it.
public struct StoredIndicatorLabel: Sendable, Hashable {
    public var ruleFile: String
    public var ruleLine: Int
    public var value: String
    /// The rule entry's TLP as stored (`amber`, `TLP:RED`…), nil when none is stored.
    public var tlp: String?
    /// Whether the row holds any of the rule entry's metadata (source, severity,
    /// confidence, description): if so it was stored with its metadata, and a nil `tlp`
    /// means the rule entry gave none. A row with no metadata at all may predate the
    /// metadata columns.
    public var hasMetadata: Bool

    public init(ruleFile: String, ruleLine: Int, value: String, tlp: String?, hasMetadata: Bool) {
        self.ruleFile = ruleFile
        self.ruleLine = ruleLine
        self.value = value
        self.tlp = tlp
        self.hasMetadata = hasMetadata
    }
}
