import Foundation
import Observations
import Testing
@testable import Indicators

/// `<package root>/../shared/corpus/indicators`, or nil (with a note) when absent.
func corpusIndicators(filePath: String = #filePath) -> String? {
    let packageRoot = URL(fileURLWithPath: filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = packageRoot.appendingPathComponent("../shared/corpus/indicators").standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: path) else {
        print("skipped: ../shared/corpus is absent")
        return nil
    }
    return path
}

/// The non-blank, non-comment lines of a file, trimmed, as an independent count.
func contentLines(_ path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !$0.hasPrefix("#") }
}

/// A reproducible generator for the random lookups (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

@Suite struct CorpusFeedTests {
    @Test func ipsumPlainAddressesAllLoad() throws {
        guard let corpus = corpusIndicators() else { return }
        let path = corpus + "/ipsum/levels/3.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        #expect(lines.count > 10_000)
        #expect(rules.errors.isEmpty, "\(rules.errors.prefix(3))")
        #expect(rules.indicators.count == Set(lines).count)
        #expect(rules.indicators.allSatisfy { $0.type == .ipv4 && $0.ruleFile == path })
        #expect(rules.files == [path])
    }

    /// `10.0.0.0/24 # comment`: trailing comments after whitespace.
    @Test func maltrailCIDRsWithTrailingComments() throws {
        guard let corpus = corpusIndicators() else { return }
        let path = corpus + "/maltrail/trails/static/mass_scanner_cidr.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        #expect(lines.count > 1000 && lines.allSatisfy { $0.contains(" # ") })
        #expect(rules.errors.isEmpty, "\(rules.errors.prefix(3))")
        let values = Set(lines.map { String($0.prefix { $0 != " " }) })
        #expect(rules.indicators.count == values.count)
        #expect(rules.indicators.allSatisfy { $0.type == .cidr || $0.type == .ipv4 })
        #expect(rules.indicators.filter { $0.type == .cidr }.count > 1000)
        #expect(rules.indicators.contains { $0.value == "104.131.64.0/18" })
        let table = rules.compile()
        #expect(table.lookup(.ipv4(try #require(IPv4Address("5.63.151.77")))) != nil)
    }

    /// Domains, plus an `address:port` line and a bare-TLD `.onion` line, which must be
    /// reported, not loaded.
    @Test func maltrailOnionDomainsAndAnAddressWithPort() throws {
        guard let corpus = corpusIndicators() else { return }
        let path = corpus + "/maltrail/trails/static/suspicious/onion.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        let withPort = lines.filter { $0.contains(":") }
        let leadingDot = lines.filter { $0.hasPrefix(".") }
        #expect(withPort.count == 1 && leadingDot == [".onion"])
        #expect(rules.errors.count == withPort.count + leadingDot.count)
        #expect(rules.errors.filter { $0.message.contains("ports are not supported") && $0.line > 0 }.count == 1)
        #expect(rules.errors.filter { $0.message.contains("empty label") }.count == 1)
        #expect(rules.indicators.count == lines.count - withPort.count - leadingDot.count)
        #expect(rules.indicators.allSatisfy { $0.type == .domain })
        let table = rules.compile()
        #expect(Array("www.Tor2Web.org.".utf8).withUnsafeBytes { table.lookup(.domain($0)) } != nil)
        #expect(Array("nottor2web.org".utf8).withUnsafeBytes { table.lookup(.domain($0)) } == nil)
    }

    /// LOKI's C2 list: domains and IPv4 addresses, plus a few `ip;score` lines.
    @Test func signatureBaseC2List() throws {
        guard let corpus = corpusIndicators() else { return }
        let path = corpus + "/signature-base/iocs/c2-iocs.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        let semicolon = lines.filter { $0.contains(";") }
        #expect(!semicolon.isEmpty)
        #expect(rules.errors.count == semicolon.count, "\(rules.errors.filter { !$0.message.contains("\";\"") })")
        let plain = Set(lines.filter { !$0.contains(";") }.map { $0.lowercased() })
        #expect(rules.indicators.count == plain.count)
        #expect(rules.indicators.contains { $0.type == .ipv4 } && rules.indicators.contains { $0.type == .domain })
    }

