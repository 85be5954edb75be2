import CaseStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import Testing
import TestSupport
@testable import Serve

/// `cairn serve` over a shared case on a real PostgreSQL server (the store interface):
/// the same pages as over SQLite, and triage from the browser in the shared case.
@Suite(
    "serve: PostgreSQL case",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package")
)
struct PostgresServeTests {
    @Test("the pages and the API give what they give over the same case in SQLite; triage lands in the shared case")
    func sameAsSQLite() async throws {
        let url = try ThrowawayPostgres.shared.get().newDatabaseURL()
        let options = IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: url, jobs: 2, filter: nil, year: 2026,
            commandLine: "cairn ingest (test)", version: "test")
        _ = try Ingestor(options: options).run(paths: [Fixtures.sampleData])
        let sqlite = FileManager.default.temporaryDirectory.appendingPathComponent("serve-pg-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: sqlite) }
        var sqliteOptions = options
        sqliteOptions.databasePath = sqlite
        _ = try Ingestor(options: sqliteOptions).run(paths: [Fixtures.sampleData])

        func bodies(_ database: String) async throws -> [String: String] {
            try await withServer(database: database) { client in
                var bodies: [String: String] = [:]
                for path in ["/api/incidents", "/api/incidents/1", "/api/case"] {
                    bodies[path] = try await client.execute(uri: path, method: .get) { response in
                        #expect(response.status == .ok, "\(path)")
                        return response.text
                    }
                }
                for path in ["/", "/incidents", "/incidents/1", "/sources", "/custody"] {
                    try await client.execute(uri: path, method: .get) { response in #expect(response.status == .ok, "\(path)") }
                }
                return bodies
            }
        }
        let fromPostgres = try await bodies(url)
        let fromSQLite = try await bodies(sqlite)
        for path in fromSQLite.keys { #expect(fromPostgres[path] == fromSQLite[path], "\(path)") }

        try await withServer(database: url, analyst: "amina") { client in
            let (cookie, token) = try await session(client)
            try await client.execute(
                uri: "/incidents/1/triage", method: .post, headers: [.cookie: cookie],
                body: ByteBuffer(string: "csrf_token=\(token)&status=closed&note=benign")
            ) { response in
                #expect(response.status == .seeOther)
            }
        }
        let history = try CaseDatabase(location: url).triageHistory(incident: 1)
        #expect(history.map(\.user) == ["amina"])
        #expect(history.map(\.note) == ["benign"])
    }
}
