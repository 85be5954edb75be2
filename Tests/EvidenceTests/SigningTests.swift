@testable import CaseStore
import Crypto
import Foundation
import Observations
import Testing
@testable import Evidence

private func signedPackage(_ directory: TemporaryDirectory, key: Curve25519.Signing.PrivateKey?) throws -> String {
    let database = try ingest([Fixtures.sampleData + "/office-lan.pcap"], into: directory)
    var options = ExportOptions(incidentIDs: try database.incidents().map(\.id), commandLine: "", toolVersion: "test")
    options.signingKey = key
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(options, to: bag)
    return bag
}

@Test("keys generate writes PEM keys that read back, the private one mode 0600, and never replaces a file")
func keyGeneration() throws {
    let directory = try TemporaryDirectory()
    let prefix = directory.file("cert")
    let paths = try PackageSigning.generateKeyPair(prefix: prefix)
    #expect(paths == (prefix + ".key", prefix + ".pub"))
    let mode = try FileManager.default.attributesOfItem(atPath: paths.privateKey)[.posixPermissions] as? Int
    #expect(mode == 0o600)
    let privateKey = try PackageSigning.privateKey(pem: PackageSigning.readKeyFile(paths.privateKey))
    let publicKey = try PackageSigning.publicKey(pem: PackageSigning.readKeyFile(paths.publicKey))
    #expect(privateKey.publicKey.rawRepresentation == publicKey.rawRepresentation)
    #expect(throws: SigningError.self) { try PackageSigning.generateKeyPair(prefix: prefix) }
    #expect(throws: SigningError.self) { try PackageSigning.publicKey(pem: PackageSigning.readKeyFile(paths.privateKey)) }
}

@Test("openssl reads the generated keys as Ed25519 keys", .enabled(if: Tool.openssl, "openssl is not installed"))
func keysReadByOpenSSL() throws {
    let directory = try TemporaryDirectory()
    let paths = try PackageSigning.generateKeyPair(prefix: directory.file("cert"))
    let text = try #require(runQuiet("openssl", ["pkey", "-in", paths.privateKey, "-noout", "-text"])).output
    #expect(text.contains("ED25519 Private-Key"), "\(text)")
    let pub = try #require(runQuiet("openssl", ["pkey", "-pubin", "-in", paths.publicKey, "-noout", "-text"])).output
    #expect(pub.contains("ED25519 Public-Key"), "\(pub)")
}

@Test("a signed package: valid with the right key, invalid with another, invalid once the tag manifest changes")
func signatures() throws {
    let directory = try TemporaryDirectory()
    let key = Curve25519.Signing.PrivateKey()
    let bag = try signedPackage(directory, key: key)
    let signature = try Data(contentsOf: URL(fileURLWithPath: bag + "/tagmanifest-sha256.txt.sig"))
    #expect(signature.count == 64)

    let good = PackageVerifier.verify(directory: bag, publicKey: key.publicKey)
    #expect(good.ok)
    #expect(good.signature == .valid(fingerprint: PackageSigning.fingerprint(key.publicKey)))
    #expect(PackageVerifier.verify(directory: bag).signature == .signedUnchecked)
    #expect(PackageVerifier.verify(directory: bag).ok)

    let wrong = PackageVerifier.verify(directory: bag, publicKey: Curve25519.Signing.PrivateKey().publicKey)
    #expect(!wrong.ok)
    #expect(wrong.problems.contains { $0.file == "tagmanifest-sha256.txt.sig" })
    if case .invalid = wrong.signature {} else { Issue.record("wrong key accepted: \(wrong.signature)") }

    try flipByte(bag + "/tagmanifest-sha256.txt", at: 5)
    let tampered = PackageVerifier.verify(directory: bag, publicKey: key.publicKey)
    #expect(tampered.problems.contains { $0.file == "tagmanifest-sha256.txt.sig" })
    if case .invalid = tampered.signature {} else { Issue.record("tampered manifest accepted") }
}

@Test(
    "openssl checks a package's signature with the PEM public key, as docs/evidence.md shows",
    .enabled(if: Tool.openssl, "openssl is not installed"))
