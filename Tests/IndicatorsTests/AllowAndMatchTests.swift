import Foundation
import Observations
import Testing
@testable import Indicators

func day(_ year: Int, _ month: Int, _ day: Int) -> Timestamp {
    Timestamp(year: year, month: month, day: day, hour: 0, minute: 0, second: 0) ?? Timestamp(nanoseconds: 0)
}

func withBytes<R>(_ text: String, _ body: (Span<UInt8>) -> R) -> R {
    body(Array(text.utf8).span)
}

@Suite struct AllowAndMatchTests {
    /// A rules tree with nested ranges and parent domains, validity windows, an allow
    /// directory and a MISP warning list.
    static func tree() throws -> String {
        try makeTree([
            "Rules/c2.csv": Array("""
                indicator,severity,valid_from,valid_until
                10.0.0.0/8,low,,
                10.1.0.0/16,medium,2026-01-01,2026-03-01
                10.1.2.3,high,2026-02-01,
                evil.example,high,,
                cdn.evil.example,medium,2026-01-01,2026-02-01
                =www.cdn.evil.example,critical,,
                44d88612fea8a8f36de82e1278abb02f,high,,

                """.utf8),
            "Rules/allow/ours.txt": Array("10.1.2.0/24 # our own resolvers\nok.evil.example\n".utf8),
            "Rules/lists/sinks.json": Array("""
                {"name": "Sinkholes", "type": "cidr", "description": "x", "version": 1,
                 "matching_attributes": ["ip-dst"],
                 "list": ["10.9.9.9", "2001:db8::/32"]}
                """.utf8),
            "Rules/lists/words.json": Array("""
                {"name": "Words", "type": "substring", "list": ["Tracker"]}
                """.utf8),
            "Rules/lists/hashes.json": Array("""
                {"name": "Empty", "type": "string", "list": ["44D88612FEA8A8F36DE82E1278ABB02F", "3:abc:def", "AAA"]}
                """.utf8),
        ])
    }

