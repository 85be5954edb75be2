import Observations
import Testing
@testable import Correlation
import TestSupport

/// A sighting at `minutes` (plus `extraNanoseconds`) after a fixed origin.
private func fact(
    _ id: Int64, host: String = "10.0.0.5", minutes: Int64, extraNanoseconds: Int64 = 0,
    value: String = "evil.example", kind: SourceKind = .pcap
) -> SightingFact {
    let origin: Int64 = 1_700_000_000 * 1_000_000_000
    return SightingFact(
        id: id, host: host,
        time: Timestamp(nanoseconds: origin + minutes * 60_000_000_000 + extraNanoseconds),
        indicatorID: Int64(value.utf8.count), indicatorValue: value, sourceKind: kind)
}

@Test("exactly the gap apart joins one incident")
func gapBoundaryJoins() {
    let incidents = Correlator().incidents(from: [fact(1, minutes: 0), fact(2, minutes: 30)])
    #expect(incidents.count == 1)
    #expect(incidents.first?.sightingIDs == [1, 2])
    let span: Int64? = incidents.first.map { $0.lastSeen.nanoseconds - $0.firstSeen.nanoseconds }
    #expect(span == Int64(30 * 60) * 1_000_000_000)
}

@Test("one nanosecond more than the gap splits")
func gapBoundarySplits() {
    let incidents = Correlator().incidents(from: [fact(1, minutes: 0), fact(2, minutes: 30, extraNanoseconds: 1)])
    #expect(incidents.map(\.sightingIDs) == [[1], [2]])
}

@Test("a chain of hits within the gap stays one incident longer than the gap")
func chainedHitsStayTogether() {
    let facts = (0..<5).map { fact(Int64($0), minutes: Int64($0) * 25) }
    let incidents = Correlator().incidents(from: facts)
    #expect(incidents.count == 1)
    #expect(incidents.first?.sightingIDs == [0, 1, 2, 3, 4])
}

@Test("a custom gap is honoured")
func customGap() {
    let incidents = Correlator(gapSeconds: 60).incidents(from: [fact(1, minutes: 0), fact(2, minutes: 1), fact(3, minutes: 3)])
    #expect(incidents.map(\.sightingIDs) == [[1, 2], [3]])
}

@Test("hosts are correlated apart, output sorted by first seen then host")
func hostsApartAndSorted() {
    let facts = [
        fact(1, host: "10.0.0.9", minutes: 5),
        fact(2, host: "10.0.0.5", minutes: 5),
        fact(3, host: "10.0.0.5", minutes: 0),
        fact(4, host: "10.0.0.9", minutes: 100),
        fact(5, host: "10.0.0.1", minutes: 50),
    ]
    let incidents = Correlator().incidents(from: facts)
    #expect(incidents.map(\.host) == ["10.0.0.5", "10.0.0.9", "10.0.0.1", "10.0.0.9"])
    #expect(incidents.map(\.sightingIDs) == [[2, 3], [1], [5], [4]])
}

@Test("the output does not depend on the input order")
func orderIndependence() {
    var facts: [SightingFact] = []
    let hosts = ["10.0.0.5", "10.0.0.6", "", "mail01"]
    let values = ["203.0.113.7", "evil.example", "d41d8cd98f00b204e9800998ecf8427e", "bad.example"]
    var generator = SplitMix64(seed: 42)
    for id in 0..<300 {
        let host = hosts[Int(generator.next() % 4)]
        let value = values[Int(generator.next() % 4)]
        let minutes = Int64(generator.next() % 600)
        let kind: SourceKind = generator.next() % 2 == 0 ? .pcapng : .gzip
        facts.append(fact(Int64(id), host: host, minutes: minutes, value: value, kind: kind))
    }
    // Same times for different ids, to exercise the id tie-break.
    facts.append(fact(1000, host: "10.0.0.5", minutes: 10))
    facts.append(fact(1001, host: "10.0.0.5", minutes: 10, value: "other.example"))
    let expected = Correlator().incidents(from: facts)
    #expect(expected.count > 4)
    #expect(expected.reduce(0) { $0 + $1.sightingIDs.count } == facts.count)
    for _ in 0..<20 {
        facts.shuffle(using: &generator)
        #expect(Correlator().incidents(from: facts) == expected)
    }
}

