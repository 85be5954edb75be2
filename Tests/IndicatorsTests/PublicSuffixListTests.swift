import Foundation
import Observations
import Testing
@testable import Indicators

@Suite struct PublicSuffixListTests {
    static let list = PublicSuffixList(text: """
        // ===BEGIN ICANN DOMAINS===
        com
        co.uk
        *.ck
        !www.ck
        公司.cn
        // ===END ICANN DOMAINS===
        // ===BEGIN PRIVATE DOMAINS===
        github.io
        // ===END PRIVATE DOMAINS===
        """)

    @Test(arguments: [
        ("com", true), ("co.uk", true), ("uk", true), ("evil.co.uk", false), ("anything.ck", true),
        ("www.ck", false), ("a.b.ck", false), ("github.io", true), ("user.github.io", false),
        ("xn--55qx5d.cn", true), ("example.com", false), ("tk", true),
    ])
    func rulesWildcardsAndExceptions(name: String, isSuffix: Bool) {
        #expect(Self.list.isPublicSuffix(name) == isSuffix, "\(name)")
    }

    @Test func punycodeMatchesRFC3492Examples() {
        #expect(Punycode.domainToASCII("bücher.de") == "xn--bcher-kva.de")
        #expect(Punycode.domainToASCII("公司.cn") == "xn--55qx5d.cn")
        #expect(Punycode.domainToASCII("münchen") == "xn--mnchen-3ya")
    }

    @Test func theSystemListIsReadWhenInstalled() throws {
        guard let system = PublicSuffixList.system else {
            print("skipped: \(PublicSuffixList.defaultPath) is absent (package publicsuffix)")
            return
        }
        #expect(system.count > 5000)
        for name in ["com", "co.uk", "github.io", "duckdns.org", "onion"] {
            #expect(system.isPublicSuffix(name), "\(name)")
        }
        #expect(!system.isPublicSuffix("example.com"))
    }

    @Test func aMissingListIsOneWarningAndOnlySingleLabelsAreRefused() throws {
        let root = try makeTree(["R/a.txt": Array("co.uk\ncom\nevil.com\n".utf8)])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/R"], publicSuffixListPath: root + "/absent.dat")
        #expect(rules.warnings.map(\.description) == [
            "\(root)/absent.dat: warning: public suffix list not found (install the publicsuffix package): "
                + "domain indicators are not checked against it, only single labels are refused",
        ])
        #expect(rules.indicators.map(\.value) == ["co.uk", "evil.com"])
        #expect(rules.errors.count == 1 && rules.errors[0].line == 2)
    }
}

/// `table(_:)` under a name that local `table` variables do not shadow.
func Indicators_table(_ lines: [String]) -> (RuleSet, IndicatorTable) { table(lines) }

@Suite struct URLEmailAndExactDomainLookupTests {
    func url(_ rules: RuleSet, _ table: IndicatorTable, _ text: String) -> String? {
        Array(text.utf8).withUnsafeBytes { match(rules, table, .url($0)) }
    }

    func email(_ rules: RuleSet, _ table: IndicatorTable, _ text: String) -> String? {
        Array(text.utf8).withUnsafeBytes { match(rules, table, .email($0)) }
    }

    @Test(arguments: [
        ("http://evil.com/gate.php", "http://evil.com/gate.php"),
        ("HTTP://EVIL.com/gate.php", "http://evil.com/gate.php"),
        ("http://evil.com/gate.php#top", "http://evil.com/gate.php"),
        ("http://evil.com/Gate.php", nil),
        ("http://evil.com/gate.php?x=1", nil),
        ("https://evil.com/gate.php", nil),
        ("http://185.141.25.35", "http://185.141.25.35/"),
        ("http://185.141.25.35/", "http://185.141.25.35/"),
        ("http://185.141.25.35/x", nil),
        ("https://Tamariaclinic.com/blog/po22/", "tamariaclinic.com/blog/po22/"),
        ("http://tamariaclinic.com/blog/po22/", "tamariaclinic.com/blog/po22/"),
        ("http://tamariaclinic.com/BLOG/po22/", nil),
        ("http://evil.com?q", "http://evil.com/?q"),
    ] as [(String, String?)])
    func urlsMatchSchemeAndHostCaseInsensitivelyAndPathsExactly(observed: String, expected: String?) {
        let (rules, table) = table([
            "http://evil.com/gate.php", "http://185.141.25.35", "tamariaclinic.com/blog/po22/", "http://evil.com?q",
        ])
        #expect(url(rules, table, observed) == expected, "\(observed)")
    }

    @Test func emailAddressesMatchCaseInsensitivelyAndExactly() {
        let (rules, table) = table(["Phisher@Evil.Example"])
        #expect(email(rules, table, "PHISHER@evil.example") == "phisher@evil.example")
        #expect(email(rules, table, "phisher@sub.evil.example") == nil)
        #expect(email(rules, table, "xphisher@evil.example") == nil)
    }

    @Test func equalsDomainMatchesOnlyItselfWhileAPlainOneMatchesSubdomains() {
        let (rules, table) = table(["=exact.example", "wide.example"])
        #expect(domain(rules, table, "EXACT.example.") == "exact.example")
        #expect(domain(rules, table, "www.exact.example") == nil)
        #expect(domain(rules, table, "wide.example") == "wide.example")
        #expect(domain(rules, table, "a.b.wide.example") == "wide.example")
        // Both forms of one name are two indicators; the exact one is more specific.
        let (both, bothTable) = Indicators_table(["evil.example", "=evil.example"])
        #expect(both.indicators.count == 2)
        #expect(bothTable.lookup(.domain(UnsafeRawBufferPointer(start: nil, count: 0))) == nil)
        #expect(Array("evil.example".utf8).withUnsafeBytes { bothTable.lookup(.domain($0)) } == 1)
        #expect(Array("www.evil.example".utf8).withUnsafeBytes { bothTable.lookup(.domain($0)) } == 0)
    }

    @Test func memoryEstimateGrowsWithTheTables() {
        let (_, small) = table(["192.0.2.1"])
        let (_, large) = table((0..<1000).map { "host\($0).example" })
        #expect(small.memoryBytes > 0 && small.memoryBytes < 1024)
        #expect(large.memoryBytes > 1000 * 16)
    }
}
