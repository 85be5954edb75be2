import Foundation

/// Paths the end-to-end tests use.
enum Fixtures {
    /// The package root: three levels up from this file (Tests/IngestTests/Fixtures.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let sampleData = packageRoot.appendingPathComponent("SampleData").path
    static let rules = packageRoot.appendingPathComponent("Rules").path

    /// `../shared/corpus`, or nil (with a plain message) when this clone has none.
    static func corpus(for test: String = #function) -> URL? {
        let corpus = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
        guard FileManager.default.fileExists(atPath: corpus.path) else {
            print("skipped: \(test): ../shared/corpus is absent")
            return nil
        }
        return corpus
    }

    /// A new empty directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
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
