import Foundation
import Observations
import Testing
@testable import Correlation
import TestSupport

private let origin: Int64 = 1_700_000_000 * 1_000_000_000
private let second: Int64 = 1_000_000_000

private func at(_ seconds: Int64, plus nanoseconds: Int64 = 0) -> Timestamp {
    Timestamp(nanoseconds: origin + seconds * second + nanoseconds)
}

/// Rules for the tests: line rules for sshd, sighting rules for DNS, hashes and a feed.
private let rulesText = """
    name: ssh-fail
    title: failed ssh password
    selection:
      program: sshd
      message|contains: [Failed password, authentication failure]
    ---
    name: ssh-ok
    title: accepted ssh password
    selection:
      message|contains: Accepted password
    ---
    name: dns
    title: listed domain queried
    selection: {field: dns.query, indicator.type: domain}
    ---
    name: hash
    title: listed file
    selection: {indicator.type: [md5, sha256]}
    ---
    name: c2
    title: c2 feed
    selection: {indicator.feed: c2-infrastructure}
    ---
    title: SSH brute force
    id: bf
    severity: high
    correlation: {type: event_count, rules: ssh-fail, group-by: log.src, timespan: 5m, condition: {gte: 3}}
    ---
    title: C2 spread
    id: spread
    severity: medium
    correlation: {type: value_count, rules: c2, group-by: host, timespan: 1h, condition: {gte: 3, field: indicator}}
    ---
    title: DNS then hash
    id: chain
    severity: critical
    correlation: {type: temporal_ordered, rules: [dns, hash], group-by: host, timespan: 10m}
    ---
    title: DNS and hash
    id: both
    severity: low
    correlation: {type: temporal, rules: [dns, hash], group-by: host, timespan: 10m}
    ---
    title: fail then success
    id: guessed
    severity: critical
    correlation: {type: temporal_ordered, rules: [ssh-fail, ssh-ok], group-by: [host, log.src], timespan: 1m}
    """

private let rules: CorrelationRules = {
    let (rules, diagnostics) = CorrelationRules.load(text: rulesText, file: "test.yml")
    precondition(diagnostics.isEmpty, "\(diagnostics)")
    return rules
}()

/// A log line event built the way the ingest builds one: the engine picks the rules.
private func line(
    _ number: UInt64, _ seconds: Int64, _ text: String, program: String? = "sshd[42]:", host: String = "gw",
    source: String? = "203.0.113.9", plus nanoseconds: Int64 = 0
) -> CorrelationEvent? {
    let matched = rules.baseRules(matchingLine: text, program: program)
    guard !matched.isEmpty else { return nil }
    return .logLine(
        .init(sourceID: 1, lineNumber: number, offset: number * 100, program: "sshd", baseRules: matched),
        time: at(seconds, plus: nanoseconds), host: host, logSource: source)
}

private func sighting(
    _ id: Int64, _ seconds: Int64, value: String, type: String, field: String, feed: String = "Rules/other.txt",
    host: String = "10.0.0.5"
) -> CorrelationEvent {
    .sighting(
        .init(id: id, indicatorValue: value, indicatorType: type, feed: feed, field: field),
        time: at(seconds), host: host)
}

private func matches(_ events: [CorrelationEvent?], rule: String) -> [RuleMatch] {
    rules.evaluate(events: events.compactMap { $0 }).filter { $0.ruleID == rule }
}

// MARK: Line selection

@Suite struct CorrelationRuleEvaluationTests {
    @Test(
        "line base rules: any string, case-sensitive, program before [ or :",
        arguments: [
            ("Failed password for root from 203.0.113.9", "sshd[42]:", [0]),
            ("Failed password for root from 203.0.113.9", "sshd:", [0]),
            ("Failed password for root from 203.0.113.9", "sshd", [0]),
            ("pam_unix(sshd:auth): authentication failure", "sshd[1]:", [0]),
            ("failed password for root", "sshd[42]:", []),
            ("Failed password for root", "sshd2[42]:", []),
            ("Failed password for root", nil, []),
            ("Accepted password for root", nil, [1]),
            ("Accepted password for root", "sshd[3]:", [1]),
            ("Failed passwor", "sshd", []),
            ("", "sshd", []),
            ("xxFailed passwordxx", "sshd", [0]),
        ] as [(String, String?, [Int])]
    )
    func lineSelection(text: String, program: String?, expected: [Int]) {
        #expect(rules.baseRules(matchingLine: text, program: program) == expected)
    }

