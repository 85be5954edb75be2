import ArgumentParser
import Evidence
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an evidence package: every SHA-256, both manifests, Payload-Oxum, the custody chain.",
        discussion: "Exit status: 0 when everything holds, 1 when anything differs (each difference is printed with its file)."
    )

    @Argument(help: "The package directory.")
    var directory: String

    func run() throws {
        let result = PackageVerifier.verify(directory: directory)
        for line in result.holds { print("ok       \(line)") }
        for problem in result.problems { print("DIFFERS  \(problem)") }
        if result.ok {
            print("package intact")
        } else {
            print("package NOT intact: \(result.problems.count) difference(s)")
            throw ExitCode(exitSomethingFailed)
        }
    }
}
