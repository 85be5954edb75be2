import CaseStore
import Foundation
import Observations
import Testing
@testable import Evidence

private func exportSample(tlp: TLP? = nil) throws -> (TemporaryDirectory, String, CaseDatabase) {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: try database.incidents().map(\.id), tlp: tlp, organisation: "CERT-Test",
                      commandLine: "", toolVersion: "test", exportedAt: Timestamp(seconds: 1_780_000_000)),
        to: bag)
    return (directory, bag + "/data/stix-bundle.json", database)
}

private func objects(_ path: String) throws -> [[String: Any]] {
    let bundle = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
    return bundle?["objects"] as? [[String: Any]] ?? []
}

@Test(
    "the STIX bundle passes the OASIS stix2-validator",
    .enabled(if: Tool.stix2Validator, "stix2-validator not installed (pip install stix2-validator)"),
    arguments: [TLP.amber, .amberStrict, .red])
func stixValidator(tlp: TLP) throws {
    let (directory, path, _) = try exportSample(tlp: tlp)
    _ = directory
    // --strict turns warnings (e.g. an SDO id that is not UUIDv4) into failures too.
    let result = run("stix2_validator", ["--strict", "--version", "2.1", path])
    #expect(result?.status == 0, "\(result?.output ?? "")")
    #expect(result?.output.contains("[+] STIX JSON: Valid") == true, "\(result?.output ?? "")")
}

@Test("the bundle holds the identity, TLP marking, indicators, SCOs, observed-data and sightings, all referring to objects present")
func stixStructure() throws {
    let (directory, path, database) = try exportSample()
    _ = directory
    let all = try objects(path)
    let byID = Dictionary(all.compactMap { object in (object["id"] as? String).map { ($0, object) } }, uniquingKeysWith: { a, _ in a })
    #expect(byID.count == all.count)
    func ofType(_ type: String) -> [[String: Any]] { all.filter { $0["type"] as? String == type } }
    #expect(ofType("identity").count == 1)
    #expect(ofType("marking-definition").first?["id"] as? String == "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82")
    let indicatorValues = Set(try database.sightings(incident: nil).map { "\($0.indicatorType) \($0.indicatorValue)" })
    #expect(Set(ofType("indicator").compactMap { $0["name"] as? String }) == indicatorValues)
    #expect(!ofType("sighting").isEmpty)
    let scoTypes = Set(all.compactMap { $0["type"] as? String }).intersection(["ipv4-addr", "ipv6-addr", "domain-name", "file"])
    #expect(scoTypes.count >= 3, "\(scoTypes)")
    for sighting in ofType("sighting") {
        #expect(byID[sighting["sighting_of_ref"] as? String ?? ""]?["type"] as? String == "indicator")
        for ref in sighting["observed_data_refs"] as? [String] ?? [] {
            let observed = byID[ref]
            #expect(observed?["type"] as? String == "observed-data")
            for sco in observed?["object_refs"] as? [String] ?? [] { #expect(byID[sco] != nil) }
        }
    }
    let counted = ofType("sighting").reduce(0) { $0 + ($1["count"] as? Int ?? 0) }
    #expect(counted == (try database.sightings(incident: nil).filter { $0.incidentID != nil }.count))
}

@Test("ids are deterministic: the same case exported twice gives the same bundle")
func stixDeterministic() throws {
    let (first, firstPath, _) = try exportSample()
    let (second, secondPath, _) = try exportSample()
    _ = (first, second)
    #expect(try Data(contentsOf: URL(fileURLWithPath: firstPath)) == Data(contentsOf: URL(fileURLWithPath: secondPath)))
}

@Test("SCO ids follow STIX 2.1's deterministic UUIDv5", arguments: [
    // Python: uuid.uuid5(UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), '{"value":"…"}').
    ("ipv4", "198.51.100.3", "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"),
    ("domain", "example.com", "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"),
])
func scoIDs(type: String, observed: String, expected: String) throws {
    let sco = try #require(STIXBundle.sco(indicatorType: type, observed: observed))
    #expect(sco.id == expected)
}

@Test("patterns match what Cairn matches", arguments: [
    ("ipv4", "203.0.113.45", "[ipv4-addr:value = '203.0.113.45']"),
    ("cidr", "198.51.100.0/24", "[ipv4-addr:value = '198.51.100.0/24']"),
    ("cidr", "2001:db8::/32", "[ipv6-addr:value = '2001:db8::/32']"),
    ("domain", "update-check.example", "[domain-name:value = 'update-check.example' OR domain-name:value LIKE '%.update-check.example']"),
    ("sha256", String(repeating: "ab", count: 32), "[file:hashes.'SHA-256' = '\(String(repeating: "ab", count: 32))']"),
    ("md5", "o'brien", "[file:hashes.MD5 = 'o\\'brien']"),
])
func patterns(type: String, value: String, expected: String) {
    #expect(STIXBundle.pattern(type: type, value: value) == expected)
}

@Test("UUIDv5 matches RFC 9562's example (DNS namespace, www.example.com)")
func uuid5() {
    let dns = STIXBundle.uuidBytes("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    #expect(STIXBundle.uuid5(dns, "www.example.com") == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
}