    @Test("feeds match by name, file name or file name without extension")
    func feedNames() {
        let named = BaseRule.SightingSelection.feed
        #expect(named("c2-infrastructure", "c2-infrastructure"))
        #expect(named("Rules/c2-infrastructure.txt", "c2-infrastructure"))
        #expect(named("Rules/c2-infrastructure.txt", "c2-infrastructure.txt"))
        #expect(!named("Rules/c2-infrastructure.txt", "c2"))
        #expect(!named("Rules/.hidden", ""))
    }

    // MARK: event_count

    @Test("event_count: exactly timespan apart still counts, one nanosecond more does not")
    func eventCountBoundary() {
        let inside = matches([line(1, 0, "Failed password"), line(2, 100, "Failed password"), line(3, 300, "Failed password")], rule: "bf")
        #expect(inside.count == 1)
        #expect(inside.first?.events.count == 3)
        #expect(inside.first?.group == "log.src=203.0.113.9")
        #expect(inside.first?.firstSeen == at(0))
        #expect(inside.first?.lastSeen == at(300))
        let outside = matches(
            [line(1, 0, "Failed password"), line(2, 100, "Failed password"), line(3, 300, "Failed password", plus: 1)],
            rule: "bf")
        #expect(outside.isEmpty)
    }

    @Test("event_count: a long burst is one match; a pause longer than the window starts another")
    func eventCountBursts() {
        // 10 failures 60 s apart (one burst), a 20 minute pause, 3 more 1 s apart.
        var events = (0..<10).map { line(UInt64($0), Int64($0) * 60, "Failed password for x") }
        events += (0..<3).map { line(UInt64(100 + $0), 1800 + Int64($0), "Failed password for x") }
        let found = matches(events, rule: "bf")
        #expect(found.count == 2)
        #expect(found.map(\.events.count) == [10, 3])
        #expect(found.first?.events.first == .logLine(sourceID: 1, lineNumber: 0, offset: 0))
        #expect(found.first?.explanation.contains("6 events of `ssh-fail` for log.src=203.0.113.9 within 5m (condition gte 3)") == true)
        // Lines that do not qualify do not show up: 2 failures alone are below the bound.
        let below = matches([line(1, 0, "Failed password"), line(2, 1, "Failed password"), line(3, 2, "Accepted password")], rule: "bf")
        #expect(below.isEmpty)
    }

    @Test("event_count: groups are apart, and events without the group field are left out")
    func eventCountGroups() {
        var events: [CorrelationEvent?] = []
        for index in 0..<3 {
            events.append(line(UInt64(index), Int64(index), "Failed password", source: "203.0.113.9"))
            events.append(line(UInt64(10 + index), Int64(index), "Failed password", source: "198.51.100.7"))
            events.append(line(UInt64(20 + index), Int64(index), "Failed password", source: nil))
        }
        events.append(line(30, 3, "Failed password", source: "192.0.2.1"))
        let found = matches(events, rule: "bf")
        #expect(found.map(\.group) == ["log.src=198.51.100.7", "log.src=203.0.113.9"])
        #expect(found.map(\.groupValues) == [["198.51.100.7"], ["203.0.113.9"]])
    }

    @Test("events at the same time count together whatever their order")
    func sameTime() {
        // Three failures in the same second: the window ending at that second holds all three.
        let events = (0..<3).map { line(UInt64($0), 7, "Failed password") }
        let found = matches(events, rule: "bf")
        #expect(found.count == 1)
        #expect(found.first?.events == (0..<3).map { .logLine(sourceID: 1, lineNumber: UInt64($0), offset: UInt64($0) * 100) })
    }

    // MARK: value_count

