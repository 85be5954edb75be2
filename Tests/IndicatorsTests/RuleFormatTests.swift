import Foundation
import Observations
import Testing
@testable import Indicators

func parse(_ text: String, path: String = "r") -> (RuleFormat, ParsedFile) {
    let bytes = Array(text.utf8)
    let format = RuleFormat.detect(bytes)
    return (format, format.parse(bytes, path: path, suffixes: testSuffixes))
}

@Suite struct RuleFormatTests {
    @Test(arguments: [
        ("192.0.2.1\nevil.com\n", RuleFormat.plainList),
        ("# a comment, with commas, here\n192.0.2.1\n", .plainList),
        ("indicator,type,severity\n192.0.2.1,ipv4,high\n", .csv),
        ("# exported\n\"Value\",\"Type\"\n", .csv),
        ("evil.com,malware (test),(static)\n", .maltrailCSV),
        ("#separator \\x09\n#fields\tindicator\tindicator_type\n", .zeekIntel),
        ("#fields\tindicator\tindicator_type\tmeta.source\n", .zeekIntel),
        ("  {\"type\": \"bundle\"}", .stixBundle),
        ("[1, 2]", .stixBundle),
        ("ab\u{0}cd", .unrecognised),
    ])
    func detectsTheFormatFromContent(text: String, format: RuleFormat) {
        #expect(RuleFormat.detect(Array(text.utf8)) == format)
    }

