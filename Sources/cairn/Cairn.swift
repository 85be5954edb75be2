import ArgumentParser
import Foundation

/// The version recorded with every run.
let cairnVersion = "0.1.0"

@main
struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Match captures and syslogs against indicator files and keep the incidents in a case database.",
        version: cairnVersion,
        subcommands: [
            Ingest.self, Incidents.self, Show.self, Triage.self, Sightings.self, Sources.self, Rules.self, Export.self, Verify.self,
            Custody.self, Keys.self, Explain.self, Queue.self, Worker.self, Case.self, ServeCase.self,
        ]
    )
}

/// Exit status when the command ran but something in the input failed (a bad file,
/// a bad rule line). Usage errors exit 64 (ArgumentParser's EX_USAGE).
let exitSomethingFailed: Int32 = 1

/// Prints one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
