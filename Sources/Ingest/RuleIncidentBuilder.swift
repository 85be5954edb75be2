import CaseStore
import Correlation
import Observations

/// Turns the matches of correlation rules over all events of the case (its sightings
/// and the log lines base rules selected) into rule incidents.
struct RuleIncidentBuilder {
    let rules: CorrelationRules

    /// A sighting as correlation rules see it.
    static func sighting(_ fact: SightingFact) -> CorrelationEvent.Sighting {
        .init(id: fact.id, indicatorValue: fact.indicatorValue, indicatorType: fact.indicatorType,
              feed: fact.feed, field: fact.field)
    }

    func incidents(facts: [SightingFact], lineEvents: [StoredLineEvent]) -> [RuleIncident] {
        var events: [CorrelationEvent] = []
        events.reserveCapacity(facts.count + lineEvents.count)
        // Sighting id → index into `facts` (not a copy of the facts: a case holds millions).
        var factIndex: [Int64: Int] = [:]
        factIndex.reserveCapacity(facts.count)
        for (index, fact) in facts.enumerated() {
            factIndex[fact.id] = index
            events.append(.sighting(Self.sighting(fact), time: fact.time, host: fact.host))
        }
        // Base rules are stored by name: a rule renamed or removed since selects nothing.
        var indexByName: [String: Int] = [:]
        for (index, rule) in rules.baseRules.enumerated() { indexByName[rule.name] = index }
        var lineIDs: [CorrelationEvent.Reference: (id: Int64, host: String)] = [:]
        for line in lineEvents {
            let selected = line.baseRules.compactMap { indexByName[$0] }
            guard !selected.isEmpty else { continue }
            let event = CorrelationEvent.logLine(
                .init(sourceID: line.sourceID, lineNumber: line.line, offset: line.offset, baseRules: selected),
                time: line.time, host: line.host, logSource: line.logSource, logDestination: line.logDestination)
            lineIDs[event.reference] = (line.id, line.host)
            events.append(event)
        }
        return rules.evaluate(events: events).map { match in
            var sightingIDs: [Int64] = []
            var lineEventIDs: [Int64] = []
            var hosts: [String] = []
            for reference in match.events {
                switch reference {
                case .sighting(let id):
                    sightingIDs.append(id)
                    if let index = factIndex[id] { hosts.append(facts[index].host) }
                case .logLine:
                    if let line = lineIDs[reference] {
                        lineEventIDs.append(line.id)
                        hosts.append(line.host)
                    }
                }
            }
            let matched = sightingIDs.compactMap { factIndex[$0].map { facts[$0] } }
            let values = Set(matched.map(\.indicatorValue))
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let host = hosts.first { !$0.isEmpty } ?? Correlator.unknownHost
            return RuleIncident(
                ruleID: match.ruleID, groupKey: match.group, host: host, firstSeen: match.firstSeen,
                lastSeen: match.lastSeen, severity: match.severity,
                confidence: matched.isEmpty ? 50 : Assessment(matched).confidence,
                title: match.group.isEmpty ? match.title : "\(match.title) — \(match.group)",
                explanation: match.explanation, indicatorValues: values, sightingIDs: sightingIDs.sorted(),
                lineEventIDs: lineEventIDs.sorted())
        }
    }
}
