import Correlation
import Foundation
import GRDB
import Indicators
import Observations
import Testing
import TestSupport
@testable import CaseStore

/// A fresh directory for one test, removed when the test ends.
/// Writes a case as an older Cairn left it: the migrations up to `migration`, then
/// `sql` (its rows), so that a test can open it with this version and see it migrated.
func makeOlderCase(at path: String, migratedUpTo migration: String, _ sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try Schema.migrator.migrate(queue, upTo: migration)
    try queue.write { db in try db.execute(sql: sql) }
}

final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "casestore-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var database: String { path + "/case.sqlite" }
}

let origin = Timestamp(seconds: 1_709_294_400)  // 2024-03-01T12:00:00Z

func at(minutes: Int64) -> Timestamp {
    Timestamp(nanoseconds: origin.nanoseconds + minutes * 60_000_000_000)
}

private let ruleIndicators = [
    Indicator(type: .ipv4, value: "203.0.113.7", ruleFile: "Rules/ips.txt", line: 3),
    Indicator(type: .domain, value: "evil.example", ruleFile: "Rules/domains.txt", line: 12),
    Indicator(type: .sha256, value: String(repeating: "ab", count: 32), ruleFile: "Rules/hashes.txt", line: 1),
]

private func permissions(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

@Test(
    "the store tests run against PostgreSQL too",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package")
)
func postgresAvailable() throws {
    #expect(StoreKind.available.contains(.postgres))
    _ = try ThrowawayPostgres.shared.get()
}

@Test("the database file and its WAL files are created with mode 0600")
func fileMode() throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: directory.database)
    _ = try database.beginRun(version: "test", rulesDigest: "d", commandLine: "cairn")
    #expect(try permissions(directory.database) == 0o600)
    for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: directory.database + suffix) {
        #expect(try permissions(directory.database + suffix) == 0o600)
    }
    let mode = try database.store.read { db in try db.fetchValue(String.self, sql: "PRAGMA journal_mode") }
    #expect(mode == "wal")
    let foreignKeys = try database.store.read { db in try db.fetchValue(Bool.self, sql: "PRAGMA foreign_keys") }
    #expect(foreignKeys == true)
}

