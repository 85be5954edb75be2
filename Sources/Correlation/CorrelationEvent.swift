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
    /// The correlation rule's `id`, `title` and `severity`.
    public var ruleID: String
    public var title: String
    public var severity: Severity
    public var kind: CorrelationRule.Kind
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
    /// What made it a match, in words (`cairn show` can print it).
    public var explanation: String

    public init(
        ruleID: String, title: String, severity: Severity, kind: CorrelationRule.Kind, group: String,
        groupValues: [String], firstSeen: Timestamp, lastSeen: Timestamp, events: [CorrelationEvent.Reference],
        values: [String], explanation: String
    ) {
        self.ruleID = ruleID
        self.title = title
        self.severity = severity
        self.kind = kind
        self.group = group
        self.groupValues = groupValues
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.events = events
        self.values = values
        self.explanation = explanation
    }
}
