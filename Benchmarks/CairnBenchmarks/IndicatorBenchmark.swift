#if canImport(Glibc)
import Glibc
#endif
import ByteParsing
import Indicators
import Observations

/// Indicator table lookups against straightforward baselines measured in the same run:
/// a binary search over sorted IPv4 ranges, and Swift `Set<String>`s for domains
/// (with the label-suffix walk) and hex digests. 90% of the lookups miss.
///
///     swift run -c release cairn-bench lookups [entries per table, default 1000000]
enum IndicatorBenchmark {
    /// A reproducible generator (SplitMix64), so runs compare like with like.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    static let lookups = 2_000_000

    /// The generated inputs (`ipv4.txt`, `queries_ipv4.txt`, ...): `$CAIRN_BENCH_DATA`,
    /// else `<package root>/../bench-data`.
    static var dataDirectory: String {
        if let path = getenv("CAIRN_BENCH_DATA") { return String(cString: path) }
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/../bench-data"
    }

    static func run(arguments: [String]) {
        let directory = dataDirectory
        if readFile(directory + "/ipv4.txt") != nil {
            runOnFiles(directory)
            return
        }
        print("\(directory) is absent: synthetic inputs")
        let count = arguments.first.flatMap { Int($0) } ?? 1_000_000
        var random = Random(state: 0xCA1_2_4)
        print("entries per table: \(count), lookups per measurement: \(lookups), 10% drawn from the entries")
        print("table     structure            ns/lookup   lookups/s   hits     vs baseline       table memory")
        ipv4(count, &random)
        domains(count, &random)
        hashes(count, &random)
    }

    /// Runs `body` over every query once to warm up, then times a second pass.
    static func measure<Q>(_ queries: [Q], _ body: (Q) -> Bool) -> (nanoseconds: Double, hits: Int) {
        var hits = 0
        for query in queries.prefix(10_000) where body(query) { hits += 1 }
        hits = 0
        let clock = ContinuousClock()
        let start = clock.now
        for query in queries where body(query) { hits += 1 }
        return ((clock.now - start).inSeconds * 1e9 / Double(queries.count), hits)
    }

    static func row(_ table: String, _ structure: String, _ result: (nanoseconds: Double, hits: Int),
                    baseline: Double?, memory: Int?) {
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        let ratio = baseline.map { "\(format($0 / result.nanoseconds))×" } ?? "1.00× (baseline)"
        print(pad(table, 10) + pad(structure, 21) + pad(format(result.nanoseconds), 12)
              + pad(String(Int(1e9 / result.nanoseconds)), 12) + pad(String(result.hits), 9) + pad(ratio, 18)
              + (memory.map { "\($0 / 1024 / 1024) MiB" } ?? "-"))
    }

    static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func ipv4(_ count: Int, _ random: inout Random) {
        var indicators: [Indicator] = []
        indicators.reserveCapacity(count)
        var ranges: [(start: UInt32, end: UInt32)] = []
        for _ in 0..<count {
            let prefix = 24 + random.below(9)
            let mask: UInt32 = prefix == 32 ? UInt32.max : ~(UInt32.max >> UInt32(prefix))
            let network = UInt32(truncatingIfNeeded: random.next()) & mask
            indicators.append(Indicator(type: .cidr, value: "\(IPv4Address(network))/\(prefix)", ruleFile: "bench", line: 0))
            ranges.append((network, network | ~mask))
        }
        let table = RuleSet(indicators: indicators).compile()
        ranges.sort { $0.start < $1.start }
        let starts = ranges.map(\.start)
        let ends = ranges.map(\.end)
        var queries: [UInt32] = []
        queries.reserveCapacity(lookups)
        for _ in 0..<lookups {
            if random.below(10) == 0 {
                let range = ranges[random.below(ranges.count)]
                queries.append(range.start &+ UInt32(truncatingIfNeeded: random.next()) % (range.end &- range.start &+ 1))
            } else {
                queries.append(UInt32(truncatingIfNeeded: random.next()))
            }
        }
        // Baseline: the last range starting at or before the address, then its end (a
        // plain binary search; overlapping ranges make it approximate, which only helps it).
        let baseline = measure(queries) { address in
            var low = 0, high = starts.count
            while low < high {
                let middle = (low + high) / 2
                if starts[middle] <= address { low = middle + 1 } else { high = middle }
            }
            return low > 0 && address <= ends[low - 1]
        }
        row("ipv4", "binary search", baseline, baseline: nil, memory: starts.count * 8)
        let cairn = measure(queries) { table.lookup(.ipv4(IPv4Address($0))) != nil }
        row("ipv4", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }

    static func name(_ random: inout Random) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let length = 6 + random.below(8)
        var bytes: [UInt8] = []
        for _ in 0..<length { bytes.append(letters[random.below(letters.count)]) }
        return String(decoding: bytes, as: UTF8.self) + [".com", ".net", ".org", ".example"][random.below(4)]
    }

