import Foundation
import Observations
import Testing
import TestSupport
@testable import CaseStore

private let files = [
    CustodyFile(path: "/cases/a.pcap", sha256: String(repeating: "ab", count: 32), bytes: 1234),
    CustodyFile(path: "/cases/b \"quoted\"\n.log", sha256: String(repeating: "cd", count: 32), bytes: 5),
]

private func appendThree(_ database: CaseDatabase) throws -> [CustodyEntry] {
    [
        try database.appendCustodyEntry(
            action: .ingest, commandLine: "cairn ingest a.pcap", toolVersion: "1", rulesDigest: "r1",
            inputs: files, outputs: [], user: "alice", host: "lab-1"),
        try database.appendCustodyEntry(
            action: .export, commandLine: "cairn export 1 --out ü", toolVersion: "1", rulesDigest: "",
            inputs: [files[0]], outputs: [files[1]], user: "bob", host: "lab-2"),
        try database.appendCustodyEntry(
            action: .ingest, commandLine: "cairn ingest\tb.log", toolVersion: "2", rulesDigest: "r2",
            inputs: [], outputs: []),
    ]
}

@Test("custody entries chain by SHA-256, the first to 64 zeros, and read back as written", arguments: StoreKind.available)
func custodyChain(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.file("case.sqlite")))
    let written = try appendThree(database)
    #expect(written.map(\.id) == [1, 2, 3])
    #expect(written[0].previousHash == String(repeating: "0", count: 64))
    #expect(written[1].previousHash == written[0].entryHash)
    #expect(written[2].previousHash == written[1].entryHash)
    #expect(Set(written.map(\.entryHash)).count == 3)
    #expect(written[2].user == CustodyChain.currentUser() && !written[2].user.isEmpty)
    #expect(written[2].host == CustodyChain.currentHost() && !written[2].host.isEmpty)
    #expect(Timestamp(iso8601: written[0].recordedAt) != nil)
    #expect(try database.custodyEntries() == written)
    let verification = try database.verifyCustody()
    #expect(verification.ok && verification.firstBrokenID == nil && verification.entryCount == 3)
}

@Test("an entry whose text holds U+0000 is hashed as stored (U+FFFD) and verifies", arguments: StoreKind.available)
func nulInEntryText(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.file("case.sqlite")))
    let written = try database.appendCustodyEntry(
        action: .export, commandLine: "cairn export \u{0}", toolVersion: "1\u{0}", rulesDigest: "\u{0}",
        inputs: [CustodyFile(path: "a\u{0}b", sha256: "00", bytes: 1)], outputs: [], user: "eve\u{0}", host: "h\u{0}")
    #expect(written.commandLine == "cairn export \u{FFFD}" && written.user == "eve\u{FFFD}")
    #expect(written.inputs[0].path == "a\u{0}b")  // JSON escapes it
    #expect(try database.custodyEntries() == [written])
    #expect(try database.verifyCustody().ok)
}

@Test("UPDATE, DELETE and TRUNCATE on custody entries abort", arguments: StoreKind.available, [
    "UPDATE custody_entries SET \"user\" = 'mallory' WHERE id = 2",
    "DELETE FROM custody_entries WHERE id = 3",
    "DELETE FROM custody_entries",
    "TRUNCATE custody_entries",
])
func appendOnly(store: StoreKind, sql: String) throws {
    // SQLite has no TRUNCATE (its DELETE without WHERE is the same, and aborts the same).
    guard store == .postgres || !sql.hasPrefix("TRUNCATE") else { return }
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.file("case.sqlite")))
    let written = try appendThree(database)
    let error = #expect(throws: (any Error).self) {
        try database.store.write { try $0.execute(sql: sql) }
    }
    #expect(CaseDatabase.describe(error!).contains("append-only"))
    #expect(try database.custodyEntries() == written)
}

@Test("a changed entry, once the triggers are dropped, is named by verifyCustody", arguments: StoreKind.available, [
    ("UPDATE custody_entries SET \"user\" = 'mallory' WHERE id = 2", Int64(2)),
    ("UPDATE custody_entries SET outputs = '[]' WHERE id = 2", Int64(2)),
    ("UPDATE custody_entries SET previous_hash = entry_hash WHERE id = 3", Int64(3)),
    ("DELETE FROM custody_entries WHERE id = 2", Int64(3)),
    ("UPDATE custody_entries SET inputs = 'not json' WHERE id = 1", Int64(1)),
])
func tamperDetected(store: StoreKind, tampering: (sql: String, broken: Int64)) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.file("case.sqlite")))
    _ = try appendThree(database)
    try database.store.write { db in
        for trigger in ["custody_entries_no_update", "custody_entries_no_delete"] {
            try db.execute(sql: "DROP TRIGGER \(trigger)" + (store == .postgres ? " ON custody_entries" : ""))
        }
        try db.execute(sql: tampering.sql)
    }
    let verification = try database.verifyCustody()
    #expect(!verification.ok)
    #expect(verification.firstBrokenID == tampering.broken)
}

@Test(
    "the canonical serialisation is what Python's json.dumps(sort_keys, compact, UTF-8) writes",
    .enabled(if: Tool.python3, "python3 is not installed"))
func canonicalMatchesPython() throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: directory.file("case.sqlite"))
    let written = try appendThree(database)
    let encoder = JSONEncoder()
    let json = directory.file("entries.json")
    try encoder.encode(written).write(to: URL(fileURLWithPath: json))
    let script = """
        import hashlib, json, sys
        for e in json.load(open(sys.argv[1])):
            h = e.pop("entry_hash")
            print(hashlib.sha256(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest() == h)
        """
    let result = try #require(run("python3", ["-c", script, json]))
    #expect(result.status == 0)
    #expect(result.output == "True\nTrue\nTrue\n")
}

@Test("the ingest entry of a run lists that run's sources with their SHA-256 and size", arguments: StoreKind.available)
func ingestEntry(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let sources = try database.sources()
    let runID = try #require(sources.first?.runID)
    let entry = try database.appendIngestCustodyEntry(
        runID: runID, commandLine: "cairn ingest SampleData", toolVersion: "test", rulesDigest: "digest")
    #expect(entry.action == "ingest" && entry.rulesDigest == "digest")
    #expect(entry.inputs.count == 4)
    #expect(Set(entry.inputs.map(\.path)) == Set(sources.map(\.path)))
    #expect(entry.inputs.allSatisfy { $0.sha256.count == 64 && $0.bytes > 0 })
    #expect(try database.verifyCustody().ok)
}