    @Test func allowListsLoadAsAllowEntriesNotIndicators() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/Rules"])
        #expect(rules.errors.isEmpty, "\(rules.errors)")
        #expect(rules.indicators.map(\.value) == [
            "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "evil.example", "cdn.evil.example", "www.cdn.evil.example",
            "44d88612fea8a8f36de82e1278abb02f",
        ])
        #expect(rules.allowEntries.map { "\($0.kind.rawValue) \($0.value)" } == [
            "value 10.1.2.0/24", "value ok.evil.example",  // Rules/allow/ours.txt
            "value 44d88612fea8a8f36de82e1278abb02f", "text 3:abc:def", "text aaa",  // hashes.json
            "value 10.9.9.9", "value 2001:db8::/32",  // sinks.json
            "substring tracker",  // words.json
        ])
        #expect(rules.allowEntries[0].ruleFile == root + "/Rules/allow/ours.txt" && rules.allowEntries[0].line == 1)
        #expect(rules.allowEntries[5].listName == "Sinkholes" && rules.allowEntries[5].line == 3)
        let summaries = Dictionary(uniqueKeysWithValues: rules.fileSummaries.map { ($0.path, $0) })
        #expect(summaries[root + "/Rules/allow/ours.txt"]?.isAllowList == true)
        #expect(summaries[root + "/Rules/allow/ours.txt"]?.allowEntries == 2)
        #expect(summaries[root + "/Rules/allow/ours.txt"]?.indicatorCount == 0)
        #expect(summaries[root + "/Rules/lists/sinks.json"]?.format == .mispWarningList)
        #expect(summaries[root + "/Rules/c2.csv"]?.isAllowList == false)
    }

    @Test func matchReportsTheMostSpecificValidIndicatorWithContextAndSuppression() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/Rules"])
        let table = rules.compile()
        let address = try #require(IPv4Address("10.1.2.3"))
        // 2026-02-15: all three valid; the address is inside the allowed 10.1.2.0/24.
        #expect(table.match(.ipv4(address), at: day(2026, 2, 15)) == IndicatorMatch(indicator: 2, context: [1, 0], suppressedBy: 0))
        // 2026-01-15: 10.1.2.3 is not yet valid: the /16 is reported.
        #expect(table.match(.ipv4(address), at: day(2026, 1, 15)) == IndicatorMatch(indicator: 1, context: [0], suppressedBy: 0))
        // 2026-04-01: the /16 has expired too.
        #expect(table.match(.ipv4(address), at: day(2026, 4, 1)) == IndicatorMatch(indicator: 2, context: [0], suppressedBy: 0))
        // Outside the allowed /24: not suppressed.
        let other = try #require(IPv4Address("10.1.3.3"))
        #expect(table.match(.ipv4(other), at: day(2026, 2, 15)) == IndicatorMatch(indicator: 1, context: [0]))
        // The sinkhole list suppresses 10.9.9.9; a miss is nil.
        #expect(table.match(.ipv4(IPv4Address(0x0A09_0909)), at: day(2026, 2, 15))?.suppressedBy == 5)
        #expect(table.match(.ipv4(IPv4Address(0x0B00_0001)), at: day(2026, 2, 15)) == nil)
        // IPv4-mapped IPv6 reaches the IPv4 indicators.
        let mapped = try #require(IPv6Address("::ffff:10.1.2.3"))
        #expect(table.match(.ipv6(mapped), at: day(2026, 2, 15))?.indicator == 2)
        // Domains: the exact-only entry, then the name, then its parent.
        #expect(withBytes("WWW.cdn.evil.example.") { table.match(.domain($0), at: day(2026, 1, 15)) }
            == IndicatorMatch(indicator: 5, context: [4, 3]))
        #expect(withBytes("x.cdn.evil.example") { table.match(.domain($0), at: day(2026, 3, 1)) }
            == IndicatorMatch(indicator: 3))
        #expect(withBytes("a.ok.evil.example") { table.match(.domain($0), at: day(2026, 3, 1)) }
            == IndicatorMatch(indicator: 3, suppressedBy: 1))
        #expect(withBytes("tracker-evil.example") { table.match(.domain($0), at: day(2026, 3, 1)) } == nil)
        #expect(withBytes("Tracker.evil.example") { table.match(.domain($0), at: day(2026, 3, 1)) }
            == IndicatorMatch(indicator: 3, suppressedBy: 7))
        // A hash on the string warning list: exact, any case.
        #expect(withBytes("44D88612fea8a8f36de82e1278abb02f") { table.match(.hexDigest($0), at: day(2026, 3, 1)) }
            == IndicatorMatch(indicator: 6, suppressedBy: 2))
        // lookup is unchanged: the most specific, whatever its window.
        #expect(table.lookup(.ipv4(address)) == 2)
    }

    @Test func explainListsEveryMatchWithItsValidity() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let table = RuleSet.load(paths: [root + "/Rules"]).compile()
        let explained = table.explain(" 10.1.2.3 ", at: day(2026, 1, 15))
        #expect(explained.count == 1)
        let first = try #require(explained.first)
        #expect(first.value == .ipv4(IPv4Address(0x0A01_0203)))
        #expect(first.indicators == [
            ExplainedEntry(index: 2, validity: .notYetValid(from: day(2026, 2, 1))),
            ExplainedEntry(index: 1, validity: .valid),
            ExplainedEntry(index: 0, validity: .valid),
        ])
        #expect(first.allowEntries == [ExplainedEntry(index: 0, validity: .valid)])
        #expect(first.match == IndicatorMatch(indicator: 1, context: [0], suppressedBy: 0))
        let later = table.explain("10.1.2.3", at: day(2026, 3, 1))[0]
        #expect(later.indicators[1].validity == .expired(until: day(2026, 3, 1)))
        // Without a time, every entry counts as valid.
        #expect(table.explain("10.1.2.3", at: nil)[0].match?.indicator == 2)
        // 32 hex digits read as an MD5 and as a JA3 fingerprint.
        let hash = table.explain("44d88612fea8a8f36de82e1278abb02f", at: nil)
        #expect(hash.map(\.value) == [.hexDigest("44d88612fea8a8f36de82e1278abb02f"), .ja3("44d88612fea8a8f36de82e1278abb02f")])
        #expect(hash[0].indicators.map(\.index) == [6] && hash[1].indicators.isEmpty)
        #expect(table.explain("www.cdn.evil.example", at: nil)[0].indicators.map(\.index) == [5, 4, 3])
        #expect(table.explain("nothing.example", at: nil)[0].indicators.isEmpty)
        #expect(table.explain("   ", at: nil).isEmpty)
    }

    /// The example rules: clean, and the allow list suppresses the resolver inside the
    /// listed C2 range.
    @Test func exampleRulesAreCleanAndTheirAllowListSuppresses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Rules").path
        let rules = RuleSet.load(paths: [root])
        #expect(rules.errors.isEmpty && rules.warnings.isEmpty, "\(rules.errors) \(rules.warnings)")
        #expect(rules.fileSummaries.filter(\.isAllowList).map { $0.path.hasSuffix("/allow/resolvers.txt") } == [true])
        #expect(rules.allowEntries.count == 3)
        let table = rules.compile()
        let resolver = try #require(table.explain("198.51.100.53", at: day(2026, 2, 1)).first?.match)
        #expect(rules.indicators[resolver.indicator].value == "198.51.100.0/24")
        #expect(resolver.suppressedBy.map { rules.allowEntries[$0].value } == "198.51.100.53")
        let other = try #require(table.explain("198.51.100.54", at: day(2026, 2, 1)).first?.match)
        #expect(other.suppressedBy == nil)
        let cdn = try #require(table.explain("img.CDN.update-check.example", at: nil).first?.match)
        #expect(cdn.suppressedBy == nil, "only status.update-check.example is allowed")
        let status = try #require(table.explain("www.status.update-check.example", at: nil).first?.match)
        #expect(status.suppressedBy.map { rules.allowEntries[$0].value } == "status.update-check.example")
    }

    /// The same network listed as an address and as a /32 is reported once, the other
    /// listing kept as context.
    @Test func sameNetworkTwiceChainsBothListings() {
        let rules = RuleSet(indicators: [
            Indicator(type: .cidr, value: "192.0.2.0/24", ruleFile: "a", line: 1),
            Indicator(type: .ipv4, value: "192.0.2.7", ruleFile: "a", line: 2),
            Indicator(type: .cidr, value: "192.0.2.7/32", ruleFile: "a", line: 3),
        ])
        let table = rules.compile()
        #expect(table.match(.ipv4(IPv4Address(0xC000_0207)), at: day(2026, 1, 1)) == IndicatorMatch(indicator: 1, context: [2, 0]))
        #expect(table.match(.ipv4(IPv4Address(0xC000_0208)), at: day(2026, 1, 1)) == IndicatorMatch(indicator: 0))
    }
}

