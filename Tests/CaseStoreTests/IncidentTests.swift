import Correlation
import Foundation
import TestSupport
import Indicators
import Observations
import Testing
@testable import CaseStore

/// A case database with one indicator per kind, to which tests add sightings of one
/// host in event-time minutes, one source per call, and then correlate.
private final class Case {
    let directory: TemporaryDirectory
    let database: CaseDatabase
    let runID: Int64
    let indicatorIDs: [Int64]
    private var sourceCount = 0

    init(_ store: StoreKind) throws {
        directory = try TemporaryDirectory()
        database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
        runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn")
        var high = Indicator(type: .domain, value: "evil.example", ruleFile: "Rules/feed-b.csv", line: 2)
        high.severity = "high"
        high.confidence = 90
        high.source = "partner-cert"
        indicatorIDs = try database.storeIndicators([
            Indicator(type: .ipv4, value: "203.0.113.7", ruleFile: "Rules/ips.txt", line: 3), high,
        ])
    }

    /// Adds a complete source holding sightings at the given minutes (indicator 0 unless
    /// `indicator` says otherwise), then recomputes and stores the incidents; returns
    /// their ids in the Correlator's order.
    @discardableResult
    func add(minutes: [Int64], host: String = "10.0.0.5", indicator: Int = 0, kind: SourceKind = .pcap) throws -> [Int64] {
        sourceCount += 1
        let source = try database.beginSource(path: "s\(sourceCount)", size: UInt64(sourceCount), kind: kind, runID: runID)
        let sightings = minutes.enumerated().map { index, minute in
            NewSighting(
                sourceID: source, locator: .packet(UInt64(index + 1)), time: at(minutes: minute),
                indicatorID: indicatorIDs[indicator], observed: indicator == 0 ? "203.0.113.7" : "evil.example",
                field: indicator == 0 ? .ipDestination : .dnsQuery, host: host)
        }
        _ = try database.finishSource(source, sha256: "sha\(sourceCount)", summary: ReadSummary(), lastSightings: sightings)
        try database.correlateIncidents()
        return try database.incidents().sorted { ($0.firstSeen, $0.host) < ($1.firstSeen, $1.host) }.map(\.id)
    }

    /// Every incident row, listed or not, with the sightings linked to it.
    func storedIncidents() throws -> [String] {
        try database.store.read { db in
            try db.fetchAll(sql: """
                SELECT id, host, first_seen_ns, last_seen_ns, severity, sighting_count, merged_into
                FROM incidents ORDER BY id
                """
            ).map { row in
                let id: Int64 = try row.decode(forColumn: "id")
                let links = try db.fetchValues(
                    Int64.self, sql: "SELECT sighting_id FROM incident_members WHERE incident_id = ? ORDER BY sighting_id",
                    arguments: [id])
                let host: String = try row.decode(forColumn: "host"), severity: String = try row.decode(forColumn: "severity")
                let first: Int64 = try row.decode(forColumn: "first_seen_ns"), last: Int64 = try row.decode(forColumn: "last_seen_ns")
                let count: Int = try row.decode(forColumn: "sighting_count"), merged: Int64? = try row.decode(forColumn: "merged_into")
                return "\(id) \(host) \(first)-\(last) \(severity) \(count) merged:\(merged.map(String.init) ?? "-") links:"
                    + links.map(String.init).joined(separator: ",")
            }
        }
    }
}

@Test("each stored incident's members are the sightings the in-memory correlation groups, run after run", arguments: StoreKind.available)
func membersMatchInMemory(store: StoreKind) throws {
    let store = try Case(store)
    // Extend, bridge (merge), a second host, sightings without a host, a second indicator.
    let steps: [(minutes: [Int64], host: String, indicator: Int)] = [
        ([0, 100], "10.0.0.5", 0), ([10], "10.0.0.9", 1), ([30, 60, 90], "10.0.0.5", 1), ([5, 200], "", 0),
        ([300], "10.0.0.9", 0), ([120, 250], "10.0.0.5", 0),
    ]
    for step in steps {
        try store.add(minutes: step.minutes, host: step.host, indicator: step.indicator)
        let expected = Correlator().incidents(from: try store.database.sightingFacts())
        let listed = try store.database.incidents()
        #expect(listed.count == expected.count)
        for incident in expected {
            let row = try #require(listed.first { $0.host == incident.host && $0.firstSeen == incident.firstSeen })
            let members = try store.database.sightings(incident: row.id).map(\.id).sorted()
            #expect(members == incident.sightingIDs, "\(row.title)")
            #expect(row.sightingCount == incident.sightingIDs.count)
        }
    }
    #expect(try store.storedIncidents().contains { $0.contains("merged:1") })
    // Grouping incidents write no link rows: their members come from host and span.
    #expect(try store.database.store.read { db in try db.fetchValue(Int.self, sql: "SELECT count(*) FROM incident_sightings") } == 0)
}

