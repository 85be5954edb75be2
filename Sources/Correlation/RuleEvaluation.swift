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
        guard !correlations.isEmpty else { return matches }
        let selected = BaseMatches(rules: self, events: events)
        let order = CorrelationRules.eventOrder(events)
        var ruleOfMatch: [Int] = []
        for (ruleIndex, rule) in correlations.enumerated() {
            var sweep = RuleSweep(rule: rule, selected: selected, events: events, order: order)
            let found = sweep.run()
            matches += found
            ruleOfMatch += repeatElement(ruleIndex, count: found.count)
        }
        // Sort positions by precomputed keys rather than the matches themselves.
        let positions = matches.indices.sorted { a, b in
            let (ka, kb) = ((matches[a].firstSeen.nanoseconds, ruleOfMatch[a]), (matches[b].firstSeen.nanoseconds, ruleOfMatch[b]))
            if ka != kb { return ka < kb }
            return matches[a].group.utf8.lexicographicallyPrecedes(matches[b].group.utf8)
        }
        return positions.map { matches[$0] }
    }

    /// Whether some base rule selects `sighting`. A sighting no base rule selects
    /// plays no part in `evaluate`: a caller streaming a case's sightings keeps only
    /// these.
    public func selectsSighting(_ sighting: CorrelationEvent.Sighting) -> Bool {
        baseRules.contains { rule in
            if case .sighting(let selection) = rule.selection { return selection.matches(sighting) }
            return false
        }
    }

    /// The indices of `events` ordered by time, then reference, then index: one sort of
    /// plain numbers, then the rare runs of equal times ordered by reference.
    static func eventOrder(_ events: [CorrelationEvent]) -> [Int] {
        struct Key { var time: Int64; var index: Int }
        var keys = events.indices.map { Key(time: events[$0].time.nanoseconds, index: $0) }
        keys.sort { ($0.time, $0.index) < ($1.time, $1.index) }
        var start = 0
        while start < keys.count {
            var end = start + 1
            while end < keys.count, keys[end].time == keys[start].time { end += 1 }
            if end - start > 1 {
                keys[start..<end].sort { a, b in
                    let (ra, rb) = (events[a.index].reference, events[b.index].reference)
                    return ra != rb ? ra < rb : a.index < b.index
                }
            }
            start = end
        }
        return keys.map(\.index)
    }

}

/// Which base rules select each event: one bit per base rule, `words` words per event.
/// Computed once for all correlation rules.
private struct BaseMatches {
    let words: Int
    var bits: [UInt64]

    init(rules: CorrelationRules, events: [CorrelationEvent]) {
        let words = (rules.baseRules.count + 63) / 64
        self.words = words
        bits = Array(repeating: 0, count: max(words, 1) * events.count)
        let sightingRules = rules.baseRules.enumerated().compactMap { index, rule -> (Int, BaseRule.SightingSelection)? in
            if case .sighting(let selection) = rule.selection { return (index, selection) }
            return nil
        }
        let count = rules.baseRules.count
        // Sightings share few combinations of type, feed and field: each combination is
        // tested against the rules once, then only indicator values are looked up.
        struct Shape: Hashable {
            var type: String
            var feed: String
            var field: String
        }
        var shapes: [Shape: [Int]] = [:]
        let valueSets = sightingRules.map { Set($0.1.values) }
        for (position, event) in events.enumerated() {
            let base = position * words
            switch event.payload {
            case .sighting(let sighting):
                let shape = Shape(type: sighting.indicatorType, feed: sighting.feed, field: sighting.field)
                let candidates: [Int]
                if let known = shapes[shape] {
                    candidates = known
                } else {
                    candidates = sightingRules.indices.filter { rule in
                        var probe = sighting
                        probe.indicatorValue = ""
                        var selection = sightingRules[rule].1
                        selection.values = []
                        return selection.matches(probe)
                    }
                    shapes[shape] = candidates
                }
                for rule in candidates where valueSets[rule].isEmpty || valueSets[rule].contains(sighting.indicatorValue) {
                    let index = sightingRules[rule].0
                    bits[base + index / 64] |= 1 << UInt64(index % 64)
                }
            case .logLine(let line):
                // Indices come from `baseRules(matchingLine:program:)`; others are ignored.
                for index in line.baseRules where index >= 0 && index < count {
                    bits[base + index / 64] |= 1 << UInt64(index % 64)
                }
            }
        }
    }

    func contains(event: Int, baseRule: Int) -> Bool {
        bits[event * words + baseRule / 64] & (1 << UInt64(baseRule % 64)) != 0
    }
}

/// One event of one rule's sweep: its time, its index in the caller's array, the
/// rule's steps (referenced base rules) it matches, its group and counted value.
private struct Entry {
    var time: Int64
    var event: Int
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
    /// Each group's `field=value, …` text, made when its first match closes.
    var groupTexts: [String?] = []
    var matches: [RuleMatch] = []

    /// Rules referencing more base rules than this are evaluated on the first 32 only;
    /// the parser refuses them, so this is a guard, not a limit anyone meets.
    static let maximumSteps = 32

    /// `order`: the indices of `events` in (time, reference) order.
    init(rule: CorrelationRule, selected: BaseMatches, events: [CorrelationEvent], order: [Int]) {
        self.rule = rule
        self.events = events
        stepCount = min(rule.baseRuleIndices.count, RuleSweep.maximumSteps)
        collect(selected, order: order)
    }

