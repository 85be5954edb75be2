import Foundation
import Observations
import Testing
@testable import Correlation

/// A valid base rule of log lines, as documents to build on.
private let sshBase = """
    name: ssh-fail
    title: failed ssh password
    selection:
      program: sshd
      message|contains: Failed password
    """

@Suite struct CorrelationRuleParserTests {
    @Test("a base rule and an event_count rule load with every field")
    func loadsEventCount() {
        let text = sshBase + """

            ---
            title: SSH brute force
            id: ssh-bf
            severity: high
            correlation:
              type: event_count
              rules: [ssh-fail]
              group-by: [log.src]
              timespan: 5m
              condition: {gte: 20}
            """
        let (rules, diagnostics) = CorrelationRules.load(text: text, file: "r.yml")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(rules.baseRules.map(\.name) == ["ssh-fail"])
        #expect(rules.baseRules.first?.selection == .logLine(BaseRule.LineSelection(contains: ["Failed password"], programs: ["sshd"])))
        let rule = rules.correlations.first
        #expect(rule?.id == "ssh-bf")
        #expect(rule?.title == "SSH brute force")
        #expect(rule?.severity == .high)
        #expect(rule?.kind == .eventCount)
        #expect(rule?.baseRuleIndices == [0])
        #expect(rule?.groupBy == [.logSource])
        #expect(rule?.timespan == 300_000_000_000)
        #expect(rule?.condition == CorrelationRule.Condition([.gte(20)]))
        #expect(rule?.file == "r.yml")
        #expect(rule?.line == 7)
    }