    @Test("value_count: distinct indicators of a feed per host within the hour")
    func valueCount() {
        let feed = "Rules/c2-infrastructure.txt"
        let events = [
            sighting(1, 0, value: "203.0.113.1", type: "ipv4", field: "ip.dst", feed: feed),
            sighting(2, 60, value: "203.0.113.1", type: "ipv4", field: "ip.dst", feed: feed),
            sighting(3, 1200, value: "203.0.113.2", type: "ipv4", field: "ip.dst", feed: feed),
            sighting(4, 3600, value: "203.0.113.3", type: "ipv4", field: "ip.dst", feed: feed),
            // Another feed, another host: not counted for 10.0.0.5.
            sighting(5, 100, value: "203.0.113.4", type: "ipv4", field: "ip.dst", feed: "Rules/other.txt"),
            sighting(6, 100, value: "203.0.113.5", type: "ipv4", field: "ip.dst", feed: feed, host: "10.0.0.6"),
        ]
        let found = matches(events, rule: "spread")
        #expect(found.count == 1)
        #expect(found.first?.values == ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
        #expect(found.first?.events == [.sighting(1), .sighting(2), .sighting(3), .sighting(4)])
        #expect(found.first?.severity == .medium)
        #expect(found.first?.group == "host=10.0.0.5")
        // The third value one nanosecond more than an hour after the first, and the second
        // also gone: only two values in any window.
        var late = events
        late[3] = .sighting(
            .init(id: 4, indicatorValue: "203.0.113.3", indicatorType: "ipv4", feed: feed, field: "ip.dst"),
            time: at(3660, plus: 1), host: "10.0.0.5")
        #expect(matches(late, rule: "spread").isEmpty)
    }

    @Test("value_count: repeats of one value never reach the bound")
    func valueCountRepeats() {
        let events = (0..<50).map { sighting(Int64($0), Int64($0), value: "203.0.113.1", type: "ipv4", field: "ip.dst", feed: "c2-infrastructure") }
        #expect(matches(events, rule: "spread").isEmpty)
    }

    // MARK: temporal and temporal_ordered

    @Test("temporal_ordered: DNS then hash within 10 minutes, inclusive; the reverse order does not match")
    func temporalOrdered() {
        let dns = sighting(1, 0, value: "evil.example", type: "domain", field: "dns.query")
        let hash = sighting(2, 600, value: String(repeating: "a", count: 32), type: "md5", field: "file.md5")
        let found = matches([hash, dns], rule: "chain")
        #expect(found.count == 1)
        #expect(found.first?.events == [.sighting(1), .sighting(2)])
        #expect(found.first?.firstSeen == at(0))
        #expect(found.first?.lastSeen == at(600))
        #expect(found.first?.explanation.contains("`dns` then `hash` matched in that order for host=10.0.0.5 within 10m") == true)

        let tooLate = sighting(2, 601, value: "x", type: "md5", field: "file.md5")
        #expect(matches([dns, tooLate], rule: "chain").isEmpty)
        let reversed = sighting(2, -1, value: "x", type: "md5", field: "file.md5")
        #expect(matches([dns, reversed], rule: "chain").isEmpty)
        // Unordered temporal accepts the reverse order.
        #expect(matches([dns, reversed], rule: "both").count == 1)
        // Another host's hash does not complete this host's chain.
        let elsewhere = sighting(2, 10, value: "x", type: "md5", field: "file.md5", host: "10.0.0.6")
        #expect(matches([dns, elsewhere], rule: "chain").isEmpty)
        #expect(matches([dns, elsewhere], rule: "both").isEmpty)
    }

    @Test("temporal_ordered: the same second counts as in order, and overlapping chains merge")
    func temporalOrderedSameTimeAndMerge() {
        let found = matches([
            line(2, 5, "Accepted password", program: "sshd[1]:"),
            line(1, 5, "Failed password", program: "sshd[1]:"),
        ], rule: "guessed")
        #expect(found.count == 1)
        #expect(found.first?.group == "host=gw, log.src=203.0.113.9")

        let chain = matches([
            sighting(1, 0, value: "evil.example", type: "domain", field: "dns.query"),
            sighting(2, 60, value: "x", type: "sha256", field: "file.sha256"),
            sighting(3, 120, value: "y", type: "sha256", field: "file.sha256"),
            // Far later: a second, separate chain.
            sighting(4, 7200, value: "evil.example", type: "domain", field: "dns.query"),
            sighting(5, 7300, value: "y", type: "sha256", field: "file.sha256"),
        ], rule: "chain")
        #expect(chain.map(\.events) == [[.sighting(1), .sighting(2), .sighting(3)], [.sighting(4), .sighting(5)]])
    }

