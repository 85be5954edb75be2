import CaseStore
import Foundation
import Observations
import Testing
import TestSupport
@testable import Ingest

/// End to end on SampleData/ with Rules/: what scripts/make-sample-data.py planted.
@Suite struct SampleDataTests {
    func ingest(_ paths: [String], database: String, jobs: Int = 2, filter: String? = nil) throws -> IngestReport {
        let options = IngestOptions(
            rulePaths: [Fixtures.rules], databasePath: database, jobs: jobs, filter: filter, year: 2026,
            commandLine: "test", version: "test")
        return try Ingestor(options: options).run(paths: paths)
    }

    @Test(arguments: StoreKind.available) func findsThePlantedIncidents(store: StoreKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try store.newLocation(sqlitePath: directory.appendingPathComponent("case.sqlite").path)
        let report = try ingest([Fixtures.sampleData], database: database)

        #expect(report.sources.count == 4)
        #expect(report.failed.isEmpty)
        #expect(report.ruleErrors.isEmpty)
        #expect(report.incidentCount == 5)

        let incidents = try CaseDatabase(location: database).incidents()
        let summary = incidents.map { "\($0.host) \($0.severity) \($0.indicators.joined(separator: ","))" }.sorted()
        #expect(summary == [
            // The firewall's DROP of 10.0.0.23 → 203.0.113.45 joins the capture's incident
            // of 10.0.0.23 (a log line's source is the local host of its destination):
            // seen in both a capture and a log, it is critical.
            "10.0.0.23 critical 198.51.100.0/24,203.0.113.45,update-check.example",
            "10.0.0.57 low paypa1-login.test",
            "10.0.0.57 low paypa1-login.test",
            "fd00:20::17 low 2001:db8:bad::/48",
            "mail-gw high 203.0.113.45,9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,paypa1-login.test",
        ])
        // Newest first.
        #expect(incidents.map(\.lastSeen) == incidents.map(\.lastSeen).sorted(by: >))
        let beacon = try #require(incidents.first { $0.host == "10.0.0.23" })
        #expect(beacon.firstSeen == Timestamp(iso8601: "2026-03-02T09:00:05Z"))
        #expect(beacon.sightingCount == 9)
        #expect(try CaseDatabase(location: database).sightings(incident: beacon.id).contains {
            $0.field == "log.dst" && $0.sourcePath.hasSuffix("fw01.log")
        })
    }

    @Test(arguments: StoreKind.available) func sightingsCarryTheirProvenance(store: StoreKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try store.newLocation(sqlitePath: directory.appendingPathComponent("case.sqlite").path)
        _ = try ingest([Fixtures.sampleData], database: database)
        let rows = try CaseDatabase(location: database).sightings(incident: nil)

        // tshark shows the lookup of cdn.update-check.example as frame 3 of office-lan.pcap.
        let query = try #require(rows.first { $0.field == "dns.query" && $0.observed == "cdn.update-check.example" })
        #expect(query.sourcePath.hasSuffix("SampleData/office-lan.pcap"))
        #expect(query.locator == .packet(3))
        #expect(query.indicatorValue == "update-check.example")
        #expect(query.indicatorType == "domain")
        #expect(query.ruleFile.hasSuffix("Rules/phishing-domains.txt"))
        #expect(query.ruleLine == 3)
        #expect(query.host == "10.0.0.23")
        #expect(query.sourceSHA256 == "d1d80feb8080582c43bf30738ea8eddeb843e8320d44cbd76006387c3da436ae")

        // The clamd line is the second line of the second gzip member: line 14 of the file.
        let hash = try #require(rows.first { $0.field == "log.hash" })
        #expect(hash.sourcePath.hasSuffix("SampleData/syslog/mail-gw.log.gz"))
        #expect(hash.locator.lineNumber == 14)
        #expect(hash.host == "mail-gw")
        #expect(hash.time == Timestamp(iso8601: "2026-03-02T13:08:40Z"))
        #expect(hash.ruleFile.hasSuffix("Rules/malware-hashes.txt") && hash.ruleLine == 2)

        // The 20 packets to the listed IPv6 network, 2.5 s apart, are one conversation:
        // one sighting with the first packet's number, the count, bytes and last time.
        let v6 = rows.filter { $0.field == "ipv6.dst" }
        #expect(v6.count == 1)
        #expect(v6.allSatisfy { $0.observed == "2001:db8:bad::66" && $0.host == "fd00:20::17" })
        #expect(v6.first?.locator == .packet(1))
        #expect(v6.first?.packets == 20)
        #expect(v6.first?.lastTime == Timestamp(iso8601: "2026-03-02T11:02:47.500000Z"))
        #expect((v6.first?.bytes ?? 0) >= 20 * 60, "at least an IPv6 and a TCP header per packet")
    }

    @Test func reingestingAddsNothing() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        let first = try ingest([Fixtures.sampleData], database: database)
        let second = try ingest([Fixtures.sampleData], database: database)
        #expect(first.sightings > 0)
        #expect(second.sightings == 0)
        #expect(second.sources.allSatisfy { if case .duplicate = $0.status { true } else { false } })
        #expect(try CaseDatabase(location: database).sightings(incident: nil).count == Int(first.sightings))
    }

    @Test func sameIncidentsWhateverTheOrderJobsOrRuns() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = ["office-lan.pcap", "branch-v6.pcapng", "syslog/mail-gw.log.gz", "syslog/fw01.log"]
            .map { Fixtures.sampleData + "/" + $0 }
        func incidents(_ database: String) throws -> [String] {
            try CaseDatabase(location: database).incidents().map {
                "\($0.host) \($0.firstSeen.iso8601) \($0.lastSeen.iso8601) \($0.severity) \($0.confidence) \($0.indicators) \($0.sightingCount) \($0.explanation)"
            }
        }
        let oneRun = directory.appendingPathComponent("one.sqlite").path
        _ = try ingest(files, database: oneRun, jobs: 1)
        let reversed = directory.appendingPathComponent("reversed.sqlite").path
        _ = try ingest(files.reversed(), database: reversed, jobs: 2)
        let split = directory.appendingPathComponent("split.sqlite").path
        _ = try ingest([files[2], files[0]], database: split, jobs: 2)
        _ = try ingest([files[3], files[1]], database: split, jobs: 1)
        let expected = try incidents(oneRun)
        #expect(expected.count == 5)
        #expect(try incidents(reversed) == expected)
        #expect(try incidents(split) == expected)
    }

    @Test func filterKeepsFileFrameNumbers() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        let report = try ingest([Fixtures.sampleData + "/office-lan.pcap"], database: database, filter: "udp port 53")
        #expect(report.failed.isEmpty)
        let rows = try CaseDatabase(location: database).sightings(incident: nil)
        #expect(rows.allSatisfy { $0.field == "dns.query" }, "the filter drops the TCP beacons")
        #expect(rows.map(\.locator).contains(.packet(3)))
        #expect(report.packets > UInt64(rows.count), "every record counts, filtered or not")
    }
}

extension Locator {
    var lineNumber: UInt64? {
        if case .line(let number, _) = self { number } else { nil }
    }
}