func opensslChecksTheSignature() throws {
    let directory = try TemporaryDirectory()
    let key = Curve25519.Signing.PrivateKey()
    let bag = try signedPackage(directory, key: key)
    let pub = directory.file("signer.pub")
    try PackageSigning.pem(publicKey: key.publicKey).write(toFile: pub, atomically: false, encoding: .utf8)
    let command = "cd '\(bag)' && openssl pkeyutl -verify -pubin -inkey '\(pub)' -rawin -in tagmanifest-sha256.txt -sigfile tagmanifest-sha256.txt.sig"
    let ok = try #require(run("sh", ["-c", command]))
    #expect(ok.status == 0 && ok.output.contains("Signature Verified Successfully"), "\(ok.output)")
    try flipByte(bag + "/tagmanifest-sha256.txt", at: 5)
    #expect(run("sh", ["-c", command])?.status != 0)
}

@Test("an unsigned package is reported unsigned, and fails when a key is given")
func unsigned() throws {
    let directory = try TemporaryDirectory()
    let bag = try signedPackage(directory, key: nil)
    #expect(PackageVerifier.verify(directory: bag).signature == .unsigned)
    let withKey = PackageVerifier.verify(directory: bag, publicKey: Curve25519.Signing.PrivateKey().publicKey)
    #expect(!withKey.ok)
    #expect(withKey.problems.contains { $0.file == "tagmanifest-sha256.txt.sig" && $0.detail.contains("not signed") })
}

@Test("the package TLP is the strictest indicator TLP; a less strict --tlp is refused")
func tlpFromIndicators() throws {
    let directory = try TemporaryDirectory()
    let rules = directory.file("red.csv")
    try "indicator,type,tlp\n203.0.113.45,ipv4,red\n".write(toFile: rules, atomically: false, encoding: .utf8)
    let database = try ingest([Fixtures.sampleData], rules: [rules], into: directory)
    let ids = try database.incidents().map(\.id)
    guard !ids.isEmpty else {
        Issue.record("203.0.113.45 is not sighted in SampleData")
        return
    }
    let exporter = EvidenceExporter(database: database)
    #expect(throws: EvidenceError.tlpLessStrict(requested: .amber, required: .red)) {
        try exporter.export(ExportOptions(incidentIDs: ids, tlp: .amber, commandLine: "", toolVersion: ""), to: directory.file("refused"))
    }
    #expect(!FileManager.default.fileExists(atPath: directory.file("refused")))
    let bag = directory.file("package")
    let result = try exporter.export(ExportOptions(incidentIDs: ids, commandLine: "", toolVersion: ""), to: bag)
    #expect(result.notes.allSatisfy { !$0.contains("rule file") }, "\(result.notes)")
    func text(_ name: String) throws -> String { try String(contentsOfFile: bag + "/" + name, encoding: .utf8) }
    #expect(try text("bag-info.txt").contains("Cairn-TLP: TLP:RED\n"))
    #expect(try text("data/log-excerpts.txt").hasPrefix("TLP:RED\n"))
    #expect(try text("data/report.html").contains("<p class=\"tlp\">TLP:RED</p>"))
    let requests = try FileManager.default.contentsOfDirectory(atPath: bag + "/data").filter { $0.hasPrefix("preservation-request-") }
    #expect(!requests.isEmpty)
    for request in requests { #expect(try text("data/" + request).hasPrefix("TLP:RED\n")) }
}

@Test("indicators without a TLP leave the package at the default, TLP:AMBER")
func tlpDefault() throws {
    let sightings = [SightingRow(id: 1, incidentID: 1, sourcePath: "/p", sourceSHA256: "s", locator: .packet(1),
                                 time: Timestamp(seconds: 5), indicatorType: "ipv4", indicatorValue: "192.0.2.1",
                                 observed: "192.0.2.1", field: "ip.dst", host: "h", ruleFile: "/nonexistent/rules.txt", ruleLine: 1)]
    let levels = IndicatorTLP.strictest(sightings: sightings)
    #expect(levels.tlp == nil)
    #expect(levels.notes.count == 1 && levels.notes[0].contains("/nonexistent/rules.txt cannot be read"))
}

