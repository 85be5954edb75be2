import Foundation
import Observations
import Testing
@testable import Indicators
import TestSupport

/// `<package root>/../shared/corpus/indicators`, and whether this clone has it: the
/// tests that read it skip through `.enabled(if: corpusPresent)` when it has not.
let corpusIndicators = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("../shared/corpus/indicators").standardizedFileURL.path
let corpusPresent = FileManager.default.fileExists(atPath: corpusIndicators)

/// The non-blank, non-comment lines of a file, trimmed, as an independent count.
func contentLines(_ path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !$0.hasPrefix("#") }
}


@Suite struct CorpusFeedTests {
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func ipsumPlainAddressesAllLoad() throws {
        let corpus = corpusIndicators
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
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func maltrailCIDRsWithTrailingComments() throws {
        let corpus = corpusIndicators
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

    /// Domains, plus an `address:port` line and a bare-TLD `.onion` line, which are
    /// skipped with warnings that say why, not loaded and not errors.
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func maltrailOnionDomainsAndAnAddressWithPort() throws {
        let corpus = corpusIndicators
        let path = corpus + "/maltrail/trails/static/suspicious/onion.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        let withPort = lines.filter { $0.contains(":") }
        let leadingDot = lines.filter { $0.hasPrefix(".") }
        #expect(withPort.count == 1 && leadingDot == [".onion"])
        #expect(rules.errors.isEmpty, "\(rules.errors)")
        #expect(rules.warnings.count == 2)
        #expect(rules.warnings.filter { $0.message.hasSuffix(": port-specific indicators are not supported yet; skipped") }.count == 1)
        if PublicSuffixList.system != nil {
            #expect(rules.warnings.contains { $0.message == ".onion: a leading dot means every name under onion, which is a public suffix: too broad to match; skipped" })
        }
        #expect(rules.indicators.count == lines.count - withPort.count - leadingDot.count)
        #expect(rules.indicators.allSatisfy { $0.type == .domain })
        let table = rules.compile()
        #expect(OwnedValue.domain("www.Tor2Web.org.").withObservedValue { table.lookup($0) } != nil)
        #expect(OwnedValue.domain("nottor2web.org").withObservedValue { table.lookup($0) } == nil)
    }

    /// LOKI's C2 list: domains and IPv4 addresses, some as `ip;score` (1844 content
    /// lines, 1773 distinct values before the `;`, counted with cut/sort -u).
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func signatureBaseC2List() throws {
        let corpus = corpusIndicators
        let path = corpus + "/signature-base/iocs/c2-iocs.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        #expect(lines.count == 1844)
        #expect(rules.errors.isEmpty, "\(rules.errors.prefix(3))")
        #expect(rules.warnings.isEmpty, "\(rules.warnings.prefix(3))")
        #expect(rules.indicators.count == 1773)
        let scored = try #require(rules.indicators.first { $0.value == "176.123.5.126" })
        #expect(scored.description == "65")
        #expect(rules.indicators.contains { $0.type == .ipv4 } && rules.indicators.contains { $0.type == .domain })
    }

    /// LOKI's hash list is all `hash;comment` (3224 lines, 3053 distinct digests).
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func signatureBaseHashListUsesSemicolonComments() throws {
        let corpus = corpusIndicators
        let path = corpus + "/signature-base/iocs/hash-iocs.txt"
        let rules = RuleSet.load(paths: [path])
        let lines = try contentLines(path)
        #expect(lines.count == 3224)
        #expect(rules.errors.isEmpty && rules.warnings.isEmpty)
        #expect(rules.indicators.count == 3053)
        #expect(rules.indicators.allSatisfy { [.md5, .sha1, .sha256].contains($0.type) && $0.description != nil })
        let first = try #require(rules.indicators.first)
        #expect(first.value == "ce583821191345274cd954b2db7da9742c239fe413fc17dcb97ffdd7b51cb072")
        #expect(first.description == "Dark Caracal - MS Windows HtmlHelp Data")
    }

    /// Every file of the corpus loads; what is skipped is reported with a reason. The
    /// counts were checked by hand with grep/awk: emotet's 4737 `/path` trails and 4704
    /// `ip:port` lines, elf_mirai's 37611 + 10915 + 1 (`ip:port:port`), cobaltstrike's
    /// 8172 (paths, `ip:port[:port]`), crypto_mining's 721 `ip:port`, dynamic_domain's
    /// 633 names that are private-section public suffixes (loaded, each with a warning
    /// about its reach), mass_scanner's 3 `C91.x.y.z`
    /// typos and 2 `/w00tw00t` paths.
    static let maltrailFiles: [(path: String, errors: Int, warnings: Int, needsSuffixList: Bool)] = [
        ("maltrail/trails/static/malware/emotet.txt", 0, 9441, false),
        ("maltrail/trails/static/malware/elf_mirai.txt", 0, 48527, false),
        ("maltrail/trails/static/malware/cobaltstrike.txt", 0, 8172, false),
        ("maltrail/trails/static/suspicious/crypto_mining.txt", 0, 721, false),
        ("maltrail/trails/static/suspicious/dynamic_domain.txt", 0, 633, true),
        ("maltrail/trails/static/mass_scanner.txt", 3, 2, false),
        ("maltrail/sensor/tests/corpus/trails.csv", 1, 4, false),
    ]

    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent"), arguments: maltrailFiles.filter { !$0.needsSuffixList })
    func maltrailFeedsLoadWithTheirSkippedLinesReported(path: String, errors: Int, warnings: Int, needsSuffixList: Bool) {
        checkMaltrailFeed(path: path, errors: errors, warnings: warnings)
    }

    /// The feeds whose warnings depend on the system's public suffix list.
    @Test(
        .enabled(if: corpusPresent, "../shared/corpus is absent"),
        .enabled(if: PublicSuffixList.system != nil, "\(PublicSuffixList.defaultPath) is absent"),
        arguments: maltrailFiles.filter(\.needsSuffixList))
    func maltrailFeedsNeedingTheSuffixList(path: String, errors: Int, warnings: Int, needsSuffixList: Bool) {
        checkMaltrailFeed(path: path, errors: errors, warnings: warnings)
    }

    func checkMaltrailFeed(path: String, errors: Int, warnings: Int) {
        let corpus = corpusIndicators
        let rules = RuleSet.load(paths: [corpus + "/" + path])
        #expect(rules.errors.count == errors, "\(rules.errors.prefix(3))")
        #expect(rules.warnings.count == warnings)
        #expect(rules.errors.allSatisfy { $0.line > 0 && $0.column > 0 })
        #expect(rules.warnings.allSatisfy {
            $0.line > 0 && $0.column > 0
                && ($0.message.hasSuffix("; skipped") || $0.message.contains("in the private section of the public suffix list"))
        })
        #expect(!rules.indicators.isEmpty)
        if path.hasSuffix("emotet.txt") {
            // maltrail's `host/path` trail matches the URL under any scheme.
            let table = rules.compile()
            #expect(OwnedValue.url("https://Tamariaclinic.com/blog/po22/").withObservedValue { table.lookup($0) } != nil)
            #expect(OwnedValue.url("http://tamariaclinic.com/blog/po23/").withObservedValue { table.lookup($0) } == nil)
        }
    }

    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func maltrailTrailsCSVReportsEachSkippedTrail() {
        let corpus = corpusIndicators
        let path = corpus + "/maltrail/sensor/tests/corpus/trails.csv"
        let rules = RuleSet.load(paths: [path])
        #expect(rules.fileSummaries.map(\.format) == [.maltrailCSV])
        #expect(rules.warnings.map { "\($0.line):\($0.column): \($0.message)" } == [
            "7:8: 6.6.6.6:8443: port-specific indicators are not supported yet; skipped",
            "12:1: /malicious-login.php: a URL path without a host (a maltrail path trail) is not supported yet; skipped",
            "15:13: \"[dead::beef]:443\": port-specific indicators are not supported yet; skipped",
            "18:1: \"dga[0-9]+\\\\.wildcard-test\\\\.com\": regular-expression trails are not supported; skipped",
        ])
        #expect(rules.errors.map(\.description) == [
            path + ":5:1: error: evilname: a domain needs at least two labels, like example.com; expected one indicator "
                + "per line (an IP address, CIDR range, domain, URL, e-mail address, or MD5/SHA-1/SHA-256 hash)",
        ])
        #expect(rules.indicators.count == 15)
        let url = rules.indicators.first { $0.type == .url }
        #expect(url?.value == "evil-url.example/bad/path" && url?.description == "malware (test)" && url?.source == "(static)")
    }

    /// MISP warning lists (JSON) are allow lists: every entry loads as an allow entry,
    /// none as an indicator; maltrail's test manifest is not a rule file (one error).
    /// The lists over 1 MB (Cloudflare's top 100k and the like) are left out to keep the
    /// test fast in debug builds; they are the same format.
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func mispWarningListsLoadAsAllowListsAndOtherJSONIsOneError() throws {
        let corpus = corpusIndicators
        let lists = corpus + "/misp-warninglists/lists"
        let paths = try FileManager.default.contentsOfDirectory(atPath: lists).sorted()
            .map { lists + "/" + $0 + "/list.json" }
            .filter { ((try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0) <= 1_000_000 }
        #expect(paths.count >= 15)
        let manifest = corpus + "/maltrail/sensor/tests/corpus/manifest.json"
        let rules = RuleSet.load(paths: paths + [manifest])
        #expect(rules.files.count == paths.count + 1)
        #expect(rules.errors.map(\.description) == [
            manifest + ": error: JSON file that is neither a STIX 2.1 bundle, a MISP event nor a MISP warning list",
        ])
        #expect(rules.indicators.isEmpty)
        let summaries = rules.fileSummaries.filter { $0.path != manifest }
        #expect(summaries.allSatisfy { $0.format == .mispWarningList && $0.isAllowList && $0.allowEntries > 0 })
        // Every entry of every list is read (an independent count with JSONSerialization).
        var expected = 0
        for path in paths {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let list = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["list"] as? [Any])
            expected += list.count
        }
        #expect(rules.allowEntries.count + rules.warnings.count == expected, "\(rules.warnings.prefix(3))")
        // rfc5735's TEST-NET-1 suppresses a hit on a range inside it; vpn-ipv4's 5.9.0.0/16 another.
        var withIndicators = rules
        withIndicators.indicators = [
            Indicator(type: .cidr, value: "192.0.2.0/25", ruleFile: "bad.txt", line: 1),
            Indicator(type: .ipv4, value: "5.9.12.13", ruleFile: "bad.txt", line: 2),
            Indicator(type: .ipv4, value: "5.10.12.13", ruleFile: "bad.txt", line: 3),
        ]
        let table = withIndicators.compile()
        let time = Timestamp(seconds: 1_700_000_000)
        let match = table.match(.ipv4(IPv4Address(0xC000_0207)), at: time)
        let hit = try #require(match)
        let entry = rules.allowEntries[try #require(hit.suppressedBy)]
        #expect(entry.listName == "List of RFC 5735 CIDR blocks" && entry.value == "192.0.2.0/24" && entry.line > 0)
        let vpn = try #require(table.match(.ipv4(IPv4Address(0x0509_0C0D)), at: time)?.suppressedBy)
        #expect(rules.allowEntries[vpn].value == "5.9.0.0/16")
        #expect(table.match(.ipv4(IPv4Address(0x050A_0C0D)), at: time) == IndicatorMatch(indicator: 2))
        // Google's `string` entries with a leading dot (".google.ad") allow the subdomains.
        let suppressed = OwnedValue.domain("cairn-test.Google.ad").withObservedValue { table.suppression(of: $0, at: time) }
        #expect(suppressed.map { rules.allowEntries[$0].value } == "google.ad")
    }

    /// Random lookups against ipsum (exact addresses) and maltrail's scanner /24s agree
    /// with a naive search.
    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func randomIPv4LookupsAgreeWithANaiveScan() throws {
        let corpus = corpusIndicators
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
        var random = SplitMix64(seed: 0x5EED)
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
