#if canImport(Glibc)
import Glibc
#endif
import ByteParsing
import LogReading
import Observations

/// The log text scanner alone on one core, against classifying the same bytes.
///
///     swift build -c release
///     .build/release/cairn-bench scan [LOG] [--megabytes N] [--rounds N]
///
/// LOG defaults to `$CAIRN_BENCH_DATA/syslog.log` (plain text); its first N MB
/// (default 300) are read into memory and cut into lines. Each round runs, on the
/// same lines and the same thread:
/// - the floor: every line's bytes classified 16 at a time (`ByteClasses.masks`), the
///   work no scanner of this design can skip;
/// - `TextScanner.scan` over every whole line with the system's public suffix list, as
///   `cairn ingest` scans a message, counting what it finds by kind.
/// The figure is the thread's CPU time and the MB/s it makes; issue 23 asks for the
/// scanner at 1 GB/s or more per core.
enum ScanBenchmark {
    static let targetMegabytesPerSecond = 1000

    static func run(arguments: [String]) {
        var path = IndicatorBenchmark.dataDirectory + "/syslog.log"
        var megabytes = 300
        var rounds = 3
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch argument {
            case "--megabytes":
                guard let value, let number = Int(value), number > 0 else { usage("--megabytes needs a positive number") }
                megabytes = number
                index += 1
            case "--rounds":
                guard let value, let number = Int(value), number > 0 else { usage("--rounds needs a positive number") }
                rounds = number
                index += 1
            default:
                if argument.hasPrefix("-") { usage("unknown option \(argument)") }
                path = argument
            }
            index += 1
        }
        guard var bytes = IndicatorBenchmark.readFile(path, limit: megabytes << 20) else { usage("cannot read \(path)") }
        // Whole lines only.
        if let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) { bytes.removeSubrange((lastNewline + 1)...) }
        let lines = lineRanges(bytes)
        guard let suffixes = PublicSuffixList.system else { usage("the public suffix list is not installed (publicsuffix)") }

        var floorSeconds: [Double] = []
        var scanSeconds: [Double] = []
        var counts = Counts()
        for _ in 0..<rounds {
            floorSeconds.append(timed { _ = classify(bytes, lines) })
            scanSeconds.append(timed { counts = scan(bytes, lines, suffixes: suffixes) })
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let floor = median(floorSeconds)
        let scanner = median(scanSeconds)
        let megabytesScanned = Double(bytes.count) / 1e6
        print("| \(path.split(separator: "/").last ?? ""), \(format(megabytesScanned)) MB, \(lines.count) lines "
              + "| thread CPU s | MB/s | ns per line | × floor |")
        print("|---|---:|---:|---:|---:|")
        for (name, seconds) in [("16-byte classification of every line (floor)", floor), ("`TextScanner.scan`", scanner)] {
            print("| \(name) | \(format(seconds)) | \(Int(megabytesScanned / seconds)) | "
                  + "\(Int(seconds * 1e9 / Double(lines.count))) | \(format(seconds / floor)) |")
        }
        print("found: \(counts.ipv4) IPv4, \(counts.ipv6) IPv6, \(counts.domains) domains, \(counts.digests) digests, "
              + "\(counts.urls) URLs, \(counts.emails) e-mail addresses (median of \(rounds) rounds by CPU time)")
        let rate = megabytesScanned / scanner
        print("\nTarget: the text scanner alone on one core: \(Int(rate)) MB/s "
              + "(target ≥ \(targetMegabytesPerSecond) MB/s: \(rate >= Double(targetMegabytesPerSecond) ? "met" : "not met"))")
    }

    struct Counts {
        var ipv4 = 0, ipv6 = 0, domains = 0, digests = 0, urls = 0, emails = 0
    }

    /// The lines of `bytes` without their newlines.
    static func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var lines: [Range<Int>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            lines.append(start..<index)
            start = index + 1
        }
        return lines
    }

    static func scan(_ bytes: [UInt8], _ lines: [Range<Int>], suffixes: PublicSuffixList) -> Counts {
        var counts = Counts()
        let text = bytes.span
        for line in lines {
            TextScanner.scan(text, in: line, suffixes: suffixes) { found in
                switch found {
                case .ipv4: counts.ipv4 += 1
                case .ipv6: counts.ipv6 += 1
                case .domain: counts.domains += 1
                case .hexDigest: counts.digests += 1
                case .url: counts.urls += 1
                case .email: counts.emails += 1
                }
            }
        }
        return counts
    }

    /// Every line's word and special lanes, folded so that the work is not optimised away.
    static func classify(_ bytes: [UInt8], _ lines: [Range<Int>]) -> UInt16 {
        let text = bytes.span
        var folded: UInt16 = 0
        for line in lines where line.count >= ByteClasses.blockSize {
            var index = line.lowerBound
            while index < line.upperBound {
                let masks = ByteClasses.masks(text, at: min(index, line.upperBound - ByteClasses.blockSize))
                folded ^= masks.word &+ masks.special
                index += ByteClasses.blockSize
            }
        }
        return folded
    }

    static func timed(_ body: () -> Void) -> Double {
        let start = DecodeBenchmark.threadCPUSeconds()
        body()
        return DecodeBenchmark.threadCPUSeconds() - start
    }

    static func format(_ value: Double) -> String { StoreBenchmark.format(value) }

    static func usage(_ problem: String) -> Never {
        print("cairn-bench scan: \(problem)")
        print("usage: cairn-bench scan [LOG] [--megabytes N] [--rounds N]")
        exit(2)
    }
}
