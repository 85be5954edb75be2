import Foundation
import Observations

/// One entry of an allow list: a benign value whose sightings are suppressed (kept,
/// marked with this entry, never silently dropped). Allow entries come from rule files
/// under a directory named `allow` (any rule format; every indicator there is an allow
/// entry of kind `.value`) and from MISP warning lists (JSON; recognised by content,
/// wherever they sit). They never produce sightings themselves.
public struct AllowEntry: Sendable, Hashable {
    /// How the entry is compared with an observed value.
    public enum Kind: String, Sendable, Hashable {
        /// Like an indicator of `type`: addresses in ranges, domains with their
        /// subdomains unless `matchesSubdomains` is false, digests, URLs, e-mail, JA3/JA4.
        /// Plain-list and CSV files under `allow/`; MISP `cidr` and `hostname` lists,
        /// and MISP `string` entries that read as an indicator value (exact for domains).
        case value
        /// The observed value's text equals `value`, ASCII case folded (MISP `string`
        /// entries that are no indicator value Cairn knows: a TLD, an SHA-512, ssdeep).
        case text
        /// The observed value's text contains `value`, ASCII case folded (MISP `substring`).
        case substring
    }

    public var kind: Kind
    /// `.value` only: the type, as for an indicator.
    public var type: IndicatorType?
    /// Canonical text (as `Indicator.value` for `.value`; lower case otherwise).
    public var value: String
    /// `.value` domains only: whether subdomains are allowed too.
    public var matchesSubdomains: Bool = true
    /// The rule file and 1-based line (for JSON, the line where the entry's string is).
    public var ruleFile: String
    public var line: Int
    /// The MISP warning list's `name`, or nil for files under `allow/`.
    public var listName: String?
    /// The entry's description, if its format has one.
    public var description: String?
    public var validFrom: Timestamp?
    public var validUntil: Timestamp?

    public init(kind: Kind, type: IndicatorType? = nil, value: String, matchesSubdomains: Bool = true,
                ruleFile: String, line: Int, listName: String? = nil, description: String? = nil,
                validFrom: Timestamp? = nil, validUntil: Timestamp? = nil)
    {
        self.kind = kind
        self.type = type
        self.value = value
        self.matchesSubdomains = matchesSubdomains
        self.ruleFile = ruleFile
        self.line = line
        self.listName = listName
        self.description = description
        self.validFrom = validFrom
        self.validUntil = validUntil
    }

    /// An allow entry that matches as `indicator` does (a file under `allow/`).
    public init(_ indicator: Indicator) {
        self.init(kind: .value, type: indicator.type, value: indicator.value,
                  matchesSubdomains: indicator.matchesSubdomains, ruleFile: indicator.ruleFile, line: indicator.line,
                  description: indicator.description, validFrom: indicator.validFrom, validUntil: indicator.validUntil)
    }

    /// Whether the entry is in force at `time`.
    public func validity(at time: Timestamp) -> Validity { Validity(from: validFrom, until: validUntil, at: time) }

    /// The entry as an indicator (for compiling `.value` entries into lookup tables).
    var asIndicator: Indicator? {
        guard kind == .value, let type else { return nil }
        return Indicator(type: type, value: value, ruleFile: ruleFile, line: line, matchesSubdomains: matchesSubdomains)
    }
}

/// MISP warning lists (`misp-warninglists/lists/*/list.json`): a JSON object with
/// `name`, `type` and `list` (and `description`, `version`, `matching_attributes`,
/// which are information only). Types: `string` (the exact value), `hostname` (the
/// domain and its subdomains; a leading `.` is the same), `cidr` (addresses and
/// networks), `substring` (a part of the value's text). Every entry becomes an allow entry.
enum MISPWarningListParser {
    /// Whether a decoded JSON value is a warning list.
    static func isWarningList(_ json: Any) -> Bool {
        guard let object = json as? [String: Any] else { return false }
        return object["name"] is String && object["type"] is String && object["list"] is [Any]
    }