@Test("preservation requests: one per remote party, with the Article 29 fields, times and services")
func preservationRequests() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: try database.incidents().map(\.id), commandLine: "", toolVersion: ""), to: bag)
    let names = try FileManager.default.contentsOfDirectory(atPath: bag + "/data").filter { $0.hasPrefix("preservation-request-") }
    let sightings = try database.sightings(incident: nil).filter { $0.incidentID != nil }
    let parties = Set(sightings.compactMap { PreservationRequests.party(of: $0)?.0 })
    #expect(names.count == parties.count)
    #expect(parties.contains("203.0.113.45"))
    let text = try String(contentsOfFile: bag + "/data/preservation-request-203.0.113.45.txt", encoding: .utf8)
    for heading in ["(a) Requesting authority", "(b) Offence", "(c) Stored computer data", "(d) Custodian", "(e) Necessity", "(f) Intended request"] {
        #expect(text.contains(heading), "\(heading)")
    }
    #expect(text.contains("[TO FILL: name, address and contact"))
    let times = sightings.filter { $0.observed == "203.0.113.45" }.map(\.time)
    #expect(!times.isEmpty)
    for time in times.prefix(5) { #expect(text.contains(time.iso8601)) }
    // A packet sighting of the address names the transport and the party's port.
    if sightings.contains(where: { $0.observed == "203.0.113.45" && { if case .packet = $0.locator { true } else { false } }($0) }) {
        #expect(text.contains("tcp/") || text.contains("udp/"), "\(text)")
    }
    #expect(PackageVerifier.verify(directory: bag).ok)
}

@Test(
    "the command line: keys generate, export --sign --headers-only, verify --key; a changed capture exits 1",
    .enabled(if: Fixtures.cairnExecutable != nil, "the cairn executable is not built"))
func signingCommandLine() throws {
    let cairn = try #require(Fixtures.cairnExecutable)
    let directory = try TemporaryDirectory()
    let capture = directory.file("office-lan.pcap")
    try FileManager.default.copyItem(atPath: Fixtures.sampleData + "/office-lan.pcap", toPath: capture)
    let database = try ingest([capture], into: directory)
    let ids = try database.incidents().map { String($0.id) }
    let prefix = directory.file("cert")
    let keys = try #require(run(cairn, ["keys", "generate", "--out", prefix]))
    #expect(keys.status == 0 && keys.output.contains("key fingerprint"), "\(keys.output)")
    #expect(run(cairn, ["keys", "generate", "--out", prefix])?.status == 1)

    let bag = directory.file("package")
    let export = try #require(run(cairn, ["export", "--db", database.location, "--out", bag, "--sign", prefix + ".key", "--headers-only"] + ids))
    #expect(export.status == 0 && export.output.contains(", signed"), "\(export.output)")
    let verify = try #require(run(cairn, ["verify", bag, "--key", prefix + ".pub"]))
    #expect(verify.status == 0 && verify.output.contains("signature: signature valid"), "\(verify.output)")
    #expect(run(cairn, ["verify", bag])?.output.contains("signature: signed, but the signature was not checked") == true)
    let other = directory.file("other")
    _ = try PackageSigning.generateKeyPair(prefix: other)
    let wrong = try #require(run(cairn, ["verify", bag, "--key", other + ".pub"]))
    #expect(wrong.status == 1 && wrong.output.contains("DIFFERS  tagmanifest-sha256.txt.sig: "), "\(wrong.output)")

    // The capture changes after ingest: the package is written without its packets, exit 1.
    let size = try FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int ?? 0
    try flipByte(capture, at: size - 1)
    let partial = try #require(run(cairn, ["export", "--db", database.location, "--out", directory.file("partial")] + ids))
    #expect(partial.status == 1)
    #expect(partial.output.contains("warning: NOT INCLUDED: \(capture): its SHA-256 is now"), "\(partial.output)")
    #expect(run(cairn, ["verify", directory.file("partial")])?.status == 0)
}