@Test("correlating an unchanged case again changes nothing", arguments: StoreKind.available)
func unchangedCaseUnchanged(store: StoreKind) throws {
    let store = try Case(store)
    try store.add(minutes: [0, 10, 100], host: "10.0.0.5")
    try store.add(minutes: [5], host: "10.0.0.9", indicator: 1)
    let before = try store.storedIncidents()
    try store.database.correlateIncidents()
    #expect(try store.storedIncidents() == before)
}

@Test("an incident keeps its id when a later run extends it", arguments: StoreKind.available)
func idStableWhenExtended(store: StoreKind) throws {
    let store = try Case(store)
    let first = try store.add(minutes: [0, 10])
    let second = try store.add(minutes: [20, 40])
    #expect(first == second)
    let rows = try store.database.incidents()
    #expect(rows.count == 1 && rows[0].id == first[0] && rows[0].sightingCount == 4)
    #expect(rows[0].lastSeen == at(minutes: 40))
}

@Test("a sighting that bridges two incidents merges them into the older id", arguments: StoreKind.available)
func bridgeMerges(store: StoreKind) throws {
    let store = try Case(store)
    let apart = try store.add(minutes: [0, 100])
    #expect(apart.count == 2)
    try store.database.triage(incident: apart[1], status: .investigating, note: "second", assignee: nil, user: "ana")
    let merged = try store.add(minutes: [30, 60, 90])
    #expect(merged == [apart[0]])
    let listed = try store.database.incidents()
    #expect(listed.map(\.id) == [apart[0]])
    #expect(listed[0].sightingCount == 5)
    let absorbed = try #require(try store.database.incident(apart[1]))
    #expect(absorbed.mergedInto == apart[0])
    // Its history stays, and it can no longer be triaged.
    #expect(try store.database.triageHistory(incident: apart[1]).map(\.note) == ["second"])
    #expect(throws: CaseStoreError.mergedIncident(apart[1], into: apart[0])) {
        try store.database.triage(incident: apart[1], status: .closed, note: nil, assignee: nil)
    }
}

@Test("a new host gets a new id; existing ids do not move", arguments: StoreKind.available)
func newIncidentNewID(store: StoreKind) throws {
    let store = try Case(store)
    let first = try store.add(minutes: [0])
    let both = try store.add(minutes: [5], host: "10.0.0.9")
    #expect(both.count == 2 && both.contains(first[0]))
    #expect(Set(both).count == 2)
}

@Test("an incident whose sightings are gone is kept but not listed", arguments: StoreKind.available)
func orphanKept(store: StoreKind) throws {
    let store = try Case(store)
    let ids = try store.add(minutes: [0])
    try store.database.store.write { db in try db.execute(sql: "DELETE FROM sources") }
    try store.database.correlateIncidents()
    #expect(try store.database.incidents().isEmpty)
    #expect(try store.database.incident(ids[0])?.sightingCount == 0)
}

@Test("severity and confidence use the metadata stored with the indicators", arguments: StoreKind.available)
func severityFromMetadata(store: StoreKind) throws {
    let store = try Case(store)
    try store.add(minutes: [0], indicator: 1)
    let row = try #require(try store.database.incidents().first)
    #expect(row.severity == "high" && row.confidence == 90)
    try store.add(minutes: [1], indicator: 0, kind: .text)
    let raised = try #require(try store.database.incidents().first)
    // Two indicators, two feeds (partner-cert and Rules/ips.txt), capture and log.
    #expect(raised.severity == "critical" && raised.confidence == 100)
    #expect(raised.explanation.contains("2 independent feeds"))
}

@Test("triage history is appended, shown newest status, and cannot be rewritten", arguments: StoreKind.available)
func triageHistory(store: StoreKind) throws {
    let store = try Case(store)
    let id = try store.add(minutes: [0])[0]
    #expect(try store.database.incident(id)?.status == .new)
    try store.database.triage(incident: id, status: .investigating, note: "looking", assignee: "ana", user: "u1")
    try store.database.triage(incident: id, status: .escalated, note: "police", assignee: nil, user: "u2")
    let history = try store.database.triageHistory(incident: id)
    #expect(history.map(\.status) == [.investigating, .escalated])
    #expect(history.map(\.user) == ["u1", "u2"])
    let row = try #require(try store.database.incident(id))
    #expect(row.status == .escalated && row.assignee == "ana")
    #expect(throws: (any Error).self) {
        try store.database.store.write { db in try db.execute(sql: "UPDATE triage_events SET status = 'closed'") }
    }
    #expect(throws: (any Error).self) {
        try store.database.store.write { db in try db.execute(sql: "DELETE FROM triage_events") }
    }
    #expect(throws: CaseStoreError.unknownIncident(999)) {
        try store.database.triage(incident: 999, status: .closed, note: nil, assignee: nil)
    }
}