@Test("an existing file keeps its data, and migrations apply once")
func migrationsIdempotent() throws {
    let directory = try TemporaryDirectory()
    let first = try CaseDatabase(location: directory.database)
    let runID = try first.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn ingest")
    let second = try CaseDatabase(location: directory.database)
    let migrations = try second.store.read { db in
        try db.fetchValues(String.self, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
    }
    // Every registered migration, each once (a later one appends itself to the list).
    #expect(migrations == Schema.migrator.migrations.sorted())
    #expect(Array(migrations.prefix(4)) == ["v1-initial", "v2-custody", "v3-incident-identity", "v4-source-accounting"])
    let runs = try second.store.read { db in try db.fetchValues(Int64.self, sql: "SELECT id FROM runs") }
    #expect(runs == [runID])
    #expect(try second.integrityCheck() == ["ok"])
}

@Test("a database path in a missing directory is a clear error")
func missingDirectory() throws {
    let directory = try TemporaryDirectory()
    #expect(throws: CaseStoreError.self) { try CaseDatabase(location: directory.path + "/no/such/case.sqlite") }
}

@Test("indicators are stored once and ids come back in order", arguments: StoreKind.available)
func indicatorsStoredOnce(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let ids = try database.storeIndicators(ruleIndicators)
    #expect(Set(ids).count == 3)
    let again = try database.storeIndicators([ruleIndicators[2], ruleIndicators[0]])
    #expect(again == [ids[2], ids[0]])
    // Same value from another line is another indicator (its own provenance).
    let moved = Indicator(type: .ipv4, value: "203.0.113.7", ruleFile: "Rules/ips.txt", line: 4)
    let movedID = try database.storeIndicators([moved])
    #expect(!ids.contains(movedID[0]))
    let count = try database.store.read { db in try db.fetchValue(Int.self, sql: "SELECT COUNT(*) FROM indicators") }
    #expect(count == 4)
}

@Test("the full flow: run, sources, sightings, duplicates, failures, incidents", arguments: StoreKind.available)
func fullFlow(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let runID = try database.beginRun(version: "0.1.0", rulesDigest: "abc123", commandLine: "cairn ingest x")
    let ids = try database.storeIndicators(ruleIndicators)

    // A capture with two sightings in a batch and one with the finish.
    let captureSHA = String(repeating: "1", count: 64)
    #expect(try database.hasCompletedSource(size: 4096) == false)
    let capture = try database.beginSource(path: "cases/a.pcap", size: 4096, kind: .pcap, runID: runID)
    try database.appendSightings([
        NewSighting(sourceID: capture, locator: .packet(7), time: at(minutes: 0), indicatorID: ids[0],
                    observed: "203.0.113.7", field: .ipDestination, host: "10.0.0.5"),
        NewSighting(sourceID: capture, locator: .packet(2), time: at(minutes: 0), indicatorID: ids[1],
                    observed: "EVIL.example", field: .dnsQuery, host: "10.0.0.5"),
    ])
    var summary = ReadSummary()
    summary.packets = 120
    summary.bytes = 4096
    summary.anomalies.record(.ipv4Truncated, count: 2)
    summary.notes = ["link type 113 not decoded", "second note"]
    let captureOutcome = try database.finishSource(
        capture, sha256: captureSHA, summary: summary,
        lastSightings: [
            NewSighting(sourceID: capture, locator: .packet(90), time: at(minutes: 10), indicatorID: ids[0],
                        observed: "203.0.113.7", field: .ipSource, host: "10.0.0.5"),
        ])
    #expect(captureOutcome == .complete)
    #expect(try database.completedSource(sha256: captureSHA) == "cases/a.pcap")
    #expect(try database.hasCompletedSource(size: 4096))

    // A log on another host.
    let log = try database.beginSource(path: "cases/syslog.gz", size: 300, kind: .gzip, runID: runID)
    var logSummary = ReadSummary()
    logSummary.lines = 40
    let logOutcome = try database.finishSource(
        log, sha256: String(repeating: "2", count: 64), summary: logSummary,
        lastSightings: [
            NewSighting(sourceID: log, locator: .line(number: 17, offset: 2048), time: at(minutes: 5),
                        indicatorID: ids[2], observed: String(repeating: "AB", count: 32), field: .logHash,
                        host: "mail01"),
        ])
    #expect(logOutcome == .complete)

    // The same capture under another name: a duplicate, its sightings removed.
    let copy = try database.beginSource(path: "cases/copy-of-a.pcap", size: 4096, kind: .pcap, runID: runID)
    try database.appendSightings([
        NewSighting(sourceID: copy, locator: .packet(7), time: at(minutes: 0), indicatorID: ids[0],
                    observed: "203.0.113.7", field: .ipDestination, host: "10.0.0.5"),
    ])
    let copyOutcome = try database.finishSource(copy, sha256: captureSHA, summary: summary, lastSightings: [])
    #expect(copyOutcome == .duplicate("cases/a.pcap"))

    // A damaged file is recorded failed but keeps what was read.
    let damaged = try database.beginSource(path: "cases/cut.pcapng", size: 99, kind: .pcapng, runID: runID)
    var damagedSummary = ReadSummary()
    damagedSummary.damage = "truncated record at byte 64"
    let damagedOutcome = try database.finishSource(
        damaged, sha256: String(repeating: "3", count: 64), summary: damagedSummary,
        lastSightings: [
            NewSighting(sourceID: damaged, locator: .packet(1), time: at(minutes: 200), indicatorID: ids[1],
                        observed: "evil.example", field: .dnsQuery, host: ""),
        ])
    #expect(damagedOutcome == .failed("truncated record at byte 64"))

    // A file that could not be read, twice: one record.
    try database.recordFailedSource(path: "cases/missing.pcap", kind: nil, reason: "no such file", runID: runID)
    try database.recordFailedSource(path: "cases/missing.pcap", kind: nil, reason: "still no such file", runID: runID)

    let sources = try database.sources()
    #expect(sources.map(\.path) == ["cases/a.pcap", "cases/syslog.gz", "cases/cut.pcapng", "cases/missing.pcap"])
    #expect(sources.map(\.status) == ["complete", "complete", "failed", "failed"])
    #expect(sources[0].anomalies.counts == ["ipv4.truncated": 2])
    #expect(sources[0].notes == ["link type 113 not decoded", "second note"])
    #expect(sources[0].packets == 120 && sources[0].bytes == 4096 && sources[0].sha256 == captureSHA)
    #expect(sources[0].finishedAt != nil && Timestamp(iso8601: sources[0].startedAt) != nil)
    #expect(sources[1].lines == 40 && sources[1].kind == .gzip)
    #expect(sources[2].error == "truncated record at byte 64")
    #expect(sources[3].error == "still no such file" && sources[3].size == nil && sources[3].kind == nil)
    let anomalyText = try database.store.read { db in
        try db.fetchValue(String.self, sql: "SELECT anomalies FROM sources WHERE path = 'cases/a.pcap'")
    }
    #expect(anomalyText == #"{"ipv4.truncated":2}"#)

    // Sightings with provenance, ordered by time, path, locator.
    let all = try database.sightings(incident: nil)
    #expect(all.count == 5)
    #expect(all.map(\.locator) == [.packet(2), .packet(7), .line(number: 17, offset: 2048), .packet(90), .packet(1)])
    let first = try #require(all.first)
    #expect(first.sourcePath == "cases/a.pcap" && first.sourceSHA256 == captureSHA)
    #expect(first.indicatorType == "domain" && first.indicatorValue == "evil.example")
    #expect(first.observed == "EVIL.example" && first.field == "dns.query" && first.host == "10.0.0.5")
    #expect(first.ruleFile == "Rules/domains.txt" && first.ruleLine == 12)
    #expect(first.time == origin && first.incidentID == nil)
    #expect(all[2].ruleFile == "Rules/hashes.txt" && all[2].sourcePath == "cases/syslog.gz")
    let isoTimes = try database.store.read { db in
        try db.fetchValues(String.self, sql: "SELECT time FROM sightings ORDER BY time_ns, id")
    }
    #expect(isoTimes.first == "2024-03-01T12:00:00Z")

    // Correlate what is stored and keep the incidents.
    let facts = try database.sightingFacts()
    #expect(facts.count == 5)
    #expect(facts.filter { $0.host == "mail01" }.map(\.sourceKind) == [.gzip])
    let incidents = Correlator().incidents(from: facts)
    #expect(incidents.count == 3)
    try database.correlateIncidents()
    try database.correlateIncidents()  // the same incidents again: updated, not added
    let rows = try database.incidents()
    #expect(rows.map(\.host) == ["(unknown)", "10.0.0.5", "mail01"])
    #expect(rows.map(\.lastSeen) == [at(minutes: 200), at(minutes: 10), at(minutes: 5)])
    let host = try #require(rows.first { $0.host == "10.0.0.5" })
    #expect(host.firstSeen == origin)
    #expect(host.indicators == ["203.0.113.7", "evil.example"])
    #expect(host.sightingCount == 3)
    #expect(host.severity == "high")
    #expect(host.title == "10.0.0.5: 2 indicators — 203.0.113.7, evil.example")

    let ofHost = try database.sightings(incident: host.id)
    #expect(ofHost.map(\.locator) == [.packet(2), .packet(7), .packet(90)])
    #expect(ofHost.allSatisfy { $0.incidentID == host.id })
    #expect(try database.sightings(incident: nil).allSatisfy { $0.incidentID != nil })
    #expect(try database.sightings(incident: 9999).isEmpty)

    try database.finishRun(runID, succeeded: true)
    let status = try database.store.read { db in try db.fetchValue(String.self, sql: "SELECT status FROM runs") }
    #expect(status == "succeeded")
    #expect(throws: CaseStoreError.unknownRun(runID + 1)) { try database.finishRun(runID + 1, succeeded: false) }
    #expect(try database.integrityCheck() == ["ok"])
}

@Test("a run killed mid-source leaves a database the next run cleans up", arguments: StoreKind.available)
func interruptedRun(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let location = try store.newLocation(sqlitePath: directory.database)
    do {
        let database = try CaseDatabase(location: location)
        let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn ingest")
        let ids = try database.storeIndicators(ruleIndicators)
        let source = try database.beginSource(path: "big.pcap", size: 1 << 30, kind: .pcap, runID: runID)
        try database.appendSightings((1...500).map {
            NewSighting(sourceID: source, locator: .packet(UInt64($0)), time: at(minutes: Int64($0)),
                        indicatorID: ids[0], observed: "203.0.113.7", field: .ipDestination, host: "10.0.0.5")
        })
        // Killed here: no finishSource, no finishRun.
        #expect(try database.sightingFacts().isEmpty)  // a source still reading is not correlated
    }
    let reopened = try CaseDatabase(location: location)
    #expect(try reopened.integrityCheck() == ["ok"])
    #expect(try reopened.sources().map(\.status) == ["reading"])
    let runID = try reopened.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn ingest")
    let source = try reopened.beginSource(path: "big.pcap", size: 1 << 30, kind: .pcap, runID: runID)
    let sources = try reopened.sources()
    #expect(sources.count == 1)
    #expect(sources.first?.id == source && sources.first?.status == "reading")
    #expect(try reopened.sightings(incident: nil).isEmpty)
    let outcome = try reopened.finishSource(source, sha256: "ff", summary: ReadSummary(), lastSightings: [])
    #expect(outcome == .complete)
    // A complete source is not replaced by beginning the same path again.
    _ = try reopened.beginSource(path: "big.pcap", size: 1 << 30, kind: .pcap, runID: runID)
    #expect(try reopened.sources().map(\.status) == ["complete", "reading"])
}

@Test("finishing a source that was removed is an error, and nothing is written", arguments: StoreKind.available)
func finishUnknownSource(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn")
    let ids = try database.storeIndicators(ruleIndicators)
    let sighting = NewSighting(sourceID: 42, locator: .packet(1), time: origin, indicatorID: ids[0],
                               observed: "203.0.113.7", field: .ipSource, host: "h")
    #expect(throws: CaseStoreError.unknownSource(42)) {
        try database.finishSource(42, sha256: "00", summary: ReadSummary(), lastSightings: [sighting])
    }
    // A sighting of a missing source breaks a foreign key: the batch is refused whole.
    let source = try database.beginSource(path: "p", size: 1, kind: .text, runID: runID)
    var good = sighting
    good.sourceID = source
    #expect(throws: (any Error).self) { try database.appendSightings([good, sighting]) }
    #expect(try database.sightings(incident: nil).isEmpty)
}

