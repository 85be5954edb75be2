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
}
