import Observations
import Testing
@testable import Indicators

/// The system public suffix list, or a small stand-in with the same kinds of rules
/// when the `publicsuffix` package is absent (the tests that need the real list say so).
let testSuffixes: PublicSuffixList = PublicSuffixList.system ?? PublicSuffixList(text: """
    // ===BEGIN ICANN DOMAINS===
    com
    uk
    co.uk
    onion
    *.ck
    !www.ck
    // ===END ICANN DOMAINS===
    // ===BEGIN PRIVATE DOMAINS===
    github.io
    duckdns.org
    """.utf8)

func parseLine(_ line: String) -> PlainListParser.Line {
    PlainListParser.parseLine(ArraySlice(line.utf8), suffixes: testSuffixes)
}

@Suite struct PlainListParserTests {
    static let valid: [(line: String, type: IndicatorType, value: String)] = [
        ("192.0.2.1", .ipv4, "192.0.2.1"),
        ("  192.0.2.1\t", .ipv4, "192.0.2.1"),
        ("0.0.0.0", .ipv4, "0.0.0.0"),
        // A digest that happens to hold decimal digits only (one is in the benchmark's list).
        ("83654001968325646085921122013458", .md5, "83654001968325646085921122013458"),
        ("2001:DB8::1", .ipv6, "2001:db8::1"),
        ("2001:db8:0:0:0:0:0:1", .ipv6, "2001:db8::1"),
        ("::ffff:192.0.2.1", .ipv6, "::ffff:c000:201"),
        ("10.0.0.0/8", .cidr, "10.0.0.0/8"),
        ("10.1.2.3/8", .cidr, "10.0.0.0/8"),
        ("192.0.2.77/32", .cidr, "192.0.2.77/32"),
        ("1.2.3.4/0", .cidr, "0.0.0.0/0"),
        ("2001:db8:ffff::1/32", .cidr, "2001:db8::/32"),
        ("2001:db8::1/128", .cidr, "2001:db8::1/128"),
        ("::/0", .cidr, "::/0"),
        ("Evil.Example.COM", .domain, "evil.example.com"),
        ("evil.example.com.", .domain, "evil.example.com"),
        ("*.evil.com", .domain, "evil.com"),
        ("_dmarc.my-host.example", .domain, "_dmarc.my-host.example"),
        ("xn--bcher-kva.de", .domain, "xn--bcher-kva.de"),
        ("1.2.3.com", .domain, "1.2.3.com"),
        (".evil.example", .domain, "evil.example"),
        ("D41D8CD98F00B204E9800998ECF8427E", .md5, "d41d8cd98f00b204e9800998ecf8427e"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", .sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", .sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        ),
        ("10.0.0.0/8 # office", .cidr, "10.0.0.0/8"),
        ("evil.com\t# tab before comment", .domain, "evil.com"),
        ("evil.com #", .domain, "evil.com"),
        // URLs: scheme and host lower-cased, path kept, a missing path made "/".
        ("HTTP://Evil.COM/Path?Q=1", .url, "http://evil.com/Path?Q=1"),
        ("http://185.141.25.35", .url, "http://185.141.25.35/"),
        ("http://23.227.193.79:443", .url, "http://23.227.193.79:443/"),
        ("https://evil.com?x", .url, "https://evil.com/?x"),
        ("http://evil.com/a#fragment", .url, "http://evil.com/a"),
        ("http://[2001:DB8::1]:8080/x", .url, "http://[2001:db8::1]:8080/x"),
        // maltrail's and Zeek's `host/path`: any scheme.
        ("Tamariaclinic.com/blog/po22/", .url, "tamariaclinic.com/blog/po22/"),
        ("evil.com/a;b=c", .url, "evil.com/a;b=c"),
        ("1.2.3.4:8080/gate.php", .url, "1.2.3.4:8080/gate.php"),
        ("Phisher@Evil.Example", .email, "phisher@evil.example"),
        ("first.last+tag@mail.evil.example", .email, "first.last+tag@mail.evil.example"),
    ]

    @Test(arguments: valid)
    func parsesValidLines(line: String, type: IndicatorType, value: String) {
        #expect(parseLine(line) == .indicator(ParsedValue(type: type, value: value), description: nil))
    }

    /// `value;comment`, `value<TAB>score`: the first field is the indicator.
    static let withDescriptions: [(line: String, type: IndicatorType, value: String, description: String)] = [
        ("176.123.5.126;65", .ipv4, "176.123.5.126", "65"),
        ("77.90.185.20\t10", .ipv4, "77.90.185.20", "10"),
        ("E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;Some tool - x", .sha256,
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "Some tool - x"),
        ("evil.com ; phishing kit  # comment", .domain, "evil.com", "phishing kit"),
        ("evil.com\tscore\tmore", .domain, "evil.com", "score\tmore"),
    ]

    @Test(arguments: withDescriptions)
    func splitsValueAndDescription(line: String, type: IndicatorType, value: String, description: String) {
        #expect(parseLine(line) == .indicator(ParsedValue(type: type, value: value), description: description))
    }