@Test("large batches: 100k sightings append and read back", arguments: StoreKind.available)
func appendThroughput(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn")
    let ids = try database.storeIndicators(ruleIndicators)
    let source = try database.beginSource(path: "big.log", size: 1, kind: .text, runID: runID)
    let total = 100_000
    let batch = 10_000
    let batches = stride(from: 0, to: total, by: batch).map { start in
        (start..<(start + batch)).map {
            NewSighting(sourceID: source, locator: .line(number: UInt64($0 + 1), offset: UInt64($0) * 80),
                        time: Timestamp(nanoseconds: origin.nanoseconds + Int64($0) * 1_000_000), indicatorID: ids[$0 % 3],
                        observed: "value\($0 % 7)", field: .logIP, host: "host\($0 % 5)")
        }
    }
    let started = ContinuousClock.now
    for sightings in batches { try database.appendSightings(sightings) }
    let elapsed = ContinuousClock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("appended \(total) sightings in \(elapsed) (\(Int(Double(total) / seconds)) rows/s; build in release to judge)")
    let count = try database.store.read { db in
        try db.fetchValue(Int.self, sql: "SELECT COUNT(*) FROM sightings WHERE source_id = ?", arguments: [source])
    }
    #expect(count == total)
    let last = try database.store.read { db in
        try db.fetchValue(String.self, sql: "SELECT locator || ' ' || byte_offset || ' ' || locator_kind FROM sightings ORDER BY id DESC LIMIT 1")
    }
    #expect(last == "\(total) \((total - 1) * 80) line")
}

