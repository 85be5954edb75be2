import Observations
import Foundation

/// STIX 2.1 bundles (JSON): every `indicator` object whose `pattern_type` is `stix`
/// and whose pattern is comparisons `[object:path = 'value']` joined by `OR` (inside
/// or between brackets) yields one indicator per comparison, with the object's
/// `valid_from`/`valid_until`, `labels` (as tags), `confidence`, `name`/`description`,
/// TLP marking and creator (`created_by_ref` naming an identity in the bundle).
///
/// Paths: `ipv4-addr:value`, `ipv6-addr:value` (addresses or CIDR),
/// `domain-name:value` (that name only: STIX `=` is equality), `url:value`,
/// `email-addr:value`, `file:hashes.'MD5'|'SHA-1'|'SHA-256'`. A pattern Cairn cannot
/// evaluate (AND, FOLLOWEDBY, qualifiers, other operators or objects) is a warning
/// naming the indicator's id. Line numbers are those of the object's `"id"`.
enum STIXBundleParser {
    /// TLP 1.0 marking definitions with fixed ids in the STIX 2.1 specification.
    static let tlpMarkings = [
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
    ]

    static func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        RuleFormat.parseJSON(bytes, path: path, suffixes: suffixes)
    }

    static func parse(_ json: Any, bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        guard let bundle = json as? [String: Any], bundle["type"] as? String == "bundle",
              let objects = bundle["objects"] as? [Any]
        else {
            result.error(path, 0, 0, notABundle)
            return result
        }
        var identities: [String: String] = [:]
        var markings = tlpMarkings
        for case let object as [String: Any] in objects {
            guard let id = object["id"] as? String else { continue }
            if object["type"] as? String == "identity", let name = object["name"] as? String { identities[id] = name }
            if object["type"] as? String == "marking-definition" {
                if let definition = object["definition"] as? [String: Any], let level = definition["tlp"] as? String,
                   case .success(let tlp) = Metadata.tlp(level)
                {
                    markings[id] = tlp
                } else if let name = object["name"] as? String, name.uppercased().hasPrefix("TLP:"),
                          case .success(let tlp) = Metadata.tlp(name)
                {
                    markings[id] = tlp
                }
            }
        }
        var locator = TextLocator(bytes)
        for case let object as [String: Any] in objects where object["type"] as? String == "indicator" {
            let id = object["id"] as? String ?? "(indicator without id)"
            let (line, column) = locator.position(of: "\"\(id)\"")
            var template = Indicator(type: .domain, value: "", ruleFile: path, line: line)
            if let patternType = object["pattern_type"] as? String, patternType != "stix" {
                result.warning(path, line, column, "\(id): pattern_type \(patternType) cannot be evaluated by Cairn; skipped")
                continue
            }
            guard let pattern = object["pattern"] as? String else {
                result.error(path, line, column, "\(id): the indicator has no pattern")
                continue
            }
            template.description = (object["name"] as? String) ?? (object["description"] as? String)
            template.tags = (object["labels"] as? [String]) ?? (object["indicator_types"] as? [String]) ?? []
            template.confidence = (object["confidence"] as? Int).flatMap { (0...100).contains($0) ? $0 : nil }
            if let creator = object["created_by_ref"] as? String { template.source = identities[creator] }
            if let refs = object["object_marking_refs"] as? [String] {
                template.tlp = refs.lazy.compactMap { markings[$0] }.first
            }
            for (key, field) in [("valid_from", "valid_from"), ("valid_until", "valid_until")] {
                guard let text = object[key] as? String else { continue }
                switch Metadata.timestamp(text, field: field) {
                case .success(let time):
                    if key == "valid_from" { template.validFrom = time } else { template.validUntil = time }
                case .failure(let problem):
                    result.error(path, line, column, "\(id): \(problem.message)")
                    template.line = -1
                }
            }
            if template.line < 0 { continue }
            switch STIXPattern.comparisons(pattern) {
            case .failure(let problem):
                result.warning(path, line, column,
                               "\(id): pattern cannot be evaluated by Cairn (\(problem.message)); skipped")
            case .success(let comparisons):
                for comparison in comparisons {
                    guard let expected = STIXPattern.expected(comparison.path) else {
                        result.warning(path, line, column,
                                       "\(id): pattern cannot be evaluated by Cairn (object path \(comparison.path)); skipped")
                        continue
                    }
                    switch ValueSyntax.classify(Substring(comparison.value), as: expected, suffixes: suffixes) {
                    case .indicator(let parsed):
                        var indicator = template
                        indicator.type = parsed.type
                        indicator.value = parsed.value
                        indicator.matchesSubdomains = parsed.matchesSubdomains
                        result.indicators.append(indicator)
                        if let note = parsed.note { result.warning(path, line, column, "\(id): \(note)") }
                    case .skipped(let message, _):
                        result.warning(path, line, column, "\(id): \(message)")
                    case .invalid(let message, _):
                        result.error(path, line, column, "\(id): \(message)")
                    }
                }
            }
        }
        return result
    }

    static let notABundle = RuleFormat.notAnyJSONRuleFile

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return nsError.localizedDescription
    }
}

/// Finds the line and column of successive strings in a file, scanning forward.
struct TextLocator {
    let bytes: [UInt8]
    var position = 0
    var line = 1
    var lineStart = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The 1-based line and column of the next occurrence of `needle` at or after the
    /// previous one; (0, 0) when there is none.
    mutating func position(of needle: String) -> (Int, Int) {
        let pattern = Array(needle.utf8)
        guard let first = pattern.first else { return (0, 0) }
        var index = position
        var scanLine = line, scanLineStart = lineStart
        while index + pattern.count <= bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                scanLine += 1
                scanLineStart = index + 1
            } else if byte == first, bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                position = index
                line = scanLine
                lineStart = scanLineStart
                return (scanLine, index - scanLineStart + 1)
            }
            index += 1
        }
        return (0, 0)
    }
}

