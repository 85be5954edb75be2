import CaseStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import Testing
import TestSupport
@testable import Serve

/// Paths shared by the Serve tests.
enum Fixtures {
    /// The package root: three levels up from this file (Tests/ServeTests/Support.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sampleData = packageRoot.appendingPathComponent("SampleData").path
    static let rules = packageRoot.appendingPathComponent("Rules").path

    /// The built `cairn` executable, or nil when it is not built.
    static let cairnExecutable = BuiltProduct.cairn

    /// What an attacker writes where a page shows it: an element with a script, an
    /// attribute breakout with an event handler, and a `javascript:` URL.
    static let probes = [
        "<script>document.title='pwned-script'</script>",
        "\"><img src=x onerror=\"document.title='pwned-img'\">",
        "<svg onload=\"document.title='pwned-svg'\">",
        "javascript:document.title='pwned-url'",
    ]
    /// A pcap of one Ethernet/IPv4/TCP segment (PSH ACK, port 40000 to 80) carrying
    /// `request`: an HTTP request whose target the attacker wrote.
    static func httpCapture(from source: [UInt8], to destination: [UInt8], request: String) -> [UInt8] {
        func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
        let payload = Array(request.utf8)
        let tcp = be16(40000) + be16(80) + [0, 0, 0, 1] + [0, 0, 0, 1] + [0x50, 0x18] + be16(65535) + [0, 0, 0, 0]
        var ip = [0x45, 0] + be16(20 + tcp.count + payload.count) + [0, 1, 0x40, 0, 64, 6, 0, 0] + source + destination
        var sum = stride(from: 0, to: ip.count, by: 2).reduce(0) { $0 + (Int(ip[$1]) << 8 | Int(ip[$1 + 1])) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        ip[10...11] = be16(~sum & 0xFFFF)[...]
        let frame = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6] + be16(0x0800) + ip + tcp + payload
        let header = le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65535) + le32(1)
        return header + le32(1_772_445_600) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
    }

    /// A file name carrying the probes without a `/` (which no file name may hold).
    static let hostileFileName = "fw \(probes[1]) \(probes[2]).log"
}

/// A case made once per test process: SampleData/ and a log whose file name carries
/// the probes, ingested with Rules/. Tests that change it (triage) make their own.
final class SampleCase: @unchecked Sendable {
    let directory: URL
    let path: String

    static let shared = Result { try SampleCase() }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let evidence = directory.appendingPathComponent("evidence")
        try FileManager.default.createDirectory(at: evidence, withIntermediateDirectories: true)
        let hostile = """
            <134>1 2026-03-02T10:00:00.000000Z fw02 filterlog 2211 - - 5,,,1000000103,igb1,match,pass,out,4,0x0,,64,0,0,DF,6,tcp,60,10.0.0.66,203.0.113.45,41001,443,0,S \(Fixtures.probes.joined(separator: " "))

            """
        try hostile.write(to: evidence.appendingPathComponent(Fixtures.hostileFileName), atomically: true, encoding: .utf8)
        let capture = Fixtures.httpCapture(
            from: [10, 0, 0, 67], to: [203, 0, 113, 45],
            request: "GET /\(Fixtures.probes[0])?q=\"><svg/onload=document.title='pwned-svg'> HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        try Data(capture).write(to: evidence.appendingPathComponent("hostile-http.pcap"))
        path = directory.appendingPathComponent("case.sqlite").path
        let options = IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: path, jobs: 2, filter: nil, year: 2026,
            commandLine: "cairn ingest (test)", version: "test")
        _ = try Ingestor(options: options).run(paths: [Fixtures.sampleData, evidence.path])
    }

    /// A copy of the case that a test may change.
    func copy() throws -> String {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("serve-copy-\(UUID().uuidString).sqlite").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        return copy
    }
}

/// A server over `database` tested in process (HummingbirdTesting's router framework).
@discardableResult
func withServer<Value: Sendable>(
    database: String, tokens: [String: String]? = nil, analyst: String = "local-analyst",
    configure: (inout ServeOptions) -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol) async throws -> Value
) async throws -> Value {
    var options = ServeOptions(database: database)
    options.tokens = tokens
    options.rulePaths = [Fixtures.rules]
    configure(&options)
    let server = try CaseServer(options: options, localAnalyst: analyst)
    let application = Application(router: server.router())
    return try await application.test(.router) { client in try await body(client) }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The session cookie this response sets, as a `Cookie` request header's value.
    var sessionCookie: String? {
        headers[values: .setCookie].first { $0.hasPrefix(Sessions.cookieName + "=") }
            .map { String($0.prefix { $0 != ";" }) }
    }
}

/// The value of the first `name="csrf_token"` hidden field of a page.
func csrfToken(in html: String) -> String? {
    guard let range = html.range(of: "name=\"csrf_token\" value=\"") else { return nil }
    return String(html[range.upperBound...].prefix { $0 != "\"" })
}

/// Runs a command, returning its exit status and standard output (nil if it could not start).
func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String)? {
    ExternalCommand.run(executable, arguments)
}
