import Foundation
import GRDB
import Testing
@testable import CaseStore

@Test("an older case is backed up with VACUUM INTO before it is migrated, and keeps its rows")
func olderCaseIsBackedUp() throws {
    let directory = try TemporaryDirectory()
    let path = directory.database
    do {
        // A case as version 0.1.0 left it: the first two migrations, one run.
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v2-custody")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO runs (started_at, version, rules_digest, command_line, status)
                VALUES ('2026-01-01T00:00:00Z', '0.1.0', 'd', 'cairn ingest', 'succeeded')
                """)
        }
    }
    let database = try CaseDatabase(path: path)
    let applied = try database.queue.read { db in try Schema.migrator.appliedIdentifiers(db) }
    #expect(applied == Set(Schema.migrator.migrations))
    #expect(try database.queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runs") } == 1)

    let backup = path + ".before-v3-incident-identity.sqlite"
    #expect(FileManager.default.fileExists(atPath: backup))
    let attributes = try FileManager.default.attributesOfItem(atPath: backup)
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    let old = try DatabaseQueue(path: backup)
    #expect(try old.read { db in try Schema.migrator.appliedIdentifiers(db) } == ["v1-initial", "v2-custody"])
    #expect(try old.read { db in try String.fetchOne(db, sql: "SELECT version FROM runs") } == "0.1.0")

    // Opening it again migrates nothing and takes no other copy.
    _ = try CaseDatabase(path: path)
    let copies = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".before-") }
    #expect(copies == ["case.sqlite.before-v3-incident-identity.sqlite"])
}

@Test("a new case takes no backup")
func newCaseNoBackup() throws {
    let directory = try TemporaryDirectory()
    _ = try CaseDatabase(path: directory.database)
    let copies = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".before-") }
    #expect(copies.isEmpty)
}

@Test("a case written by a newer Cairn is refused and left unchanged")
func newerCaseRefused() throws {
    let directory = try TemporaryDirectory()
    let path = directory.database
    _ = try CaseDatabase(path: path)
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-future')") }
    let before = try Data(contentsOf: URL(fileURLWithPath: path))
    #expect(throws: CaseStoreError.newerSchema(path: path, migrations: ["v9-future"])) {
        _ = try CaseDatabase(path: path)
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    let message = CaseStoreError.newerSchema(path: path, migrations: ["v9-future"]).description
    #expect(message.contains("newer version of Cairn") && message.contains("v9-future"))
}
