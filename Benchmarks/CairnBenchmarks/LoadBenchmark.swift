import Observations
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Indicators

/// Loading a large rule set the way `cairn ingest` does (`RuleSet.load(paths:)` then
/// `compile()`): 10,000,000 mixed indicators generated from a fixed seed into files of
/// 1,000,000 lines (plain lists, and one file in ten as CSV with metadata columns) in a
/// temporary directory, deleted afterwards.
///
///     swift run -c release cairn-bench load [indicators, default 10000000] [--plain | --csv]
///
/// Targets (issue 23, which replaced issue 3's): parsed and compiled in under 15 s the
/// first time; peak memory while loading at most 2× the size of the indicator text.
enum LoadBenchmark {
    static let linesPerFile = 1_000_000

    static func run(arguments: [String]) {
        let count = arguments.lazy.compactMap { Int($0) }.first ?? 10_000_000
        let csvEvery = arguments.contains("--csv") ? 1 : arguments.contains("--plain") ? 0 : 10
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-bench-load-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let generationStart = ContinuousClock.now
        let (textBytes, files) = generate(count, into: directory, csvEvery: csvEvery)
        let generation = (ContinuousClock.now - generationStart).inSeconds
        let residentBefore = peakResidentBytes()
        print("indicators: \(count) in \(files) files (\(csvEvery == 0 ? "plain lists" : csvEvery == 1 ? "CSV" : "1 file in \(csvEvery) CSV")), "
              + "text \(mebibytes(textBytes)) MiB, generated in \(format(generation)) s")

        let cpuStart = cpuSeconds()
        let loadStart = ContinuousClock.now
        let rules = RuleSet.load(paths: [directory])
        let parsed = ContinuousClock.now
        let peakParsing = peakResidentBytes()
        let table = rules.compile()
        let compiled = ContinuousClock.now
        let peak = peakResidentBytes()
        let cpu = cpuSeconds() - cpuStart
        let parseSeconds = (parsed - loadStart).inSeconds
        let compileSeconds = (compiled - parsed).inSeconds
        let total = parseSeconds + compileSeconds

        var byType: [IndicatorType: Int] = [:]
        for indicator in rules.indicators { byType[indicator.type, default: 0] += 1 }
        print("loaded: \(rules.indicators.count) unique indicators, \(rules.errors.count) errors, "
              + "\(rules.warnings.count) warnings; "
              + byType.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
        if let first = rules.errors.first { print("first error: \(first)") }
        print("stage               seconds   indicators/s")
        print(pad("parse (RuleSet.load)", 20) + pad(format(parseSeconds), 10) + String(Int(Double(count) / parseSeconds)))
        print(pad("compile", 20) + pad(format(compileSeconds), 10) + String(Int(Double(count) / compileSeconds)))
        print(pad("total", 20) + pad(format(total), 10) + String(Int(Double(count) / total))
              + "   (target < 15 s: \(total < 15 ? "met" : "missed by \(format(total / 15))×"))")
        print("CPU time of parse + compile: \(format(cpu)) s (user + system; wall time above is longer on a shared machine)")
        print("peak RSS \(mebibytes(peak)) MiB (\(mebibytes(residentBefore)) MiB before loading, \(mebibytes(peakParsing)) MiB by the end of parsing); "
              + "peak / text = \(format(Double(peak) / Double(textBytes)))× (target ≤ 2×); "
              + "compiled tables \(mebibytes(table.memoryBytes)) MiB; "
              + "\(MemoryLayout<Indicator>.stride) bytes per Indicator value against \(textBytes / max(count, 1)) bytes of text")
        withExtendedLifetime((rules, table)) {}
    }

    /// Writes the indicators; returns the bytes written and the number of files.
    static func generate(_ count: Int, into directory: String, csvEvery: Int) -> (bytes: Int, files: Int) {
        var random = IndicatorBenchmark.Random(state: 0x10AD_5EED)
        var written = 0
        var fileIndex = 0
        var remaining = count
        let tlds = ["com", "net", "org", "info", "ru", "cn", "de", "io", "biz", "xyz"]
        let severities = ["low", "medium", "high", "critical"]
        let hexDigits = Array("0123456789abcdef".utf8)
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        while remaining > 0 {
            let lines = min(remaining, linesPerFile)
            let isCSV = csvEvery > 0 && fileIndex % csvEvery == csvEvery - 1
            let name = String(format: "%@/feed-%03d.%@", directory, fileIndex, isCSV ? "csv" : "txt")
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 22)
            guard let file = fopen(name, "w") else { fatalError("cannot create \(name)") }  // benchmark setup, not input
            func flush() {
                buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
                written += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
            if isCSV { buffer += Array("indicator,type,severity,confidence,source,tlp\n".utf8) }
            for _ in 0..<lines {
                let kind = random.below(100)
                var value: [UInt8] = []
                var type = ""
                switch kind {
                case 0..<30:  // IPv4 address
                    let address = UInt32(truncatingIfNeeded: random.next())
                    value = Array(dotted(address).utf8)
                    type = "ipv4"
                case 30..<50:  // IPv4 range
                    let prefix = 12 + random.below(19)
                    let address = UInt32(truncatingIfNeeded: random.next()) & ~(UInt32.max >> prefix)
                    value = Array("\(dotted(address))/\(prefix)".utf8)
                    type = "cidr"
                case 50..<60:  // IPv6 range
                    let prefix = 32 + random.below(33)
                    let high = random.next() & ~(UInt64.max >> prefix)
                    value = Array(String(format: "2%03x:%x:%x:%x::/%d", Int(truncatingIfNeeded: high >> 48) & 0xfff, Int(truncatingIfNeeded: high >> 32) & 0xffff,
                                         Int(truncatingIfNeeded: high >> 16) & 0xffff, Int(truncatingIfNeeded: high) & 0xffff, prefix).utf8)
                    type = "cidr"
                case 60..<80:  // domain
                    let labels = 1 + random.below(2)
                    for label in 0..<labels {
                        if label > 0 { value.append(UInt8(ascii: ".")) }
                        for _ in 0..<(5 + random.below(10)) { value.append(letters[random.below(26)]) }
                    }
                    value += Array(".\(tlds[random.below(tlds.count)])".utf8)
                    type = "domain"
                default:  // MD5, SHA-1, SHA-256
                    let length = kind < 87 ? 32 : kind < 93 ? 40 : 64
                    for _ in 0..<length { value.append(hexDigits[random.below(16)]) }
                    type = length == 32 ? "md5" : length == 40 ? "sha1" : "sha256"
                }
                buffer += value
                if isCSV {
                    buffer += Array(",\(type),\(severities[random.below(4)]),\(random.below(101)),partner-cert,amber\n".utf8)
                } else {
                    buffer.append(UInt8(ascii: "\n"))
                }
                if buffer.count >= 1 << 22 { flush() }
            }
            flush()
            fclose(file)
            remaining -= lines
            fileIndex += 1
        }
        return (written, fileIndex)
    }

    static func dotted(_ address: UInt32) -> String {
        "\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).\(address & 255)"
    }

    /// The process's peak resident set (getrusage `ru_maxrss`, KiB on Linux), in bytes.
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }

    /// User + system CPU time of the process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func mebibytes(_ bytes: Int) -> Int { bytes >> 20 }
    static func format(_ value: Double) -> String { IndicatorBenchmark.format(value) }
    static func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
}