@Suite struct MISPFormatTests {
    static let csv = """
        uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag,object_uuid,object_name,object_meta_category
        "5f1a2b3c-0001-4c1d-9e2f-000000000001",1234,"Network activity","ip-dst","203.0.113.45","C2 server",1,20260201,"","tlp:amber,kill-chain:c2","","",""
        "5f1a2b3c-0002-4c1d-9e2f-000000000002",1234,"Network activity","domain","Update-Check.example","",1,20260201,"","","","",""
        "5f1a2b3c-0003-4c1d-9e2f-000000000003",1234,"Payload delivery","filename|sha256","invoice.exe|9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08","",1,20260201,"","","","",""
        "5f1a2b3c-0004-4c1d-9e2f-000000000004",1234,"Network activity","ip-dst|port","198.51.100.7|8443","",1,20260201,"","","","",""
        "5f1a2b3c-0005-4c1d-9e2f-000000000005",1234,"Network activity","domain|ip","login.example|192.0.2.8","",1,20260201,"","","","",""
        "5f1a2b3c-0006-4c1d-9e2f-000000000006",1234,"External analysis","link","https://blog.example/report","",0,20260201,"","","","",""
        "5f1a2b3c-0007-4c1d-9e2f-000000000007",1234,"Network activity","ip-src","198.51.100.99","scanner, not for IDS",0,20260201,"","","","",""
        "5f1a2b3c-0008-4c1d-9e2f-000000000008",1234,"Payload delivery","ssdeep","3:abc:def","",1,20260201,"","","","",""
        "5f1a2b3c-0009-4c1d-9e2f-000000000009",1234,"Network activity","ja3-fingerprint-md5","E7D705A3286E19EA42F587B344EE6865","",1,20260201,"","","","",""
        "5f1a2b3c-0010-4c1d-9e2f-000000000010",1234,"Network activity","hostname","www.evil.example","",1,20260201,"","","","",""
        "5f1a2b3c-0011-4c1d-9e2f-000000000011",1234,"Network activity","ip-dst","300.1.1.1","",1,20260201,"","","","",""

        """

