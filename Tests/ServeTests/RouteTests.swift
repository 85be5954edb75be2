@testable import CaseStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import Testing
@testable import Serve

/// Every route of `cairn serve`, over HTTP in process: what it answers, the headers on
/// every answer, and that the pages show what the case holds.
@Suite("serve: routes")
struct RouteTests {
    let casePath: String

    init() throws {
        casePath = try SampleCase.shared.get().path
    }

    static let pages = [
        "/", "/incidents", "/incidents/1", "/sightings/1", "/sources", "/custody", "/explain", "/explain?value=203.0.113.45",
        "/upload", "/login",
    ]

    @Test("every page answers 200 as HTML, with the security headers")
    func pagesAndHeaders() async throws {
        try await withServer(database: casePath) { client in
            for path in Self.pages + ["/api/case", "/api/incidents", "/api/incidents/1", "/api/sightings/1", "/api/sources", "/api/custody",
                                      "/api/explain?value=203.0.113.45", "/incidents.csv", "/static/cairn.css", "/static/cairn.js"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true, "\(path)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(path)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                }
            }
            for path in ["/incidents/999999", "/api/incidents/999999", "/nothing-here"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                }
            }
        }
    }

    @Test("no page has an inline script or style: the policy would block it")
    func noInlineScript() async throws {
        try await withServer(database: casePath) { client in
            for path in Self.pages {
                try await client.execute(uri: path, method: .get) { response in
                    let html = response.text
                    #expect(html.components(separatedBy: "<script").count - 1 == 1, "\(path)")
                    #expect(html.contains("<script src=\"/static/cairn.js\" defer></script>"), "\(path)")
                    #expect(!html.contains("style="), "\(path)")
                    #expect(!html.contains("<style"), "\(path)")
                    #expect(!html.contains("onclick=\"") && !html.contains("onload=\""), "\(path)")
                }
            }
        }
    }

    @Test("the incident list filters, sorts and pages as the store does")
    func incidentList() async throws {
        let database = try CaseDatabase(location: casePath)
        let all = try database.incidents()
        #expect(all.count >= 5)
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/incidents", method: .get) { response in
                for incident in all { #expect(response.text.contains("href=\"/incidents/\(incident.id)\"")) }
                #expect(response.text.contains("Incidents 1–\(all.count) of \(all.count)."))
            }
            let high = all.filter { ($0.severity == "high" || $0.severity == "critical") }
            try await client.execute(uri: "/incidents?severity=high", method: .get) { response in
                #expect(response.text.contains("of \(high.count)."))
                for incident in all {
                    #expect(response.text.contains("href=\"/incidents/\(incident.id)\"") == high.contains(incident))
                }
            }
            // Two to a page (a size the form offers is needed: 25 is the smallest).
            try await client.execute(uri: "/incidents?per=25&page=2", method: .get) { response in
                #expect(response.text.contains("Incidents 26–\(all.count) of") || all.count <= 25)
                #expect(response.text.contains("rel=\"prev\""))
            }
            let host = all[0].host
            try await client.execute(uri: "/incidents?host=\(host)", method: .get) { response in
                for incident in all {
                    #expect(response.text.contains("href=\"/incidents/\(incident.id)\"") == (incident.host == host))
                }
            }
            // Sorted by host, ascending: the rows come in the hosts' order.
            try await client.execute(uri: "/incidents?sort=host&dir=asc", method: .get) { response in
                let ids = all.sorted { ($0.host, $0.id) < ($1.host, $1.id) }.map(\.id)
                let positions = ids.compactMap { response.text.range(of: "data-href=\"/incidents/\($0)\"")?.lowerBound }
                #expect(positions == positions.sorted() && positions.count == ids.count)
            }
            try await client.execute(uri: "/incidents?severity=extreme&since=yesterday", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.text.contains("severity extreme is not one of"))
                #expect(response.text.contains("since yesterday is not a time"))
            }
        }
    }

    @Test("a value with spaces and + survives the filter form's encoding")
    func formEncoding() async throws {
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/incidents?host=a+b%2Bc", method: .get) { response in
                #expect(response.text.contains("name=\"host\" value=\"a b+c\""))
            }
        }
    }

    @Test("the CSV has every filtered incident, and neutralises formulas")
    func csv() async throws {
        let all = try CaseDatabase(location: casePath).incidents()
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/incidents.csv", method: .get) { response in
                #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                let lines = response.text.split(separator: "\r\n")
                #expect(lines.first?.hasPrefix("id,first_seen,last_seen,host,severity") == true)
                #expect(lines.count == all.count + 1)
            }
        }
        #expect(CSV.cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(CSV.cell("-1+2") == "'-1+2")
        #expect(CSV.cell("a,b") == "\"a,b\"")
        #expect(CSV.cell("plain") == "plain")
    }

    @Test("an incident page shows its sightings with their provenance, its timeline and why")
    func incidentPage() async throws {
        let database = try CaseDatabase(location: casePath)
        let incident = try #require(try database.incidents().first)
        let sightings = try database.sightings(incident: incident.id)
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/incidents/\(incident.id)", method: .get) { response in
                let html = response.text
                #expect(html.contains("<svg class=\"timeline\""))
                #expect(html.components(separatedBy: "<circle class=\"mark\"").count - 1 == sightings.count)
                for sighting in sightings {
                    #expect(html.contains("sha256:\(sighting.sourceSHA256)"))
                    #expect(html.contains("\(sighting.ruleFile):\(sighting.ruleLine)"))
                    #expect(html.contains("id=\"sighting-\(sighting.id)\""))
                }
                #expect(html.contains("name=\"csrf_token\""))
                #expect(html.contains("action=\"/incidents/\(incident.id)/triage\""))
            }
        }
    }

    @Test("a sighting's page shows its log line among the lines around it, or what the packet decodes to")
    func sightingContext() async throws {
        let sightings = try CaseDatabase(location: casePath).sightings(incident: nil)
        let onLine = try #require(sightings.first { if case .line = $0.locator { true } else { false } })
        let inPacket = try #require(sightings.first { if case .packet = $0.locator { true } else { false } })
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/sightings/\(onLine.id)", method: .get) { response in
                let html = response.text
                #expect(html.contains("<tr class=\"sighted\">"))
                #expect(html.components(separatedBy: "<td class=\"line\">").count - 1 >= 2)
                #expect(html.contains("still equals the one recorded at ingest"))
            }
            try await client.execute(uri: "/sightings/\(inPacket.id)", method: .get) { response in
                #expect(response.text.contains("<td>\(inPacket.field)</td><td class=\"value\">\(inPacket.observed)</td>"))
            }
            try await client.execute(uri: "/sightings/999999", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/sightings/\(onLine.id)", method: .get) { response in
                #expect(response.text.contains("\"sighting\" : true"))
                #expect(response.text.contains("\"source_sha256\" : \"\(onLine.sourceSHA256)\""))
            }
        }
    }

    @Test("a source changed after ingest is not quoted")
    func changedSource() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-changed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("fw.log")
        let line = "<134>1 2026-03-02T10:00:00Z fw03 filterlog 1 - - 10.0.0.9,203.0.113.45,S\n"
        try line.write(to: log, atomically: true, encoding: .utf8)
        let database = directory.appendingPathComponent("case.sqlite").path
        _ = try Ingestor(options: IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: database, jobs: 1, filter: nil, year: 2026,
            commandLine: "test", version: "test")).run(paths: [log.path])
        try (line + "an appended line\n").write(to: log, atomically: true, encoding: .utf8)
        let sighting = try #require(try CaseDatabase(location: database).sightings(incident: nil).first)
        try await withServer(database: database) { client in
            try await client.execute(uri: "/sightings/\(sighting.id)", method: .get) { response in
                #expect(response.text.contains("NOT SHOWN"))
                #expect(!response.text.contains("<td class=\"line\">"))
            }
        }
    }

    @Test("the JSON of /api/ is what `cairn incidents|show|sources --format json` prints",
          .enabled(if: Fixtures.cairnExecutable != nil, "the cairn executable is not built"))
    func jsonEqualsCommandLine() async throws {
        let cairn = try #require(Fixtures.cairnExecutable)
        // Other processes open a copy: the shared case is only read in this process.
        let casePath = try SampleCase.shared.get().copy()
        let pairs: [(String, [String])] = [
            ("/api/incidents", ["incidents", "--format", "json"]),
            ("/api/incidents?severity=high", ["incidents", "--format", "json", "--severity", "high"]),
            ("/api/incidents/1", ["show", "1", "--format", "json"]),
            ("/api/sources", ["sources", "--format", "json"]),
            ("/api/custody", ["custody", "list", "--format", "json"]),
        ]
        try await withServer(database: casePath) { client in
            for (path, arguments) in pairs {
                let printed = try #require(run(cairn, arguments + ["--db", casePath]))
                #expect(printed.status == 0)
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    #expect(response.text == printed.output, "\(path)")
                }
            }
        }
    }

    @Test("explain says what `cairn explain` says")
    func explain() async throws {
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/explain?value=203.0.113.45", method: .get) { response in
                #expect(response.text.contains("verdict: a sighting"))
                #expect(response.text.contains("c2-infrastructure.txt:4"))
            }
            try await client.execute(uri: "/api/explain?value=192.0.2.1", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.text.contains("\"sighting\" : false"))
            }
            try await client.execute(uri: "/api/explain", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test("the custody page says whether the chain verifies")
    func custody() async throws {
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/custody", method: .get) { response in
                #expect(response.text.contains("The hash chain holds"))
            }
            try await client.execute(uri: "/api/custody/verify", method: .get) { response in
                #expect(response.text.contains("\"ok\" : true"))
            }
        }
    }

    @Test("a custody log whose chain is broken is said to be, with the entry")
    func brokenCustody() async throws {
        let casePath = try SampleCase.shared.get().copy()
        let database = try CaseDatabase(location: casePath)
        // As someone with the file and sqlite3 would: the append-only trigger dropped first.
        try database.store.write { db in
            try db.execute(sql: "DROP TRIGGER custody_entries_no_update")
            try db.execute(sql: "UPDATE custody_entries SET \"user\" = 'mallory' WHERE id = 1")
        }
        try await withServer(database: casePath) { client in
            try await client.execute(uri: "/custody", method: .get) { response in
                #expect(response.text.contains("The hash chain is BROKEN at entry 1"))
            }
            try await client.execute(uri: "/api/custody/verify", method: .get) { response in
                #expect(response.text.contains("\"first_broken_id\" : 1"))
            }
        }
    }

    @Test("the templates never insert a value unescaped")
    func templatesEscape() {
        for (name, text) in Templates.all {
            #expect(!text.contains("{{{"), "\(name)")
            #expect(!text.contains("{{&"), "\(name)")
        }
    }
}
