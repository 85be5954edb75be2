import Foundation
import GRDB
import Testing
@testable import CaseStore

@Test("an older case is backed up with VACUUM INTO before it is migrated, and keeps its rows")
func olderCaseIsBackedUp() throws {
    let directory = try TemporaryDirectory()
    let path = directory.database
    // A case as version 0.1.0 left it: the first two migrations, one run.
    try makeOlderCase(at: path, migratedUpTo: "v2-custody", """
        INSERT INTO runs (started_at, version, rules_digest, command_line, status)
        VALUES ('2026-01-01T00:00:00Z', '0.1.0', 'd', 'cairn ingest', 'succeeded')
        """)
    let database = try CaseDatabase(location: path)
    let applied = try database.store.read { db in
        Set(try db.fetchValues(String.self, sql: "SELECT identifier FROM grdb_migrations"))
    }
    #expect(applied == Set(Schema.migrator.migrations))
    #expect(try database.store.read { db in try db.fetchValue(Int.self, sql: "SELECT COUNT(*) FROM runs") } == 1)

    let backup = path + ".before-v3-incident-identity.sqlite"
    #expect(FileManager.default.fileExists(atPath: backup))
    let attributes = try FileManager.default.attributesOfItem(atPath: backup)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    let old = try DatabaseQueue(path: backup)
    #expect(try old.read { db in try Schema.migrator.appliedIdentifiers(db) } == ["v1-initial", "v2-custody"])
    #expect(try old.read { db in try String.fetchOne(db, sql: "SELECT version FROM runs") } == "0.1.0")

    // Opening it again migrates nothing and takes no other copy.
    _ = try CaseDatabase(location: path)
    let copies = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".before-") }
    #expect(copies == ["case.sqlite.before-v3-incident-identity.sqlite"])
}

@Test("a new case takes no backup")
func newCaseNoBackup() throws {
    let directory = try TemporaryDirectory()
    _ = try CaseDatabase(location: directory.database)
    let copies = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".before-") }
    #expect(copies.isEmpty)
}

@Test("a case written by a newer Cairn is refused and left unchanged")
func newerCaseRefused() throws {
    let directory = try TemporaryDirectory()
    let path = directory.database
    _ = try CaseDatabase(location: path)
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-future')") }
    let before = try Data(contentsOf: URL(fileURLWithPath: path))
    #expect(throws: CaseStoreError.newerSchema(path: path, migrations: ["v9-future"])) {
        _ = try CaseDatabase(location: path)
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    let message = CaseStoreError.newerSchema(path: path, migrations: ["v9-future"]).description
    #expect(message.contains("newer version of Cairn") && message.contains("v9-future"))
}

@Test("v5-incident-ranges: a grouping incident's links become its span; a rule incident's links stay")
func incidentRangesMigration() throws {
    let directory = try TemporaryDirectory()
    let path = directory.database
    // A v4 case: one grouping incident of two sightings (linked), a sighting of another
    // host within its span (not a member), a rule incident linking one sighting.
    try makeOlderCase(at: path, migratedUpTo: "v4-source-accounting", """
        INSERT INTO runs (started_at, version, rules_digest, command_line, status)
        VALUES ('2026-01-01T00:00:00Z', '0.3.0', 'd', 'cairn ingest', 'succeeded');
        INSERT INTO sources (run_id, path, size, sha256, kind, status, started_at)
        VALUES (1, 'a.log', 1, 'aa', 'text', 'complete', '2026-01-01T00:00:00Z');
        INSERT INTO indicators (type, value, rule_file, rule_line) VALUES ('ipv4', '203.0.113.7', 'r.txt', 1);
        INSERT INTO sightings (source_id, locator_kind, locator, time, time_ns, indicator_id, observed, field, host)
        VALUES (1, 'line', 1, 't', 100, 1, '203.0.113.7', 'log.dst', '10.0.0.5'),
               (1, 'line', 2, 't', 200, 1, '203.0.113.7', 'log.dst', '10.0.0.5'),
               (1, 'line', 3, 't', 150, 1, '203.0.113.7', 'log.dst', '10.0.0.9');
        INSERT INTO incidents (host, first_seen, last_seen, first_seen_ns, last_seen_ns, severity, title,
                               indicators, sighting_count)
        VALUES ('10.0.0.5', 't', 't', 100, 200, 'low', 'g', '203.0.113.7', 2),
               ('10.0.0.5', 't', 't', 100, 100, 'high', 'r', '203.0.113.7', 1);
        UPDATE incidents SET rule_id = 'some-rule' WHERE id = 2;
        INSERT INTO incident_sightings VALUES (1, 1), (1, 2), (2, 1);
        """)
    let database = try CaseDatabase(location: path)
    #expect(FileManager.default.fileExists(atPath: path + ".before-v5-incident-ranges.sqlite"))
    let members = try database.store.read { db in
        try db.fetchValues(String.self, sql: "SELECT incident_id || ':' || sighting_id FROM incident_members ORDER BY 1")
    }
    #expect(members == ["1:1", "1:2", "2:1"])
    let links = try database.store.read { db in
        try db.fetchValues(String.self, sql: "SELECT incident_id || ':' || sighting_id FROM incident_sightings ORDER BY 1")
    }
    #expect(links == ["2:1"])
    #expect(try database.sightings(incident: 1).map(\.id) == [1, 2])
}
