import Foundation
import PostgresNIO
import Testing
import TestSupport

/// What issue 24's PostgreSQL case and work queue stand on, each against a throwaway server:
/// PostgresNIO reaches it, rows go in and come back, `FOR UPDATE SKIP LOCKED` hands a
/// claimed row to no second worker, and an advisory lock (correlation's "only one worker")
/// is held by one connection at a time.
@Suite(
    "PostgreSQL groundwork",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package")
)
struct PostgresSmokeTests {
    @Test func rowsComeBackAsWritten() async throws {
        try await withClient { client in
            try await client.query("CREATE TABLE queue (id BIGINT PRIMARY KEY, path TEXT NOT NULL)")
            for (id, path) in Self.files { try await client.query("INSERT INTO queue VALUES (\(id), \(path))") }
            var read: [(Int, String)] = []
            for try await row in try await client.query("SELECT id, path FROM queue ORDER BY id") {
                read.append(try row.decode((Int, String).self))
            }
            #expect(read.map(\.0) == Self.files.map(\.0))
            #expect(read.map(\.1) == Self.files.map(\.1))
        }
    }

    @Test func skipLockedLeavesAClaimedRowToItsClaimer() async throws {
        try await withClient { client in
            try await client.query("CREATE TABLE queue (id BIGINT PRIMARY KEY, path TEXT NOT NULL)")
            for (id, path) in Self.files { try await client.query("INSERT INTO queue VALUES (\(id), \(path))") }
            try await client.withTransaction(logger: Self.logger) { first in
                let claimedFirst = try await claim(on: first)
                let claimedSecond = try await client.withTransaction(logger: Self.logger) { second in
                    try await claim(on: second)
                }
                #expect(claimedFirst == 1)
                #expect(claimedSecond == 2)  // row 1 is locked by the first worker: skipped, not waited for
            }
        }
    }

    @Test func advisoryLockIsHeldByOneConnectionAtATime() async throws {
        try await withClient { client in
            try await client.withConnection { first in
                #expect(try await tryAdvisoryLock(on: first))
                try await client.withConnection { second in
                    #expect(try await tryAdvisoryLock(on: second) == false)
                    try await first.query("SELECT pg_advisory_unlock(\(Self.correlationLock))", logger: Self.logger)
                    #expect(try await tryAdvisoryLock(on: second))
                }
            }
        }
    }

    static let files = [(1, "/evidence/a.pcap"), (2, "/evidence/b.log"), (3, "/evidence/c.pcap")]
    static let correlationLock = 24
    static let logger = Logger(label: "cairn.tests.postgres")

    /// Claims the first unclaimed row, as a worker takes the next file of the queue.
    private func claim(on connection: PostgresConnection) async throws -> Int? {
        let rows = try await connection.query(
            "SELECT id FROM queue ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", logger: Self.logger)
        for try await id in rows.decode(Int.self) { return id }
        return nil
    }

    private func tryAdvisoryLock(on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.correlationLock))", logger: Self.logger)
        for try await taken in rows.decode(Bool.self) { return taken }
        return false
    }

    /// Runs `body` with a client of a throwaway server, connected over loopback TCP.
    private func withClient(_ body: (PostgresClient) async throws -> Void) async throws {
        try await ThrowawayPostgres.with { server in
            let configuration = PostgresClient.Configuration(
                host: ThrowawayPostgres.host, port: server.port, username: ThrowawayPostgres.user, password: nil,
                database: server.database, tls: .disable)
            let client = PostgresClient(configuration: configuration, backgroundLogger: Self.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await body(client)
            }
        }
    }
}

/// The harness itself, where no server is needed.
struct ThrowawayPostgresTests {
    @Test func aMachineWithoutServerBinariesIsExplained() {
        let nowhere = ThrowawayPostgres.Binaries.find(path: "/nonexistent", versionedRoot: "/nonexistent")
        #expect(nowhere == nil)
        #expect(throws: ThrowawayPostgres.Failure.self) { try ThrowawayPostgres.start(binaries: nowhere) }
    }

    /// Debian keeps one directory per installed version; the newest wins, compared as
    /// numbers (9.6 is older than 15).
    @Test func theHighestInstalledVersionIsChosen() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-pg-versions-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for version in ["9.6", "16", "15"] {
            let bin = root.appendingPathComponent("\(version)/bin")
            try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
            for tool in ["initdb", "pg_ctl", "postgres", "createdb"] {
                let created = FileManager.default.createFile(
                    atPath: bin.appendingPathComponent(tool).path, contents: Data("#!/bin/sh\n".utf8),
                    attributes: [.posixPermissions: 0o755])
                try #require(created)
            }
        }
        let found = ThrowawayPostgres.Binaries.find(path: "/nonexistent", versionedRoot: root.path)
        #expect(found?.directory == root.appendingPathComponent("16/bin").path)
    }
}
