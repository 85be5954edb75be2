import CaseStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Serve

/// What the evidence, a hostile page elsewhere, or a stranger on the network could do
/// to an analyst through `cairn serve`, and why each fails.
@Suite("serve: security")
struct SecurityTests {
    @Test("values from the evidence and from requests are escaped, in text and in attributes")
    func escaping() async throws {
        let casePath = try SampleCase.shared.get().path
        let database = try CaseDatabase(location: casePath)
        let hostile = try #require(try database.sightings(incident: nil).first { $0.sourcePath.hasSuffix(Fixtures.hostileFileName) })
        let incident = try #require(hostile.incidentID)
        let reflected = Form.encode(Fixtures.probes.joined())
        try await withServer(database: casePath) { client in
            for path in ["/", "/sources", "/incidents/\(incident)", "/sightings/\(hostile.id)",
                         "/incidents?host=\(reflected)&indicator=\(reflected)",
                         "/explain?value=\(reflected)", "/incidents?source=\(reflected)"] {
                try await client.execute(uri: path, method: .get) { response in
                    let html = response.text
                    for probe in Fixtures.probes where probe.contains("<") {
                        #expect(!html.contains(probe), "\(path) has \(probe) unescaped")
                    }
                    #expect(!html.contains("<img"), "\(path)")
                    #expect(!html.contains("<svg onload"), "\(path)")
                    #expect(!html.contains("href=\"javascript:"), "\(path)")
                }
            }
            try await client.execute(uri: "/sources", method: .get) { response in
                #expect(response.text.contains("&lt;svg onload=&quot;document.title=&#39;pwned-svg&#39;&quot;&gt;"))
            }
            // A packet: what the decoders read from it (the request's URL) is shown as text.
            let packet = try #require(try database.sightings(incident: nil).first { $0.sourcePath.hasSuffix("hostile-http.pcap") })
            try await client.execute(uri: "/sightings/\(packet.id)", method: .get) { response in
                #expect(response.text.contains("<td>http.url</td><td class=\"value\">http://evil.example/&lt;script&gt;"))
                for probe in Fixtures.probes where probe.contains("<") { #expect(!response.text.contains(probe)) }
                #expect(!response.text.contains("<svg/onload"))
            }
            // The log line itself, shown with the lines around the sighting.
            try await client.execute(uri: "/sightings/\(hostile.id)", method: .get) { response in
                #expect(response.text.contains("&lt;script&gt;document.title=&#39;pwned-script&#39;&lt;/script&gt;"))
            }
        }
    }

    @Test("a triage POST without the session's CSRF token gets 403 and changes nothing")
    func csrf() async throws {
        let casePath = try SampleCase.shared.get().copy()
        let database = try CaseDatabase(location: casePath)
        try await withServer(database: casePath) { client in
            let (cookie, token) = try await session(client)
            let attempts: [(String, HTTPFields)] = [
                ("status=closed&note=forged", [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]),
                ("status=closed&csrf_token=\(String(repeating: "0", count: 64))", [.cookie: cookie]),
                ("status=closed&csrf_token=\(token)", [:]),  // the token without its session
            ]
            for (body, headers) in attempts {
                try await client.execute(
                    uri: "/incidents/1/triage", method: .post, headers: headers, body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .forbidden, "\(body)")
                }
            }
            try await client.execute(
                uri: "/export", method: .post, headers: [.cookie: cookie], body: ByteBuffer(string: "ids[]=1")
            ) { response in
                #expect(response.status == .forbidden)
            }
        }
        #expect(try database.triageHistory(incident: 1).isEmpty)
        #expect(try database.custodyEntries().allSatisfy { $0.action != "export" })
    }

    @Test("a POST from another site's page is refused, signing in included")
    func crossOrigin() async throws {
        let casePath = try SampleCase.shared.get().copy()
        let token = String(repeating: "d4", count: 16)
        try await withServer(database: casePath, tokens: [token: "Attacker"]) { client in
            try await client.execute(
                uri: "/login", method: .post, headers: [.origin: "https://evil.example"], body: ByteBuffer(string: "token=\(token)")
            ) { response in
                #expect(response.status == .forbidden)
                #expect(response.sessionCookie == nil)
            }
        }
        // The browser's own forms, whose Origin is the server's, are accepted: BrowserTests
        // signs nothing in but triages and exports through a real socket with Chromium's Origin.
        #expect(Gate.sameOrigin("http://[::1]:8080", host: "[::1]:8080"))
        #expect(Gate.sameOrigin("https://cairn.cert.example", host: "cairn.cert.example"))
        #expect(!Gate.sameOrigin("null", host: "127.0.0.1:8080"))
        #expect(!Gate.sameOrigin("http://127.0.0.1:8081", host: "127.0.0.1:8080"))
    }

