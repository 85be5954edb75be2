import Foundation

/// Commands the tests check Cairn against (tshark, capinfos, bagit.py…), shared by the
/// test targets.
public enum ExternalCommand {
    /// Runs `executable` (looked up on PATH through `/usr/bin/env`) with its standard
    /// error discarded: its exit status and standard output, nil when it could not start.
    public static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs the program at `executable` (a path, or a name looked up on PATH) in `directory`
    /// (the current one when nil): its exit status and its standard output and standard
    /// error together, as a person would see them. Throws when it could not start.
    ///
    /// The output goes through a file, not a pipe: a daemon the program starts (pg_ctl's
    /// server) may keep the pipe open long after the program exits.
    public static func runCombined(
        _ executable: String, _ arguments: [String], in directory: URL? = nil
    ) throws -> (status: Int32, output: String) {
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-output-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: outputFile.path, contents: nil),
            let output = FileHandle(forWritingAtPath: outputFile.path)
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: outputFile.path]) }
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = (executable.contains("/") ? [] : [executable]) + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }
}

/// The executables this package builds, found beside the test bundle in the build
/// directory; nil when one is not built (tests that run it skip through `.enabled(if:)`).
public enum BuiltProduct {
    public static let cairn: String? = {
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("cairn")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()
}
