import Observations

/// One event as correlation rules see it: a sighting, or a log line that a line base
/// rule selected (`CorrelationRules.baseRules(matchingLine:program:)`).
public struct CorrelationEvent: Sendable, Hashable {
    /// Event time (the evidence's timestamp, never the time of the run).
    public var time: Timestamp
    /// The local host it is attributed to (address text or log host name); empty when unknown.
    public var host: String
    /// The source address a log line names (`log.src`), as text; nil when unknown.
    public var logSource: String?
    /// The destination address a log line names (`log.dst`), as text; nil when unknown.
    public var logDestination: String?
    public var payload: Payload

    public enum Payload: Sendable, Hashable {
        case sighting(Sighting)
        case logLine(LogLine)
    }

    /// What a sighting contributes.
    public struct Sighting: Sendable, Hashable {
        /// The sighting's id in the case database.
        public var id: Int64
        /// The indicator's canonical value.
        public var indicatorValue: String
        /// The indicator's type (`IndicatorType.rawValue`: `ipv4`, `domain`, `sha256`…).
        public var indicatorType: String
        /// The indicator's feed: its `source`, else its rule file.
        public var feed: String
        /// Where the value was seen (`Field.rawValue`, or a JSON member name).
        public var field: String

        public init(id: Int64, indicatorValue: String, indicatorType: String, feed: String, field: String) {
            self.id = id
            self.indicatorValue = indicatorValue
            self.indicatorType = indicatorType
            self.feed = feed
            self.field = field
        }
    }

    /// What a selected log line contributes.
    public struct LogLine: Sendable, Hashable {
        /// The source's id in the case database.
        public var sourceID: Int64
        /// 1-based line number and byte offset of the line in the (decompressed) text.
        public var lineNumber: UInt64
        public var offset: UInt64
        /// The syslog program (tag without `[pid]` and `:`); nil when the line has none.
        public var program: String?
        /// The line base rules that selected it: what `baseRules(matchingLine:program:)`
        /// returned (indices into `CorrelationRules.baseRules`).
        public var baseRules: [Int]

        public init(sourceID: Int64, lineNumber: UInt64, offset: UInt64, program: String? = nil, baseRules: [Int]) {
            self.sourceID = sourceID
            self.lineNumber = lineNumber
            self.offset = offset
            self.program = program
            self.baseRules = baseRules
        }
    }

    public init(time: Timestamp, host: String, logSource: String? = nil, logDestination: String? = nil, payload: Payload) {
        self.time = time
        self.host = host
        self.logSource = logSource
        self.logDestination = logDestination
        self.payload = payload
    }

    /// A sighting event.
    public static func sighting(
        _ sighting: Sighting, time: Timestamp, host: String, logSource: String? = nil, logDestination: String? = nil
    ) -> CorrelationEvent {
        CorrelationEvent(time: time, host: host, logSource: logSource, logDestination: logDestination, payload: .sighting(sighting))
    }

    /// A log-line event.
    public static func logLine(
        _ line: LogLine, time: Timestamp, host: String, logSource: String? = nil, logDestination: String? = nil
    ) -> CorrelationEvent {
        CorrelationEvent(time: time, host: host, logSource: logSource, logDestination: logDestination, payload: .logLine(line))
    }

    /// The event's identity, which also breaks ties between events of the same time.
    public var reference: Reference {
        switch payload {
        case .sighting(let sighting): .sighting(sighting.id)
        case .logLine(let line): .logLine(sourceID: line.sourceID, lineNumber: line.lineNumber, offset: line.offset)
        }
    }

    /// Names an event: a sighting by id, a log line by source, line number and offset.
    /// Ordered: sightings (by id) before log lines (by source, line, offset).
    public enum Reference: Sendable, Hashable, Comparable, CustomStringConvertible {
        case sighting(Int64)
        case logLine(sourceID: Int64, lineNumber: UInt64, offset: UInt64)

