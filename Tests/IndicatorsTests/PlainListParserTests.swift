import Testing
@testable import Indicators

@Suite struct PlainListParserTests {
    static let valid: [(line: String, type: IndicatorType, value: String)] = [
        ("192.0.2.1", .ipv4, "192.0.2.1"),
        ("  192.0.2.1\t", .ipv4, "192.0.2.1"),
        ("0.0.0.0", .ipv4, "0.0.0.0"),
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
        ("D41D8CD98F00B204E9800998ECF8427E", .md5, "d41d8cd98f00b204e9800998ecf8427e"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", .sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", .sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        ),
        ("10.0.0.0/8 # office", .cidr, "10.0.0.0/8"),
        ("evil.com\t# tab before comment", .domain, "evil.com"),
        ("evil.com #", .domain, "evil.com"),
    ]

    @Test(arguments: valid)
    func parsesValidLines(line: String, type: IndicatorType, value: String) {
        #expect(PlainListParser.parseLine(ArraySlice(line.utf8)) == .indicator(type, value))
    }

    @Test(arguments: ["", "   ", "\t", "# a comment", "   # indented comment", "#192.0.2.1"])
    func ignoresBlankAndCommentLines(line: String) {
        #expect(PlainListParser.parseLine(ArraySlice(line.utf8)) == .empty)
    }

    /// Each error must say what is wrong (the fragment) and name the line's value.
    static let invalid: [(line: String, message: String)] = [
        ("10.0.0.300", "10.0.0.300: not a valid IPv4 address (octet 300 > 255)"),
        ("10.0.0", "10.0.0: not a valid IPv4 address (expected four decimal octets separated by dots, found 3)"),
        ("10..0.1", "10..0.1: not a valid IPv4 address (empty octet)"),
        ("10.0.0.01", "10.0.0.01: not a valid IPv4 address (octet 01 has a leading zero, which some tools read as octal)"),
        ("10.0.0.0/33", "10.0.0.0/33: /33 is not a valid prefix length for IPv4 (0-32)"),
        ("2001:db8::/129", "2001:db8::/129: /129 is not a valid prefix length for IPv6 (0-128)"),
        ("10.0.0.0/x", "10.0.0.0/x: the prefix length x is not a number (expected a CIDR range like 10.0.0.0/8 or 2001:db8::/32)"),
        ("10.0.0.0/", "10.0.0.0/: the prefix length \"\" is not a number"),
        ("10.0.0.256/8", "10.0.0.256/8: not a valid IPv4 address (octet 256 > 255)"),
        ("2001:db8::g/64", "is not a valid IPv6 address"),
        ("foo bar", "\"foo bar\": expected one indicator per line (an IP address, CIDR range, domain, or MD5/SHA-1/SHA-256 hash)"),
        ("1.2.3.4;65", "\"1.2.3.4;65\": expected one indicator per line, found more text after 1.2.3.4 (comments start with \"#\" after whitespace)"),
        ("192.0.2.1\t10", "\"192.0.2.1\\t10\": expected one indicator per line, found more text after 192.0.2.1"),
        ("Evil.com,malware", "found more text after evil.com"),
        ("foo;bar", "\";\" is not allowed in a domain"),
        ("1.2.3.4:443", "1.2.3.4:443: ports are not supported"),
        ("2001:db8:::1", "2001:db8:::1: not a valid IPv6 address"),
        ("fe80::1%eth0", "zone index"),
        ("http://evil.com/x", "URLs are not supported"),
        ("evil.com/path", "URLs and paths are not supported"),
        ("localhost", "localhost: a domain needs at least two labels"),
        ("evil..com", "evil..com: domain has an empty label"),
        (".evil.com", "domain has an empty label"),
        ("evil.123", "last label cannot be all digits"),
        ("a.*.evil.com", "wildcards are only allowed as a leading"),
        ("bücher.de", "non-ASCII character"),
        (String(repeating: "a", count: 64) + ".com", "is 64 bytes long (at most 63)"),
        (Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: "."), "bytes long (at most 253)"),
        ("d41d8cd98f00b204e9800998ecf8427", "a hex string of 31 digits is not a hash (expected 32 for MD5, 40 for SHA-1 or 64 for SHA-256)"),
        ("E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;Some tool - x", "found more text after e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("evil.com#notacomment", "\"#\" is not allowed in a domain"),
    ]

    @Test(arguments: invalid)
    func rejectsInvalidLines(line: String, message: String) {
        let result = PlainListParser.parseLine(ArraySlice(line.utf8))
        guard case .invalid(let text) = result else {
            Issue.record("\(line) parsed as \(result)")
            return
        }
        #expect(text.contains(message), "\(text)")
    }

    @Test func rejectsBinaryAndOverlongLinesWithoutCrashing() {
        let nul = PlainListParser.parseLine(ArraySlice([0x31, 0x2E, 0x00, 0x32]))
        #expect(nul == .invalid("line contains a NUL byte at column 3 (expected text; is this a binary file?)"))
        let badUTF8 = PlainListParser.parseLine(ArraySlice([0x65, 0x76, 0xFF, 0x6C, 0x2E, 0x63, 0x6F, 0x6D]))
        #expect(badUTF8 == .invalid("line is not valid UTF-8 (expected UTF-8 or ASCII text)"))
        let long = PlainListParser.parseLine(ArraySlice(repeating: UInt8(ascii: "a"), count: 100_000))
        guard case .invalid(let text) = long else {
            Issue.record("a 100000-byte line was accepted")
            return
        }
        #expect(text.hasPrefix("line is 100000 bytes long; the limit is 4096"))
    }

    @Test func parsesAWholeFileWithBOMCRLFAndBadLines() {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF]
        bytes += Array("192.0.2.1\r\n# comment\r\n\r\n10.0.0.300\r\nevil.com. # c2\r\n".utf8)
        bytes += [0xC3, 0x28, 0x0A]  // invalid UTF-8 on line 6
        bytes += Array("*.Other.ORG".utf8)  // last line without a line end
        let (indicators, errors) = PlainListParser.parse(file: bytes, path: "Rules/x.txt")
        #expect(indicators == [
            Indicator(type: .ipv4, value: "192.0.2.1", ruleFile: "Rules/x.txt", line: 1),
            Indicator(type: .domain, value: "evil.com", ruleFile: "Rules/x.txt", line: 5),
            Indicator(type: .domain, value: "other.org", ruleFile: "Rules/x.txt", line: 7),
        ])
        #expect(errors.map(\.description) == [
            "Rules/x.txt:4: error: 10.0.0.300: not a valid IPv4 address (octet 300 > 255)",
            "Rules/x.txt:6: error: line is not valid UTF-8 (expected UTF-8 or ASCII text)",
        ])
    }

    @Test func ruleErrorDescriptionHasTheCompilerForm() {
        #expect(RuleError(file: "Rules/a.txt", line: 12, message: "bad").description == "Rules/a.txt:12: error: bad")
        #expect(RuleError(file: "Rules/a.txt", line: 0, message: "cannot read").description == "Rules/a.txt: error: cannot read")
    }
}
