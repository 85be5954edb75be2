import Observations

/// The indicators of a set of rule files, with the errors found while reading them.
/// CONTRACT STUB: replaced by the Indicators implementation.
public struct RuleSet: Sendable {
    /// Every valid indicator, in file order (files sorted by path). An indicator's
    /// position in this array is its index in `IndicatorTable` lookups.
    public var indicators: [Indicator]
    /// Every bad line or unreadable file.
    public var errors: [RuleError]
    /// The rule files read, sorted.
    public var files: [String]
    /// SHA-256 (lower-case hex) over the rule files' paths and contents, in order:
    /// recorded with each run so a result can be tied to the exact rules.
    public var digest: String

    /// Reads rule files; directories are walked recursively (hidden files and `*.md`
    /// skipped). Never throws: problems are in `errors`.
    public static func load(paths: [String]) -> RuleSet {
        fatalError("contract stub")
    }

    /// Builds the lookup tables, once per run; shared read-only by all readers.
    public func compile() -> IndicatorTable {
        fatalError("contract stub")
    }
}

/// Immutable lookup tables over a rule set's indicators.
public struct IndicatorTable: Sendable {
    /// The index (into `RuleSet.indicators`) of the most specific indicator matching
    /// `value`, or nil. IPv4/IPv6: the exact address, else the longest matching CIDR.
    /// Domains: case-insensitive, trailing dot ignored, the longest matching suffix on a
    /// label boundary. Hex digests: case-insensitive exact match of the same length.
    /// Allocates nothing.
    public func lookup(_ value: ObservedValue) -> Int? {
        fatalError("contract stub")
    }
}
