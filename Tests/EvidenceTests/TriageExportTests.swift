import CaseStore
import Foundation
import Observations
import Testing
@testable import Evidence

@Test("incident.json carries the triage history, severity reasoning and confidence")
func incidentJSONCarriesTriage() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let incident = try #require(try database.incidents().first { $0.host == "10.0.0.23" })
    try database.triage(incident: incident.id, status: .investigating, note: "beacons every 5 min", assignee: "ana", user: "u1")
    try database.triage(incident: incident.id, status: .escalated, note: "to police", assignee: nil, user: "u2")
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: [incident.id], commandLine: "cairn export (test)", toolVersion: "test",
                      exportedAt: Timestamp(seconds: 1_780_000_000)),
        to: bag)
    let data = try Data(contentsOf: URL(fileURLWithPath: bag + "/data/incident.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let exported = try #require((json["incidents"] as? [[String: Any]])?.first)
    #expect(exported["status"] as? String == "escalated")
    #expect(exported["confidence"] as? Int == incident.confidence)
    #expect((exported["explanation"] as? String)?.hasPrefix("Grouped: ") == true)
    let triage = try #require(exported["triage"] as? [[String: Any]])
    #expect(triage.map { $0["status"] as? String } == ["investigating", "escalated"])
    #expect(triage.map { $0["user"] as? String } == ["u1", "u2"])
    #expect(triage.first?["note"] as? String == "beacons every 5 min")
    #expect(triage.first?["assignee"] as? String == "ana")
    #expect(PackageVerifier.verify(directory: bag).problems == [])
}
