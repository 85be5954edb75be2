import Foundation
import Ingest

/// Paths the end-to-end tests use.
enum Fixtures {
    /// The package root: three levels up from this file (Tests/IngestTests/Fixtures.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let sampleData = packageRoot.appendingPathComponent("SampleData").path
    static let rules = packageRoot.appendingPathComponent("Rules").path

    /// `../shared/corpus`, and whether this clone has it: the tests that read it skip
    /// through `.enabled(if: Fixtures.corpusPresent)` when it has not.
    static let corpusURL = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    static let corpusPresent = FileManager.default.fileExists(atPath: corpusURL.path)

    /// A new empty directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Ingests `paths` into a new case, `directory/case.sqlite`, with the plain-list
    /// `indicators` written to `directory/rules.txt`; `configure` sets further options.
    /// Returns the report and the case's path.
    static func ingest(
        _ paths: [String], indicators: String, in directory: URL, jobs: Int = 2, year: Int? = nil,
        configure: (inout IngestOptions) -> Void = { _ in }
    ) throws -> (report: IngestReport, database: String) {
        let rules = directory.appendingPathComponent("rules.txt")
        try indicators.write(to: rules, atomically: true, encoding: .utf8)
        let database = directory.appendingPathComponent("case.sqlite").path
        var options = IngestOptions(
            rulePaths: [rules.path], databasePath: database, jobs: jobs, filter: nil, year: year,
            commandLine: "test", version: "test")
        configure(&options)
        return (try Ingestor(options: options).run(paths: paths), database)
    }

    /// The built `cairn` executable (beside the test bundle in the build directory).
    static var cairnExecutable: URL? {
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("cairn")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    /// Runs `executable` with `arguments` to the end: its exit status and standard
    /// output (standard error is dropped).
    static func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }
}
