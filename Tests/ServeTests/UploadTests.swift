import CaseStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ingest
import Testing
@testable import Serve

/// Captures and logs sent from a browser: stored by SHA-256, never over another file,
/// within the limit, then ingested into the case.
@Suite("serve: uploads")
struct UploadTests {
    let directory: URL
    let casePath: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-upload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        casePath = try SampleCase.shared.get().copy()
    }

    func configure(limit: UInt64 = 1 << 30) -> (inout ServeOptions) -> Void {
        let (casePath, uploads) = (casePath, directory.appendingPathComponent("uploaded").path)
        return { options in
            options.ingest = IngestOptions(
                rulePaths: [Fixtures.rules], databasePath: casePath, jobs: 1, filter: nil, year: 2026,
                commandLine: "", version: "test")
            options.uploadDirectory = uploads
            options.uploadLimit = limit
        }
    }

    @Test("an upload is stored read-only under its SHA-256, ingested, and a second copy is not stored again")
    func storedAndIngested() async throws {
        let capture = try Data(contentsOf: URL(fileURLWithPath: Fixtures.sampleData + "/branch-v6.pcapng"))
        let sha256 = SHA256.hash(data: capture).map { String(format: "%02x", $0) }.joined()
        let before = try CaseDatabase(location: casePath).sources().count
        try await withServer(database: casePath, analyst: "amina", configure: configure()) { client in
            let (cookie, token) = try await session(client)
            let headers: HTTPFields = [
                .cookie: cookie, HTTPField.Name("X-CSRF-Token")!: token,
                HTTPField.Name("X-File-Name")!: "branch%20office%20%3Cv6%3E.pcapng",
            ]
            for attempt in 1...2 {
                let job = try await client.execute(
                    uri: "/upload", method: .post, headers: headers, body: ByteBuffer(data: capture)
                ) { response in
                    #expect(response.status == .accepted)
                    return try JSONDecoder().decode(JobJSON.self, from: Data(buffer: response.body))
                }
                #expect(job.sha256 == sha256)
                #expect(job.name == "branch office <v6>.pcapng")
                #expect(job.already_stored == (attempt == 2))
                let finished = try await waitForJob(client, id: job.id, cookie: cookie)
                #expect(finished.state == "done", "\(finished)")
                if attempt == 2 { #expect(finished.problems.contains { $0.contains("already in the case") }) }
            }
        }
        let stored = directory.appendingPathComponent("uploaded/\(sha256).pcapng").path
        #expect(FileManager.default.contents(atPath: stored) == capture)
        let mode = try FileManager.default.attributesOfItem(atPath: stored)[.posixPermissions] as? Int
        #expect(mode == 0o400)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("uploaded").path)
        #expect(leftovers == ["\(sha256).pcapng"])
        let database = try CaseDatabase(location: casePath)
        // SampleCase already holds this capture under SampleData/: the upload's copy is a duplicate.
        #expect(try database.sources().count == before)
        let custody = try database.custodyEntries().last
        #expect(custody?.commandLine.contains("upload by amina of \"branch office <v6>.pcapng\"") == true)
    }

    @Test("a new capture uploaded adds its source and sightings to the case")
    func newEvidence() async throws {
        // A log the case has not seen: the fixture's firewall line at another hour.
        let log = Data("""
            <134>1 2026-03-02T15:00:00.000000Z fw09 filterlog 2211 - - 5,,,1000000103,igb1,match,pass,out,4,0x0,,64,0,0,DF,6,tcp,60,10.0.0.99,203.0.113.45,41001,443,0,S

            """.utf8)
        try await withServer(database: casePath, configure: configure()) { client in
            let (cookie, token) = try await session(client)
            let job = try await client.execute(
                uri: "/upload", method: .post,
                headers: [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: token, HTTPField.Name("X-File-Name")!: "fw09.log"],
                body: ByteBuffer(data: log)
            ) { response in
                try JSONDecoder().decode(JobJSON.self, from: Data(buffer: response.body))
            }
            let finished = try await waitForJob(client, id: job.id, cookie: cookie)
            #expect(finished.state == "done")
            #expect(finished.sightings == 1)
        }
        let incidents = try CaseDatabase(location: casePath).incidents()
        #expect(incidents.contains { $0.host == "10.0.0.99" })
    }

    @Test("an upload without the CSRF token, or past the limit, stores nothing")
    func refused() async throws {
        let body = ByteBuffer(repeating: 0x41, count: 4096)
        try await withServer(database: casePath, configure: configure(limit: 1000)) { client in
            let (cookie, token) = try await session(client)
            try await client.execute(uri: "/upload", method: .post, headers: [.cookie: cookie], body: body) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/upload", method: .post, headers: [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: token], body: body
            ) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
        let uploaded = directory.appendingPathComponent("uploaded").path
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: uploaded)) ?? []).isEmpty)
    }

    @Test("file name suffixes are kept only when they are plain extensions")
    func suffixes() {
        #expect(Uploads.suffix(of: "capture.pcapng") == ".pcapng")
        #expect(Uploads.suffix(of: "mail.log.gz") == ".log.gz")
        #expect(Uploads.suffix(of: "x.<script>") == "")
        #expect(Uploads.suffix(of: "noextension") == "")
        #expect(Uploads.suffix(of: "a.b.c.PCAP") == ".c.pcap")
    }
}

struct JobJSON: Decodable {
    var id: Int
    var name: String
    var sha256: String
    var state: String
    var sightings: UInt64
    var problems: [String]
    var already_stored: Bool
}

/// Polls /api/uploads until the job is done or failed (at most a minute).
func waitForJob(_ client: any TestClientProtocol, id: Int, cookie: String) async throws -> JobJSON {
    for _ in 0..<600 {
        let jobs = try await client.execute(uri: "/api/uploads", method: .get, headers: [.cookie: cookie]) { response in
            try JSONDecoder().decode([JobJSON].self, from: Data(buffer: response.body))
        }
        if let job = jobs.first(where: { $0.id == id }), job.state == "done" || job.state == "failed" { return job }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw CancellationError()
}
