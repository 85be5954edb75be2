import ArgumentParser
import Foundation
import Ingest
import LogReading

/// How files are read and matched: the options `cairn ingest` and `cairn worker` share.
struct ReadingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Rule file or directory.", valueName: "DIR"))
    var rules: [String] = ["Rules"]

    @Option(name: .long, help: "Files read at once; the number of cores unless given.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: ArgumentHelp("BPF expression applied to captures (tcpdump syntax).", valueName: "BPF"))
    var filter: String?

    @Option(name: .long, help: "Year of the first RFC 3164 log timestamp of each file (default: inferred from the file's modification time).")
    var year: Int?

    @Option(name: .long, help: ArgumentHelp("Time zone of log times written without one: UTC or an offset like +01:00.", valueName: "ZONE"))
    var timezone: UTCOffset = UTCOffset(seconds: 0)

    @Option(name: .long, help: ArgumentHelp(
        "Log lines longer than this are cut; the cut is counted as the anomaly log.line_too_long. At most 64MiB.",
        valueName: "SIZE"))
    var lineLimit = ByteCount(LogReadingOptions.defaultMaximumLineLength)

    @Option(name: .long, help: ArgumentHelp(
        "The decompression-bomb guard: a gzip log is read up to this many decompressed bytes, and the file is reported as failed where it stopped.",
        valueName: "SIZE"))
    var decompressedLimit = ByteCount(LogReadingOptions.defaultMaximumDecompressedBytes)

    @Option(name: .long, help: ArgumentHelp(
        "How long after a DNS answer for a domain indicator a connection of the same host to one of its addresses is sighted as derived from it.",
        valueName: "SECONDS"))
    var dnsHorizon: Int64 = 3600

    @Option(name: .long, help: ArgumentHelp(
        "Where compiled rule sets are kept between runs (default: $XDG_CACHE_HOME/cairn, else $HOME/.cache/cairn).",
        valueName: "DIR"))
    var tableCache: String?

    @Flag(name: .long, help: "Parse and compile the rules on every run; neither read nor write the table cache.")
    var noTableCache = false

    /// `$XDG_CACHE_HOME/cairn`, else `$HOME/.cache/cairn`; nil when neither is set.
    static func defaultTableCache(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty { return cache + "/cairn" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/cairn" }
        return nil
    }

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard lineLimit.bytes >= ByteCount.smallestLineLimit, lineLimit.bytes <= UInt64(LogReader.largestLineLimit) else {
            throw ValidationError("--line-limit must be between 64 bytes and 64MiB")
        }
        guard decompressedLimit.bytes >= 1 else { throw ValidationError("--decompressed-limit must be at least 1 byte") }
        guard dnsHorizon >= 0, dnsHorizon <= 366 * 86_400 else {
            throw ValidationError("--dns-horizon must be between 0 and 31622400 seconds (a year)")
        }
    }

    /// What `Ingestor` takes, for the case at `database`, with this command line recorded.
    func ingestOptions(database: String) -> IngestOptions {
        var options = IngestOptions(
            rulePaths: rules, databasePath: database, jobs: jobs, filter: filter, year: year,
            utcOffsetSeconds: timezone.seconds, commandLine: CommandLine.arguments.joined(separator: " "), version: cairnVersion)
        options.dnsHorizonSeconds = dnsHorizon
        options.maximumLineLength = Int(lineLimit.bytes)
        options.maximumDecompressedBytes = decompressedLimit.bytes
        options.tableCacheDirectory = noTableCache ? nil : tableCache ?? Self.defaultTableCache()
        return options
    }
}
