import Foundation
import Indicators
import Observations
import Testing
import TestSupport
@testable import CaseStore

@Test("a postgresql:// URL is read as libpq reads it: defaults, Unix sockets, sslmode")
func postgresURLs() throws {
    let environment = ["PGUSER": "analyst", "HOME": "/nonexistent"]
    let full = try PostgresLocation(url: "postgresql://worker@db.cert.example:6432/case17?sslmode=verify-full&sslrootcert=/etc/cairn/ca.pem", environment: environment)
    #expect(full.user == "worker" && full.host == "db.cert.example" && full.port == 6432 && full.database == "case17")
    #expect(full.tls == .verifyFull && full.rootCertificatePath == "/etc/cairn/ca.pem" && full.socketDirectory == nil)
    #expect(full.location == "postgresql://worker@db.cert.example:6432/case17?sslmode=verify-full&sslrootcert=/etc/cairn/ca.pem")

    let defaults = try PostgresLocation(url: "postgres://db.cert.example", environment: environment)
    #expect(defaults.user == "analyst" && defaults.port == 5432 && defaults.database == "analyst" && defaults.tls == .prefer)

    let socket = try PostgresLocation(url: "postgresql:///case17", environment: environment)
    #expect(socket.socketDirectory == "/var/run/postgresql" && socket.database == "case17")
    let directory = try PostgresLocation(url: "postgresql:///case17?host=/tmp/pg&port=25432", environment: environment)
    #expect(directory.socketDirectory == "/tmp/pg" && directory.port == 25432)
}

@Test("a URL that cannot be used is refused with the reason, its password removed", arguments: [
    ("postgresql://a:hunter2@h/db?sslmode=sometimes", "sslmode must be"),
    ("postgresql://a:hunter2@h:99999/db", "port"),
    ("postgresql://a:hunter2@h/db?pasword=x", "unknown parameter pasword"),
    ("postgresql://a:hunter2@/db?sslmode=verify-full", "needs a TCP host"),
])
func badPostgresURLs(url: String, reason: String) throws {
    let error = #expect(throws: CaseStoreError.self) { try PostgresLocation(url: url, environment: [:]) }
    let text = error.map { "\($0)" } ?? ""
    #expect(text.contains(reason))
    #expect(!text.contains("hunter2"))
}

@Test("the password comes from the URL, PGPASSWORD, or a password file only its owner reads")
func postgresPasswords() throws {
    let directory = NSTemporaryDirectory() + "pgpass-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let file = directory + "/pgpass"
    try """
        # host:port:database:user:password
        other.example:5432:*:worker:wrong
        db.cert.example:5432:case17:worker:pass\\:word
        *:*:*:worker:fallback
        """.write(toFile: file, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
    let url = "postgresql://worker@db.cert.example/case17"
    #expect(try PostgresLocation(url: url, environment: ["PGPASSFILE": file]).password == "pass:word")
    #expect(try PostgresLocation(url: "postgresql://worker@x.example/y", environment: ["PGPASSFILE": file]).password == "fallback")
    #expect(try PostgresLocation(url: url, environment: ["PGPASSFILE": file, "PGPASSWORD": "env"]).password == "env")
    #expect(try PostgresLocation(url: "postgresql://worker:inline@db.cert.example/case17", environment: ["PGPASSWORD": "env"]).password == "inline")
    // Readable by others: ignored, as libpq ignores it.
    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
    #expect(try PostgresLocation(url: url, environment: ["PGPASSFILE": file]).password == nil)
}

@Test("passwords are removed from a command line before it is recorded", arguments: [
    ("cairn ingest --db postgresql://worker:s3cret@db/case x.pcap", "cairn ingest --db postgresql://worker@db/case x.pcap"),
    ("cairn ingest --db=postgres://w:p%40ss@db:5432/c", "cairn ingest --db=postgres://w@db:5432/c"),
    ("cairn ingest --db postgresql://db/case?password=s3cret&sslmode=require", "cairn ingest --db postgresql://db/case?password=(removed)&sslmode=require"),
    ("cairn ingest --db case.sqlite a:b@c", "cairn ingest --db case.sqlite a:b@c"),
])
func passwordsRedacted(line: String, recorded: String) {
    #expect(PostgresLocation.redactingPasswords(in: line) == recorded)
}

@Test("a run and a custody entry keep the command line without its password", arguments: StoreKind.available)
func passwordNotRecorded(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let line = "cairn ingest --db postgresql://worker:s3cret@db.cert.example/case17 evidence/"
    let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: line)
    _ = try database.appendIngestCustodyEntry(runID: runID, commandLine: line, toolVersion: "1", rulesDigest: "d")
    let recorded = try database.store.read { db in
        try db.fetchValues(String.self, sql: "SELECT command_line FROM runs")
            + db.fetchValues(String.self, sql: "SELECT command_line FROM custody_entries")
    }
    #expect(recorded == Array(repeating: "cairn ingest --db postgresql://worker@db.cert.example/case17 evidence/", count: 2))
    #expect(try database.verifyCustody().ok)
}

@Test("a value holding U+0000 is stored whole, with U+FFFD in its place", arguments: StoreKind.available)
func nulCharacterStored(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn")
    let ids = try database.storeIndicators([Indicator(type: .domain, value: "evil.example", ruleFile: "r.txt", line: 1)])
    let source = try database.beginSource(path: "a.pcap", size: 1, kind: .pcap, runID: runID)
    let sighting = NewSighting(
        sourceID: source, locator: .packet(1), time: Timestamp(nanoseconds: 0), indicatorID: ids[0],
        observed: "a\u{0}b.evil.example", field: .dnsQuery, host: "10.0.0.1")
    #expect(try database.finishSource(source, sha256: "ab", summary: ReadSummary(), lastSightings: [sighting]) == .complete)
    let observed = try database.sightings(incident: nil).map(\.observed)
    #expect(observed == ["a\u{FFFD}b.evil.example"])
}