    @Test func equalsSignMeansThisDomainOnly() {
        #expect(parseLine("=Evil.com.") == .indicator(
            ParsedValue(type: .domain, value: "evil.com", matchesSubdomains: false), description: nil))
        #expect(parseLine("=*.evil.com") == .invalid(
            "\"*.evil.com\": \"=\" (this domain only) and \"*.\" (its subdomains) contradict each other", column: 2))
        #expect(parseLine("=co.uk") == .invalid(
            "co.uk: co.uk is a public suffix (in the ICANN section of the public suffix list); as an indicator it would "
                + "match every domain under it: list the registered domains instead", column: 2))
    }

    @Test(arguments: ["", "   ", "\t", "# a comment", "   # indented comment", "#192.0.2.1"])
    func ignoresBlankAndCommentLines(line: String) {
        #expect(parseLine(line) == .empty)
    }

    /// Feed conventions Cairn does not use yet: warnings with the exact message and column.
    static let skipped: [(line: String, message: String, column: Int)] = [
        ("6.6.6.6:8443", "6.6.6.6:8443: port-specific indicators are not supported yet; skipped", 8),
        ("  139.9.234.13:33:1099", "139.9.234.13:33:1099: port-specific indicators are not supported yet; skipped", 15),
        ("evil.com:8080", "evil.com:8080: port-specific indicators are not supported yet; skipped", 9),
        ("[dead::beef]:443", "\"[dead::beef]:443\": port-specific indicators are not supported yet; skipped", 13),
        (".onion", ".onion: a leading dot means every name under onion, which is a public suffix: too broad to match; skipped", 1),
        (".co.uk", ".co.uk: a leading dot means every name under co.uk, which is a public suffix: too broad to match; skipped", 1),
        ("/izuku.sh", "/izuku.sh: a URL path without a host (a maltrail path trail) is not supported yet; skipped", 1),
        ("byethost[0-9]+\\.com", "\"byethost[0-9]+\\\\.com\": regular-expression trails are not supported; skipped", 1),
    ]

    @Test(arguments: skipped)
    func skipsFeedConventionsWithAWarning(line: String, message: String, column: Int) {
        #expect(parseLine(line) == .skipped(message, column: column))
    }

    /// Each error says what is wrong (the fragment) and names the line's value.
    static let invalid: [(line: String, message: String)] = [
        ("10.0.0.300", "10.0.0.300: not a valid IPv4 address (octet 300 > 255)"),
        ("300.1.1.1", "300.1.1.1: not a valid IPv4 address (octet 300 > 255)"),
        ("10.0.0", "10.0.0: not a valid IPv4 address (expected four decimal octets separated by dots, found 3)"),
        ("10..0.1", "10..0.1: not a valid IPv4 address (empty octet)"),
        ("10.0.0.01", "10.0.0.01: not a valid IPv4 address (octet 01 has a leading zero, which some tools read as octal)"),
        ("1.2.3.4/33", "1.2.3.4/33: /33 is not a valid prefix length for IPv4 (0-32)"),
        ("2001:db8::/129", "2001:db8::/129: /129 is not a valid prefix length for IPv6 (0-128)"),
        ("10.0.0.0/x", "10.0.0.0/x: the prefix length x is not a number (expected a CIDR range like 10.0.0.0/8 or 2001:db8::/32)"),
        ("10.0.0.0/", "10.0.0.0/: the prefix length \"\" is not a number"),
        ("10.0.0.256/8", "10.0.0.256/8: not a valid IPv4 address (octet 256 > 255)"),
        ("2001:db8::g/64", "is not a valid IPv6 address"),
        ("foo bar", "\"foo bar\": expected one indicator per line (an IP address, CIDR range, domain, URL, e-mail address, or MD5/SHA-1/SHA-256 hash)"),
        ("192.0.2.1 10", "\"192.0.2.1 10\": expected one indicator per line, found more text after 192.0.2.1"),
        ("Evil.com,malware", "found more text after evil.com"),
        ("2001:db8:::1", "2001:db8:::1: not a valid IPv6 address"),
        ("fe80::1%eth0", "zone index"),
        ("localhost", "localhost: a domain needs at least two labels"),
        ("evil..com", "evil..com: domain has an empty label"),
        ("evil.123", "last label cannot be all digits"),
        ("a.*.evil.com", "wildcards are only allowed as a leading"),
        ("bücher.de", "non-ASCII character"),
        (String(repeating: "a", count: 64) + ".com", "is 64 bytes long (at most 63)"),
        (Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."), "bytes long (at most 253)"),
        ("d41d8cd98f00b204e9800998ecf8427", "a hex string of 31 digits is not a hash (expected 32 for MD5, 40 for SHA-1 or 64 for SHA-256)"),
        ("evil.com#notacomment", "\"#\" is not allowed in a domain"),
        ("co.uk", "co.uk: co.uk is a public suffix (in the ICANN section of the public suffix list)"),
        ("ht~tp://evil.com/", "\"ht~tp\" is not a URL scheme (expected e.g. http://host/path)"),
        ("http:///path", "the URL has no host"),
        ("http://evil.com:99999/", "the port 99999 is not a number 0-65535"),
        ("http://user@evil.com/", "user names in URLs are not supported"),
        ("evil!.com/path", "the host is not valid"),
        ("@evil.com", "the part before \"@\" must be 1 to 64 bytes long"),
        ("a<b@evil.com", "\"<\" is not allowed in an e-mail address"),
        ("user@localhost", "the domain after \"@\" is not valid: localhost: a domain needs at least two labels"),
        (";comment only", "the line starts with a field separator"),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidLines(line: String, message: String) {
        let result = parseLine(line)
        guard case .invalid(let text, _) = result else {
            Issue.record("\(line) parsed as \(result)")
            return
        }
        #expect(text.contains(message), "\(text)")
    }

    /// Columns are 1-based UTF-8 bytes where the bad part starts.
    static let columns: [(line: String, column: Int)] = [
        ("10.0.0.300", 1), ("   10.0.0.300", 4), ("1.2.3.4/33", 8), ("  10.0.0.0/x", 12),
        ("evil.com#x", 9), ("  x;bad value", 3), ("user@local host", 1), ("a<b@evil.com", 2),
        ("user@evil..com", 6), ("\tbücher.de", 3),
    ]

    @Test(arguments: columns)
    func errorsPointAtTheBadPart(line: String, column: Int) {
        guard case .invalid(_, let got) = parseLine(line) else {
            Issue.record("\(line) was accepted")
            return
        }
        #expect(got == column, "\(line)")
    }

    @Test func rejectsBinaryAndOverlongLinesWithoutCrashing() {
        let nul = PlainListParser.parseLine(ArraySlice([0x31, 0x2E, 0x00, 0x32]), suffixes: testSuffixes)
        #expect(nul == .invalid("line contains a NUL byte at column 3 (expected text; is this a binary file?)", column: 3))
        let badUTF8 = PlainListParser.parseLine(ArraySlice([0x65, 0x76, 0xFF, 0x6C, 0x2E, 0x63, 0x6F, 0x6D]), suffixes: testSuffixes)
        #expect(badUTF8 == .invalid("line is not valid UTF-8 (expected UTF-8 or ASCII text)", column: 1))
        let long = PlainListParser.parseLine(ArraySlice(repeating: UInt8(ascii: "a"), count: 100_000), suffixes: testSuffixes)
        #expect(long == .invalid(
            "line is 100000 bytes long; the limit is 16384 (expected one indicator per line; is this a rule file?)", column: 1))
    }

    @Test func parsesAWholeFileWithBOMCRLFBadLinesAndWarnings() {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF]
        bytes += Array("192.0.2.1\r\n# comment\r\n\r\n10.0.0.300\r\nevil.com. # c2\r\n".utf8)
        bytes += [0xC3, 0x28, 0x0A]  // invalid UTF-8 on line 6
        bytes += Array("1.2.3.4:80\n".utf8)
        bytes += Array("*.Other.ORG;from partner".utf8)  // last line without a line end
        let parsed = PlainListParser.parse(file: bytes, path: "Rules/x.txt", suffixes: testSuffixes)
        #expect(parsed.indicators == [
            Indicator(type: .ipv4, value: "192.0.2.1", ruleFile: "Rules/x.txt", line: 1),
            Indicator(type: .domain, value: "evil.com", ruleFile: "Rules/x.txt", line: 5),
            Indicator(type: .domain, value: "other.org", ruleFile: "Rules/x.txt", line: 8, description: "from partner"),
        ])
        #expect(parsed.errors.map(\.description) == [
            "Rules/x.txt:4:1: error: 10.0.0.300: not a valid IPv4 address (octet 300 > 255)",
            "Rules/x.txt:6:1: error: line is not valid UTF-8 (expected UTF-8 or ASCII text)",
        ])
        #expect(parsed.warnings.map(\.description) == [
            "Rules/x.txt:7:8: warning: 1.2.3.4:80: port-specific indicators are not supported yet; skipped",
        ])
    }

    @Test func diagnosticsHaveTheCompilerForm() {
        #expect(RuleError(file: "Rules/a.txt", line: 12, message: "bad").description == "Rules/a.txt:12: error: bad")
        #expect(RuleError(file: "Rules/a.txt", line: 12, column: 3, message: "bad").description == "Rules/a.txt:12:3: error: bad")
        #expect(RuleError(file: "Rules/a.txt", line: 0, message: "cannot read").description == "Rules/a.txt: error: cannot read")
        #expect(RuleWarning(file: "Rules/a.txt", line: 2, column: 9, message: "skipped").description == "Rules/a.txt:2:9: warning: skipped")
        #expect(RuleWarning(file: "x", line: 0, message: "m").description == "x: warning: m")
    }
}
