import Observations
import Testing
@testable import Indicators

/// Builds a table from plain-list lines (as one rule file), failing on any bad line.
func table(_ lines: [String]) -> (RuleSet, IndicatorTable) {
    let parsed = PlainListParser.parse(
        file: Array(lines.joined(separator: "\n").utf8), path: "t.txt", suffixes: testSuffixes)
    #expect(parsed.errors.isEmpty, "\(parsed.errors)")
    let rules = RuleSet(list: parsed.indicators)
    return (rules, rules.compile())
}

/// The value of the indicator `table` returns for `value`, or nil.
func match(_ rules: RuleSet, _ table: IndicatorTable, _ value: ObservedValue) -> String? {
    table.lookup(value).map { rules.indicators[$0].value }
}

func domain(_ rules: RuleSet, _ table: IndicatorTable, _ name: String) -> String? {
    OwnedValue.domain(name).withObservedValue { match(rules, table, $0) }
}

func digest(_ rules: RuleSet, _ table: IndicatorTable, _ hex: String) -> String? {
    OwnedValue.hexDigest(hex).withObservedValue { match(rules, table, $0) }
}

@Suite struct IndicatorTableTests {
    @Test(arguments: [
        ("10.1.2.3", "10.1.2.3"),  // the exact address beats every range
        ("10.1.2.4", "10.1.2.0/24"),
        ("10.1.3.4", "10.1.0.0/16"),
        ("10.200.0.1", "10.0.0.0/8"),
        ("11.0.0.1", "0.0.0.0/0"),
        ("192.168.1.1", "192.168.1.1/32"),
        ("255.255.255.255", "0.0.0.0/0"),
    ])
    func ipv4LongestPrefixWins(address: String, expected: String) throws {
        let (rules, table) = table(["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "192.168.1.1/32"])
        let observed = try #require(IPv4Address(address))
        #expect(match(rules, table, .ipv4(observed)) == expected)
    }

    @Test func ipv4WithoutADefaultRouteMisses() throws {
        let (rules, table) = table(["10.0.0.0/8", "192.0.2.1"])
        #expect(match(rules, table, .ipv4(try #require(IPv4Address("11.0.0.1")))) == nil)
        #expect(match(rules, table, .ipv4(try #require(IPv4Address("192.0.2.2")))) == nil)
        #expect(match(rules, table, .ipv4(try #require(IPv4Address("9.255.255.255")))) == nil)
        #expect(match(rules, table, .ipv4(try #require(IPv4Address("10.255.255.255")))) == "10.0.0.0/8")
    }

    @Test func aPlainAddressAndASlash32AreTheSameKeyAndTheFirstWins() throws {
        let (rules, table) = table(["192.0.2.1/32", "192.0.2.1"])
        #expect(table.lookup(.ipv4(try #require(IPv4Address("192.0.2.1")))) == 0)
        #expect(rules.indicators.count == 2)
    }

    @Test(arguments: [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:db8::2", "2001:db8::/64"),
        ("2001:db8:0:1::2", "2001:db8::/32"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8::/32"),
        ("2001:db9::1", "::/0"),
        ("2001:db8::ff01", "2001:db8::ff00/120"),
    ])
    func ipv6LongestPrefixWins(address: String, expected: String) throws {
        let (rules, table) = table(["::/0", "2001:db8::/32", "2001:db8::/64", "2001:db8::ff00/120", "2001:db8::1"])
        #expect(match(rules, table, .ipv6(try #require(IPv6Address(address)))) == expected)
    }

    @Test func ipv6PrefixesAcrossTheHalves() throws {
        let (rules, table) = table(["2001:db8:8000::/33", "2001:db8:0:0:8000::/65"])
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("2001:db8:8000::5")))) == "2001:db8:8000::/33")
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("2001:db8:7fff::5")))) == nil)
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("2001:db8::8000:0:0:1")))) == "2001:db8:0:0:8000::/65")
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("2001:db8::7fff:0:0:1")))) == nil)
    }

    @Test func ipv4AndIPv6TablesAreSeparateButMappedAddressesFallBackToIPv4() throws {
        let (rules, table) = table(["192.0.2.0/24"])
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("::ffff:192.0.2.9")))) == "192.0.2.0/24")
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("::192.0.2.9")))) == nil)
        #expect(match(rules, table, .ipv6(try #require(IPv6Address("c000:209::")))) == nil)
    }

    @Test(arguments: [
        ("evil.com", "evil.com"),
        ("EVIL.com", "evil.com"),
        ("evil.com.", "evil.com"),
        ("www.evil.com", "evil.com"),
        ("a.b.WWW.Evil.Com.", "evil.com"),
        ("c2.evil.com", "c2.evil.com"),  // the longest suffix wins
        ("x.c2.evil.com", "c2.evil.com"),
        ("deep.sub.example.org", "sub.example.org"),
    ])
    func domainsMatchThemselvesAndSubdomains(name: String, expected: String) {
        let (rules, table) = table(["evil.com", "c2.evil.com", "*.sub.example.org"])
        #expect(domain(rules, table, name) == expected)
    }

    @Test(arguments: ["notevil.com", "evil.co", "vil.com", "com", "evil.com.au", "evil-com", "", ".", "evilcom", "xevil.com", "example.org"])
    func domainsDoNotMatchAcrossLabelBoundaries(name: String) {
        let (rules, table) = table(["evil.com", "c2.evil.com", "*.sub.example.org"])
        #expect(domain(rules, table, name) == nil)
    }

    @Test func digestsMatchExactlyAndCaseInsensitively() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e"
        let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        let (rules, table) = table([md5.uppercased(), sha1, sha256])
        #expect(digest(rules, table, md5) == md5)
        #expect(digest(rules, table, md5.uppercased()) == md5)
        #expect(digest(rules, table, sha1.uppercased()) == sha1)
        #expect(digest(rules, table, sha256) == sha256)
        #expect(digest(rules, table, String(sha256.dropLast())) == nil)
        #expect(digest(rules, table, String(md5.dropLast()) + "f") == nil)
        #expect(digest(rules, table, String(sha256.prefix(32))) == nil)
        // Domains and digests are separate tables.
        #expect(domain(rules, table, md5) == nil)
    }

    @Test func anEmptyTableMatchesNothing() throws {
        let table = RuleSet(indicators: []).compile()
        #expect(table.lookup(.ipv4(IPv4Address(0))) == nil)
        #expect(table.lookup(.ipv6(IPv6Address(high: 0, low: 1))) == nil)
        #expect(OwnedValue.domain("evil.com").withObservedValue { table.lookup($0) } == nil)
        #expect(OwnedValue.hexDigest("").withObservedValue { table.lookup($0) } == nil)
    }

    @Test func manyDomainsAllFoundAndNeighboursMissed() {
        let names = (0..<5000).map { "host\($0).example\($0 % 97).net" }
        let (rules, table) = table(names)
        #expect(table.counts.domains == 5000)
        for (index, name) in names.enumerated() {
            #expect(OwnedValue.domain(name.uppercased()).withObservedValue { table.lookup($0) } == index)
            #expect(domain(rules, table, "x" + name) == nil)
        }
    }
}
