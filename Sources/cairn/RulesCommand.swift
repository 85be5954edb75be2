import ArgumentParser
import Indicators

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with rule files.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate rule files.",
            discussion: "Prints file:line: error: message for each bad line; exits 1 when there is any.")

        @Argument(help: "Rule files or directories (default: Rules).")
        var paths: [String] = ["Rules"]

        func run() throws {
            let rules = RuleSet.load(paths: paths)
            for error in rules.errors { print(error.description) }
            func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
            let summary = [count(rules.files.count, "file"), count(rules.indicators.count, "indicator"),
                           count(rules.errors.count, "error")].joined(separator: ", ")
            if rules.errors.isEmpty {
                print(summary)
            } else {
                printError(summary)
                throw ExitCode(exitSomethingFailed)
            }
        }
    }
}
