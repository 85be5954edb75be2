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
