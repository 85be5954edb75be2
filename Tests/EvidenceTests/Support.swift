import CaseStore
import Foundation
import Ingest
import TestSupport

/// Paths and fixtures shared by the Evidence tests.
enum Fixtures {
    /// The package root: three levels up from this file (Tests/EvidenceTests/Support.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sampleData = packageRoot.appendingPathComponent("SampleData").path
    static let rules = packageRoot.appendingPathComponent("Rules").path
    /// `../shared/corpus`, and whether this clone has it: the tests that read it skip
    /// through `.enabled(if: Fixtures.corpusPresent)` when it has not.
    static let corpusPath = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus").path
    static let corpusPresent = FileManager.default.fileExists(atPath: corpusPath + "/pcap")

    /// The built `cairn` executable, or nil when it is not built.
    static let cairnExecutable = BuiltProduct.cairn
}

/// The tools some tests check the package with, and whether this machine has them:
/// those tests skip through `.enabled(if:)` when one is absent, so the report says so.
enum Tool {
    static let python3 = available("python3")
    static let openssl = available("openssl")
    static let sha256sum = available("sha256sum")
    /// libxml2-utils.
    static let xmllint = available("xmllint")
    /// The OASIS validator (pip package stix2-validator).
    static let stix2Validator = run("stix2_validator", ["--help"])?.status == 0
    /// A headless Chromium's command, if one is installed.
    static let chromium = ["chromium", "chromium-browser", "google-chrome"].first(where: available)
}

/// A fresh directory for one test, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "evidence-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Ingests `paths` with the repository's Rules/ into a new database in `directory`,
/// taking log times written without a zone at `utcOffsetSeconds`.
func ingest(
    _ paths: [String], rules: [String] = [Fixtures.rules], utcOffsetSeconds: Int = 0, into directory: TemporaryDirectory
) throws -> CaseDatabase {
    let database = directory.file("case.sqlite")
    let options = IngestOptions(
        rulePaths: rules, databasePath: database, jobs: 2, filter: nil, year: 2026, utcOffsetSeconds: utcOffsetSeconds,
        commandLine: "cairn ingest (test)", version: "test")
    _ = try Ingestor(options: options).run(paths: paths)
    return try CaseDatabase(location: database)
}

/// Runs a command with its standard error discarded, returning its exit status and standard output.
func runQuiet(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String)? {
    ExternalCommand.run(executable, arguments)
}

/// Whether a command can be run (`which`).
func available(_ tool: String) -> Bool { runQuiet("which", [tool])?.status == 0 }

/// Runs a command, returning its exit status and standard output (nil if it could not start).
func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Flips the lowest bit of the byte at `offset` of a file.
func flipByte(_ path: String, at offset: Int) throws {
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] ^= 0x01
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