/// The subset of the STIX patterning language Cairn evaluates.
enum STIXPattern {
    struct Comparison: Equatable {
        var path: String
        var value: String
    }

    /// `ipv4-addr:value` and friends; `file:hashes.'SHA-256'` (quotes optional).
    static func expected(_ path: String) -> Expected? {
        switch path {
        case "ipv4-addr:value": return .oneOf([.ipv4, .cidr], name: "an IPv4 address or range")
        case "ipv6-addr:value": return .oneOf([.ipv6, .cidr], name: "an IPv6 address or range")
        case "domain-name:value": return .domain(exact: true)
        case "url:value": return .url
        case "email-addr:value": return .email
        default: break
        }
        guard path.hasPrefix("file:hashes.") else { return nil }
        let name = path.dropFirst("file:hashes.".count).replacingOccurrences(of: "'", with: "").uppercased()
        switch name {
        case "MD5": return .oneOf([.md5], name: "an MD5 hash")
        case "SHA-1", "SHA1": return .oneOf([.sha1], name: "a SHA-1 hash")
        case "SHA-256", "SHA256": return .oneOf([.sha256], name: "a SHA-256 hash")
        default: return nil
        }
    }

    /// The comparisons of `[a = 'x' OR b = 'y'] OR [c = 'z']`, or why the pattern is
    /// outside that subset.
    static func comparisons(_ pattern: String) -> Result<[Comparison], MetadataProblem> {
        let text = Array(pattern.unicodeScalars)
        var index = 0
        var result: [Comparison] = []
        func skipSpaces() { while index < text.count, text[index].properties.isWhitespace { index += 1 } }
        func word() -> String {
            var out = ""
            while index < text.count, text[index].properties.isAlphabetic || text[index] == "_" {
                out.unicodeScalars.append(text[index])
                index += 1
            }
            return out
        }
        var expectObservation = true
        while true {
            skipSpaces()
            if index >= text.count { break }
            if !expectObservation {
                let joiner = word()
                guard joiner == "OR" else {
                    return .failure(MetadataProblem(joiner.isEmpty
                        ? "unexpected \(String(text[index])) after an observation"
                        : "\(joiner) between observations; only OR is supported"))
                }
                expectObservation = true
                continue
            }
            guard text[index] == "[" else {
                return .failure(MetadataProblem(text[index] == "("
                    ? "parentheses are not supported" : "expected [ at the start of an observation"))
            }
            index += 1
            var expectComparison = true
            while true {
                skipSpaces()
                guard index < text.count else { return .failure(MetadataProblem("missing ]")) }
                if text[index] == "]" {
                    guard !expectComparison else { return .failure(MetadataProblem("empty or unfinished observation")) }
                    index += 1
                    break
                }
                if !expectComparison {
                    let joiner = word()
                    guard joiner == "OR" else {
                        return .failure(MetadataProblem(joiner.isEmpty
                            ? "unexpected \(String(text[index]))" : "\(joiner) inside an observation; only OR is supported"))
                    }
                    expectComparison = true
                    continue
                }
                // An object path: up to whitespace or an operator, quotes kept whole.
                var path = ""
                while index < text.count {
                    let scalar = text[index]
                    if scalar.properties.isWhitespace || scalar == "=" || scalar == "!" || scalar == "<" || scalar == ">" || scalar == "]" { break }
                    path.unicodeScalars.append(scalar)
                    index += 1
                    if scalar == "'" {
                        while index < text.count, text[index] != "'" {
                            path.unicodeScalars.append(text[index])
                            index += 1
                        }
                        if index < text.count {
                            path.unicodeScalars.append(text[index])
                            index += 1
                        }
                    }
                }
                skipSpaces()
                guard index < text.count, text[index] == "=" else {
                    var op = ""
                    while index < text.count, !text[index].properties.isWhitespace, text[index] != "'" {
                        op.unicodeScalars.append(text[index])
                        index += 1
                    }
                    return .failure(MetadataProblem("operator \(op.isEmpty ? "(none)" : op) on \(path); only = is supported"))
                }
                index += 1
                skipSpaces()
                guard index < text.count, text[index] == "'" else {
                    return .failure(MetadataProblem("the value compared with \(path) is not a quoted string"))
                }
                index += 1
                var value = ""
                var closed = false
                while index < text.count {
                    let scalar = text[index]
                    if scalar == "\\", index + 1 < text.count {
                        value.unicodeScalars.append(text[index + 1])
                        index += 2
                        continue
                    }
                    if scalar == "'" {
                        closed = true
                        index += 1
                        break
                    }
                    value.unicodeScalars.append(scalar)
                    index += 1
                }
                guard closed else { return .failure(MetadataProblem("a string is never closed")) }
                result.append(Comparison(path: path, value: value))
                expectComparison = false
            }
            expectObservation = false
            skipSpaces()
            // Qualifiers (WITHIN, REPEATS, START) follow an observation.
            let save = index
            let next = word()
            if ["WITHIN", "REPEATS", "START", "STOP"].contains(next) {
                return .failure(MetadataProblem("the qualifier \(next) is not supported"))
            }
            index = save
        }
        guard !result.isEmpty else { return .failure(MetadataProblem("no comparison")) }
        return .success(result)
    }
}