    @Test func mispCSVExportIsDetectedAndRead() {
        let (format, parsed) = parse(Self.csv, path: "misp.csv")
        #expect(format == .mispCSV)
        #expect(parsed.indicators.map { "\($0.type.rawValue) \($0.value) \($0.line)" } == [
            "ipv4 203.0.113.45 2", "domain update-check.example 3",
            "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 4",
            "domain login.example 6", "ipv4 192.0.2.8 6", "ja3 e7d705a3286e19ea42f587b344ee6865 10",
            "domain www.evil.example 11",
        ])
        let first = parsed.indicators[0]
        #expect(first.tlp == "amber" && first.tags == ["kill-chain:c2", "Network activity"])
        #expect(first.source == "MISP event 1234" && first.description == "C2 server")
        #expect(parsed.indicators[1].matchesSubdomains && !parsed.indicators[6].matchesSubdomains)
        #expect(parsed.warnings.map(\.description) == [
            "misp.csv:5:78: warning: \"198.51.100.7|8443\": MISP ip-dst|port: port-specific indicators are not supported yet; skipped",
            "misp.csv:9: warning: 1 MISP attribute of type ssdeep skipped: Cairn does not match that type (first here)",
            "misp.csv:7: warning: 2 MISP attributes with to_ids=0 (information, not for detection) skipped (first here)",
        ])
        #expect(parsed.errors.map(\.description) == ["misp.csv:12:73: error: 300.1.1.1: not a valid IPv4 address (octet 300 > 255)"])
    }

    @Test func mispFeedEventIsReadWithEventAndAttributeTags() {
        let json = """
            {"Event": {"id": "77", "info": "Phishing wave", "Orgc": {"name": "CERT-XX"},
              "Tag": [{"name": "tlp:green"}],
              "Attribute": [
                {"uuid": "a-1", "type": "url", "value": "http://Evil.example/login", "to_ids": true, "comment": ""},
                {"uuid": "a-2", "type": "email-src", "value": "Billing@evil.example", "to_ids": true,
                 "Tag": [{"name": "tlp:red"}]},
                {"uuid": "a-3", "type": "ip-dst", "value": "192.0.2.50", "to_ids": false}
              ],
              "Object": [{"name": "file", "Attribute": [
                {"uuid": "a-4", "type": "md5", "value": "44d88612fea8a8f36de82e1278abb02f", "to_ids": true}]}]
            }}
            """
        let (_, parsed) = parse(json, path: "event.json")
        #expect(parsed.format == .mispEvent)
        #expect(parsed.indicators.map(\.value) == ["http://evil.example/login", "billing@evil.example", "44d88612fea8a8f36de82e1278abb02f"])
        #expect(parsed.indicators.map(\.line) == [4, 5, 10])
        #expect(parsed.indicators.map { $0.tlp ?? "-" } == ["green", "red", "green"])
        #expect(parsed.indicators.allSatisfy { $0.source == "CERT-XX" })
        #expect(parsed.indicators[0].description == "Phishing wave")
        #expect(parsed.warnings.map(\.message) == ["1 MISP attribute with to_ids=0 (information, not for detection) skipped (first here)"])
    }

    @Test func warningListOfUnknownTypeIsAnError() {
        let (_, parsed) = parse("{\"name\": \"R\", \"type\": \"regex\", \"list\": [\"a.*\"]}", path: "w.json")
        #expect(parsed.errors.map(\.description) == ["w.json:1:15: error: warning list type regex is not one of string, hostname, cidr, substring"])
        let (_, cidrs) = parse("{\"name\": \"C\", \"type\": \"cidr\", \"list\": [\"10.0.0.0/\\u0301\", \"evil.example\", \"300.1.1.1\"]}", path: "c.json")
        #expect(cidrs.allowEntries.isEmpty && cidrs.errors.count == 3)
        #expect(cidrs.errors.last?.description == "c.json:1:76: error: 300.1.1.1: not a valid IPv4 address (octet 300 > 255)")
        let (_, hostnames) = parse("{\"name\": \"H\", \"type\": \"hostname\", \"list\": [\".co.uk\", \".duckdns.org\", \"AAA\"]}", path: "h.json")
        #expect(hostnames.allowEntries.map { "\($0.kind.rawValue) \($0.value)" } == ["value duckdns.org"])
        // A top-level domain is an ICANN suffix too (with the real list; the stand-in
        // list's implicit rule makes every single label one).
        #expect(hostnames.warnings.map(\.message) == [
            "co.uk is a public suffix (ICANN section): allowing it would suppress every domain under it; skipped",
            "aaa is a public suffix (ICANN section): allowing it would suppress every domain under it; skipped",
        ])
    }
}

