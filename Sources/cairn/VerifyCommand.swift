import ArgumentParser
import Evidence
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an evidence package: every SHA-256, both manifests, Payload-Oxum, the custody chain, the pcap extract against its index, the signature.",
        discussion: """
            Without --key, a signed package is reported as signed but unchecked, an unsigned one as unsigned. \
            With --key, the signature must be present and valid.
            Exit status: 0 when everything holds, 1 when anything differs (each difference is printed with its file).
            """
    )

    @Argument(help: "The package directory.")
    var directory: String

    @Option(name: .long, help: ArgumentHelp("The signer's Ed25519 public key (PEM), to check tagmanifest-sha256.txt.sig.", valueName: "PUBKEY"))
    var key: String?

    func run() throws {
        let publicKey: Curve25519PublicKey?
        do {
            publicKey = try key.map { try PackageSigning.publicKey(pem: PackageSigning.readKeyFile($0)) }
        } catch {
            printError("error: --key: \(error)")
            throw ExitCode(exitSomethingFailed)
        }
        let result = PackageVerifier.verify(directory: directory, publicKey: publicKey)
        for line in result.holds { print("ok       \(line)") }
        for problem in result.problems { print("DIFFERS  \(problem)") }
        print("signature: \(result.signature)")
        if result.ok {
            print("package intact")
        } else {
            print("package NOT intact: \(result.problems.count) difference(s)")
            throw ExitCode(exitSomethingFailed)
        }
    }
}