    @Test("triage from the browser is recorded under the analyst's name, escaped when shown")
    func triageRoundTrip() async throws {
        let casePath = try SampleCase.shared.get().copy()
        let note = "C2 beacon confirmed \(Fixtures.probes[0])"
        try await withServer(database: casePath, analyst: "amina") { client in
            let (cookie, token) = try await session(client)
            let body = "csrf_token=\(token)&status=escalated&assignee=\(Form.encode("duty <b>officer</b>"))&note=\(Form.encode(note))"
            try await client.execute(
                uri: "/incidents/1/triage", method: .post,
                headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/incidents/1")
            }
            try await client.execute(uri: "/incidents/1", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.text.contains("C2 beacon confirmed &lt;script&gt;"))
                #expect(!response.text.contains(Fixtures.probes[0]))
            }
        }
        let history = try CaseDatabase(location: casePath).triageHistory(incident: 1)
        #expect(history.count == 1)
        #expect(history.first?.user == "amina")
        #expect(history.first?.status == .escalated)
        #expect(history.first?.note == note)
        #expect(history.first?.assignee == "duty <b>officer</b>")
    }

    @Test("with a token file, every request needs a token or a signed-in session")
    func tokens() async throws {
        let casePath = try SampleCase.shared.get().copy()
        let token = String(repeating: "a1", count: 16)
        try await withServer(database: casePath, tokens: [token: "Kofi Mensah"]) { client in
            for path in ["/", "/incidents", "/api/incidents", "/incidents/1"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path)")
                    #expect(!response.text.contains("href=\"/incidents/1\""), "\(path)")
                }
            }
            try await client.execute(uri: "/api/incidents", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            try await client.execute(uri: "/api/incidents", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/incidents/1/triage", method: .post, body: ByteBuffer(string: "status=closed")) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/login", method: .post, body: ByteBuffer(string: "token=not-it")) { response in
                #expect(response.status == .unauthorized)
                #expect(response.sessionCookie == nil)
            }
            let cookie = try await client.execute(
                uri: "/login", method: .post, body: ByteBuffer(string: "token=\(token)")
            ) { response in
                #expect(response.status == .seeOther)
                return try #require(response.sessionCookie)
            }
            let csrf = try await client.execute(uri: "/incidents/1", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .ok)
                #expect(response.text.contains("Kofi Mensah"))
                return try #require(csrfToken(in: response.text))
            }
            try await client.execute(
                uri: "/incidents/1/triage", method: .post, headers: [.cookie: cookie],
                body: ByteBuffer(string: "csrf_token=\(csrf)&status=investigating")
            ) { response in
                #expect(response.status == .seeOther)
            }
            // A script with the token needs no CSRF token: no other site can make a browser send the header.
            try await client.execute(
                uri: "/incidents/1/triage", method: .post, headers: [.authorization: "Bearer \(token)"],
                body: ByteBuffer(string: "status=closed")
            ) { response in
                #expect(response.status == .seeOther)
            }
        }
        let history = try CaseDatabase(location: casePath).triageHistory(incident: 1)
        #expect(history.map(\.user) == ["Kofi Mensah", "Kofi Mensah"])
        #expect(history.map(\.status) == [.investigating, .closed])
    }

    @Test("listening beyond loopback without a token file is refused")
    func loopbackOnly() throws {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] { #expect(ServeOptions.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "::", "10.0.0.5", "127.0.0.1.example", "example.org", "1270.0.0.1"] {
            #expect(!ServeOptions.isLoopback(host), "\(host)")
        }
        var options = ServeOptions(database: try SampleCase.shared.get().path)
        options.host = "0.0.0.0"
        #expect(throws: ServeError.self) { try CaseServer(options: options) }
        options.tokens = [String(repeating: "b", count: 32): "analyst"]
        #expect(throws: Never.self) { try CaseServer(options: options) }
    }

    @Test("a token file's bad lines are named by file and line")
    func tokenFile() throws {
        let good = String(repeating: "c", count: 32)
        let parsed = try TokenFile.parse("# analysts\n\n\(good)  Amina Diallo\n", file: "tokens")
        #expect(parsed == [good: "Amina Diallo"])
        let cases: [(String, String)] = [
            ("short Amina", "tokens:1: the token is 5 characters"),
            ("\(good)\n", "tokens:1: a token needs the analyst's name"),
            ("\(good) A\n\(good) B", "tokens:2: this token is already given to A"),
            ("# nobody\n", "tokens: no tokens"),
        ]
        for (text, message) in cases {
            #expect { try TokenFile.parse(text, file: "tokens") } throws: { error in
                "\(error)".hasPrefix(message)
            }
        }
    }
}

/// A new browser session: its cookie (for a `Cookie` header) and its CSRF token.
func session(_ client: any TestClientProtocol) async throws -> (cookie: String, token: String) {
    try await client.execute(uri: "/incidents/1", method: .get) { response in
        (try #require(response.sessionCookie), try #require(csrfToken(in: response.text)))
    }
}