@Suite struct FingerprintTests {
    @Test func ja3AndJA4IndicatorsMatchTheirOwnObservations() {
        let csv = """
            indicator,type,description
            e7d705a3286e19ea42f587b344ee6865,ja3,Tofsee
            T13D1516H2_8daaf6152771_02713d6af862,ja4,Cobalt Strike
            44d88612fea8a8f36de82e1278abb02f,md5,EICAR
            abc,ja3,bad

            """
        let (_, parsed) = parse(csv, path: "fp.csv")
        #expect(parsed.indicators.map { "\($0.type.rawValue) \($0.value)" } == [
            "ja3 e7d705a3286e19ea42f587b344ee6865", "ja4 t13d1516h2_8daaf6152771_02713d6af862",
            "md5 44d88612fea8a8f36de82e1278abb02f",
        ])
        #expect(parsed.errors.map(\.description) == ["fp.csv:5:1: error: abc: a JA3 fingerprint is 32 hex digits (an MD5), found 3 characters"])
        let table = RuleSet(list: parsed.indicators).compile()
        #expect(withBytes("e7d705a3286e19ea42f587b344ee6865") { table.lookup(.ja3($0)) } == 0)
        #expect(withBytes("e7d705a3286e19ea42f587b344ee6865") { table.lookup(.hexDigest($0)) } == nil)
        #expect(withBytes("44d88612fea8a8f36de82e1278abb02f") { table.lookup(.ja3($0)) } == nil)
        #expect(withBytes("t13d1516h2_8daaf6152771_02713d6af862") { table.lookup(.ja4($0)) } == 1)
        #expect(withBytes("t13d1516h2_8daaf6152771_02713d6af863") { table.lookup(.ja4($0)) } == nil)
        #expect(table.fingerprintCounts.ja3 == 1 && table.fingerprintCounts.ja4 == 1)
    }

    @Test func ja4IsInferredInPlainListsAndSSLBLFilesAreJA3() {
        #expect(parseLine("t13d1516h2_8daaf6152771_02713d6af862") == .indicator(
            ParsedValue(type: .ja4, value: "t13d1516h2_8daaf6152771_02713d6af862"), description: nil))
        let sslbl = """
            ################################################################
            # abuse.ch SSLBL JA3 Fingerprint Blacklist (CSV)               #
            ################################################################
            #
            # ja3_md5,Firstseen,Lastseen,Listingreason
            b386946a5a44d1ddcc843bc75336dfce,2017-07-14 18:08:15,2019-07-27 20:42:54,Dridex
            e7d705a3286e19ea42f587b344ee6865,2017-07-14 18:08:18,2021-09-23 09:28:21,Tofsee

            """
        let (format, parsed) = parse(sslbl, path: "ja3_fingerprints.csv")
        #expect(format == .sslblJA3)
        #expect(parsed.indicators.map { "\($0.type.rawValue) \($0.value) \($0.description ?? "")" } == [
            "ja3 b386946a5a44d1ddcc843bc75336dfce Dridex", "ja3 e7d705a3286e19ea42f587b344ee6865 Tofsee",
        ])
        #expect(parsed.indicators.allSatisfy { $0.source == "abuse.ch SSLBL" } && parsed.errors.isEmpty)
    }
}