    @Test func csvWithHeaderMetadataAndRFC4180Quoting() {
        let (_, parsed) = parse(#"""
            Indicator,Type,Severity,Confidence,Source,Description,Valid_From,Valid_Until,TLP,Tags,Extra
            192.0.2.1,ipv4,High,80,CERT-X,"beacon, seen ""twice""",2026-02-01,2026-03-01T12:00:00Z,TLP:AMBER,c2;apt,x
            =evil.example,domain,,,,,,,white,,
            "quoted.example",,,,,,,,,,
            http://Evil.example/a,url,low,,,,,,,,
            """#, path: "r.csv")
        #expect(parsed.errors.isEmpty, "\(parsed.errors)")
        #expect(parsed.warnings.map(\.description) == ["r.csv:1: warning: columns not used by Cairn, ignored: Extra"])
        #expect(parsed.indicators.count == 4)
        let first = parsed.indicators[0]
        #expect(first == Indicator(
            type: .ipv4, value: "192.0.2.1", ruleFile: "r.csv", line: 2, source: "CERT-X", severity: "high",
            confidence: 80, description: "beacon, seen \"twice\"", tags: ["c2", "apt"], tlp: "amber",
            validFrom: Timestamp(year: 2026, month: 2, day: 1, hour: 0, minute: 0, second: 0),
            validUntil: Timestamp(year: 2026, month: 3, day: 1, hour: 12, minute: 0, second: 0)))
        #expect(parsed.indicators[1].matchesSubdomains == false && parsed.indicators[1].tlp == "clear")
        #expect(parsed.indicators[2].value == "quoted.example")
        #expect(parsed.indicators[3].value == "http://evil.example/a" && parsed.indicators[3].line == 5)
    }

    /// Lines that repeat a few metadata combinations share one details record per
    /// combination, however far apart they are, and each reads back its own.
    @Test func csvLinesShareADetailsRecordPerMetadataCombination() {
        let severities = ["low", "high", "low", "medium", "high", "low"]
        let rows = severities.enumerated().map { "192.0.2.\($0.offset + 1),ipv4,\($0.element),feed" }
        let (_, parsed) = parse("indicator,type,severity,source\n" + rows.joined(separator: "\n"), path: "r.csv")
        #expect(parsed.errors.isEmpty, "\(parsed.errors)")
        #expect(parsed.indicators.map(\.severity) == severities)
        #expect(parsed.indicators.map(\.line) == Array(2...7))
        #expect(parsed.indicators.details.count == 3)
    }

    /// Every value × declared type × metadata combination reads as `ValueSyntax.classify`
    /// says, whether the parser takes its byte path (plain values, combinations seen
    /// before) or the general one: the same indicators with the same metadata, and the
    /// same errors and warnings at the same columns.
    @Test func csvRowsReadAsValueSyntaxClassifiesThem() {
        let values = [
            "192.0.2.1", " 192.0.2.7 ", "010.0.0.1", "192.0.2.300", "10.1.2.3/8", "10.0.0.0/33", "2001:DB8::1",
            "2001:db8::/32", "fe80::1%eth0", "evil.example", "Evil.Example", "evil.example.", "=exact.example",
            "co.uk", "localhost", "xn--80ak6aa92e.com", "under_score.example",
            "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "12345678901234567890123456789012",
            "http://Evil.example/a", "bad@evil.example", "t13d1516h2_8daaf6152771_02713d6af862", "6.6.6.6:8443", "/gate.php",
            "two words", "\"quoted, comma.example\"", "ünïcode.example",
        ]
        let types = ["", "ipv4", "IPv6", "cidr", "ip", "domain", "md5", "sha1", "sha256", "hash", "url", "email", "ja3", "ja4"]
        let metadata = [("high", ""), ("high", ""), ("low", "partner"), ("", ""), ("High", "partner")]
        var rows: [String] = []
        var expected: [Indicator] = []
        var diagnostics: [String] = []
        for value in values {
            for type in types {
                let line = rows.count + 2
                let (severity, source) = metadata[rows.count % metadata.count]
                rows.append("\(value),\(type),\(severity),\(source)")
                let text = value.hasPrefix("\"") ? String(value.dropFirst().dropLast()) : value
                let trimmed = PlainListParser.trimmed(Substring(text))
                let column = 1 + text.utf8.prefix(while: ValueSyntax.isSpace).count
                let declared = type.isEmpty ? Expected.inferred : CSVRuleParser.expectedType(type)!
                switch ValueSyntax.classify(trimmed, as: declared, suffixes: testSuffixes) {
                case .indicator(let parsed):
                    expected.append(Indicator(
                        type: parsed.type, value: parsed.value, ruleFile: "r.csv", line: line,
                        matchesSubdomains: parsed.matchesSubdomains, source: source.isEmpty ? nil : source,
                        severity: severity.isEmpty ? nil : severity.lowercased()))
                    if let note = parsed.note { diagnostics.append("r.csv:\(line):\(column): warning: \(note)") }
                case .skipped(let message, let offset):
                    diagnostics.append("r.csv:\(line):\(column + offset): warning: \(message)")
                case .invalid(let message, let offset):
                    diagnostics.append("r.csv:\(line):\(column + offset): error: \(message)")
                }
            }
        }
        let (_, parsed) = parse("indicator,type,severity,source\n" + rows.joined(separator: "\n") + "\n", path: "r.csv")
        #expect(Array(parsed.indicators) == expected)
        let found = (parsed.errors.map(\.description) + parsed.warnings.map(\.description))
        #expect(found.sorted() == diagnostics.sorted())
        #expect(parsed.indicators.details.count == 4)
    }

    /// Broken quoting and bad metadata: the exact message, line and column.
    static let csvErrors: [(row: String, diagnostic: String)] = [
        ("1.2.3.4,ipv4,hi\"gh", "r.csv:2:16: error: a quote inside an unquoted field (RFC 4180: quote the whole field and write the quote as \"\")"),
        ("\"1.2.3.4\"x,ipv4,high", "r.csv:2:10: error: text after a closing quote (RFC 4180: expected \",\" or the end of the line; write a quote inside a quoted field as \"\")"),
        ("1.2.3.4,ipv4,\"high", "r.csv:2:14: error: a quoted field is never closed (RFC 4180: end it with \"; write a quote inside as \"\")"),
        ("1.2.3.4,ipv4,urgent", "r.csv:2:14: error: severity urgent is not one of info, low, medium, high, critical"),
        ("evil.com,ipv4,high", "r.csv:2:1: error: evil.com is not an IPv4 address or range (it reads as a domain)"),
        ("evil.com,fqdn,high", "r.csv:2:10: error: type fqdn is not one of ipv4, ipv6, cidr, ip, domain, md5, sha1, sha256, hash, url, email, ja3, ja4"),
        ("300.1.1.1,,", "r.csv:2:1: error: 300.1.1.1: not a valid IPv4 address (octet 300 > 255)"),
        (",ipv4,high", "r.csv:2:1: error: the indicator column is empty"),
    ]

    @Test(arguments: csvErrors)
    func csvErrorsHaveLineAndColumn(row: String, diagnostic: String) {
        let (_, parsed) = parse("indicator,type,severity\n" + row + "\n192.0.2.9,,\n", path: "r.csv")
        #expect(parsed.errors.map(\.description) == [diagnostic])
        // The next record still loads (an unclosed quote swallows the rest of the file).
        #expect(parsed.indicators.map(\.value) == (diagnostic.contains("never closed") ? [] : ["192.0.2.9"]))
    }

    @Test func csvMetadataErrors() {
        let (_, parsed) = parse("""
            indicator,confidence,tlp,valid_from,valid_until
            192.0.2.1,101,,,
            192.0.2.2,,purple,,
            192.0.2.3,,,yesterday,
            192.0.2.4,,,2026-02-02,2026-02-01
            192.0.2.5,,,2026-02-01T10:00:00+02:00,
            """, path: "m.csv")
        #expect(parsed.errors.map(\.description) == [
            "m.csv:2:11: error: confidence 101 is not a whole number 0-100",
            "m.csv:3:12: error: TLP purple is not one of clear, green, amber, amber+strict, red",
            "m.csv:4:13: error: valid_from yesterday is not a date (expected 2026-02-01 or 2026-02-01T12:00:00Z)",
            "m.csv:5:24: error: valid_until is not after valid_from",
        ])
        #expect(parsed.indicators.map(\.validFrom) == [Timestamp(year: 2026, month: 2, day: 1, hour: 8, minute: 0, second: 0)])
    }

    @Test func maltrailTrailsCSV() {
        let (format, parsed) = parse("""
            evil-test-domain.com,malware (test),(static)
            6.6.6.6:8443,malware (test),(static)
            evil-url.example/bad/path,malware (test),(static)
            evilname,malware (test),(static)
            """, path: "trails.csv")
        #expect(format == .maltrailCSV)
        #expect(parsed.indicators == [
            Indicator(type: .domain, value: "evil-test-domain.com", ruleFile: "trails.csv", line: 1, source: "(static)", description: "malware (test)"),
            Indicator(type: .url, value: "evil-url.example/bad/path", ruleFile: "trails.csv", line: 3, source: "(static)", description: "malware (test)"),
        ])
        #expect(parsed.warnings.map(\.description) == [
            "trails.csv:2:8: warning: 6.6.6.6:8443: port-specific indicators are not supported yet; skipped",
        ])
        #expect(parsed.errors.count == 1 && parsed.errors[0].line == 4)
    }

    @Test func zeekIntelFile() {
        let (format, parsed) = parse("""
            #separator \\x09
            #fields\tindicator\tindicator_type\tmeta.source\tmeta.desc
            192.0.2.1\tIntel::ADDR\tpartner\tbeacon
            198.51.100.0/24\tIntel::SUBNET\tpartner\t-
            Evil.example\tIntel::DOMAIN\tpartner\t-
            evil.example/gate.php\tIntel::URL\t-\t-
            bad@evil.example\tIntel::EMAIL\t-\t-
            d41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\t-\t-
            Mozilla/4.0\tIntel::SOFTWARE\t-\t-
            evil.example\tIntel::ADDR\t-\t-
            x\tIntel::BOGUS\t-\t-
            """, path: "intel.dat")
        #expect(format == .zeekIntel)
        #expect(parsed.indicators.map(\.type) == [.ipv4, .cidr, .domain, .url, .email, .md5])
        #expect(parsed.indicators[0].source == "partner" && parsed.indicators[0].description == "beacon")
        #expect(parsed.indicators[1].description == nil)
        #expect(parsed.indicators[2].value == "evil.example" && !parsed.indicators[2].matchesSubdomains)
        #expect(parsed.warnings.map(\.description) == ["intel.dat:9:13: warning: Intel::SOFTWARE indicators are not supported; skipped"])
        #expect(parsed.errors.map(\.description) == [
            "intel.dat:10:1: error: evil.example is not an IP address (it reads as a domain)",
            "intel.dat:11:3: error: Intel::BOGUS is not a Zeek intel type (expected Intel::ADDR, Intel::SUBNET, Intel::DOMAIN, Intel::URL, Intel::EMAIL or Intel::FILE_HASH)",
        ])
    }

    static let bundle = """
        {
          "type": "bundle",
          "id": "bundle--1",
          "objects": [
            {"type": "identity", "id": "identity--a", "name": "Partner CERT"},
            {
              "type": "indicator",
              "id": "indicator--1",
              "created_by_ref": "identity--a",
              "name": "C2 servers",
              "pattern": "[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '198.51.100.0/24'] OR [domain-name:value = 'Evil.example']",
              "pattern_type": "stix",
              "valid_from": "2026-01-01T00:00:00.000Z",
              "valid_until": "2026-06-01T00:00:00Z",
              "labels": ["c2"],
              "confidence": 70,
              "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]
            },
            {"type": "indicator", "id": "indicator--2", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
             "pattern": "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'] OR [url:value = 'http://evil.example/x'] OR [email-addr:value = 'a@evil.example']"},
            {"type": "indicator", "id": "indicator--3", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
             "pattern": "[ipv4-addr:value = '192.0.2.1' AND network-traffic:dst_port = 443]"},
            {"type": "indicator", "id": "indicator--4", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
             "pattern": "[process:name = 'evil.exe']"},
            {"type": "indicator", "id": "indicator--5", "pattern_type": "sigma", "valid_from": "2026-01-01T00:00:00Z", "pattern": "x"},
            {"type": "indicator", "id": "indicator--6", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
             "pattern": "[ipv4-addr:value = '300.1.1.1']"}
          ]
        }
        """

    @Test func stixBundle() throws {
        let (format, parsed) = parse(Self.bundle, path: "b.json")
        #expect(format == .stixBundle)
        #expect(parsed.indicators.map(\.value) == [
            "192.0.2.1", "198.51.100.0/24", "evil.example",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "http://evil.example/x", "a@evil.example",
        ])
        let first = parsed.indicators[0]
        #expect(first.line == 8 && first.source == "Partner CERT" && first.description == "C2 servers")
        #expect(first.tags == ["c2"] && first.confidence == 70 && first.tlp == "green")
        #expect(first.validFrom == Timestamp(year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0))
        #expect(first.validUntil == Timestamp(year: 2026, month: 6, day: 1, hour: 0, minute: 0, second: 0))
        #expect(first.isValid(at: Timestamp(year: 2026, month: 3, day: 1, hour: 0, minute: 0, second: 0) ?? Timestamp(nanoseconds: 0)))
        #expect(!first.isValid(at: Timestamp(year: 2026, month: 7, day: 1, hour: 0, minute: 0, second: 0) ?? Timestamp(nanoseconds: 0)))
        #expect(parsed.indicators[2].matchesSubdomains == false)
        #expect(parsed.warnings.map(\.description) == [
            "b.json:21:33: warning: indicator--3: pattern cannot be evaluated by Cairn (AND inside an observation; only OR is supported); skipped",
            "b.json:23:33: warning: indicator--4: pattern cannot be evaluated by Cairn (object path process:name); skipped",
            "b.json:25:33: warning: indicator--5: pattern_type sigma cannot be evaluated by Cairn; skipped",
        ])
        #expect(parsed.errors.map(\.description) == [
            "b.json:26:33: error: indicator--6: 300.1.1.1: not a valid IPv4 address (octet 300 > 255)",
        ])
    }

    @Test(arguments: [
        ("[a:b = 'x'] AND [c:d = 'y']", "AND between observations; only OR is supported"),
        ("[ipv4-addr:value != '1.2.3.4']", "operator != on ipv4-addr:value; only = is supported"),
        ("[ipv4-addr:value = '1.2.3.4'] WITHIN 60 SECONDS", "the qualifier WITHIN is not supported"),
        ("([a:b = 'x'])", "parentheses are not supported"),
        ("[a:b = 'x", "a string is never closed"),
    ])
    func stixPatternsOutsideTheSubset(pattern: String, reason: String) {
        guard case .failure(let problem) = STIXPattern.comparisons(pattern) else {
            Issue.record("\(pattern) was accepted")
            return
        }
        #expect(problem.message == reason)
    }

    @Test func jsonThatIsNotARuleFileAndInvalidJSONAreOneErrorForTheFile() {
        let (_, other) = parse("{\"list\": [\"8.8.8.8\"], \"kind\": \"cidr\"}", path: "list.json")
        #expect(other.errors.map(\.description) == [
            "list.json: error: JSON file that is neither a STIX 2.1 bundle, a MISP event nor a MISP warning list",
        ])
        let (_, broken) = parse("{\"type\": \"bundle\", ", path: "broken.json")
        #expect(broken.errors.count == 1 && broken.errors[0].line == 0)
        #expect(broken.errors[0].message.hasPrefix("not valid JSON: "))
    }

    @Test func aBinaryFileIsOneError() {
        let bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00] + Array(repeating: 0x0A, count: 1000)
        let format = RuleFormat.detect(bytes)
        let parsed = format.parse(bytes, path: "a.out", suffixes: testSuffixes)
        #expect(parsed.errors.map(\.description) == [
            "a.out: error: binary file (a NUL byte at offset 7); expected a text rule file (plain list, CSV, Zeek intel or STIX 2.1 JSON)",
        ])
    }
}
