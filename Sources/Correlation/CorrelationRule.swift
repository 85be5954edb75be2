import Observations

/// A base rule of a correlation-rule file: which events count. Sigma calls these the
/// rules a correlation references by name; here a base rule selects either sightings
/// (by indicator type, feed, field and value) or log lines (by message text and
/// program). docs/correlation.md gives the format.
public struct BaseRule: Sendable, Hashable {
    /// The name correlation rules reference it by (unique across all loaded files).
    public var name: String
    public var title: String
    public var selection: Selection
    /// Where it was defined: the file and the 1-based line of its document's first key.
    public var file: String
    public var line: Int

    /// Which events a base rule selects.
    public enum Selection: Sendable, Hashable {
        case sighting(SightingSelection)
        case logLine(LineSelection)
    }

    /// Sightings whose indicator type, feed, field and indicator value are each in the
    /// given list; an empty list accepts any.
    public struct SightingSelection: Sendable, Hashable {
        /// Indicator types (`ipv4`, `ipv6`, `cidr`, `domain`, `md5`, `sha1`, `sha256`,
        /// `url`, `email`).
        public var indicatorTypes: [String]
        /// Feeds: a sighting's feed matches when it is equal, or when it is a path whose
        /// file name, with or without its extension, is equal.
        public var feeds: [String]
        /// Fields where the value was seen (`dns.query`, `log.src`, `file.sha256`…).
        public var fields: [String]
        /// Indicator values, compared exactly.
        public var values: [String]

        public init(indicatorTypes: [String] = [], feeds: [String] = [], fields: [String] = [], values: [String] = []) {
            self.indicatorTypes = indicatorTypes
            self.feeds = feeds
            self.fields = fields
            self.values = values
        }

        /// Whether `sighting` is selected.
        public func matches(_ sighting: CorrelationEvent.Sighting) -> Bool {
            (indicatorTypes.isEmpty || indicatorTypes.contains(sighting.indicatorType))
                && (fields.isEmpty || fields.contains(sighting.field))
                && (values.isEmpty || values.contains(sighting.indicatorValue))
                && (feeds.isEmpty || feeds.contains { SightingSelection.feed(sighting.feed, isNamed: $0) })
        }

        /// Whether `feed` (a `source` name or a rule-file path) is the feed called `name`.
        public static func feed(_ feed: String, isNamed name: String) -> Bool {
            // Bytes of `feed`, compared in place: this runs for every sighting.
            if feed == name { return true }
            let bytes = feed.utf8
            let fileName = bytes.lastIndex(of: UInt8(ascii: "/")).map { bytes[bytes.index(after: $0)...] } ?? bytes[...]
            if fileName.elementsEqual(name.utf8) { return true }
            guard let dot = fileName.lastIndex(of: UInt8(ascii: ".")), dot != fileName.startIndex else { return false }
            return fileName[..<dot].elementsEqual(name.utf8)
        }
    }

    /// Log lines that contain any of `contains` (bytewise, case-sensitive) and, when
    /// `programs` is not empty, whose syslog program is one of them.
    public struct LineSelection: Sendable, Hashable {
        /// Byte strings, each non-empty; any one found in the line selects it.
        public var contains: [[UInt8]]
        /// Syslog program names (the tag without `[pid]` and `:`), compared exactly.
        public var programs: [[UInt8]]

        public init(contains: [String], programs: [String] = []) {
            self.contains = contains.map { Array($0.utf8) }
            self.programs = programs.map { Array($0.utf8) }
        }
    }
}

/// A correlation rule: Sigma's `correlation:` document. It references base rules by
/// name and says how many of their events, grouped how, within what span of event
/// time, make a match.
public struct CorrelationRule: Sendable, Hashable {
    public var id: String
    public var title: String
    public var severity: Severity
    public var kind: Kind
    /// The referenced base rules, as indices into `CorrelationRules.baseRules`, in the
    /// order the rule lists them (the order matters for `temporalOrdered`).
    public var baseRuleIndices: [Int]
    /// The referenced base rules' names, in the same order.
    public var baseRuleNames: [String]
    /// The fields whose values together form the group key; empty: all events form one group.
    public var groupBy: [GroupField]
    /// The window length in nanoseconds of event time; events exactly `timespan` apart
    /// are within one window.
    public var timespan: Int64
    public var condition: Condition
    /// For `valueCount`: the field whose distinct values are counted.
    public var valueField: ValueField?
    public var file: String
    public var line: Int

    /// Sigma's correlation types.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case eventCount = "event_count"
        case valueCount = "value_count"
        case temporal = "temporal"
        case temporalOrdered = "temporal_ordered"
    }

    /// What events can be grouped by.
    public enum GroupField: String, Sendable, Hashable, CaseIterable {
        /// The local host the event is attributed to.
        case host
        /// The source address a log line names.
        case logSource = "log.src"
        /// The destination address a log line names.
        case logDestination = "log.dst"
        /// A sighting's indicator value (log lines have none).
        case indicator
    }

    /// What `value_count` can count the distinct values of.
    public enum ValueField: String, Sendable, Hashable, CaseIterable {
        case host
        case logSource = "log.src"
        case logDestination = "log.dst"
        case indicator
        case indicatorType = "indicator.type"
        case feed = "indicator.feed"
        case field
        case program
    }

    /// A bound on a count: every given comparison must hold (`gte: 3, lte: 10` is a range).
    public struct Condition: Sendable, Hashable {
        public var comparisons: [Comparison]

        public init(_ comparisons: [Comparison]) { self.comparisons = comparisons }

        /// Whether `count` satisfies every comparison.
        public func holds(for count: Int) -> Bool {
            comparisons.allSatisfy { $0.holds(for: count) }
        }

        /// Sigma's operators with their bound.
        public enum Comparison: Sendable, Hashable {
            case gte(Int), gt(Int), lte(Int), lt(Int), eq(Int)

            public func holds(for count: Int) -> Bool {
                switch self {
                case .gte(let bound): count >= bound
                case .gt(let bound): count > bound
                case .lte(let bound): count <= bound
                case .lt(let bound): count < bound
                case .eq(let bound): count == bound
                }
            }

            /// The operator as the rule file writes it.
            public var name: String {
                switch self {
                case .gte: "gte"
                case .gt: "gt"
                case .lte: "lte"
                case .lt: "lt"
                case .eq: "eq"
                }
            }

            public var bound: Int {
                switch self {
                case .gte(let bound), .gt(let bound), .lte(let bound), .lt(let bound), .eq(let bound): bound
                }
            }
        }

        /// E.g. `gte 20`, `gte 3 and lte 10`.
        public var description: String {
            comparisons.map { "\($0.name) \($0.bound)" }.joined(separator: " and ")
        }
    }
}

/// One problem in a correlation-rule file, at a 1-based line and column.
public struct RuleDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: error: message`, as compilers print errors.
    public var description: String { "\(file):\(line):\(column): error: \(message)" }
}