    @Test("temporal_ordered: one event serves one step only")
    func oneEventOneStep() {
        // A sighting matching both `dns` and `hash` would need a rule whose selections
        // overlap: dns (domain, dns.query) and hash (md5/sha256) never do, so use two rules
        // over the same base rule pair through log lines instead: a line selected by both
        // ssh-fail and ssh-ok alone does not complete `guessed`.
        let both = line(1, 0, "Failed password then Accepted password")
        #expect(both.map { rules.baseRules(matching: $0) } == [0, 1])
        #expect(matches([both], rule: "guessed").isEmpty)
        #expect(matches([both, line(2, 1, "Accepted password")], rule: "guessed").count == 1)
    }

    // MARK: Determinism

    @Test("the same events in any order give the same matches")
    func orderIndependence() {
        var generator = SplitMix64(seed: 7)
        var events: [CorrelationEvent] = []
        let sources = ["203.0.113.9", "198.51.100.7", "192.0.2.1"]
        let hosts = ["10.0.0.5", "10.0.0.6", "gw"]
        for index in 0..<400 {
            let seconds = Int64(generator.next() % 7200)
            switch generator.next() % 4 {
            case 0:
                let text = generator.next() % 3 == 0 ? "Accepted password" : "Failed password"
                if let event = line(UInt64(index), seconds, text, host: hosts[Int(generator.next() % 3)], source: sources[Int(generator.next() % 3)]) {
                    events.append(event)
                }
            case 1:
                events.append(sighting(Int64(index), seconds, value: "d\(generator.next() % 5).example", type: "domain", field: "dns.query", host: hosts[Int(generator.next() % 3)]))
            case 2:
                events.append(sighting(Int64(index), seconds, value: "h\(generator.next() % 5)", type: "md5", field: "file.md5", host: hosts[Int(generator.next() % 3)]))
            default:
                events.append(sighting(Int64(index), seconds, value: "203.0.113.\(generator.next() % 6)", type: "ipv4", field: "ip.dst", feed: "c2-infrastructure", host: hosts[Int(generator.next() % 3)]))
            }
        }
        // Ties in time across kinds, to exercise the reference tiebreak.
        events.append(sighting(5000, 100, value: "d1.example", type: "domain", field: "dns.query"))
        events.append(sighting(5001, 100, value: "h1", type: "md5", field: "file.md5"))
        let expected = rules.evaluate(events: events)
        #expect(Set(expected.map(\.ruleID)) == ["bf", "spread", "chain", "both", "guessed"])
        for _ in 0..<10 {
            events.shuffle(using: &generator)
            #expect(rules.evaluate(events: events) == expected)
        }
    }

    @Test("no events, no matches; extreme times do not trap")
    func edges() {
        #expect(rules.evaluate(events: []).isEmpty)
        let extreme = [
            CorrelationEvent.sighting(.init(id: 1, indicatorValue: "a", indicatorType: "domain", feed: "f", field: "dns.query"), time: Timestamp(nanoseconds: .min), host: "h"),
            CorrelationEvent.sighting(.init(id: 2, indicatorValue: "b", indicatorType: "md5", feed: "f", field: "file.md5"), time: Timestamp(nanoseconds: .max), host: "h"),
            CorrelationEvent.sighting(.init(id: 3, indicatorValue: "b", indicatorType: "md5", feed: "f", field: "file.md5"), time: Timestamp(nanoseconds: .min), host: "h"),
        ]
        let found = rules.evaluate(events: extreme)
        // At the earliest time a DNS and a hash sighting coincide: both temporal rules
        // match (the same instant counts as in order); the latest is alone.
        #expect(found.map(\.ruleID) == ["chain", "both"])
        #expect(found.map(\.events) == [[.sighting(1), .sighting(3)], [.sighting(1), .sighting(3)]])
    }
}