        public static func < (lhs: Reference, rhs: Reference) -> Bool {
            switch (lhs, rhs) {
            case (.sighting(let a), .sighting(let b)): a < b
            case (.sighting, .logLine): true
            case (.logLine, .sighting): false
            case (.logLine(let s1, let l1, let o1), .logLine(let s2, let l2, let o2)): (s1, l1, o1) < (s2, l2, o2)
            }
        }

        /// `sighting 42`, `source 3 line 17 (offset 1234)`.
        public var description: String {
            switch self {
            case .sighting(let id): "sighting \(id)"
            case .logLine(let source, let line, let offset): "source \(source) line \(line) (offset \(offset))"
            }
        }
    }
}

/// One firing of a correlation rule: a group whose events satisfied the rule within
/// the rule's timespan. Overlapping windows that satisfy it are one match.
public struct RuleMatch: Sendable, Hashable {
    /// The correlation rule that fired (id, title, severity, kind, file and line).
    public var rule: CorrelationRule
    /// The group: `field=value` for each `group-by` field, joined by `, `
    /// (e.g. `log.src=203.0.113.9`); empty when the rule has no `group-by`.
    public var group: String
    /// The group's values, one per `group-by` field, in the rule's order.
    public var groupValues: [String]
    /// Event times of the first and the last event of the match.
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    /// The events of every satisfying window, ordered by (time, reference).
    public var events: [CorrelationEvent.Reference]
    /// For `value_count`: the distinct values counted, sorted bytewise; else empty.
    public var values: [String]
    /// The largest count one window reached: events (`event_count`), distinct values
    /// (`value_count`), distinct rules matched (`temporal`), steps (`temporal_ordered`).
    public var peak: Int

    public init(
        rule: CorrelationRule, group: String, groupValues: [String], firstSeen: Timestamp, lastSeen: Timestamp,
        events: [CorrelationEvent.Reference], values: [String], peak: Int
    ) {
        self.rule = rule
        self.group = group
        self.groupValues = groupValues
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.events = events
        self.values = values
        self.peak = peak
    }

    public var ruleID: String { rule.id }
    public var title: String { rule.title }
    public var severity: Severity { rule.severity }
    public var kind: CorrelationRule.Kind { rule.kind }

    /// What made it a match, in words (`cairn show` can print it), e.g. "Correlation
    /// rule `ssh-brute-force` (event_count): 23 events of `ssh-failed-password` for
    /// log.src=203.0.113.9 within 5m (condition gte 20); 41 events from … to …."
    /// Built on demand: matches can be many, explanations are read few at a time.
    public var explanation: String {
        let span = CorrelationRule.describe(timespan: rule.timespan)
        let names = rule.baseRuleNames.map { "`\($0)`" }
        let who = group.isEmpty ? "" : " for \(group)"
        let condition = rule.condition.description
        var words = "Correlation rule `\(rule.id)` (\(rule.kind.rawValue)): "
        switch rule.kind {
        case .eventCount:
            words += "\(peak) events of \(names.joined(separator: " or "))\(who) within \(span) (condition \(condition))"
        case .valueCount:
            let field = rule.valueField?.rawValue ?? "?"
            words += "\(peak) distinct values of \(field) in events of \(names.joined(separator: " or "))\(who) within \(span) (condition \(condition))"
        case .temporal:
            words += "\(peak) of the rules \(names.joined(separator: ", ")) matched\(who) within \(span) (condition \(condition))"
        case .temporalOrdered:
            words += "\(names.joined(separator: " then ")) matched in that order\(who) within \(span)"
        }
        let count = events.count
        return words + "; \(count) event\(count == 1 ? "" : "s") from \(firstSeen.iso8601) to \(lastSeen.iso8601)."
    }
}

extension CorrelationRule {
    /// `5m`, `90s`, `1h`, `2d`: the largest unit that divides the span.
    public static func describe(timespan: Int64) -> String {
        let second: Int64 = 1_000_000_000
        for (unit, size) in [("d", 86_400 * second), ("h", 3600 * second), ("m", 60 * second), ("s", second)]
        where timespan % size == 0 {
            return "\(timespan / size)\(unit)"
        }
        return "\(timespan)ns"
    }
}
