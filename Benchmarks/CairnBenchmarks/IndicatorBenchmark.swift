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

    static func run(arguments: [String]) {
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
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (seconds * 1e9 / Double(queries.count), hits)
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
        let cairn = measure(queries) { bytes in bytes.withUnsafeBytes { table.lookup(.domain($0)) != nil } }
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
        let cairn = measure(queries) { bytes in bytes.withUnsafeBytes { table.lookup(.hexDigest($0)) != nil } }
        row("sha256", "IndicatorTable", cairn, baseline: baseline.nanoseconds, memory: table.memoryBytes)
    }
}
