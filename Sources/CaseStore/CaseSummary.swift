import Correlation
import Observations

/// What a case holds at a glance: the first page of `cairn serve`.
public struct CaseSummary: Sendable, Equatable {
    /// Listed incidents by severity and by triage status.
    public var severities: [Severity: Int] = [:]
    public var statuses: [TriageStatus: Int] = [:]
    /// Sightings (not suppressed) in each of `buckets` equal spans from the first to the
    /// last sighting's time; empty when the case has none.
    public var timeline: [TimeBucket] = []
    /// The indicators with the most sightings, most first (ties by value: the same
    /// whatever order a store gave the indicators their ids).
    public var topIndicators: [IndicatorCount] = []
    /// Sources by status (`complete`, `failed`, `reading`).
    public var sourceStatuses: [String: Int] = [:]
    public var sightingCount = 0
    /// Anomalies counted over all sources, by name.
    public var anomalies: [String: UInt64] = [:]

    public struct TimeBucket: Sendable, Equatable {
        public var start: Timestamp
        public var end: Timestamp
        public var sightings: Int
    }

    public struct IndicatorCount: Sendable, Equatable {
        public var type: String
        public var value: String
        public var ruleFile: String
        public var ruleLine: Int
        public var sightings: Int
    }
}

extension CaseDatabase {
    /// The case's counts (`CaseSummary`), with the sightings over time in `buckets` spans
    /// and the `top` most sighted indicators.
    public func summary(buckets: Int = 48, top: Int = 10) throws -> CaseSummary {
        let sources = try self.sources()
        return try store.read { db in
            var summary = CaseSummary()
            for source in sources {
                summary.sourceStatuses[source.status, default: 0] += 1
                for (name, count) in source.anomalies.counts { summary.anomalies[name, default: 0] += count }
            }
            let listed = "i.merged_into IS NULL AND (i.sighting_count > 0 OR i.line_count > 0)"
            for row in try db.fetchAll(sql: "SELECT severity, COUNT(*) AS n FROM incidents i WHERE \(listed) GROUP BY severity") {
                let name: String = try row.decode(forColumn: "severity")
                if let severity = Severity(rawValue: name) { summary.severities[severity] = try row.decode(forColumn: "n") }
            }
            for row in try db.fetchAll(sql: """
                SELECT \(CaseDatabase.statusExpression) AS status, COUNT(*) AS n FROM incidents i WHERE \(listed)
                GROUP BY 1
                """) {
                let name: String = try row.decode(forColumn: "status")
                if let status = TriageStatus(rawValue: name) { summary.statuses[status] = try row.decode(forColumn: "n") }
            }
            let visible = "s.suppressed_by IS NULL"
            guard let span = try db.fetchOne(sql: """
                SELECT MIN(time_ns) AS first, MAX(time_ns) AS last, COUNT(*) AS n FROM sightings s WHERE \(visible)
                """), let first: Int64 = try span.decode(forColumn: "first"), let last: Int64 = try span.decode(forColumn: "last")
            else { return summary }
            summary.sightingCount = try span.decode(forColumn: "n")
            let count = Int64(max(1, buckets))
            let width = max(1, (last - first) / count + 1)
            var perBucket = [Int](repeating: 0, count: Int(count))
            for row in try db.fetchAll(
                sql: "SELECT (s.time_ns - ?) / ? AS bucket, COUNT(*) AS n FROM sightings s WHERE \(visible) GROUP BY 1",
                arguments: [first, width]
            ) {
                let bucket: Int64 = try row.decode(forColumn: "bucket")
                if bucket >= 0 && bucket < count { perBucket[Int(bucket)] = try row.decode(forColumn: "n") }
            }
            summary.timeline = perBucket.enumerated().map { index, sightings in
                let start = first + Int64(index) * width
                return CaseSummary.TimeBucket(
                    start: Timestamp(nanoseconds: start), end: Timestamp(nanoseconds: start + width), sightings: sightings)
            }
            summary.topIndicators = try db.fetchAll(sql: """
                SELECT i.type, i.value, i.rule_file, i.rule_line, c.n FROM
                    (SELECT indicator_id, COUNT(*) AS n FROM sightings s WHERE \(visible) GROUP BY indicator_id) c
                JOIN indicators i ON i.id = c.indicator_id
                ORDER BY c.n DESC, i.value, i.type, i.rule_file, i.rule_line LIMIT ?
                """, arguments: [top]
            ).map { row in
                CaseSummary.IndicatorCount(
                    type: try row.decode(forColumn: "type"), value: try row.decode(forColumn: "value"),
                    ruleFile: try row.decode(forColumn: "rule_file"), ruleLine: try row.decode(forColumn: "rule_line"),
                    sightings: try row.decode(forColumn: "n"))
            }
            return summary
        }
    }
}

extension CaseDatabase {
    /// A value that changes whenever what `summary` counts may have changed: a sighting,
    /// a source, a triage event or a custody entry appended, a run finished. (Every run
    /// and every drain that correlates appends its custody entry when it is done.) Cheap:
    /// a few primary-key lookups, so a server can keep the summary until it changes.
    public func changeMark() throws -> String {
        try store.read { db in
            let row = try db.fetchOne(sql: """
                SELECT (SELECT MAX(id) FROM sightings) AS sightings, (SELECT MAX(id) FROM sources) AS sources,
                       (SELECT MAX(id) FROM triage_events) AS triage, (SELECT MAX(id) FROM custody_entries) AS custody,
                       (SELECT COUNT(finished_at) FROM runs) AS finished
                """)
            return try ["sightings", "sources", "triage", "custody", "finished"].map { column in
                (try row?.decode(forColumn: column) as Int64?).map(String.init) ?? "-"
            }.joined(separator: ":")
        }
    }
}
