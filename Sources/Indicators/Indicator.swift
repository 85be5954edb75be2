import Observations

/// The type of an indicator, inferred from its text in a plain list.
public enum IndicatorType: String, Sendable, CaseIterable {
    /// A single IPv4 address.
    case ipv4
    /// A single IPv6 address.
    case ipv6
    /// An IPv4 or IPv6 network in CIDR notation.
    case cidr
    /// A domain name; matches the domain and all its subdomains.
    case domain
    case md5, sha1, sha256
}

/// One entry of a rule file, with where it came from.
public struct Indicator: Sendable, Hashable {
    public var type: IndicatorType
    /// The canonical text: addresses as their RFC text, networks with the host bits
    /// cleared (`10.0.0.0/8`), domains in lower case without a trailing dot, digests in
    /// lower-case hex.
    public var value: String
    /// The rule file's path as found under the rules directory argument.
    public var ruleFile: String
    /// 1-based line number in the rule file.
    public var line: Int

    public init(type: IndicatorType, value: String, ruleFile: String, line: Int) {
        self.type = type
        self.value = value
        self.ruleFile = ruleFile
        self.line = line
    }
}

/// A problem with a rule file or one of its lines.
public struct RuleError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line; 0 when the problem is with the file as a whole (unreadable).
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: error: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        line > 0 ? "\(file):\(line): error: \(message)" : "\(file): error: \(message)"
    }
}