@Suite struct MergeAndSuffixTests {
    @Test func duplicatesAcrossFilesMergeWithAWarningNamingBothPlaces() throws {
        let root = try makeTree([
            "Rules/a.csv": Array("indicator,severity,confidence,tlp,source,tags\nevil.example,low,40,green,Feed A,x\n192.0.2.1,high,,,,\n".utf8),
            "Rules/b.csv": Array("indicator,severity,confidence,tlp,source,tags\nEVIL.example,high,80,amber,Feed B,y\n192.0.2.1,high,,,,\n".utf8),
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/Rules"])
        #expect(rules.indicators.count == 2)
        let merged = rules.indicators[0]
        #expect(merged.severity == "high" && merged.confidence == 80 && merged.tlp == "amber")
        #expect(merged.source == "Feed A" && merged.tags == ["x", "y"] && merged.ruleFile == root + "/Rules/a.csv")
        #expect(rules.origins[0] == [
            IndicatorOrigin(ruleFile: root + "/Rules/a.csv", line: 2, source: "Feed A"),
            IndicatorOrigin(ruleFile: root + "/Rules/b.csv", line: 2, source: "Feed B"),
        ])
        #expect(rules.origins[1]?.count == 2)
        // The identical duplicate is not a conflict.
        #expect(rules.warnings.map(\.description) == [
            "\(root)/Rules/b.csv:2: warning: evil.example is also listed at \(root)/Rules/a.csv:2 with different metadata "
                + "(severity low there, high here; confidence 40 there, 80 here; TLP green there, amber here); "
                + "merged as one indicator: severity high, confidence 80, TLP amber, validity unbounded",
        ])
        #expect(rules.fileSummaries.map(\.conflicts) == [0, 1] && rules.fileSummaries.map(\.duplicates) == [0, 2])
    }

    @Test func privateSectionSuffixesLoadWithAWarningICANNOnesAreErrors() {
        guard case .indicator(let parsed, _) = parseLine("duckdns.org") else {
            Issue.record("duckdns.org was refused")
            return
        }
        #expect(parsed.value == "duckdns.org" && parsed.matchesSubdomains)
        #expect(parsed.note?.hasPrefix("duckdns.org is a public suffix in the private section of the public suffix list: it matches the subdomains of every customer") == true)
        // `=name` matches the name only: no warning.
        guard case .indicator(let exact, _) = parseLine("=duckdns.org") else {
            Issue.record("=duckdns.org was refused")
            return
        }
        #expect(exact.note == nil && !exact.matchesSubdomains)
        guard case .indicator(let dotted, _) = parseLine(".duckdns.org") else {
            Issue.record(".duckdns.org was skipped")
            return
        }
        #expect(dotted.value == "duckdns.org" && dotted.note != nil)
        if case .invalid = parseLine("co.uk") {} else { Issue.record("co.uk was accepted") }
        let file = PlainListParser.parse(file: Array("github.io\n  .duckdns.org\n".utf8), path: "dyn.txt", suffixes: testSuffixes)
        #expect(file.indicators.map(\.value) == ["github.io", "duckdns.org"] && file.errors.isEmpty)
        #expect(file.warnings.map { "\($0.line):\($0.column)" } == ["1:1", "2:3"])
    }
}