    static func parse(_ json: Any, bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        guard let object = json as? [String: Any], let name = object["name"] as? String,
              let type = object["type"] as? String, let list = object["list"] as? [Any]
        else {
            result.error(path, 0, 0, "not a MISP warning list (expected name, type and list)")
            return result
        }
        var locator = TextLocator(bytes)
        let (typeLine, typeColumn) = locator.position(of: "\"type\"")
        let kinds = ["string", "hostname", "cidr", "substring", "regex"]
        guard kinds.contains(type), type != "regex" else {
            result.error(path, typeLine, typeColumn,
                         "warning list type \(ValueSyntax.quoted(type)) is not one of string, hostname, cidr, substring")
            return result
        }
        locator = TextLocator(bytes)
        _ = locator.position(of: "\"list\"")
        for item in list {
            guard let text = item as? String else {
                result.error(path, 0, 0, "a warning-list entry is not a string")
                continue
            }
            let (line, column) = locator.position(of: jsonQuoted(text))
            let trimmed = PlainListParser.trimmed(Substring(text))
            if trimmed.isEmpty { continue }
            var entry = AllowEntry(kind: .text, value: trimmed.lowercased(), ruleFile: path, line: line, listName: name)
            switch type {
            case "substring":
                entry.kind = .substring
            case "string":
                // A value that reads as an indicator is compared like one (exactly, for a
                // domain); anything else (a TLD, an SHA-512, ssdeep) as text.
                // A leading dot (Google's list: `.google.ad`) can only mean the subdomains.
                if case .indicator(let parsed) = ValueSyntax.infer(trimmed, suffixes: .empty), parsed.note == nil {
                    entry.kind = .value
                    entry.type = parsed.type
                    entry.value = parsed.value
                    entry.matchesSubdomains = trimmed.hasPrefix(".")
                }
            case "hostname":
                var name = trimmed
                if name.hasPrefix(".") { name = name.dropFirst() }
                // Most entries are plain lower-case names: read them straight from their bytes.
                if let parsed = PlainListParser.fastValue(ArraySlice(name.utf8), suffixes: .empty), parsed.type == .domain,
                   suffixes.rule(for: parsed.value) != .icann
                {
                    entry.kind = .value
                    entry.type = .domain
                    entry.value = parsed.value
                    break
                }
                let canonical = name.lowercased()
                if suffixes.rule(for: canonical) == .icann {
                    result.warning(path, line, column,
                                   "\(canonical) is a public suffix (ICANN section): allowing it would suppress every domain under it; skipped")
                    continue
                }
                if case .indicator(let parsed) = ValueSyntax.classifyDomain(name, exact: false, suffixes: .empty) {
                    entry.kind = .value
                    entry.type = .domain
                    entry.value = parsed.value
                } else if case .indicator(let parsed) = ValueSyntax.infer(name, suffixes: .empty),
                          parsed.type == .ipv4 || parsed.type == .ipv6
                {
                    entry.kind = .value
                    entry.type = parsed.type
                    entry.value = parsed.value
                }
                // Otherwise (a single label) the exact text.
            default:  // cidr
                if let address = IPv4Address(trimmed) {
                    entry.kind = .value
                    entry.type = .ipv4
                    entry.value = address.description
                    break
                }
                let read: Classified
                if let slash = trimmed.firstIndex(of: "/"), !trimmed.utf8.contains(UInt8(ascii: " ")) {
                    read = ValueSyntax.classifyNetwork(trimmed, slash: slash)
                } else {
                    read = ValueSyntax.infer(trimmed, suffixes: .empty)
                }
                switch read {
                case .indicator(let parsed) where parsed.type == .ipv4 || parsed.type == .ipv6 || parsed.type == .cidr:
                    entry.kind = .value
                    entry.type = parsed.type
                    entry.value = parsed.value
                case .invalid(let message, let offset):
                    result.error(path, line, column + 1 + offset, message)
                    continue
                default:
                    result.error(path, line, column + 1,
                                 "\(ValueSyntax.quoted(trimmed)) is not an address or CIDR range (the list's type is cidr)")
                    continue
                }
            }
            result.allowEntries.append(entry)
        }
        return result
    }

    /// `text` as it appears in JSON (for finding its line), escaping only what JSON must.
    static func jsonQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
