import Foundation
import Testing
import TestSupport
@testable import CaseStore

/// The connection of a PostgreSQL case over TLS, against a server whose certificate a
/// throwaway CA signed (`ThrowawayPostgres.sharedWithTLS`, which refuses TCP without TLS).
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
