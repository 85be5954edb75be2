import Foundation
import Testing
@testable import Observations

/// A small list in the file's format with every kind of rule.
let sampleRules = """
    // ===BEGIN ICANN DOMAINS===
    com
    uk
    co.uk
    jp
    *.kawasaki.jp
    !city.kawasaki.jp
    *.ck
    !www.ck
    рф
    // ===END ICANN DOMAINS===
    // ===BEGIN PRIVATE DOMAINS===
    github.io
    *.compute.example.com
    // ===END PRIVATE DOMAINS===
    """

func withBytes<R>(_ text: String, _ body: (Span<UInt8>) -> R) -> R {
    body(Array(text.utf8).span)
}

func registrable(_ list: PublicSuffixList, _ name: String, _ section: PublicSuffixList.Section = .all) -> String? {
    let length = withBytes(name) { list.registrableDomainLength($0, section: section) }
    return length.map { String(name.utf8.suffix($0))! }
}

@Suite struct PublicSuffixListTests {
    let list = PublicSuffixList(text: Array(sampleRules.utf8))

    @Test(arguments: [
        // (name, registrable domain under all rules, under ICANN rules only)
        ("com", nil, nil),
        ("example.com", "example.com", "example.com"),
        ("WWW.Example.COM", "Example.COM", "Example.COM"),
        ("co.uk", nil, nil),
        ("a.b.example.co.uk", "example.co.uk", "example.co.uk"),
        ("example.uk", "example.uk", "example.uk"),
        // "*.kawasaki.jp" does not make "kawasaki.jp" a suffix: "jp" prevails.
        ("kawasaki.jp", "kawasaki.jp", "kawasaki.jp"),
        ("foo.kawasaki.jp", nil, nil),
        ("bar.foo.kawasaki.jp", "bar.foo.kawasaki.jp", "bar.foo.kawasaki.jp"),
        ("city.kawasaki.jp", "city.kawasaki.jp", "city.kawasaki.jp"),
        ("www.city.kawasaki.jp", "city.kawasaki.jp", "city.kawasaki.jp"),
        ("ck", nil, nil),
        ("test.ck", nil, nil),
        ("b.test.ck", "b.test.ck", "b.test.ck"),
        ("www.ck", "www.ck", "www.ck"),
        ("a.www.ck", "www.ck", "www.ck"),
        ("github.io", nil, "github.io"),
        ("user.github.io", "user.github.io", "github.io"),
        ("x.y.compute.example.com", "x.y.compute.example.com", "example.com"),
        ("y.compute.example.com", nil, "example.com"),
        ("unlisted", nil, nil),
        ("example.unlisted", "example.unlisted", "example.unlisted"),
        ("xn--p1ai", nil, nil),
        // Non-ASCII labels are bytes no rule holds: only the ASCII suffix matches.
        ("пример.xn--p1ai", "пример.xn--p1ai", "пример.xn--p1ai"),
        ("example.xn--p1ai", "example.xn--p1ai", "example.xn--p1ai"),
        ("", nil, nil),
        (".com", nil, nil),
        ("example..com", nil, nil),
        ("example.com.", nil, nil),
    ] as [(String, String?, String?)])
    func registrableDomains(name: String, all: String?, icann: String?) {
        #expect(registrable(list, name) == all, "all: \(name)")
        #expect(registrable(list, name, .icann) == icann, "icann: \(name)")
    }

    @Test(arguments: [
        ("com", true), ("co.uk", true), ("foo.kawasaki.jp", true), ("city.kawasaki.jp", false),
        ("github.io", true), ("example.com", false), ("php", true), ("", false), ("a..com", false),
    ])
    func publicSuffixes(name: String, expected: Bool) {
        #expect(withBytes(name) { list.isPublicSuffix($0) } == expected)
    }

    @Test(arguments: [
        ("example.com", true), ("example.COM", true), ("config.php", false), ("github.io", false),
        ("a.jp", true), ("host.ck", true), ("x.xn--p1ai", true), ("xn--p1ai", true), ("com.", false), ("", false),
    ])
    func topLevelDomains(name: String, expected: Bool) {
        #expect(withBytes(name) { list.hasKnownTopLevelDomain($0) } == expected)
    }

