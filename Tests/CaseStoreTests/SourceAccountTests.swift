import Foundation
import GRDB
import Observations
import Testing
import TestSupport
@testable import CaseStore

@Test("a finished source stores its read account; one never opened stores none", arguments: StoreKind.available)
func finishedSourceStoresItsAccount(store: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: store.newLocation(sqlitePath: directory.database))
    let runID = try database.beginRun(version: "test", rulesDigest: "d", commandLine: "cairn ingest")
    let sourceID = try database.beginSource(path: "a.pcap", size: 1_000, kind: .pcap, runID: runID)
    var summary = ReadSummary()
    summary.packets = 10
    summary.packetsDecoded = 6
    summary.packetsAnomalous = 2
    summary.packetsUndecodable = 1
    summary.packetsFiltered = 1
    summary.bytesConsumed = 990
    summary.bytesUnread = 10
    summary.damage = "reading stopped at packet 11"
    #expect(try database.finishSource(sourceID, sha256: String(repeating: "a", count: 64), summary: summary,
                                      lastSightings: []) == .failed("reading stopped at packet 11"))
    try database.recordFailedSource(path: "/missing", kind: nil, reason: "no such file", runID: runID)

    let rows = try database.sources()
    #expect(rows.count == 2)
    #expect(rows[0].account == SourceAccount(summary))
    #expect(rows[0].account?.packetsAccounted == 10)
    #expect(rows[0].account?.fileBytesAccounted == 1_000)
    #expect(rows[1].account == nil)
}

@Test("v4-source-accounting leaves older sources without an account (NULL)")
func olderSourcesHaveNoAccount() throws {
    #expect(Schema.migrator.migrations.contains("v4-source-accounting"))
    let directory = try TemporaryDirectory()
    let path = directory.database
    try makeOlderCase(at: path, migratedUpTo: "v3-incident-identity", """
        INSERT INTO runs (started_at, version, rules_digest, command_line, status)
        VALUES ('2026-01-01T00:00:00Z', '0.2.0', 'd', 'cairn ingest', 'succeeded');
        INSERT INTO sources (run_id, path, size, sha256, kind, status, packets, bytes, started_at, finished_at)
        VALUES (1, 'old.pcap', 100, 'ab', 'pcap', 'complete', 3, 100, '2026-01-01T00:00:00Z',
                '2026-01-01T00:00:01Z');
        """)
    let database = try CaseDatabase(location: path)
    #expect(FileManager.default.fileExists(atPath: path + ".before-v4-source-accounting.sqlite"))
    let rows = try database.sources()
    #expect(rows.count == 1)
    #expect(rows[0].packets == 3)
    #expect(rows[0].account == nil)
    let nulls = try database.store.read { db in
        try db.fetchValue(Int.self, sql: "SELECT COUNT(*) FROM sources WHERE packets_decoded IS NULL AND bytes_unread IS NULL")
    }
    #expect(nulls == 1)
}

@Test("a run records how it read logs; a run before v6-log-settings has NULL there, and sources say none")
func runsRecordTheirLogSettings() throws {
    let directory = try TemporaryDirectory()
    let path = directory.database
    try makeOlderCase(at: path, migratedUpTo: "v5-incident-ranges", """
        INSERT INTO runs (started_at, version, rules_digest, command_line, status)
        VALUES ('2026-01-01T00:00:00Z', '0.9.0', 'd', 'cairn ingest', 'succeeded');
        INSERT INTO sources (run_id, path, size, sha256, kind, status, lines, bytes, started_at, finished_at)
        VALUES (1, 'old.log', 100, 'ab', 'text', 'complete', 3, 100, '2026-01-01T00:00:00Z',
                '2026-01-01T00:00:01Z');
        """)
    let database = try CaseDatabase(location: path)
    #expect(FileManager.default.fileExists(atPath: path + ".before-v6-log-settings.sqlite"))
    let settings = LogSettings(
        utcOffsetSeconds: 5 * 3600 + 30 * 60, year: 2023, maximumLineLength: 4096, maximumDecompressedBytes: 1 << 40)
    let runID = try database.beginRun(version: "test", rulesDigest: "d", commandLine: "cairn ingest", logSettings: settings)
    _ = try database.beginSource(path: "new.log", size: 10, kind: .text, runID: runID)
    let inferred = LogSettings(utcOffsetSeconds: -7200, year: nil, maximumLineLength: 64, maximumDecompressedBytes: 1)
    let second = try database.beginRun(version: "test", rulesDigest: "d", commandLine: "cairn ingest", logSettings: inferred)
    _ = try database.beginSource(path: "other.log", size: 10, kind: .text, runID: second)

    let rows = try database.sources()
    #expect(rows.map(\.path) == ["old.log", "new.log", "other.log"])
    #expect(rows[0].logSettings == nil)
    #expect(rows[1].logSettings == settings)
    #expect(rows[2].logSettings == inferred)
    let stored = try database.store.read { db in
        try db.fetchAll(sql: "SELECT log_timezone, log_year, line_limit, decompressed_limit FROM runs ORDER BY id")
    }
    #expect(try stored.map { try $0.decode(atIndex: 0) as String? } == [nil, "+05:30", "-02:00"])
    #expect(try stored.map { try $0.decode(atIndex: 1) as Int? } == [nil, 2023, nil])
    #expect(try stored.map { try $0.decode(atIndex: 2) as Int? } == [nil, 4096, 64])
    #expect(try stored.map { try $0.decode(atIndex: 3) as Int64? } == [nil, 1 << 40, 1])
}