    @Test("Sigma spellings: level for severity, temporal with ordered: true, value_count field")
    func sigmaSpellings() {
        let text = """
            name: a
            title: A
            selection: {indicator.type: domain, field: dns.query}
            ---
            name: b
            title: B
            selection:
              indicator.type: [md5, sha256]
              indicator.feed: hashes
              indicator: [d41d8cd98f00b204e9800998ecf8427e]
            ---
            title: ordered
            id: o
            level: critical
            correlation: {type: temporal, ordered: true, rules: [a, b], group-by: host, timespan: 10m}
            ---
            title: spread
            id: v
            severity: low
            correlation:
              type: value_count
              rules: a
              timespan: 1h
              condition: {gte: 3, lte: 10, field: indicator}
            """
        let (rules, diagnostics) = CorrelationRules.load(text: text, file: "s.yml")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(rules.correlations.map(\.kind) == [.temporalOrdered, .valueCount])
        #expect(rules.correlations.first?.severity == .critical)
        #expect(rules.correlations.first?.baseRuleIndices == [0, 1])
        #expect(rules.correlations.last?.valueField == .indicator)
        #expect(rules.correlations.last?.groupBy == [])
        #expect(rules.correlations.last?.condition == CorrelationRule.Condition([.gte(3), .lte(10)]))
        #expect(rules.baseRules.last?.selection == .sighting(BaseRule.SightingSelection(
            indicatorTypes: ["md5", "sha256"], feeds: ["hashes"], values: ["d41d8cd98f00b204e9800998ecf8427e"])))
    }

    @Test(
        "timespans",
        arguments: [
            ("30s", Int64(30_000_000_000)), ("5m", 300_000_000_000), ("1h", 3_600_000_000_000),
            ("1d", 86_400_000_000_000), ("0m", nil), ("5", nil), ("m", nil), ("5 m", nil), ("-5m", nil),
            ("05m", nil), ("5w", nil), ("99999999999999d", nil), ("1.5h", nil),
        ] as [(String, Int64?)]
    )
    func timespans(text: String, nanoseconds: Int64?) {
        #expect(DocumentTimespan.parse(text) == nanoseconds)
    }

    /// The timespan parser, reachable from tests.
    fileprivate enum DocumentTimespan {
        static func parse(_ text: String) -> Int64? {
            let yaml = sshBase + "\n---\ntitle: t\nid: t\nseverity: low\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: \"\(text)\"\n  condition: {gte: 1}\n"
            return CorrelationRules.load(text: yaml, file: "t.yml").rules.correlations.first?.timespan
        }
    }

    /// Each case: a document (appended after `sshBase` and a `---`, so its first line is
    /// line 7) and the exact diagnostics.
    @Test(
        "errors are reported at file:line:column",
        arguments: [
            (
                "title: x\nid: x\nseverity: high\ncolor: red\ncorrelation: {type: event_count, rules: ssh-fail, timespan: 5m, condition: {gte: 1}}",
                ["e.yml:10:1: error: unknown key `color` in a correlation rule (expected one of: title, id, name, severity, level, correlation)"]
            ),
            (
                "title: x\nid: x\nseverity: high\ncorrelation:\n  type: event_count\n  rules: [ssh-fail, nope]\n  timespan: 5m\n  condition: {gte: 1}",
                ["e.yml:12:21: error: unknown rule `nope`: no base rule has this name"]
            ),
            (
                "title: x\nid: x\nseverity: high\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: 5 minutes\n  condition: {gte: 1}",
                ["e.yml:13:13: error: bad timespan `5 minutes`: expected a positive whole number and a unit s, m, h or d (e.g. 30s, 5m, 1h, 1d)"]
            ),
            (
                "title: x\nid: x\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: 5m\n  condition: {gte: 1}",
                ["e.yml:7:1: error: a correlation rule lacks `severity` (info, low, medium, high or critical)"]
            ),
            (
                "title: x\nid: x\nseverity: severe\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: 5m\n  condition: {gte: 1}",
                ["e.yml:9:11: error: unknown severity `severe` (expected info, low, medium, high or critical)"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: 5m\n  condition: {gte: many}",
                ["e.yml:14:20: error: `gte` must be a whole number, 0 or more"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: 5m",
                ["e.yml:11:3: error: `correlation` lacks `condition` (e.g. `condition: {gte: 20}`)"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: value_count\n  rules: ssh-fail\n  timespan: 5m\n  condition: {gte: 3}",
                ["e.yml:14:14: error: a value_count condition needs `field` (the field whose distinct values are counted)"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  timespan: 5m\n  condition: {gte: 3, field: host}",
                ["e.yml:14:23: error: `field` belongs only in a value_count condition"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: sequence\n  rules: ssh-fail\n  timespan: 5m",
                ["e.yml:11:9: error: unknown correlation type `sequence` (expected one of: event_count, value_count, temporal, temporal_ordered)"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: event_count\n  rules: ssh-fail\n  group-by: [host, user]\n  timespan: 5m\n  condition: {gte: 3}",
                ["e.yml:13:20: error: cannot group by `user` (expected one of: host, log.src, log.dst, indicator)"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: temporal\n  rules: ssh-fail\n  timespan: 5m",
                ["e.yml:12:10: error: a temporal correlation needs at least two rules"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation: [event_count]",
                ["e.yml:10:14: error: `correlation` must be a mapping (type, rules, group-by, timespan, condition)"]
            ),
            (
                "title: x\nid: x\nseverity: low\ncorrelation:\n  type: event_count\n  rules: {name: ssh-fail}\n  timespan: 5m\n  condition: {gte: 3}",
                ["e.yml:12:10: error: `rules` must be a text value or a list of them"]
            ),
            (
                "name: b\ntitle: b\nselection:\n  indicator.type: [domain, hostname]",
                ["e.yml:10:28: error: unknown indicator type `hostname` (expected one of: ipv4, ipv6, cidr, domain, md5, sha1, sha256, url, email)"]
            ),
            (
                "name: b\ntitle: b\nselection:\n  program: sshd\n  field: log.src",
                ["e.yml:10:3: error: a selection is either of sightings (`indicator…`, `field`) or of log lines (`message|contains`, `program`), not both"]
            ),
            (
                "name: b\ntitle: b\nselection:\n  program: sshd",
                ["e.yml:10:3: error: a log-line selection needs `message|contains`"]
            ),
            (
                "name: b\nselection:\n  message|contains: x\n  message|contains: y",
                [
                    "e.yml:7:1: error: a base rule lacks `title`",
                    "e.yml:10:3: error: duplicate key `message|contains`",
                ]
            ),
            (
                "name: ssh-fail\ntitle: again\nselection: {message|contains: x}",
                ["e.yml:7:7: error: base rule `ssh-fail` is already defined at e.yml:1"]
            ),
            (
                "name: b\ntitle: b\nselection: {message|contains: \"\"}",
                ["e.yml:9:31: error: `message|contains` must not be empty"]
            ),
            (
                "title: x\n  id: [unclosed",
                ["e.yml:8:5: error: YAML syntax: mapping values are not allowed in this context"]
            ),
            (
                "- just\n- a list",
                ["e.yml:7:1: error: a rule document must be a mapping of keys to values"]
            ),
            (
                "title: what am I",
                ["e.yml:7:1: error: a document needs `selection` (a base rule) or `correlation` (a correlation rule)"]
            ),
        ] as [(String, [String])]
    )
    func errors(document: String, expected: [String]) {
        let text = sshBase + "\n---\n" + document + "\n"
        let (rules, diagnostics) = CorrelationRules.load(text: text, file: "e.yml")
        #expect(diagnostics.map(\.description) == expected)
        // The good base rule still loads; the bad document yields nothing.
        #expect(rules.baseRules.map(\.name) == ["ssh-fail"])
        #expect(rules.correlations.isEmpty)
    }

    @Test("a bad document loses only itself; later documents and other files still load")
    func errorsAreContained() {
        let first = """
            name: a
            title: A
            selection: {field: dns.query}
            ---
            name: broken
            title: [
            ---
            name: b
            title: B
            selection: {field: file.sha256}
            """
        let second = """
            title: uses both
            id: ab
            severity: medium
            correlation: {type: temporal_ordered, rules: [a, b], group-by: host, timespan: 10m}
            ---
            title: uses the broken one
            id: broken-user
            severity: medium
            correlation: {type: temporal, rules: [a, broken], timespan: 10m}
            """
        let (rules, diagnostics) = CorrelationRules.load(texts: [("one.yml", first), ("two.yml", second)])
        #expect(rules.baseRules.map(\.name) == ["a", "b"])
        #expect(rules.correlations.map(\.id) == ["ab"])
        #expect(diagnostics.count == 2)
        #expect(diagnostics.first?.file == "one.yml")
        #expect(diagnostics.first?.description == "one.yml:6:9: error: YAML syntax: while parsing a flow node, did not find expected node content")
        #expect(diagnostics.last?.description == "two.yml:9:42: error: base rule `broken` has errors (see above)")
    }

    @Test("duplicate correlation ids are refused")
    func duplicateIDs() {
        let rule = "title: t\nid: same\nseverity: low\ncorrelation: {type: event_count, rules: ssh-fail, timespan: 1m, condition: {gte: 2}}"
        let (rules, diagnostics) = CorrelationRules.load(text: sshBase + "\n---\n" + rule + "\n---\n" + rule, file: "d.yml")
        #expect(rules.correlations.count == 1)
        #expect(diagnostics.map(\.description) == ["d.yml:13:5: error: correlation id `same` is already used at d.yml:7"])
    }

    @Test("comments, blank documents and a leading --- are fine")
    func blankDocuments() {
        let text = "# rules\n---\n" + sshBase + "\n---\n# nothing here\n---\n"
        let (rules, diagnostics) = CorrelationRules.load(text: text, file: "b.yml")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(rules.baseRules.first?.line == 3)
    }

    @Test("the shipped Rules/correlation load without diagnostics")
    func shippedRules() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("Rules/correlation").path
        let (rules, diagnostics) = CorrelationRules.load(directory: directory)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description))")
        #expect(Set(rules.correlations.map(\.id)) == ["ssh-brute-force", "c2-indicator-spread", "dns-then-download"])
        #expect(Set(rules.correlations.map(\.kind)) == [.eventCount, .valueCount, .temporalOrdered])
    }

    @Test("a missing directory is one diagnostic")
    func missingDirectory() {
        let (rules, diagnostics) = CorrelationRules.load(directory: "/nonexistent/correlation")
        #expect(rules.correlations.isEmpty)
        #expect(diagnostics.map(\.description) == ["/nonexistent/correlation:0:0: error: cannot list directory"])
    }
}
