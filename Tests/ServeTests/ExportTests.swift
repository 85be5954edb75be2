import CaseStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Serve

@Suite("serve: export")
struct ExportTests {
    @Test("the Export button sends a ZIP of the package `cairn verify` accepts, recorded in custody under the analyst",
          .enabled(if: Fixtures.cairnExecutable != nil, "the cairn executable is not built"),
          .enabled(if: run("python3", ["--version"])?.status == 0, "python3 is needed to unzip"))
    func exportArchive() async throws {
        let casePath = try SampleCase.shared.get().copy()
        let cairn = try #require(Fixtures.cairnExecutable)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let zip = directory.appendingPathComponent("package.zip")
        try await withServer(database: casePath, analyst: "amina") { client in
            let (cookie, token) = try await session(client)
            try await client.execute(
                uri: "/export", method: .post, headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "csrf_token=\(token)&ids%5B%5D=1&ids%5B%5D=2")
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/zip")
                #expect(response.headers[.contentDisposition]?.contains("incidents-1-2.zip") == true)
                try Data(buffer: response.body).write(to: zip)
            }
            try await client.execute(
                uri: "/export", method: .post, headers: [.cookie: cookie], body: ByteBuffer(string: "csrf_token=\(token)")
            ) { response in
                #expect(response.status == .badRequest)
            }
        }
        let unzipped = try #require(run("python3", ["-m", "zipfile", "-e", zip.path, directory.path]))
        #expect(unzipped.status == 0)
        let package = try #require(try FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasPrefix("cairn-export-") })
        let verified = try #require(run(cairn, ["verify", directory.appendingPathComponent(package).path]))
        #expect(verified.status == 0, "\(verified.output)")
        let exports = try CaseDatabase(location: casePath).custodyEntries().filter { $0.action == "export" }
        #expect(exports.count == 1)
        #expect(exports.first?.commandLine.contains("Export by amina of incidents 1 2") == true)
    }
}
