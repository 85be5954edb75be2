import Observations

/// The text of `cairn explain`.
public enum ExplainReport {
    public static func text(_ explanation: Explanation, rules: RuleSet, at time: Timestamp?) -> String {
        var out = "\(explanation.value) (\(kind(explanation.value)))\n"
        if explanation.indicators.isEmpty {
            out += "  no indicator matches it\n"
        } else {
            out += "  indicators that match it, most specific first:\n"
            for entry in explanation.indicators {
                let indicator = rules.indicators[entry.index]
                out += "    \(indicator.ruleFile):\(indicator.line)  \(indicator.type.rawValue) \(indicator.value)"
                out += metadata(indicator) + "  " + validity(entry.validity) + "\n"
            }
        }
        if !explanation.allowEntries.isEmpty {
            out += "  allow entries that match it:\n"
            for entry in explanation.allowEntries {
                let allow = rules.allowEntries[entry.index]
                let list = allow.listName.map { " (\($0))" } ?? ""
                out += "    \(allow.ruleFile):\(allow.line)  \(allow.value)\(list)  " + validity(entry.validity) + "\n"
            }
        }
        let when = time.map { " at \($0.iso8601)" } ?? ""
        guard let match = explanation.match else {
            out += "  verdict: no sighting\(when)"
            out += explanation.indicators.isEmpty ? "\n" : " (no matching indicator is valid then)\n"
            return out
        }
        let best = rules.indicators[match.indicator]
        out += "  verdict: a sighting\(when) of \(best.type.rawValue) \(best.value) (\(best.ruleFile):\(best.line))"
        if !match.context.isEmpty {
            out += ", with " + match.context.map { rules.indicators[$0].value }.joined(separator: ", ") + " as context"
        }
        if let suppressor = match.suppressedBy {
            let allow = rules.allowEntries[suppressor]
            out += "; suppressed by \(allow.ruleFile):\(allow.line) \(allow.value) (kept, in no incident)"
        }
        return out + "\n"
    }

    public static func kind(_ value: OwnedValue) -> String {
        switch value {
        case .ipv4: "IPv4 address"
        case .ipv6: "IPv6 address"
        case .domain: "domain"
        case .hexDigest(let digest): digest.count == 32 ? "MD5" : digest.count == 40 ? "SHA-1" : "SHA-256"
        case .url: "URL"
        case .email: "e-mail address"
        case .ja3: "JA3 fingerprint"
        case .ja4: "JA4 fingerprint"
        }
    }

    public static func metadata(_ indicator: Indicator) -> String {
        var parts: [String] = []
        if let source = indicator.source { parts.append("feed \(source)") }
        if let severity = indicator.severity { parts.append("severity \(severity)") }
        if let tlp = indicator.tlp { parts.append("TLP:\(tlp.uppercased())") }
        return parts.isEmpty ? "" : " [" + parts.joined(separator: ", ") + "]"
    }

    public static func validity(_ validity: Validity) -> String {
        switch validity {
        case .valid: "valid"
        case .notYetValid(let from): "NOT VALID: not before \(from.iso8601)"
        case .expired(let until): "NOT VALID: expired at \(until.iso8601)"
        }
    }
}
