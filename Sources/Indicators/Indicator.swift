import Observations

/// The type of an indicator, inferred from its text in a plain list or declared by
/// the rule format (CSV `type`, Zeek `indicator_type`, STIX pattern object).
public enum IndicatorType: String, Sendable, CaseIterable {
    /// A single IPv4 address.
    case ipv4
    /// A single IPv6 address.
    case ipv6
    /// An IPv4 or IPv6 network in CIDR notation.
    case cidr
    /// A domain name; matches the domain and all its subdomains, unless
    /// `Indicator.matchesSubdomains` is false (`=domain`).
    case domain
    case md5, sha1, sha256
    /// A URL: `scheme://host[:port]/path?query`, or `host[:port]/path?query` (any scheme).
    case url
    /// An e-mail address, `local@domain`.
    case email
    /// A JA3 TLS client fingerprint: 32 lower-case hex digits (an MD5). Never inferred
    /// from a plain list (it looks like any MD5): declared by a CSV `type` column
    /// (`ja3`), MISP (`ja3-fingerprint-md5`) or an abuse.ch SSLBL JA3 file.
    case ja3
    /// A JA4 TLS client fingerprint, `t13d1516h2_8daaf6152771_02713d6af862` (lower case);
    /// inferred from its shape in plain lists.
    case ja4
}

/// One place an indicator was read from (`RuleSet.origins`): the first is the one
/// reported (`Indicator.ruleFile`/`line`); duplicates in other files or lines add theirs.
public struct IndicatorOrigin: Sendable, Hashable {
    public var ruleFile: String
    public var line: Int
    /// The feed named there (CSV `source`, Zeek `meta.source`, …), if any.
    public var source: String?

    public init(ruleFile: String, line: Int, source: String? = nil) {
        self.ruleFile = ruleFile
        self.line = line
        self.source = source
    }
}

/// One entry of a rule file, with where it came from and the metadata its format carries.
public struct Indicator: Sendable, Hashable {
    public var type: IndicatorType
    /// The canonical text: addresses as their RFC text, networks with the host bits
    /// cleared (`10.0.0.0/8`), domains in lower case without a trailing dot, digests in
    /// lower-case hex, URLs with scheme and host in lower case and a path (at least
    /// `/`), e-mail addresses in lower case.
    public var value: String
    /// The rule file's path as found under the rules directory argument.
    public var ruleFile: String
    /// 1-based line number in the rule file (for JSON, the line of the indicator's id).
    public var line: Int
    /// Domains only: whether subdomains match too. False for `=domain` in plain lists
    /// and CSV, and for Zeek `Intel::DOMAIN` and STIX `domain-name:value`, whose
    /// semantics are exact.
    public var matchesSubdomains: Bool = true
    /// The feed or organisation the indicator came from (CSV `source`, Zeek
    /// `meta.source`, STIX `created_by_ref` identity name).
    public var source: String?
    /// `info`, `low`, `medium`, `high` or `critical`.
    public var severity: String?
    /// 0–100.
    public var confidence: Int?
    /// Free text: CSV `description`, Zeek `meta.desc`, STIX `name`/`description`, the
    /// text after the value in a `value;comment` or `value<TAB>score` line.
    public var description: String?
    public var tags: [String] = []
    /// Traffic Light Protocol: `clear`, `green`, `amber`, `amber+strict` or `red`
    /// (`white` is read as `clear`).
    public var tlp: String?
    /// The indicator matches observations made at or after this time (when set).
    public var validFrom: Timestamp?
    /// The indicator matches observations made before this time (when set).
    public var validUntil: Timestamp?

    public init(type: IndicatorType, value: String, ruleFile: String, line: Int) {
        self.type = type
        self.value = value
        self.ruleFile = ruleFile
        self.line = line
    }

    /// An indicator with metadata; every metadata argument may be left out.
    public init(
        type: IndicatorType, value: String, ruleFile: String, line: Int, matchesSubdomains: Bool = true,
        source: String? = nil, severity: String? = nil, confidence: Int? = nil, description: String? = nil,
        tags: [String] = [], tlp: String? = nil, validFrom: Timestamp? = nil, validUntil: Timestamp? = nil
    ) {
        self.init(type: type, value: value, ruleFile: ruleFile, line: line)
        self.matchesSubdomains = matchesSubdomains
        self.source = source
        self.severity = severity
        self.confidence = confidence
        self.description = description
        self.tags = tags
        self.tlp = tlp
        self.validFrom = validFrom
        self.validUntil = validUntil
    }

    /// Whether the indicator is in force at `time` (`validFrom ≤ time < validUntil`,
    /// an unset bound being open). Judge it at the time of the observation.
    public func isValid(at time: Timestamp) -> Bool {
        validity(at: time) == .valid
    }

    /// Whether the indicator is in force at `time`, and if not, which bound excludes it.
    public func validity(at time: Timestamp) -> Validity {
        Validity(from: validFrom, until: validUntil, at: time)
    }
}

/// Whether an indicator or allow entry is in force at a given time.
public enum Validity: Sendable, Hashable {
    case valid
    /// The time is before `validFrom`.
    case notYetValid(from: Timestamp)
    /// The time is at or after `validUntil`.
    case expired(until: Timestamp)

    /// `validFrom ≤ time < validUntil`, an unset bound being open.
    public init(from: Timestamp?, until: Timestamp?, at time: Timestamp) {
        if let from, time < from {
            self = .notYetValid(from: from)
        } else if let until, time >= until {
            self = .expired(until: until)
        } else {
            self = .valid
        }
    }
}

/// A problem with a rule file or one of its lines: the line (or file) is not used.
public struct RuleError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line; 0 when the problem is with the file as a whole (unreadable).
    public var line: Int
    public var message: String
    /// 1-based column (in UTF-8 bytes) where the bad part starts; 0 when unknown or
    /// when the problem is with the whole file.
    public var column: Int = 0

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public init(file: String, line: Int, column: Int, message: String) {
        self.init(file: file, line: line, message: message)
        self.column = column
    }

    /// `file:line:column: error: message`, the form compilers use, so editors can jump
    /// to it (`file:line:` without a column, `file:` for the whole file).
    public var description: String { diagnosticLine(file, line, column, "error", message) }
}

/// Something in a rule file that is skipped or ignored but is not a mistake: a
/// convention of a feed that Cairn does not use yet (ports, regular expressions,
/// public-suffix trails). Warnings never make a command fail.
public struct RuleWarning: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line; 0 for the file as a whole.
    public var line: Int
    /// 1-based column in UTF-8 bytes; 0 when unknown.
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: warning: message`.
    public var description: String { diagnosticLine(file, line, column, "warning", message) }
}

func diagnosticLine(_ file: String, _ line: Int, _ column: Int, _ severity: String, _ message: String) -> String {
    if line <= 0 { return "\(file): \(severity): \(message)" }
    if column <= 0 { return "\(file):\(line): \(severity): \(message)" }
    return "\(file):\(line):\(column): \(severity): \(message)"
}
