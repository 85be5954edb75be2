import Observations

extension CorrelationRules {
    /// The matches of every correlation rule over `events`, in event time.
    ///
    /// Deterministic: the result depends only on the set of events, never on their
    /// order (events are ordered by time, then by `reference`; give every event a
    /// distinct reference). Matches are listed by first event time, then rule (file
    /// order), then group.
    ///
    /// Each rule sweeps its events once in that order, keeping per group only the
    /// events inside the current window (plus the evidence of a match in progress):
    /// O(n log n) for the sort, O(n) for the sweep.
    public func evaluate(events: [CorrelationEvent]) -> [RuleMatch] {
        var matches: [RuleMatch] = []
        for rule in correlations {
            matches += evaluate(rule, events: events)
        }
        let order = Dictionary(uniqueKeysWithValues: correlations.enumerated().map { ($1.id, $0) })
        matches.sort {
            ($0.firstSeen.nanoseconds, order[$0.ruleID] ?? 0) < ($1.firstSeen.nanoseconds, order[$1.ruleID] ?? 0)
                || (($0.firstSeen.nanoseconds, order[$0.ruleID] ?? 0) == ($1.firstSeen.nanoseconds, order[$1.ruleID] ?? 0)
                    && $0.group.utf8.lexicographicallyPrecedes($1.group.utf8))
        }
        return matches
    }

    /// The matches of one rule.
    func evaluate(_ rule: CorrelationRule, events: [CorrelationEvent]) -> [RuleMatch] {
        var sweep = RuleSweep(rule: rule, rules: self, events: events)
        return sweep.run()
    }
}

/// One event of one rule's sweep: its time, its index in the caller's array, the
/// rule's steps (referenced base rules) it matches, its group and counted value.
private struct Entry {
    var time: Int64
    var event: Int32
    var group: Int32
    var value: Int32
    var steps: UInt32
}

/// The evidence of a match in progress: the union of the satisfying windows of one group
/// that overlap in time.
private struct Burst {
    var first: Int64
    var last: Int64
    /// Positions in the sorted entries; ascending for window kinds.
    var positions: [Int]
    /// The largest count among its satisfying windows.
    var peak: Int
}

/// The state of one group: the window's entries (positions, oldest first from `head`),
/// the counts the condition needs, and the open burst.
private struct GroupState {
    var window: [Int] = []
    var head = 0
    /// For `value_count`: occurrences of each value in the window.
    var valueCounts: [Int32: Int32] = [:]
    /// For `temporal`: occurrences of each step in the window, and how many are non-zero.
    var stepCounts: [Int32] = []
    var stepsPresent = 0
    /// For `temporal_ordered`: per step, the latest-starting chain covering steps 0…k.
    var chains: [(start: Int64, positions: [Int])?] = []
    var burst: Burst?

    var windowCount: Int { window.count - head }
}

private struct RuleSweep {
    let rule: CorrelationRule
    let events: [CorrelationEvent]
    let stepCount: Int
    var entries: [Entry] = []
    var groupKeys: [[String]] = []
    var values: [String] = []
    var groups: [GroupState] = []
    var matches: [RuleMatch] = []

    /// Rules referencing more base rules than this are evaluated on the first 32 only;
    /// the parser refuses them, so this is a guard, not a limit anyone meets.
    static let maximumSteps = 32

    init(rule: CorrelationRule, rules: CorrelationRules, events: [CorrelationEvent]) {
        self.rule = rule
        self.events = events
        stepCount = min(rule.baseRuleIndices.count, RuleSweep.maximumSteps)
        collect(rules: rules)
    }

    // MARK: Selecting and ordering the rule's events

