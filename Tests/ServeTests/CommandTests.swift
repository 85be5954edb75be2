import Foundation
import Testing
import TestSupport

/// `cairn serve` as an operator starts it: what it refuses, tokens and TLS over a real
/// socket, checked with curl.
@Suite(
    "serve: the command",
    .enabled(if: Fixtures.cairnExecutable != nil, "the cairn executable is not built"),
    .enabled(if: ExternalCommand.run("curl", ["--version"])?.status == 0, "curl is needed")
)
struct CommandTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    @Test("listening beyond loopback without a token file, or with a bad one, is refused with exit status 1")
    func refusals() throws {
        let cairn = try #require(Fixtures.cairnExecutable)
        let casePath = try SampleCase.shared.get().copy()
        let open = try ExternalCommand.runCombined(cairn, ["serve", "--db", casePath, "--listen", "0.0.0.0:0"])
        #expect(open.status == 1)
        #expect(open.output.contains("refusing to listen on 0.0.0.0 without --token-file"))
        let tokens = directory.appendingPathComponent("tokens")
        try "tooshort Amina\n".write(to: tokens, atomically: true, encoding: .utf8)
        let bad = try ExternalCommand.runCombined(
            cairn, ["serve", "--db", casePath, "--listen", "0.0.0.0:0", "--token-file", tokens.path])
        #expect(bad.status == 1)
        #expect(bad.output.contains("\(tokens.path):1: the token is 8 characters"))
        let missing = try ExternalCommand.runCombined(cairn, ["serve", "--db", directory.appendingPathComponent("none.sqlite").path])
        #expect(missing.status == 1)
        #expect(missing.output.contains("no such case database"))
    }

    @Test("on every address with a token file: 401 without the token, 200 with it")
    func tokensOverTheNetwork() throws {
        let cairn = try #require(Fixtures.cairnExecutable)
        let token = String(repeating: "5e", count: 16)
        let tokens = directory.appendingPathComponent("tokens")
        try "# analysts of the case\n\(token) Amina Diallo\n".write(to: tokens, atomically: true, encoding: .utf8)
        let server = try ServeProcess(cairn: cairn, arguments: [
            "--db", try SampleCase.shared.get().copy(), "--listen", "0.0.0.0:0", "--token-file", tokens.path, "--no-upload",
        ])
        defer { server.stop() }
        let url = server.url.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
        let refused = try #require(ExternalCommand.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "api/incidents"]))
        #expect(refused.output == "401")
        let allowed = try #require(ExternalCommand.run(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)", url + "api/incidents"]))
        #expect(allowed.output == "200")
    }

    @Test("--tls-cert and --tls-key serve HTTPS with a Secure session cookie",
          .enabled(if: ThrowawayPostgres.CertificateAuthority.isAvailable, "openssl is needed to make a certificate"))
    func tls() throws {
        let cairn = try #require(Fixtures.cairnExecutable)
        let authority = try ThrowawayPostgres.CertificateAuthority.create(in: directory, name: "Cairn test CA")
        let certificate = directory.appendingPathComponent("server.crt"), key = directory.appendingPathComponent("server.key")
        try authority.issueServerCertificate(certificate: certificate, key: key, subjectAltName: "IP:127.0.0.1,DNS:localhost")
        let server = try ServeProcess(cairn: cairn, arguments: [
            "--db", try SampleCase.shared.get().copy(), "--tls-cert", certificate.path, "--tls-key", key.path, "--no-upload",
        ])
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://127.0.0.1:"))
        let trusted = try #require(ExternalCommand.run("curl", ["-s", "-i", "--cacert", authority.certificatePath, server.url]))
        #expect(trusted.status == 0)
        #expect(trusted.output.hasPrefix("HTTP/1.1 200"))
        #expect(trusted.output.contains("; Secure"))
        let untrusted = try #require(ExternalCommand.run("curl", ["-s", "-o", "/dev/null", server.url]))
        #expect(untrusted.status == 60)  // curl: the peer's certificate cannot be verified
        let plain = try #require(ExternalCommand.run(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", server.url.replacingOccurrences(of: "https", with: "http")]))
        #expect(plain.output != "200")
    }
}
