import CaseStore
import Foundation
import Testing
@testable import Ingest

/// An allow list hides a sighting from incidents but never drops it: the sighting is
/// kept with the entry that suppressed it.
@Test func suppressedSightingsAreKeptAndMarkedButJoinNoIncident() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let allow = directory.appendingPathComponent("local/allow")
    try FileManager.default.createDirectory(at: allow, withIntermediateDirectories: true)
    try "# our CDN\ncdn.update-check.example\n".write(
        to: allow.appendingPathComponent("cdn.txt"), atomically: true, encoding: .utf8)
    let database = directory.appendingPathComponent("case.sqlite").path
    let report = try Ingestor(options: IngestOptions(
        rulePaths: [Fixtures.rules, directory.appendingPathComponent("local").path], databasePath: database, jobs: 1,
        filter: nil, year: nil, commandLine: "test", version: "test")
    ).run(paths: [Fixtures.sampleData + "/office-lan.pcap"])
    #expect(report.suppressed == 1)

    let store = try CaseDatabase(location: database)
    #expect(try store.sightings(incident: nil).allSatisfy { $0.observed != "cdn.update-check.example" })
    let all = try store.sightings(incident: nil, includeSuppressed: true)
    let hidden = try #require(all.first { $0.observed == "cdn.update-check.example" })
    #expect(hidden.suppressedBy?.hasSuffix("local/allow/cdn.txt:2 cdn.update-check.example") == true)
    #expect(hidden.incidentID == nil)
    #expect(hidden.locator == .packet(3))
    // The beacons still make the incident, without the suppressed DNS query.
    let incident = try #require(try store.incidents().first { $0.host == "10.0.0.23" })
    #expect(incident.indicators == ["198.51.100.0/24", "203.0.113.45"])
}
