import Foundation
import Testing
import TestSupport
@testable import CaseStore

/// The connection of a PostgreSQL case: TLS against a server whose certificate a
/// throwaway CA signed (`ThrowawayPostgres.sharedWithTLS`, which refuses TCP without TLS),
/// and a server restarted under an open case.
@Suite(
    "PostgreSQL over TLS with a self-signed CA",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package"),
    .enabled(if: ThrowawayPostgres.CertificateAuthority.isAvailable, "no openssl command to make a CA with")
)
struct PostgresTLSTests {
    /// `$CA` stands for the server's CA certificate.
    @Test("the case opens, takes a write and reads it back over an encrypted session", arguments: [
        ("127.0.0.1", "sslmode=verify-full&sslrootcert=$CA"),
        ("localhost", "sslmode=verify-full&sslrootcert=$CA"),
        ("127.0.0.1", "sslmode=verify-ca&sslrootcert=$CA"),
        ("127.0.0.1", "sslmode=require"),  // encrypted, the certificate unchecked
        ("localhost", "sslmode=prefer"),
    ])
    func encryptedCase(host: String, parameters: String) throws {
        let server = try ThrowawayPostgres.sharedWithTLS.get()
        let authority = try #require(server.caCertificatePath)
        let url = try server.url(
            database: server.newDatabase(), host: host,
            parameters: parameters.replacing("$CA", with: authority))
        let database = try CaseDatabase(location: url)
        let runID = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "cairn ingest over TLS")
        let (commandLine, encrypted) = try database.store.read { session in
            (
                try session.fetchValue(String.self, sql: "SELECT command_line FROM runs WHERE id = ?", arguments: [runID]),
                // The store's own session: what the server says of the connection the case uses.
                try session.fetchValue(Bool.self, sql: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
        }
        #expect(commandLine == "cairn ingest over TLS")
        #expect(encrypted == true)
    }

    /// `$OTHER_CA` stands for the certificate of a CA that did not sign the server's.
    @Test("a connection the URL does not allow is refused, and the message says why", arguments: [
        ("127.0.0.1", "sslmode=verify-full&sslrootcert=$OTHER_CA", "certificate could not be verified"),
        ("localhost", "sslmode=verify-ca&sslrootcert=$OTHER_CA", "certificate could not be verified"),
        ("127.0.0.1", "sslmode=verify-full", "certificate could not be verified"),  // the system's CAs
        ("127.0.0.1", "sslmode=disable", "no encryption"),  // pg_hba.conf: hostssl only
    ])
    func refusedConnection(host: String, parameters: String, reason: String) throws {
        let server = try ThrowawayPostgres.sharedWithTLS.get()
        let directory = try TemporaryDirectory()
        let stranger = try ThrowawayPostgres.CertificateAuthority.create(
            in: URL(fileURLWithPath: directory.path), name: "Cairn unrelated CA")
        let url = server.url(
            database: server.database, host: host,
            parameters: parameters.replacing("$OTHER_CA", with: stranger.certificatePath))
        let error = #expect(throws: (any Error).self) { try CaseDatabase(location: url) }
        let message = error.map(CaseDatabase.describe) ?? ""
        #expect(message.contains(reason), "\(message)")
    }
}

/// A case open while its server restarts (a fast shutdown ends every connection): the
/// store connects again at its next transaction, so at most the one transaction under way
/// is lost. A private server each, since a restart ends every test's connections.
@Suite(
    "PostgreSQL restarted under an open case",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package"),
    .enabled(if: ThrowawayPostgres.CertificateAuthority.isAvailable, "no openssl command to make a CA with")
)
struct PostgresRestartTests {
    @Test("after a restart between transactions, the next write fails at most once", arguments: [
        ThrowawayPostgres.TLS.off, .required,
    ])
    func restartBetweenTransactions(tls: ThrowawayPostgres.TLS) throws {
        let (server, database) = try Self.openCase(tls: tls)
        defer { server.stop() }
        _ = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "before the restart")

        try server.restart()
        let failures = try Self.firstSuccess {
            _ = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "after the restart")
        }

        #expect(failures.count <= 1, "\(failures)")
        #expect(try Self.commandLines(database) == ["before the restart", "after the restart"])
    }

    /// A statement sent on a connection the server has already closed is never answered
    /// (postgres-nio 1.33.2 writes it to the closed channel with no promise); the store
    /// waits for the connection's close as well, so the cut transaction fails instead of
    /// waiting for ever, and so does its ROLLBACK.
    @Test("a restart within a transaction fails that transaction only", arguments: [ThrowawayPostgres.TLS.off, .required])
    func restartWithinATransaction(tls: ThrowawayPostgres.TLS) throws {
        let (server, database) = try Self.openCase(tls: tls)
        defer { server.stop() }
        _ = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "before the restart")

        let cut = #expect(throws: (any Error).self) {
            try database.store.write { session in
                try server.restart()
                return try session.fetchValue(Int64.self, sql: "SELECT 1")
            }
        }
        #expect(cut.map(CaseDatabase.describe)?.hasPrefix("PostgreSQL") == true)
        let failures = try Self.firstSuccess {
            _ = try database.beginRun(version: "1", rulesDigest: "d", commandLine: "after the restart")
        }

        #expect(failures.isEmpty, "\(failures)")
        #expect(try Self.commandLines(database) == ["before the restart", "after the restart"])
    }

    /// A server of the test's own and a case on it, over TLS checked in full when the
    /// server has it.
    private static func openCase(tls: ThrowawayPostgres.TLS) throws -> (ThrowawayPostgres, CaseDatabase) {
        let server = try ThrowawayPostgres.start(database: "cairn", tls: tls)
        do {
            let parameters = server.caCertificatePath.map { "sslmode=verify-full&sslrootcert=\($0)" } ?? "sslmode=disable"
            return (server, try CaseDatabase(location: server.url(database: server.database, parameters: parameters)))
        } catch {
            server.stop()
            throw error
        }
    }

    private static func commandLines(_ database: CaseDatabase) throws -> [String] {
        try database.store.read { session in
            try session.fetchValues(String.self, sql: "SELECT command_line FROM runs ORDER BY id")
        }
    }

    /// Runs `write` until it succeeds, at most three times: the failures before it did,
    /// in words. Throws the third failure.
    private static func firstSuccess(_ write: () throws -> Void) throws -> [String] {
        var failures: [String] = []
        while true {
            do {
                try write()
                return failures
            } catch where failures.count < 2 {
                failures.append(CaseDatabase.describe(error))
            }
        }
    }
}
