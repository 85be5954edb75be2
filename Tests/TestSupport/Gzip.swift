import Foundation

/// Why `gzipCompressed` failed.
public struct GzipFailed: Error, CustomStringConvertible {
    public let status: Int32
    public var description: String { "/usr/bin/gzip exited with status \(status)" }
}

/// `bytes` compressed by the system's gzip (one member, no name or time stamp), the
/// tool that writes the gzip files a CERT receives.
public func gzipCompressed(_ bytes: [UInt8]) throws -> [UInt8] {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-gzip-input-\(UUID().uuidString)")
    try Data(bytes).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-c", "-n", input.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw GzipFailed(status: process.terminationStatus) }
    return [UInt8](data)
}
