import CaseStore
import Foundation
import Testing

/// Faults of the machine rather than the input: a full disk, a read-only case, a second
/// ingest on the same case. Each must end with a clear message, a non-zero exit status,
/// a sound database, and a re-run that completes.
@Suite struct FaultTests {
    struct Outcome {
        var status: Int32
        var standardError: String
    }

    /// Runs `cairn` through `/bin/sh`, so that a shell prefix such as `ulimit -f 150;`
    /// applies to it alone.
    func cairn(_ arguments: [String], shellPrefix: String = "") throws -> Outcome {
        guard let executable = Fixtures.cairnExecutable else {
            Issue.record("the cairn executable was not found beside the test bundle")
            return Outcome(status: -1, standardError: "")
        }
        let quoted = ([executable.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", shellPrefix + " exec " + quoted.joined(separator: " ")]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, standardError: String(decoding: data, as: UTF8.self))
    }

    func incidents(_ path: String) throws -> [String] {
        try CaseDatabase(location: path).incidents().map { "\($0.host) \($0.severity) \($0.indicators) \($0.sightingCount)" }
    }

    @Test func fullDiskAbortsCleanlyAndARerunCompletes() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        let arguments = ["ingest", "--rules", Fixtures.rules, "--db", database, "--jobs", "1", Fixtures.sampleData]
        // 150 KiB: the schema fits, the sightings of all four sample files do not.
        let full = try cairn(arguments, shellPrefix: "ulimit -f 150;")
        #expect(full.status == 1)
        #expect(full.standardError.contains("the disk may be full or a file size limit reached"))
        #expect(try CaseDatabase(location: database).integrityCheck() == ["ok"])
        #expect(try CaseDatabase(location: database).sources().allSatisfy { $0.status != "complete" || $0.error == nil })

        let rerun = try cairn(arguments)
        #expect(rerun.status == 0, "\(rerun.standardError)")
        let clean = directory.appendingPathComponent("clean.sqlite").path
        #expect(try cairn(["ingest", "--rules", Fixtures.rules, "--db", clean, Fixtures.sampleData]).status == 0)
        #expect(try incidents(database) == incidents(clean))
        #expect(try CaseDatabase(location: database).sources().filter { $0.status == "complete" }.count == 4)
    }

    /// root writes through file modes; the read-only check needs an ordinary user.
    static let runningAsRoot = getuid() == 0

    @Test(.enabled(if: !FaultTests.runningAsRoot, "runs as root, which ignores file modes"))
    func readOnlyCaseIsAClearError() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        _ = try CaseDatabase(location: database)
        chmod(database, 0o400)
        let outcome = try cairn(["ingest", "--rules", Fixtures.rules, "--db", database, Fixtures.sampleData])
        #expect(outcome.status == 1)
        #expect(outcome.standardError.contains("cannot be written"))
    }

    @Test func secondIngestOnTheSameCaseIsRefused() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        let store = try CaseDatabase(location: database)
        // This process plays the first ingest.
        let lock = try store.lockForWriting()
        let second = try cairn(["ingest", "--rules", Fixtures.rules, "--db", database, Fixtures.sampleData])
        #expect(second.status == 1)
        #expect(second.standardError.contains("another cairn ingest is writing to case database"))
        #expect(try store.sources().isEmpty, "the refused run wrote nothing")
        withExtendedLifetime(lock) {}
    }
}