    private mutating func collect(rules: CorrelationRules) {
        var groupIDs: [GroupKey: Int32] = [:]
        var valueIDs: [String: Int32] = [:]
        let steps = rule.baseRuleIndices.prefix(stepCount).map { rules.baseRules[$0].selection }
        let stepIndices = Array(rule.baseRuleIndices.prefix(stepCount))
        for (index, event) in events.enumerated() {
            var mask: UInt32 = 0
            switch event.payload {
            case .sighting(let sighting):
                for (step, selection) in steps.enumerated() {
                    if case .sighting(let select) = selection, select.matches(sighting) { mask |= 1 << UInt32(step) }
                }
            case .logLine(let line):
                for (step, baseIndex) in stepIndices.enumerated() where line.baseRules.contains(baseIndex) {
                    mask |= 1 << UInt32(step)
                }
            }
            guard mask != 0, let key = GroupKey(event, rule.groupBy) else { continue }
            var value: Int32 = -1
            if let field = rule.valueField {
                guard let text = RuleSweep.value(of: field, in: event) else { continue }
                if let id = valueIDs[text] {
                    value = id
                } else {
                    value = Int32(values.count)
                    valueIDs[text] = value
                    values.append(text)
                }
            }
            let group: Int32
            if let id = groupIDs[key] {
                group = id
            } else {
                group = Int32(groupKeys.count)
                groupIDs[key] = group
                groupKeys.append(key.values)
            }
            entries.append(Entry(time: event.time.nanoseconds, event: Int32(truncatingIfNeeded: index), group: group, value: value, steps: mask))
        }
        let events = self.events
        entries.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            let (ra, rb) = (events[Int(a.event)].reference, events[Int(b.event)].reference)
            if ra != rb { return ra < rb }
            return a.event < b.event
        }
        groups = Array(repeating: GroupState(), count: groupKeys.count)
    }

    static func value(of field: CorrelationRule.ValueField, in event: CorrelationEvent) -> String? {
        var sighting: CorrelationEvent.Sighting?
        var line: CorrelationEvent.LogLine?
        switch event.payload {
        case .sighting(let s): sighting = s
        case .logLine(let l): line = l
        }
        let text: String?
        switch field {
        case .host: text = event.host.isEmpty ? Correlator.unknownHost : event.host
        case .logSource: text = event.logSource
        case .logDestination: text = event.logDestination
        case .indicator: text = sighting?.indicatorValue
        case .indicatorType: text = sighting?.indicatorType
        case .feed: text = sighting?.feed
        case .field: text = sighting?.field
        case .program: text = line?.program
        }
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    // MARK: The sweep

    mutating func run() -> [RuleMatch] {
        var start = 0
        var touched: [Int32] = []
        var batch: [Int] = []
        var seen = [Bool](repeating: false, count: groups.count)
        while start < entries.count {
            let time = entries[start].time
            var end = start
            while end < entries.count, entries[end].time == time { end += 1 }
            // A window is [time - timespan, time]; a time so early that the subtraction
            // overflows keeps everything.
            let (difference, overflow) = time.subtractingReportingOverflow(rule.timespan)
            let cutoff = overflow ? Int64.min : difference
            touched.removeAll(keepingCapacity: true)
            for position in start..<end {
                let group = entries[position].group
                if !seen[Int(group)] {
                    seen[Int(group)] = true
                    touched.append(group)
                    if rule.kind != .temporalOrdered { expire(group: Int(group), before: cutoff) }
                }
                if rule.kind != .temporalOrdered { add(position, to: Int(group)) }
            }
            if rule.kind == .temporalOrdered {
                // The batch's events by group, each group's in sorted order.
                batch.removeAll(keepingCapacity: true)
                batch.append(contentsOf: start..<end)
                if batch.count > 1 { batch.sort { (entries[$0].group, $0) < (entries[$1].group, $1) } }
                var from = 0
                while from < batch.count {
                    let group = entries[batch[from]].group
                    var to = from
                    while to < batch.count, entries[batch[to]].group == group { to += 1 }
                    advanceChains(group: Int(group), batch: Array(batch[from..<to]), time: time, cutoff: cutoff)
                    from = to
                }
            }
            for group in touched {
                seen[Int(group)] = false
                if rule.kind != .temporalOrdered { check(group: Int(group), time: time) }
            }
            start = end
        }
        for group in groups.indices where groups[group].burst != nil {
            close(group: group)
        }
        return matches
    }

    private mutating func expire(group: Int, before cutoff: Int64) {
        while groups[group].head < groups[group].window.count {
            let position = groups[group].window[groups[group].head]
            guard entries[position].time < cutoff else { break }
            groups[group].head += 1
            let entry = entries[position]
            switch rule.kind {
            case .valueCount:
                let remaining = (groups[group].valueCounts[entry.value] ?? 1) - 1
                groups[group].valueCounts[entry.value] = remaining > 0 ? remaining : nil
            case .temporal:
                forEachStep(entry.steps) { step in
                    groups[group].stepCounts[step] -= 1
                    if groups[group].stepCounts[step] == 0 { groups[group].stepsPresent -= 1 }
                }
            case .eventCount, .temporalOrdered:
                break
            }
        }
        // Compact now and then so the array holds about the window, not the history.
        if groups[group].head > 64, groups[group].head * 2 > groups[group].window.count {
            groups[group].window.removeFirst(groups[group].head)
            groups[group].head = 0
        }
    }

    private mutating func add(_ position: Int, to group: Int) {
        groups[group].window.append(position)
        let entry = entries[position]
        switch rule.kind {
        case .valueCount:
            groups[group].valueCounts[entry.value, default: 0] += 1
        case .temporal:
            if groups[group].stepCounts.isEmpty { groups[group].stepCounts = Array(repeating: 0, count: stepCount) }
            forEachStep(entry.steps) { step in
                if groups[group].stepCounts[step] == 0 { groups[group].stepsPresent += 1 }
                groups[group].stepCounts[step] += 1
            }
        case .eventCount, .temporalOrdered:
            break
        }
    }

    private func forEachStep(_ mask: UInt32, _ body: (Int) -> Void) {
        var remaining = mask
        while remaining != 0 {
            body(remaining.trailingZeroBitCount)
            remaining &= remaining - 1
        }
    }

    /// Tests the window of `group` that ends at `time`; a satisfying window opens a burst
    /// or extends the open one when they overlap.
    private mutating func check(group: Int, time: Int64) {
        let state = groups[group]
        let count: Int
        switch rule.kind {
        case .eventCount: count = state.windowCount
        case .valueCount: count = state.valueCounts.count
        case .temporal: count = state.stepsPresent
        case .temporalOrdered: return
        }
        guard state.windowCount > 0, rule.condition.holds(for: count) else { return }
        let first = entries[state.window[state.head]].time
        if var burst = groups[group].burst, first <= burst.last {
            groups[group].burst = nil  // keep the positions array uniquely referenced
            let lastAdded = burst.positions.last ?? -1
            for index in state.head..<state.window.count where state.window[index] > lastAdded {
                burst.positions.append(state.window[index])
            }
            burst.last = time
            burst.peak = max(burst.peak, count)
            groups[group].burst = burst
        } else {
            if groups[group].burst != nil { close(group: group) }
            groups[group].burst = Burst(
                first: first, last: time, positions: Array(state.window[state.head...]), peak: count)
        }
    }

    /// `temporal_ordered`: extends the group's chains with the events of this time
    /// (each event serving one step) and records a completed chain as a match window.
    private mutating func advanceChains(group: Int, batch positions: [Int], time: Int64, cutoff: Int64) {
        if groups[group].chains.isEmpty { groups[group].chains = Array(repeating: nil, count: stepCount) }
        // Chains that started before the window can no longer complete inside one.
        var old = groups[group].chains
        for step in old.indices where (old[step]?.start ?? .max) < cutoff { old[step] = nil }
        var updated = old
        var completion: (start: Int64, positions: [Int])?
        for first in 0..<stepCount {
            var start = time
            var chain: [Int] = []
            if first > 0 {
                guard let previous = old[first - 1] else { continue }
                start = previous.start
                chain = previous.positions
            }
            var used = Set<Int>()
            for step in first..<stepCount {
                let bit = UInt32(1) << UInt32(step)
                // Prefer the event that matches the fewest steps, so that one matching
                // several is left for a later step; then the earliest.
                let candidate = positions
                    .filter { !used.contains($0) && entries[$0].steps & bit != 0 }
                    .min { (entries[$0].steps.nonzeroBitCount, $0) < (entries[$1].steps.nonzeroBitCount, $1) }
                guard let candidate else { break }
                used.insert(candidate)
                chain.append(candidate)
                if updated[step].map({ start > $0.start }) ?? true { updated[step] = (start, chain) }
                if step == stepCount - 1, completion.map({ start > $0.start }) ?? true { completion = (start, chain) }
            }
        }
        groups[group].chains = updated
        guard let completion else { return }
        if var burst = groups[group].burst, completion.start <= burst.last {
            groups[group].burst = nil
            burst.positions += completion.positions
            burst.last = time
            groups[group].burst = burst
        } else {
            if groups[group].burst != nil { close(group: group) }
            groups[group].burst = Burst(first: completion.start, last: time, positions: completion.positions, peak: stepCount)
        }
    }

    // MARK: Reporting

    private mutating func close(group: Int) {
        guard let burst = groups[group].burst else { return }
        groups[group].burst = nil
        let positions = Array(Set(burst.positions)).sorted()
        guard let firstPosition = positions.first, let lastPosition = positions.last else { return }
        let keyValues = groupKeys[group]
        let groupText = zip(rule.groupBy, keyValues).map { "\($0.rawValue)=\($1)" }.joined(separator: ", ")
        var distinct: [String] = []
        if rule.kind == .valueCount {
            distinct = Set(positions.map { values[Int(entries[$0].value)] }).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
        let first = Timestamp(nanoseconds: entries[firstPosition].time)
        let last = Timestamp(nanoseconds: entries[lastPosition].time)
        matches.append(RuleMatch(
            ruleID: rule.id, title: rule.title, severity: rule.severity, kind: rule.kind, group: groupText,
            groupValues: keyValues, firstSeen: first, lastSeen: last,
            events: positions.map { events[Int(entries[$0].event)].reference },
            values: distinct,
            explanation: explanation(group: groupText, peak: burst.peak, events: positions.count, first: first, last: last)))
    }

    private func explanation(group: String, peak: Int, events: Int, first: Timestamp, last: Timestamp) -> String {
        let span = RuleSweep.describe(timespan: rule.timespan)
        let names = rule.baseRuleNames.map { "`\($0)`" }
        let who = group.isEmpty ? "" : " for \(group)"
        var words: String
        switch rule.kind {
        case .eventCount:
            words = "Correlation rule `\(rule.id)` (event_count): \(peak) events of \(names.joined(separator: " or "))\(who) within \(span) (condition \(rule.condition.description))"
        case .valueCount:
            let field = rule.valueField?.rawValue ?? "?"
            words = "Correlation rule `\(rule.id)` (value_count): \(peak) distinct values of \(field) in events of \(names.joined(separator: " or "))\(who) within \(span) (condition \(rule.condition.description))"
        case .temporal:
            words = "Correlation rule `\(rule.id)` (temporal): \(peak) of the rules \(names.joined(separator: ", ")) matched\(who) within \(span) (condition \(rule.condition.description))"
        case .temporalOrdered:
            words = "Correlation rule `\(rule.id)` (temporal_ordered): \(names.joined(separator: " then ")) matched in that order\(who) within \(span)"
        }
        words += "; \(events) event\(events == 1 ? "" : "s") from \(first.iso8601) to \(last.iso8601)."
        return words
    }

    /// `5m`, `90s`, `1h`, `2d`: the largest unit that divides the span.
    static func describe(timespan: Int64) -> String {
        let second: Int64 = 1_000_000_000
        for (unit, size) in [("d", 86_400 * second), ("h", 3600 * second), ("m", 60 * second), ("s", second)]
        where timespan % size == 0 {
            return "\(timespan / size)\(unit)"
        }
        return "\(timespan)ns"
    }
}

/// The group-by values of an event; nil when the event lacks one of them.
private struct GroupKey: Hashable {
    var values: [String]

    init?(_ event: CorrelationEvent, _ fields: [CorrelationRule.GroupField]) {
        values = []
        values.reserveCapacity(fields.count)
        for field in fields {
            let value: String?
            switch field {
            case .host: value = event.host.isEmpty ? Correlator.unknownHost : event.host
            case .logSource: value = event.logSource
            case .logDestination: value = event.logDestination
            case .indicator:
                if case .sighting(let sighting) = event.payload { value = sighting.indicatorValue } else { value = nil }
            }
            guard let value, !value.isEmpty else { return nil }
            values.append(value)
        }
    }
}