    /// LOKI's hash list is all `hash;comment`: every such line is an error for now.
    @Test func signatureBaseHashListUsesSemicolonComments() throws {
        guard let corpus = corpusIndicators() else { return }
        let path = corpus + "/signature-base/iocs/hash-iocs.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        let semicolon = lines.filter { $0.contains(";") }
        #expect(semicolon.count > 3000)
        #expect(rules.errors.count == semicolon.count)
        #expect(rules.indicators.count == lines.count - semicolon.count)
        // The value before the `;` is a valid digest in (almost) every line: a later
        // format must accept `value;comment`.
        let digests = semicolon.filter {
            let value = $0.prefix { $0 != ";" }
            guard case .indicator(let type, _) = PlainListParser.parseLine(ArraySlice(value.utf8)) else { return false }
            return type == .md5 || type == .sha1 || type == .sha256
        }
        #expect(Double(digests.count) > Double(semicolon.count) * 0.95)
        let explained = rules.errors.filter { $0.message.contains("found more text after") }
        #expect(explained.count == digests.count)
    }

    /// Random lookups against ipsum (exact addresses) and maltrail's scanner /24s agree
    /// with a naive search.
    @Test func randomIPv4LookupsAgreeWithANaiveScan() throws {
        guard let corpus = corpusIndicators() else { return }
        let rules = RuleSet.load(paths: [
            corpus + "/ipsum/levels/3.txt", corpus + "/maltrail/trails/static/mass_scanner_cidr.txt",
        ])
        #expect(rules.errors.isEmpty)
        let table = rules.compile()
        // The naive model: every indicator as (network, prefix, index).
        var networks: [(network: UInt32, prefix: Int, index: Int)] = []
        for (index, indicator) in rules.indicators.enumerated() {
            let parts = indicator.value.split(separator: "/")
            let address = try #require(IPv4Address(parts[0]))
            networks.append((address.value, parts.count == 2 ? try #require(Int(parts[1])) : 32, index))
        }
        func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }
        func naive(_ address: UInt32) -> Int? {
            var best: (prefix: Int, index: Int)? = nil
            for entry in networks where address & mask(entry.prefix) == entry.network {
                if entry.prefix > (best?.prefix ?? -1) { best = (entry.prefix, entry.index) }
            }
            return best?.index
        }
        // A second model for the large run: one dictionary per prefix length (hashing,
        // where the table binary-searches sorted runs), checked against `naive` below.
        var byPrefix: [Int: [UInt32: Int]] = [:]
        for entry in networks where byPrefix[entry.prefix]?[entry.network] == nil {
            byPrefix[entry.prefix, default: [:]][entry.network] = entry.index
        }
        let prefixes = byPrefix.keys.sorted(by: >)
        func model(_ address: UInt32) -> Int? {
            for prefix in prefixes {
                if let index = byPrefix[prefix]?[address & mask(prefix)] { return index }
            }
            return nil
        }
        var random = SplitMix64(state: 0x5EED)
        /// A third uniformly random, the rest near a listed network (to hit and near-miss).
        func sample() -> UInt32 {
            let roll = random.next() % 3
            if roll == 0 { return UInt32(truncatingIfNeeded: random.next()) }
            let base = networks[Int(random.next() % UInt64(networks.count))].network
            return roll == 1 ? base : base ^ UInt32(truncatingIfNeeded: random.next() & 0x1FF)
        }
        var hits = 0
        var mismatches = 0
        for _ in 0..<100_000 {
            let address = sample()
            let got = table.lookup(.ipv4(IPv4Address(address)))
            if got != nil { hits += 1 }
            if got != model(address) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(hits > 30_000 && hits < 90_000, "hits: \(hits)")
        // The fully naive scan on a smaller sample checks the model itself.
        for _ in 0..<1_000 {
            let address = sample()
            #expect(table.lookup(.ipv4(IPv4Address(address))) == naive(address))
        }
    }
}
