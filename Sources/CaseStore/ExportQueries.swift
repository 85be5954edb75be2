import GRDB
import Observations

/// Queries of the evidence export, which reads incidents of up to hundreds of
/// thousands of sightings: one statement for all of them, columns read by position.
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
            SELECT l.incident_id, s.id, src.path, src.sha256, s.locator_kind, s.locator, s.byte_offset, s.time_ns,
                   i.type, i.value, s.observed, s.field, s.host, i.rule_file, i.rule_line, i.source, i.severity,
                   r.name, r.packet, r.time_ns, rsrc.path, s.suppressed_by, s.context, s.packets, s.bytes,
                   s.last_time_ns
            FROM incident_members l
            JOIN sightings s ON s.id = l.sighting_id
            JOIN sources src ON src.id = s.source_id
            JOIN indicators i ON i.id = s.indicator_id
            LEFT JOIN resolutions r ON r.id = s.derived_from
            LEFT JOIN sources rsrc ON rsrc.id = r.source_id
            WHERE l.incident_id IN (\(placeholders))
            ORDER BY l.incident_id, s.time_ns, src.path, s.locator, s.byte_offset, s.id
            """
        try queue.read { db in
            let rows = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(ids))
            // Paths and digests repeat on every row: one String each.
            var strings: [String: String] = [:]
            func shared(_ text: String) -> String {
                if let known = strings[text] { return known }
                strings[text] = text
                return text
            }
            while let row = try rows.next() {
                let incident: Int64 = try row.decode(atIndex: 0)
                let kind: String = try row.decode(atIndex: 4)
                let number = UInt64(clamping: try row.decode(atIndex: 5) as Int64)
                let locator: Locator
                switch kind {
                case "packet": locator = .packet(number)
                case "line":
                    let offset: Int64? = try row.decode(atIndex: 6)
                    locator = .line(number: number, offset: offset.map { UInt64(clamping: $0) } ?? 0)
                default: throw CaseStoreError.corruptRow("a sighting has locator kind \(kind)")
                }
                var derivation: Derivation? = nil
                if let name: String = try row.decode(atIndex: 17) {
                    derivation = Derivation(
                        name: name, sourcePath: try row.decode(atIndex: 20) ?? "",
                        packet: UInt64(clamping: try row.decode(atIndex: 18) as Int64),
                        time: Timestamp(nanoseconds: try row.decode(atIndex: 19)))
                }
                let sha256: String? = try row.decode(atIndex: 3)
                let context: String? = try row.decode(atIndex: 22)
                result[incident, default: []].append(SightingRow(
                    id: try row.decode(atIndex: 1),
                    incidentID: incident,
                    sourcePath: shared(try row.decode(atIndex: 2)),
                    sourceSHA256: shared(sha256 ?? ""),
                    locator: locator,
                    time: Timestamp(nanoseconds: try row.decode(atIndex: 7)),
                    indicatorType: shared(try row.decode(atIndex: 8)),
                    indicatorValue: shared(try row.decode(atIndex: 9)),
                    observed: shared(try row.decode(atIndex: 10)),
                    field: shared(try row.decode(atIndex: 11)),
                    host: shared(try row.decode(atIndex: 12)),
                    ruleFile: shared(try row.decode(atIndex: 13)),
                    ruleLine: try row.decode(atIndex: 14),
                    indicatorSource: try row.decode(atIndex: 15),
                    indicatorSeverity: try row.decode(atIndex: 16),
                    derivedFrom: derivation,
                    packets: UInt64(clamping: try row.decode(atIndex: 23) as Int64),
                    bytes: (try row.decode(atIndex: 24) as Int64?).map { UInt64(clamping: $0) },
                    lastTime: (try row.decode(atIndex: 25) as Int64?).map(Timestamp.init(nanoseconds:)),
                    suppressedBy: try row.decode(atIndex: 21),
                    context: context.map { $0.split(separator: ",").map(String.init) } ?? []))
            }
        }
        return result
    }

    /// The indicators sighted in `incidents`, with the TLP the case stored for each
    /// (migration `v3-incident-identity`): nil where none is stored.
    public func sightedIndicators(incidents ids: [Int64]) throws -> [StoredIndicatorLabel] {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        return try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT DISTINCT i.rule_file, i.rule_line, i.value, i.tlp,
                       (i.source IS NOT NULL OR i.severity IS NOT NULL OR i.confidence IS NOT NULL
                        OR i.description IS NOT NULL)
                FROM incident_members l
                JOIN sightings s ON s.id = l.sighting_id
                JOIN indicators i ON i.id = s.indicator_id
                WHERE l.incident_id IN (\(placeholders))
                ORDER BY i.rule_file, i.rule_line, i.value
                """, arguments: StatementArguments(ids)
            ).map { row in
                StoredIndicatorLabel(
                    ruleFile: try row.decode(atIndex: 0), ruleLine: try row.decode(atIndex: 1),
                    value: try row.decode(atIndex: 2), tlp: try row.decode(atIndex: 3),
                    hasMetadata: try row.decode(atIndex: 4))
            }
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