@Suite struct CorrelationRuleSelectionTests {
    @Test("sighting base rules select by type, feed, field and value; line rules by what the ingest passed")
    func sightingSelection() {
        let dns = CorrelationEvent.sighting(
            .init(id: 1, indicatorValue: "evil.example", indicatorType: "domain", feed: "Rules/phishing-domains.txt", field: "dns.query"),
            time: Timestamp(nanoseconds: 0), host: "h")
        let sni = CorrelationEvent.sighting(
            .init(id: 2, indicatorValue: "evil.example", indicatorType: "domain", feed: "Rules/phishing-domains.txt", field: "tls.sni"),
            time: Timestamp(nanoseconds: 0), host: "h")
        let c2 = CorrelationEvent.sighting(
            .init(id: 3, indicatorValue: "203.0.113.1", indicatorType: "ipv4", feed: "c2-infrastructure", field: "ip.dst"),
            time: Timestamp(nanoseconds: 0), host: "h")
        let line = CorrelationEvent.logLine(
            .init(sourceID: 1, lineNumber: 1, offset: 0, baseRules: [0, 99]), time: Timestamp(nanoseconds: 0), host: "h")
        // Base rules in rulesText order: ssh-fail 0, ssh-ok 1, dns 2, hash 3, c2 4.
        #expect(rules.baseRules(matching: dns) == [2])
        #expect(rules.baseRules(matching: sni) == [])
        #expect(rules.baseRules(matching: c2) == [4])
        #expect(rules.baseRules(matching: line) == [0])
        #expect(rules.hasLineRules)
        #expect(!CorrelationRules().hasLineRules)
        #expect(CorrelationRules().evaluate(events: [dns, c2]).isEmpty)
    }

    @Test("a value list selects only its values")
    func valueList() {
        let text = """
            name: one
            title: one value
            selection: {indicator: [evil.example, bad.example]}
            ---
            title: twice
            id: twice
            severity: info
            correlation: {type: event_count, rules: one, timespan: 1m, condition: {gte: 2}}
            """
        let (loaded, diagnostics) = CorrelationRules.load(text: text, file: "v.yml")
        #expect(diagnostics.isEmpty)
        let events = ["evil.example", "good.example", "bad.example"].enumerated().map { index, value in
            CorrelationEvent.sighting(
                .init(id: Int64(index), indicatorValue: value, indicatorType: "domain", feed: "f", field: "dns.query"),
                time: Timestamp(seconds: Int64(index)), host: "h")
        }
        let found = loaded.evaluate(events: events)
        #expect(found.map(\.events) == [[.sighting(0), .sighting(2)]])
        #expect(found.first?.group == "")
        #expect(found.first?.peak == 2)
    }
}

@Test("selectsSighting: only sightings some base rule selects; dropping the others changes no match")
func selectsSightingKeepsWhatMatters() {
    func payload(_ event: CorrelationEvent) -> CorrelationEvent.Sighting? {
        if case .sighting(let sighting) = event.payload { return sighting }
        return nil
    }
    let events = [
        sighting(1, 0, value: "evil.example", type: "domain", field: "dns.query"),
        sighting(2, 10, value: "evil.example", type: "domain", field: "tls.sni"),  // no rule selects SNI
        sighting(3, 20, value: String(repeating: "a", count: 64), type: "sha256", field: "file.sha256"),
        sighting(4, 30, value: "203.0.113.7", type: "ipv4", field: "ip.dst"),  // another feed
        sighting(5, 40, value: "203.0.113.8", type: "ipv4", field: "ip.dst", feed: "Rules/c2-infrastructure.txt"),
    ]
    #expect(events.map { payload($0).map(rules.selectsSighting) } == [true, false, true, false, true])
    let kept = events.filter { payload($0).map(rules.selectsSighting) ?? true }
    #expect(rules.evaluate(events: kept) == rules.evaluate(events: events))
    #expect(!rules.evaluate(events: events).isEmpty)
}
