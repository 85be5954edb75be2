import Foundation
import Testing
@testable import Ingest

@Suite struct InputDiscoveryTests {
    @Test func walksDirectoriesSortedSkipsHiddenAndReportsMissing() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manager = FileManager.default
        try manager.createDirectory(at: directory.appendingPathComponent("b/.hidden-dir"), withIntermediateDirectories: true)
        for name in ["b/z.log", "b/a.pcap", "a.txt", ".hidden", "b/.hidden-dir/x.log", "B.log"] {
            try Data("x".utf8).write(to: directory.appendingPathComponent(name))
        }
        let base = directory.standardizedFileURL.path
        let entries = InputDiscovery.entries(for: [directory.path, directory.path + "/a.txt", base + "/nope"])
        #expect(entries == [
            .file(base + "/B.log"), .file(base + "/a.txt"), .file(base + "/b/a.pcap"), .file(base + "/b/z.log"),
            .missing(path: base + "/nope", reason: "no such file or directory"),
        ])
    }

    @Test func relativePathsBecomeAbsolute() {
        let entries = InputDiscovery.entries(for: ["./no-such-dir/../no-such-file"])
        let cwd = FileManager.default.currentDirectoryPath
        #expect(entries == [.missing(path: cwd + "/no-such-file", reason: "no such file or directory")])
    }
}
