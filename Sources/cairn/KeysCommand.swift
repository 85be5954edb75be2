import ArgumentParser
import Evidence
import Foundation

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage Ed25519 keys for signing evidence packages.",
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an Ed25519 key pair: PREFIX.key (PEM PKCS#8, mode 0600) and PREFIX.pub (PEM).",
            discussion: "Sign a package with `cairn export --sign PREFIX.key`; give PREFIX.pub to the recipient, who checks it with `cairn verify DIR --key PREFIX.pub` or openssl (docs/evidence.md). Existing files are never replaced."
        )

        @Option(name: .long, help: ArgumentHelp("Path prefix of the two key files.", valueName: "PREFIX"))
        var out: String

        func run() throws {
            do {
                let paths = try PackageSigning.generateKeyPair(prefix: out)
                let key = try PackageSigning.publicKey(pem: PackageSigning.readKeyFile(paths.publicKey))
                print("wrote \(paths.privateKey) (private, keep it secret) and \(paths.publicKey) (public)")
                print("key fingerprint (SHA-256 of the raw public key): \(PackageSigning.fingerprint(key))")
            } catch {
                printError("error: \(error)")
                throw ExitCode(exitSomethingFailed)
            }
        }
    }
}