    // MARK: Selecting and ordering the rule's events

    /// The rule's entries, in `order` (so sorted), with their groups and values interned.
    private mutating func collect(_ selected: BaseMatches, order: [Int]) {
        var groupIDs: [GroupKey: Int32] = [:]
        var valueIDs: [String: Int32] = [:]
        let steps = Array(rule.baseRuleIndices.prefix(stepCount))
        // One mask per word over the rule's base rules, to skip other events fast.
        var ruleWords = [UInt64](repeating: 0, count: max(selected.words, 1))
        for index in steps { ruleWords[index / 64] |= 1 << UInt64(index % 64) }
        for index in order {
            var relevant = false
            for word in 0..<selected.words where selected.bits[index * selected.words + word] & ruleWords[word] != 0 {
                relevant = true
                break
            }
            guard relevant else { continue }
            var mask: UInt32 = 0
            for (step, baseIndex) in steps.enumerated() where selected.contains(event: index, baseRule: baseIndex) {
                mask |= 1 << UInt32(step)
            }
            guard let key = GroupKey(events[index], rule.groupBy) else { continue }
            var value: Int32 = -1
            if let field = rule.valueField {
                guard let text = RuleSweep.value(of: field, in: events[index]) else { continue }
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
            entries.append(Entry(time: events[index].time.nanoseconds, event: index, group: group, value: value, steps: mask))
        }
        groups = Array(repeating: GroupState(), count: groupKeys.count)
        groupTexts = Array(repeating: nil, count: groupKeys.count)
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
        for step in 0..<stepCount where (groups[group].chains[step]?.start ?? .max) < cutoff {
            groups[group].chains[step] = nil
        }
        if positions.count == 1 {
            advanceChains(group: group, event: positions[0], time: time)
            return
        }
        let old = groups[group].chains
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
        if let completion { record(completion, group: group, time: time) }
    }

    /// The common case of `advanceChains`: one event at this time in the group. Steps
    /// are visited from the last down, so each extends a chain of events before this
    /// one and the event serves one step per chain; the same result as the general case.
    private mutating func advanceChains(group: Int, event position: Int, time: Int64) {
        let mask = entries[position].steps
        var completion: (start: Int64, positions: [Int])?
        var step = stepCount - 1
        while step >= 0 {
            defer { step -= 1 }
            guard mask & (UInt32(1) << UInt32(step)) != 0 else { continue }
            var candidate: (start: Int64, positions: [Int])
            if step == 0 {
                candidate = (time, [position])
            } else {
                guard let previous = groups[group].chains[step - 1] else { continue }
                candidate = (previous.start, previous.positions + [position])
            }
            if groups[group].chains[step].map({ candidate.start > $0.start }) ?? true {
                groups[group].chains[step] = candidate
            }
            if step == stepCount - 1 { completion = candidate }
        }
        if let completion { record(completion, group: group, time: time) }
    }

    /// Adds a completed chain to the group's match in progress, or starts a new one.
    private mutating func record(_ completion: (start: Int64, positions: [Int]), group: Int, time: Int64) {
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
        guard var positions = groups[group].burst.map(\.positions), let peak = groups[group].burst?.peak else { return }
        groups[group].burst = nil
        if rule.kind == .temporalOrdered {
            // Chains may repeat and interleave; window kinds add ascending positions once.
            positions.sort()
            var unique = 0
            for index in positions.indices where index == 0 || positions[index] != positions[unique - 1] {
                positions[unique] = positions[index]
                unique += 1
            }
            positions.removeLast(positions.count - unique)
        }
        guard let firstPosition = positions.first, let lastPosition = positions.last else { return }
        if groupTexts[group] == nil {
            groupTexts[group] = zip(rule.groupBy, groupKeys[group]).map { "\($0.rawValue)=\($1)" }.joined(separator: ", ")
        }
        var distinct: [String] = []
        if rule.kind == .valueCount {
            distinct = Set(positions.map { values[Int(entries[$0].value)] }).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
        matches.append(RuleMatch(
            rule: rule, group: groupTexts[group] ?? "", groupValues: groupKeys[group],
            firstSeen: Timestamp(nanoseconds: entries[firstPosition].time),
            lastSeen: Timestamp(nanoseconds: entries[lastPosition].time),
            events: positions.map { events[entries[$0].event].reference },
            values: distinct, peak: peak))
    }
}

/// The group-by values of an event (at most one per group-by field, and there are four
/// fields); nil when the event lacks one of them. Fixed fields rather than an array, so
/// that building one allocates nothing.
private struct GroupKey: Hashable {
    var first: String?
    var second: String?
    var third: String?
    var fourth: String?

    init?(_ event: CorrelationEvent, _ fields: [CorrelationRule.GroupField]) {
        for (position, field) in fields.enumerated() {
            let value: String?
            switch field {
            case .host: value = event.host.isEmpty ? Correlator.unknownHost : event.host
            case .logSource: value = event.logSource
            case .logDestination: value = event.logDestination
            case .indicator:
                if case .sighting(let sighting) = event.payload { value = sighting.indicatorValue } else { value = nil }
            }
            guard let value, !value.isEmpty else { return nil }
            switch position {
            case 0: first = value
            case 1: second = value
            case 2: third = value
            default: fourth = value
            }
        }
    }

    var values: [String] { [first, second, third, fourth].compactMap { $0 } }
}