@Test("incident filters: time, severity, host, indicator, status, source", arguments: StoreKind.available)
func filters(store: StoreKind) throws {
    let store = try Case(store)
    try store.add(minutes: [0], host: "10.0.0.5")
    try store.add(minutes: [500], host: "10.0.0.9", indicator: 1)
    let all = try store.database.incidents()
    #expect(all.count == 2)
    let early = try #require(all.first { $0.host == "10.0.0.5" })
    let late = try #require(all.first { $0.host == "10.0.0.9" })
    func ids(_ change: (inout IncidentFilter) -> Void) throws -> [Int64] {
        var filter = IncidentFilter()
        change(&filter)
        return try store.database.incidents(filter).map(\.id)
    }
    #expect(try ids { $0.since = at(minutes: 100) } == [late.id])
    #expect(try ids { $0.until = at(minutes: 100) } == [early.id])
    #expect(try ids { $0.minimumSeverity = .high } == [late.id])
    #expect(try ids { $0.minimumSeverity = .low } == [late.id, early.id])
    #expect(try ids { $0.host = "10.0.0.5" } == [early.id])
    #expect(try ids { $0.indicator = "evil.example" } == [late.id])
    #expect(try ids { $0.indicator = "203.0.113.7" } == [early.id])
    #expect(try ids { $0.source = "s1" } == [early.id])
    #expect(try ids { $0.source = "sha2" } == [late.id])
    #expect(try ids { $0.source = "s" }.isEmpty)
    try store.database.triage(incident: early.id, status: .closed, note: nil, assignee: nil)
    #expect(try ids { $0.status = .closed } == [early.id])
    #expect(try ids { $0.status = .new } == [late.id])
}

@Test("the status filter follows each incident's latest triage event", arguments: StoreKind.available)
func statusFilter(store: StoreKind) throws {
    let store = try Case(store)
    _ = try store.add(minutes: [0], host: "10.0.0.1")
    _ = try store.add(minutes: [0], host: "10.0.0.2")
    let ids = try store.add(minutes: [0], host: "10.0.0.3")
    let byHost = Dictionary(uniqueKeysWithValues: try store.database.incidents().map { ($0.host, $0.id) })
    #expect(ids.count == 3)
    let (reopened, closed, untouched) = (byHost["10.0.0.1"]!, byHost["10.0.0.2"]!, byHost["10.0.0.3"]!)
    try store.database.triage(incident: reopened, status: .investigating, note: nil, assignee: nil)
    try store.database.triage(incident: reopened, status: .new, note: "reopened", assignee: nil)
    try store.database.triage(incident: closed, status: .escalated, note: nil, assignee: nil)
    try store.database.triage(incident: closed, status: .closed, note: nil, assignee: nil)
    func listed(_ status: TriageStatus) throws -> Set<Int64> {
        var filter = IncidentFilter()
        filter.status = status
        let page = try store.database.incidentPage(filter, limit: 10, offset: 0)
        #expect(page.total == page.rows.count)
        #expect(Set(try store.database.incidents(filter).map(\.id)) == Set(page.rows.map(\.id)))
        return Set(page.rows.map(\.id))
    }
    #expect(try listed(.new) == [reopened, untouched])
    #expect(try listed(.closed) == [closed])
    #expect(try listed(.escalated).isEmpty)
    #expect(try listed(.investigating).isEmpty)
}

@Test("a page of incidents is the slice of the sorted list, with the total", arguments: StoreKind.available)
func incidentPages(store: StoreKind) throws {
    let store = try Case(store)
    for host in 1...7 { _ = try store.add(minutes: [Int64(host)], host: "10.0.1.\(host)") }
    let all = try store.database.incidents()
    #expect(all.count == 7)
    for order in IncidentOrder.allCases {
        for descending in [true, false] {
            var seen: [Int64] = []
            for offset in stride(from: 0, to: 7, by: 3) {
                let page = try store.database.incidentPage(
                    IncidentFilter(), order: order, descending: descending, limit: 3, offset: offset)
                #expect(page.total == 7)
                seen += page.rows.map(\.id)
            }
            #expect(seen.count == 7 && Set(seen).count == 7, "\(order) \(descending)")
        }
    }
    let byHost = try store.database.incidentPage(IncidentFilter(), order: .host, descending: false, limit: 7, offset: 0)
    #expect(byHost.rows.map(\.host) == all.map(\.host).sorted())
}