@Test("a correlation that fails part-way is rolled back whole; the old incidents stay", arguments: StoreKind.available)
func correlationAtomic(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn")
    let ids = try database.storeIndicators(ruleIndicators)
    func add(_ path: String, host: String, minutes: Int64) throws {
        let source = try database.beginSource(path: path, size: 10, kind: .text, runID: runID)
        _ = try database.finishSource(source, sha256: path, summary: ReadSummary(), lastSightings: [
            NewSighting(sourceID: source, locator: .line(number: 1, offset: 0),
                        time: Timestamp(nanoseconds: origin.nanoseconds + minutes * 60_000_000_000), indicatorID: ids[1],
                        observed: "evil.example", field: .logDomain, host: host),
        ])
    }
    try add("a.log", host: "mail01", minutes: 0)
    try database.correlateIncidents()
    // The next correlation extends mail01's incident, then fails at mail02's.
    try add("b.log", host: "mail01", minutes: 5)
    try add("c.log", host: "mail02", minutes: 0)
    try database.store.write { db in
        switch store {
        case .sqlite:
            try db.execute(sql: """
                CREATE TEMP TRIGGER refuse_mail02 BEFORE INSERT ON incidents WHEN NEW.host = 'mail02'
                BEGIN SELECT RAISE(ABORT, 'disk full, say'); END
                """)
        case .postgres:
            try db.execute(sql: """
                CREATE FUNCTION refuse_mail02() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.host = 'mail02' THEN RAISE EXCEPTION 'disk full, say'; END IF; RETURN NEW; END $$
                """)
            try db.execute(sql: """
                CREATE TRIGGER refuse_mail02 BEFORE INSERT ON incidents FOR EACH ROW EXECUTE FUNCTION refuse_mail02()
                """)
        }
    }
    #expect(throws: (any Error).self) { try database.correlateIncidents() }
    let rows = try database.incidents()
    #expect(rows.count == 1 && rows.first?.sightingCount == 1 && rows.first?.host == "mail01")
}

@Test("a row edited by hand into nonsense is an error, not a crash")
func tamperedRow() throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: directory.database)
    let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn")
    let ids = try database.storeIndicators(ruleIndicators)
    let source = try database.beginSource(path: "s.log", size: 10, kind: .text, runID: runID)
    try database.appendSightings([
        NewSighting(sourceID: source, locator: .line(number: 1, offset: 0), time: origin, indicatorID: ids[1],
                    observed: "evil.example", field: .logDomain, host: "mail01"),
    ])
    try database.store.write { db in try db.execute(sql: "UPDATE sightings SET time_ns = 'yesterday'") }
    #expect(throws: (any Error).self) { try database.sightings(incident: nil) }
}