    @Test func punycodeMatchesRFC3492Samples() {
        // RFC 3492 section 7.1 (A) Arabic (Egyptian), and well-known TLDs.
        #expect(Punycode.asciiName("рф") == Array("xn--p1ai".utf8))
        #expect(Punycode.asciiName("中国") == Array("xn--fiqs8s".utf8))
        #expect(Punycode.asciiName("公司.cn") == Array("xn--55qx5d.cn".utf8))
        #expect(Punycode.asciiName("bücher.de") == Array("xn--bcher-kva.de".utf8))
        #expect(
            Punycode.encode(Array("ليهمابتكلموشعربي؟".unicodeScalars.map(\.value))) == Array("egbpdaj6bu4bxfgehfvwxn".utf8))
    }

    @Test func systemListHasTheRealRules() throws {
        guard FileManager.default.fileExists(atPath: PublicSuffixList.debianPath) else {
            print("skipped: \(PublicSuffixList.debianPath) is absent (Debian package publicsuffix)")
            #expect(PublicSuffixList.system == nil)
            return
        }
        let system = try #require(PublicSuffixList.system)
        #expect(system.ruleCount > 5000)
        for (name, expected) in [
            ("www.example.co.uk", "example.co.uk"), ("a.b.c.kobe.jp", "b.c.kobe.jp"), ("www.city.kobe.jp", "city.kobe.jp"),
            ("foo.blogspot.com", "foo.blogspot.com"), ("test.xn--fiqs8s", "test.xn--fiqs8s"), ("www.ck", "www.ck"),
        ] {
            #expect(registrable(system, name) == expected, "\(name)")
        }
        // "properties" is a real gTLD: LogReading's scanner sets it aside, not the list.
        for name in ["config.php", "libc.so.6", "dfs.DataNode", "chrome.exe", "a.txt"] {
            #expect(!withBytes(name) { system.hasKnownTopLevelDomain($0) }, "\(name)")
        }
        for name in ["example.com", "x.org", "x.io", "x.de", "x.xn--p1ai", "x.amsterdam"] {
            #expect(withBytes(name) { system.hasKnownTopLevelDomain($0) }, "\(name)")
        }
        #expect(throws: PublicSuffixList.LoadError.self) { try PublicSuffixList.load(path: "/nonexistent/list.dat") }
    }

    @Test(arguments: [
        ("example.com", PublicSuffixList.TopLevelDomainRules.delegatedAlone),
        ("EXAMPLE.COM", .delegatedAlone),
        ("example.co.uk", .delegatedWithDeeperRules),
        ("foo.kawasaki.jp", .delegatedWithDeeperRules),
        ("test.ck", .delegatedWithDeeperRules),
        ("x.xn--p1ai", .delegatedAlone),
        ("config.php", .notDelegated),
        ("github.io", .notDelegated),
        ("a.", .notDelegated),
    ])
    func topLevelDomainRulesOfTheSampleList(name: String, expected: PublicSuffixList.TopLevelDomainRules) {
        #expect(withBytes(name) { list.topLevelDomainRules($0) } == expected)
    }

    /// `topLevelDomainRules` against the lookups it stands for, on names built from every
    /// rule of the system list: `notDelegated` exactly when the top-level domain is
    /// unknown, and under a `delegatedAlone` one no name of two labels or more is an
    /// ICANN suffix.
    @Test(.enabled(if: PublicSuffixList.system != nil, "the public suffix list is absent (Debian package publicsuffix)"))
    func topLevelDomainRulesAgreeWithTheFullLookupOnTheSystemList() throws {
        let text = try #require(FileManager.default.contents(atPath: PublicSuffixList.debianPath))
        let system = try #require(PublicSuffixList.system)
        var names = ["example.com", "co.uk", "kawasaki.jp", "city.kawasaki.jp", "a.b.ck", "config.php"]
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("//") {
            let rule = line.split(separator: " ").first.map(String.init) ?? ""
            guard !rule.isEmpty, rule.allSatisfy(\.isASCII) else { continue }
            let plain = rule.replacingOccurrences(of: "*.", with: "x.").replacingOccurrences(of: "!", with: "")
            names += [plain, "a." + plain, "a.b." + plain, plain.uppercased()]
        }
        var alone = 0
        for name in names {
            withBytes(name) { bytes in
                let rules = system.topLevelDomainRules(bytes)
                let known = system.hasKnownTopLevelDomain(bytes)
                #expect((rules == .notDelegated) == !known, "\(name)")
                if rules == .delegatedAlone, name.contains(".") {
                    alone += 1
                    let isSuffix = system.isPublicSuffix(bytes, section: .icann)
                    #expect(!isSuffix, "\(name)")
                }
            }
        }
        #expect(alone > 1000)
    }
}
