import Observations
import Testing

@testable import Indicators

/// `IndicatorList` stores indicators column-wise; what comes out must be what went in.
@Suite struct IndicatorListTests {
    static let samples: [Indicator] = [
        Indicator(type: .ipv4, value: "192.0.2.1", ruleFile: "a.txt", line: 1),
        Indicator(type: .domain, value: "evil.example", ruleFile: "a.txt", line: 2, matchesSubdomains: false),
        Indicator(type: .sha256, value: String(repeating: "ab", count: 32), ruleFile: "b.csv", line: 7,
                  source: "partner", severity: "high", confidence: 80, description: "beacon", tags: ["x", "y"],
                  tlp: "amber", validFrom: Timestamp(nanoseconds: 5), validUntil: Timestamp(nanoseconds: 9)),
        Indicator(type: .url, value: "http://bücher.example/" + String(repeating: "p", count: 300), ruleFile: "b.csv", line: 8),
        Indicator(type: .cidr, value: "2001:db8::/32", ruleFile: "c.txt", line: Int(UInt32.max) + 5),
    ]

    @Test func elementsComeBackAsTheyWentIn() {
        let list = IndicatorList(Self.samples)
        #expect(Array(list) == Self.samples)
        #expect(list.count == Self.samples.count)
    }

    @Test func appendingListsKeepsEachOnesDetails() {
        var list = IndicatorList(Self.samples.prefix(2))
        list += IndicatorList(Self.samples.dropFirst(2))
        #expect(Array(list) == Self.samples)
        var empty = IndicatorList()
        empty += list
        #expect(empty == list)
    }

    @Test func settingAnElementReplacesOnlyIt() {
        var list = IndicatorList(Self.samples)
        var changed = Self.samples[0]
        changed.value = "198.51.100.200"
        changed.severity = "low"
        list[0] = changed
        #expect(list[0] == changed)
        #expect(Array(list.dropFirst()) == Array(Self.samples.dropFirst()))
    }

    /// Identity: type and value, and subdomain matching for domains only.
    @Test(arguments: [
        (Indicator(type: .domain, value: "evil.example", ruleFile: "x", line: 1), true),
        (Indicator(type: .domain, value: "evil.example", ruleFile: "x", line: 1, matchesSubdomains: false), false),
        (Indicator(type: .ipv4, value: "192.0.2.1", ruleFile: "y", line: 9, matchesSubdomains: false), true),
        (Indicator(type: .ipv4, value: "192.0.2.10", ruleFile: "x", line: 1), false),
    ])
    func identityIgnoresTheFileAndLine(other: Indicator, same: Bool) {
        let list = IndicatorList([
            Indicator(type: .domain, value: "evil.example", ruleFile: "a", line: 3),
            Indicator(type: .ipv4, value: "192.0.2.1", ruleFile: "a", line: 4),
        ])
        let candidate = IndicatorList([other])
        let matches = list.indices.contains { list.sameIdentity(at: $0, as: candidate, at: 0) }
        #expect(matches == same)
        var index = IndicatorIndex()
        for position in list.indices {
            #expect(index.firstPosition(of: position, in: list, newPosition: position, list: list) == nil)
        }
        #expect((index.firstPosition(of: 0, in: candidate, newPosition: 2, list: list) != nil) == same)
    }
}
