import CaseStore
import Foundation
import Testing
import TestSupport

/// `cairn serve` in a real headless Chromium, driven by Selenium through chromedriver
/// (Browser/check_pages.py): what an analyst does with the pages, and the probes.
@Suite(
    "serve: in a browser",
    .enabled(if: Browser.available, "needs chromium, chromedriver and Python's selenium (Debian's chromium-driver, pip's selenium)"),
    .enabled(if: Fixtures.cairnExecutable != nil, "the cairn executable is not built")
)
struct BrowserTests {
    @Test("the list, filters, keyboard, timeline, triage and export work, and no probe runs a script")
    func analystSession() throws {
        let cairn = try #require(Fixtures.cairnExecutable)
        let casePath = try SampleCase.shared.get().copy()
        let database = try CaseDatabase(location: casePath)
        let incidents = try database.incidents()
        let high = incidents.filter { $0.severity == "high" || $0.severity == "critical" }.count
        let hostileSighting = try #require(try database.sightings(incident: nil).first {
            $0.sourcePath.hasSuffix(Fixtures.hostileFileName)
        })
        let hostile = try #require(hostileSighting.incidentID)
        let hostilePacket = try #require(try database.sightings(incident: nil).first { $0.sourcePath.hasSuffix("hostile-http.pcap") })
        let downloads = FileManager.default.temporaryDirectory.appendingPathComponent("serve-downloads-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: downloads) }

        // A log the case has not seen, whose name carries a probe, for the upload page.
        let upload = downloads.appendingPathComponent("fw07 <svg onload=\"document.title='pwned-upload'\">.log")
        try """
            <134>1 2026-03-02T16:00:00.000000Z fw07 filterlog 2211 - - 5,,,1000000103,igb1,match,pass,out,4,0x0,,64,0,0,DF,6,tcp,60,10.0.0.77,203.0.113.45,41001,443,0,S

            """.write(to: upload, atomically: true, encoding: .utf8)
        let server = try ServeProcess(
            cairn: cairn, arguments: [
                "--db", casePath, "--rules", Fixtures.rules, "--no-table-cache", "--jobs", "1",
                "--upload-dir", downloads.appendingPathComponent("uploaded").path,
            ])
        defer { server.stop() }
        var arguments = [
            Browser.script, server.url, "--incidents", String(incidents.count), "--high", String(high),
            "--hostile", String(hostile), "--hostile-sighting", String(hostileSighting.id),
            "--hostile-packet", String(hostilePacket.id), "--download", downloads.path, "--upload", upload.path,
        ]
        // CAIRN_SCREENSHOTS=DIR keeps the pages' pictures (docs/screenshots is made so).
        if let directory = ProcessInfo.processInfo.environment["CAIRN_SCREENSHOTS"] { arguments += ["--screenshots", directory] }
        let result = try ExternalCommand.runCombined("python3", arguments)
        #expect(result.status == 0, "\(result.output)")
        #expect(!result.output.contains("FAIL"), "\(result.output)")

        // The browser's triage is what `cairn show` shows.
        let first = try #require(incidents.first?.id)
        let shown = try #require(ExternalCommand.run(cairn, ["show", String(first), "--db", casePath]))
        #expect(shown.output.contains("investigating  assignee: duty officer  note: beacon confirmed <script>"), "\(shown.output)")

        #expect(try CaseDatabase(location: casePath).incidents().contains { $0.host == "10.0.0.77" })

        let archive = try #require(try FileManager.default.contentsOfDirectory(atPath: downloads.path).first { $0.hasSuffix(".zip") })
        let unpacked = downloads.appendingPathComponent("unpacked")
        #expect(ExternalCommand.run("python3", ["-m", "zipfile", "-e", downloads.appendingPathComponent(archive).path, unpacked.path])?.status == 0)
        let package = try #require(try FileManager.default.contentsOfDirectory(atPath: unpacked.path).first)
        let verified = try #require(ExternalCommand.run(cairn, ["verify", unpacked.appendingPathComponent(package).path]))
        #expect(verified.status == 0, "\(verified.output)")
    }
}

enum Browser {
    static let script = Fixtures.packageRoot.appendingPathComponent("Tests/ServeTests/Browser/check_pages.py").path
    static let available: Bool = {
        let chromium = ["chromium", "chromium-browser", "google-chrome"].contains { ExternalCommand.run("which", [$0])?.status == 0 }
        let driver = ExternalCommand.run("which", ["chromedriver"])?.status == 0
        let selenium = ExternalCommand.run("python3", ["-c", "import selenium"])?.status == 0
        return chromium && driver && selenium
    }()
}

/// `cairn serve` on a free loopback port, stopped with SIGTERM.
final class ServeProcess {
    let process = Process()
    let url: String

    init(cairn: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: cairn)
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // The first line names the address: "cairn serve: CASE at http://127.0.0.1:PORT/"
        // (or https://).
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("\n") && Date() < deadline && process.isRunning {
            text += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let range = text.range(of: "http://") ?? text.range(of: "https://") else {
            process.terminate()
            throw ServeProcessError(output: text)
        }
        url = String(text[range.lowerBound...].prefix { !$0.isWhitespace })
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    struct ServeProcessError: Error {
        var output: String
    }
}
