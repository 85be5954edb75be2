import ArgumentParser
import Indicators
import Observations

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say whether a value matches any indicator, and why.",
        discussion: """
            VALUE is an address, a domain, a URL, an e-mail address, a hash or a JA3/JA4 \
            fingerprint. Lists every rule entry that matches it (the address and each range \
            containing it; the name and each parent domain), whether each is valid at --at, \
            the allow entries that would suppress it, and what a sighting at that time would \
            report. Exit status: 0 when a sighting would be made (suppressed or not), 1 when \
            no valid indicator matches.
            """)

    @Option(name: .long, help: ArgumentHelp("Rule file or directory.", valueName: "DIR"))
    var rules: [String] = ["Rules"]

    @Option(name: .long, help: ArgumentHelp(
        "The time of the observation (UTC); without it, validity windows are not applied.", valueName: "TIME"))
    var at: TimeArgument?

    @Argument(help: "The value to explain.")
    var value: String

    func run() throws {
        let ruleSet = RuleSet.load(paths: rules)
        for error in ruleSet.errors { printError(error.description) }
        let explanations = ruleSet.compile().explain(value, at: at?.timestamp)
        if explanations.isEmpty {
            printError("error: \(value) is not an address, domain, URL, e-mail address, hash or JA3/JA4 fingerprint")
            throw ExitCode(exitSomethingFailed)
        }
        var sighted = false
        for explanation in explanations {
            print(ExplainReport.text(explanation, rules: ruleSet, at: at?.timestamp), terminator: "")
            if explanation.match != nil { sighted = true }
        }
        if !sighted { throw ExitCode(exitSomethingFailed) }
    }
}

/// The text of `cairn explain`.
enum ExplainReport {
    static func text(_ explanation: Explanation, rules: RuleSet, at time: Timestamp?) -> String {
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

    static func kind(_ value: OwnedValue) -> String {
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

    static func metadata(_ indicator: Indicator) -> String {
        var parts: [String] = []
        if let source = indicator.source { parts.append("feed \(source)") }
        if let severity = indicator.severity { parts.append("severity \(severity)") }
        if let tlp = indicator.tlp { parts.append("TLP:\(tlp.uppercased())") }
        return parts.isEmpty ? "" : " [" + parts.joined(separator: ", ") + "]"
    }

    static func validity(_ validity: Validity) -> String {
        switch validity {
        case .valid: "valid"
        case .notYetValid(let from): "NOT VALID: not before \(from.iso8601)"
        case .expired(let until): "NOT VALID: expired at \(until.iso8601)"
        }
    }
}
