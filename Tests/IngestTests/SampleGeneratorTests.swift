import Foundation
import Testing

/// SampleData/ is what scripts/make-sample-data.py makes: the committed files can be
/// regenerated and reviewed.
@Suite struct SampleGeneratorTests {
    @Test func committedSampleDataMatchesTheGenerator() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Fixtures.packageRoot.appendingPathComponent("scripts/make-sample-data.py").path,
                             "--out", directory.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 scripts/make-sample-data.py failed")

        for name in ["office-lan.pcap", "branch-v6.pcapng", "syslog/fw01.log", "syslog/mail-gw.log.gz"] {
            let made = try Data(contentsOf: directory.appendingPathComponent(name))
            let committed = try Data(contentsOf: URL(fileURLWithPath: Fixtures.sampleData + "/" + name))
            if name.hasSuffix(".gz") {
                // Compressed bytes may differ between zlib versions; the members' content may not.
                #expect(try gunzip(made) == gunzip(committed), "\(name) differs from the generator's")
            } else {
                #expect(made == committed, "\(name) differs from the generator's")
            }
        }
    }

    func gunzip(_ data: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(data)
        try input.fileHandleForWriting.close()
        let result = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return result
    }
}