/// One sighting of the severity table: value, source kind, indicator severity and
/// confidence, feed.
typealias Hit = (value: String, kind: SourceKind, severity: Severity?, confidence: Int?, feed: String)

@Test(
    "severity and confidence follow the documented formula",
    arguments: [
        // One indicator, no metadata, one kind of source: the base.
        ([("a.example", .pcap, nil, nil, "f")], Severity.low, 50),
        ([("a.example", .text, nil, nil, "f"), ("a.example", .gzip, nil, nil, "f")], .low, 50),
        // Each of: several indicators, several feeds, corroboration raises one level.
        ([("a.example", .pcap, nil, nil, "f"), ("b.example", .pcapng, nil, nil, "f")], .medium, 50),
        ([("a.example", .pcap, nil, nil, "f"), ("a.example", .pcap, nil, nil, "g")], .medium, 60),
        ([("a.example", .pcap, nil, nil, "f"), ("a.example", .text, nil, nil, "f")], .medium, 60),
        ([("a.example", .pcap, nil, nil, "f"), ("b.example", .gzip, nil, nil, "g")], .critical, 70),
        // The base is the highest indicator severity; raised at most to critical.
        ([("a.example", .pcap, .info, nil, "f")], .info, 50),
        ([("a.example", .pcap, .high, 80, "f"), ("b.example", .pcap, .low, 95, "f")], .critical, 95),
        ([("a.example", .pcap, .critical, 10, "f"), ("b.example", .text, nil, nil, "g")], .critical, 70),
        // Confidence is capped at 100.
        ([("a.example", .pcap, nil, 100, "f"), ("a.example", .text, nil, nil, "g")], .high, 100),
    ] as [([Hit], Severity, Int)]
)
func severityCases(hits: [Hit], severity: Severity, confidence: Int) {
    let facts = hits.enumerated().map { index, hit in
        var sighting = fact(Int64(index), minutes: Int64(index), value: hit.value, kind: hit.kind)
        sighting.indicatorSeverity = hit.severity
        sighting.indicatorConfidence = hit.confidence
        sighting.feed = hit.feed
        return sighting
    }
    let incidents = Correlator().incidents(from: facts)
    #expect(incidents.count == 1)
    #expect(incidents.first?.severity == severity)
    #expect(incidents.first?.confidence == confidence)
    #expect(incidents.first?.explanation.contains("Severity \(severity.rawValue): ") == true)
}

@Test("titles name the host, the count and up to three sorted values")
func titles() {
    let two = Correlator().incidents(from: [
        fact(1, minutes: 0, value: "evil.example"), fact(2, minutes: 1, value: "203.0.113.7"),
    ])
    #expect(two.first?.title == "10.0.0.5: 2 indicators — 203.0.113.7, evil.example")
    #expect(two.first?.indicatorValues == ["203.0.113.7", "evil.example"])

    let one = Correlator().incidents(from: [fact(1, minutes: 0), fact(2, minutes: 1)])
    #expect(one.first?.title == "10.0.0.5: 1 indicator — evil.example")

    let four = Correlator().incidents(from: ["d.example", "c.example", "b.example", "a.example"].enumerated().map {
        fact(Int64($0.offset), minutes: 0, value: $0.element)
    })
    #expect(four.first?.title == "10.0.0.5: 4 indicators — a.example, b.example, c.example, …")
}

@Test("sightings without a host go to (unknown)")
func unknownHost() {
    let incidents = Correlator().incidents(from: [fact(1, host: "", minutes: 0), fact(2, host: "", minutes: 1)])
    #expect(incidents.count == 1)
    #expect(incidents.first?.host == "(unknown)")
    #expect(incidents.first?.title.hasPrefix("(unknown): 1 indicator") == true)
}

@Test("extreme timestamps do not trap and stay apart")
func extremeTimes() {
    let facts = [
        SightingFact(id: 1, host: "h", time: Timestamp(nanoseconds: .min), indicatorID: 1, indicatorValue: "x", sourceKind: .text),
        SightingFact(id: 2, host: "h", time: Timestamp(nanoseconds: .max), indicatorID: 1, indicatorValue: "x", sourceKind: .text),
    ]
    #expect(Correlator().incidents(from: facts).map(\.sightingIDs) == [[1], [2]])
}

@Test("no sightings, no incidents")
func empty() {
    #expect(Correlator().incidents(from: []).isEmpty)
}

/// A small seeded generator so the shuffles are reproducible.