    static func domains(_ count: Int, _ random: inout Random) {
        var names: [String] = []
        names.reserveCapacity(count)
        for _ in 0..<count { names.append(name(&random)) }
        let table = RuleSet(indicators: names.map { Indicator(type: .domain, value: $0, ruleFile: "bench", line: 0) }).compile()
        let set = Set(names)
        // Observed names: a subdomain of a listed name (10%) or of a random one.
        var queries: [[UInt8]] = []
        queries.reserveCapacity(lookups)
        for _ in 0..<lookups {
            let base = random.below(10) == 0 ? names[random.below(names.count)] : name(&random)
            queries.append(Array(("www." + base).utf8))
        }
        // Baseline: a String from the bytes, lower-cased, then each label suffix in the Set.
        let baseline = measure(queries) { bytes in
            let text = String(decoding: bytes, as: UTF8.self).lowercased()
            var suffix = Substring(text)
            while true {
                if set.contains(String(suffix)) { return true }
                guard let dot = suffix.firstIndex(of: ".") else { return false }
                suffix = suffix[suffix.index(after: dot)...]
            }
        }
        row("domain", "Set<String>", baseline, baseline: nil, memory: nil)
        let cairn = measure(queries) { bytes in table.lookup(.domain(bytes.span)) != nil }
        row("domain", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }

    static func hashes(_ count: Int, _ random: inout Random) {
        let hex = Array("0123456789abcdef".utf8)
        func digest(_ random: inout Random) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(64)
            for _ in 0..<64 { bytes.append(hex[random.below(16)]) }
            return bytes
        }
        var digests: [[UInt8]] = []
        digests.reserveCapacity(count)
        for _ in 0..<count { digests.append(digest(&random)) }
        let strings = digests.map { String(decoding: $0, as: UTF8.self) }
        let table = RuleSet(indicators: strings.map { Indicator(type: .sha256, value: $0, ruleFile: "bench", line: 0) }).compile()
        let set = Set(strings)
        var queries: [[UInt8]] = []
        queries.reserveCapacity(lookups)
        for _ in 0..<lookups {
            queries.append(random.below(10) == 0 ? digests[random.below(digests.count)] : digest(&random))
        }
        let baseline = measure(queries) { set.contains(String(decoding: $0, as: UTF8.self).lowercased()) }
        row("sha256", "Set<String>", baseline, baseline: nil, memory: nil)
        let cairn = measure(queries) { bytes in table.lookup(.hexDigest(bytes.span)) != nil }
        row("sha256", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }

    // MARK: generated inputs

    /// The whole file (at most its first `limit` bytes), or nil.
    static func readFile(_ path: String, limit: Int = .max) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if read <= 0 { break }
            bytes.append(contentsOf: chunk[0..<min(read, limit - bytes.count)])
            if bytes.count >= limit { break }
        }
        return bytes
    }

    /// Byte-string queries stored back to back (as observed bytes sit in a packet or
    /// log buffer), so that reading a query is not itself a cache miss.
    struct FlatQueries {
        var bytes: [UInt8] = []
        var ends: [Int] = []
        init(_ lines: [[UInt8]]) {
            for line in lines {
                bytes += line
                ends.append(bytes.count)
            }
        }
        var indices: [Int] { Array(ends.indices) }
        /// Calls `body` with query `index`'s bytes.
        @inline(__always)
        func with(_ index: Int, _ body: (Span<UInt8>) -> Bool) -> Bool {
            let start = index == 0 ? 0 : ends[index - 1]
            return body(bytes.span.extracting(start..<ends[index]))
        }
    }

    /// The file's non-empty lines (up to `limit`), as byte arrays.
    static func lines(_ path: String, limit: Int = lookups) -> [[UInt8]] {
        guard let bytes = readFile(path) else { return [] }
        var result: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            if index > start { result.append(Array(bytes[start..<index])) }
            start = index + 1
            if result.count >= limit { break }
        }
        return result
    }

    /// Peak resident memory of this process so far, in MiB.
    static func peakMiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) / 1024
    }

    /// Loads and compiles one rule file, printing the time; returns the rules and table.
    static func load(_ path: String) -> (RuleSet, IndicatorTable) {
        let clock = ContinuousClock()
        let start = clock.now
        let rules = RuleSet.load(paths: [path])
        let loaded = clock.now
        let table = rules.compile()
        let end = clock.now
        print("load      \(path.split(separator: "/").last ?? ""): \(rules.indicators.count) indicators, "
              + "parse \(format((loaded - start).inSeconds)) s, compile \(format((end - loaded).inSeconds)) s, "
              + "\(rules.errors.count) errors, peak RSS \(peakMiB()) MiB")
        return (rules, table)
    }

    /// The same stages on the files in `directory`: ipv4.txt, ipv6.txt, domains.txt,
    /// hashes.txt and their query streams (1% hits).
    static func runOnFiles(_ directory: String) {
        print("inputs: \(directory), up to \(lookups) queries per table from queries_*.txt")
        print("table     structure            ns/lookup   lookups/s   hits     vs baseline       table memory")
        // CAIRN_BENCH_ONLY=ipv4|ipv6|domains|hashes|load runs one stage.
        let only = getenv("CAIRN_BENCH_ONLY").map { String(cString: $0) }
        if only == nil || only == "ipv4" { filesIPv4(directory) }
        if only == nil || only == "ipv6" { filesIPv6(directory) }
        if only == nil || only == "domains" { filesDomains(directory) }
        if only == nil || only == "hashes" { filesHashes(directory) }
        if only != nil, only != "load" { return }
        let clock = ContinuousClock()
        let start = clock.now
        let paths = ["ipv4.txt", "ipv6.txt", "domains.txt", "hashes.txt"].map { directory + "/" + $0 }
        let rules = RuleSet.load(paths: paths)
        let loaded = clock.now
        let table = rules.compile()
        let end = clock.now
        print("load all  \(rules.indicators.count) indicators: parse \(format((loaded - start).inSeconds)) s, "
              + "compile \(format((end - loaded).inSeconds)) s, total \(format((end - start).inSeconds)) s, "
              + "tables \(table.memoryBytes / 1024 / 1024) MiB, peak RSS \(peakMiB()) MiB")
    }

    /// Sorted (start, end) ranges of the IPv4/IPv6 indicators, for the baselines.
    static func ranges<Key: Comparable>(_ rules: RuleSet, _ parse: (Substring, Int?) -> (Key, Key)?) -> (starts: [Key], ends: [Key]) {
        var ranges: [(Key, Key)] = []
        for indicator in rules.indicators {
            let parts = indicator.value.split(separator: "/")
            if let range = parse(parts[0], parts.count == 2 ? Int(parts[1]) : nil) { ranges.append(range) }
        }
        ranges.sort { $0.0 < $1.0 }
        return (ranges.map(\.0), ranges.map(\.1))
    }

    /// The baseline: the last range starting at or before the address, then its end.
    @inline(__always)
    static func binarySearch<Key: Comparable>(_ starts: [Key], _ ends: [Key], _ address: Key) -> Bool {
        var low = 0, high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= address { low = middle + 1 } else { high = middle }
        }
        return low > 0 && address <= ends[low - 1]
    }

    static func filesIPv4(_ directory: String) {
        let (rules, table) = load(directory + "/ipv4.txt")
        let (starts, ends) = ranges(rules) { (text: Substring, prefix: Int?) -> (UInt32, UInt32)? in
            guard let address = IPv4Address(text) else { return nil }
            let bits = prefix ?? 32
            let mask: UInt32 = bits == 0 ? 0 : UInt32.max << UInt32(32 - bits)
            return (address.value & mask, address.value | ~mask)
        }
        let queries = lines(directory + "/queries_ipv4.txt").compactMap {
            IPv4Address(Substring(String(decoding: $0, as: UTF8.self)))?.value
        }
        let baseline = measure(queries) { binarySearch(starts, ends, $0) }
        row("ipv4", "binary search", baseline, baseline: nil, memory: starts.count * 8)
        let cairn = measure(queries) { table.lookup(.ipv4(IPv4Address($0))) != nil }
        row("ipv4", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }

    struct Key128: Comparable {
        var high: UInt64
        var low: UInt64
        static func < (a: Key128, b: Key128) -> Bool { a.high != b.high ? a.high < b.high : a.low < b.low }
    }

    static func filesIPv6(_ directory: String) {
        let (rules, table) = load(directory + "/ipv6.txt")
        let (starts, ends) = ranges(rules) { (text: Substring, prefix: Int?) -> (Key128, Key128)? in
            guard let address = IPv6Address(text) else { return nil }
            let bits = prefix ?? 128
            let highMask: UInt64 = bits <= 0 ? 0 : bits >= 64 ? UInt64.max : UInt64.max << UInt64(64 - bits)
            let lowMask: UInt64 = bits <= 64 ? 0 : bits >= 128 ? UInt64.max : UInt64.max << UInt64(128 - bits)
            return (Key128(high: address.high & highMask, low: address.low & lowMask),
                    Key128(high: address.high | ~highMask, low: address.low | ~lowMask))
        }
        let queries = lines(directory + "/queries_ipv6.txt").compactMap {
            IPv6Address(Substring(String(decoding: $0, as: UTF8.self)))
        }
        let baseline = measure(queries) { binarySearch(starts, ends, Key128(high: $0.high, low: $0.low)) }
        row("ipv6", "binary search", baseline, baseline: nil, memory: starts.count * 32)
        let cairn = measure(queries) { table.lookup(.ipv6($0)) != nil }
        row("ipv6", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }

    static func filesDomains(_ directory: String) {
        let (rules, table) = load(directory + "/domains.txt")
        let set = Set(rules.indicators.map(\.value))
        let flat = FlatQueries(lines(directory + "/queries_domains.txt"))
        let queries = flat.indices
        let baseline = measure(queries) { index in flat.with(index) { bytes in
            let text = bytes.string.lowercased()
            var suffix = Substring(text)
            while true {
                if set.contains(String(suffix)) { return true }
                guard let dot = suffix.firstIndex(of: ".") else { return false }
                suffix = suffix[suffix.index(after: dot)...]
            }
        } }
        row("domain", "Set<String>", baseline, baseline: nil, memory: nil)
        let cairn = measure(queries) { index in flat.with(index) { table.lookup(.domain($0)) != nil } }
        row("domain", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }

    static func filesHashes(_ directory: String) {
        let (rules, table) = load(directory + "/hashes.txt")
        let set = Set(rules.indicators.map(\.value))
        let flat = FlatQueries(lines(directory + "/queries_hashes.txt"))
        let queries = flat.indices
        let baseline = measure(queries) { index in
            flat.with(index) { set.contains($0.string.lowercased()) }
        }
        row("hash", "Set<String>", baseline, baseline: nil, memory: nil)
        let cairn = measure(queries) { index in flat.with(index) { table.lookup(.hexDigest($0)) != nil } }
        row("hash", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }
}
