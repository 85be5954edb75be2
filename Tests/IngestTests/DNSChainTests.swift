import CaseStore
import Foundation
import Testing
@testable import Ingest

/// DNS chains: a host resolves a domain indicator, then connects to an address of the
/// answer, in the same capture or in another one read in any order or in another run.
@Suite struct DNSChainTests {
    static let origin: UInt32 = 1_772_442_000  // 2026-03-02T09:00:00Z

    /// A raw-IP (LINKTYPE_RAW) pcap of IPv4 packets at `origin + seconds`.
    static func pcap(_ packets: [(seconds: UInt32, bytes: [UInt8])]) -> Data {
        func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        var data = Data(le32(0xA1B2_C3D4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65535) + le32(101))
        for packet in packets {
            data.append(contentsOf: le32(origin + packet.seconds) + le32(0) + le32(UInt32(packet.bytes.count))
                + le32(UInt32(packet.bytes.count)) + packet.bytes)
        }
        return data
    }

    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    static func ipv4(_ source: [UInt8], _ destination: [UInt8], proto: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x45, 0] + be16(20 + payload.count) + be16(1) + be16(0) + [64, proto, 0, 0] + source + destination + payload
    }

    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    static let client: [UInt8] = [10, 0, 0, 5]
    static let resolver: [UInt8] = [10, 0, 0, 53]
    static let server: [UInt8] = [198, 51, 100, 77]

    /// The resolver's answer to the client: `www.bad-domain.example` CNAME
    /// `edge.bad-cdn.example`, A 198.51.100.77.
    static var answer: [UInt8] {
        let question = name("www.bad-domain.example") + be16(1) + be16(1)
        let cname = [0xC0, 12] + be16(5) + be16(1) + [0, 0, 0, 60] + be16(name("edge.bad-cdn.example").count)
            + name("edge.bad-cdn.example")
        let address = name("edge.bad-cdn.example") + be16(1) + be16(1) + [0, 0, 0, 60] + be16(4) + server
        let dns = be16(0x1234) + be16(0x8180) + be16(1) + be16(2) + be16(0) + be16(0) + question + cname + address
        return ipv4(resolver, client, proto: 17, be16(53) + be16(40000) + be16(8 + dns.count) + be16(0) + dns)
    }

    /// A TCP SYN from the client to the server.
    static var syn: [UInt8] {
        let tcp = be16(40001) + be16(443) + [0, 0, 0, 1] + [0, 0, 0, 0] + [0x50, 0x02] + be16(65535) + [0, 0, 0, 0]
        return ipv4(client, server, proto: 6, tcp)
    }

    func setUp() throws -> (directory: URL, rules: String, dns: String, connections: String) {
        let directory = try Fixtures.temporaryDirectory()
        let rules = directory.appendingPathComponent("rules.txt").path
        try "bad-cdn.example\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let dns = directory.appendingPathComponent("dns.pcap").path
        try Self.pcap([(0, Self.answer), (2, Self.syn)]).write(to: URL(fileURLWithPath: dns))
        // Connections 10 minutes and 2 hours after the answer.
        let connections = directory.appendingPathComponent("connections.pcap").path
        try Self.pcap([(600, Self.syn), (7200, Self.syn)]).write(to: URL(fileURLWithPath: connections))
        return (directory, rules, dns, connections)
    }

    func ingest(_ paths: [String], rules: String, database: String, jobs: Int = 1) throws -> IngestReport {
        try Ingestor(options: IngestOptions(
            rulePaths: [rules], databasePath: database, jobs: jobs, filter: nil, year: 2026,
            commandLine: "test", version: "test")
        ).run(paths: paths)
    }

    func derived(_ database: String) throws -> [String] {
        try CaseDatabase(location: database).sightings(incident: nil).filter { $0.derivedFrom != nil }.map {
            "\(($0.sourcePath as NSString).lastPathComponent) \($0.locator) \($0.field) \($0.observed) "
                + "\($0.indicatorValue) \($0.host) \($0.derivedFrom?.description ?? "")"
        }.sorted()
    }

    @Test func connectionsWithinTheHorizonAreDerivedFromTheAnswer() throws {
        let (directory, rules, dns, connections) = try setUp()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        let report = try ingest([connections, dns], rules: rules, database: database)
        #expect(report.derivedSightings == 2)
        let answer = "resolved edge.bad-cdn.example in dns.pcap packet 1 at 2026-03-02T09:00:00Z"
        #expect(try derived(database) == [
            "connections.pcap packet(1) ip.dst 198.51.100.77 bad-cdn.example 10.0.0.5 \(answer)",
            "dns.pcap packet(2) ip.dst 198.51.100.77 bad-cdn.example 10.0.0.5 \(answer)",
        ])
        // The connection two hours later is beyond the default one-hour horizon. The
        // derived sightings join the incident of the DNS sightings (the CNAME data and the
        // A record's owner name, both `edge.bad-cdn.example`).
        let store = try CaseDatabase(location: database)
        #expect(try store.sightings(incident: nil).filter { $0.derivedFrom == nil }.map(\.field) == ["dns.answer", "dns.answer"])
        let incidents = try store.incidents()
        #expect(incidents.count == 1)
        #expect(incidents.first?.sightingCount == 4)
    }

    @Test func sameDerivationsWhateverTheOrderJobsOrRuns() throws {
        let (directory, rules, dns, connections) = try setUp()
        defer { try? FileManager.default.removeItem(at: directory) }
        let oneRun = directory.appendingPathComponent("one.sqlite").path
        _ = try ingest([dns, connections], rules: rules, database: oneRun)
        let reversed = directory.appendingPathComponent("reversed.sqlite").path
        _ = try ingest([connections, dns], rules: rules, database: reversed, jobs: 2)
        // Connections first, the answer in a later run.
        let split = directory.appendingPathComponent("split.sqlite").path
        let first = try ingest([connections], rules: rules, database: split)
        #expect(first.derivedSightings == 0)
        let second = try ingest([dns], rules: rules, database: split)
        #expect(second.derivedSightings == 2)
        #expect(second.sourcesSearchedForChains == 2)
        let third = try ingest([dns], rules: rules, database: split)
        #expect(third.sourcesSearchedForChains == 0, "each source is searched once per resolution")
        let expected = try derived(oneRun)
        #expect(expected.count == 2)
        #expect(try derived(reversed) == expected)
        #expect(try derived(split) == expected)
    }

    @Test func aFileChangedSinceItWasReadIsNotSearched() throws {
        let (directory, rules, dns, connections) = try setUp()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("case.sqlite").path
        _ = try ingest([connections], rules: rules, database: database)
        var changed = try Data(contentsOf: URL(fileURLWithPath: connections))
        changed[changed.count - 1] ^= 0xFF
        try changed.write(to: URL(fileURLWithPath: connections))
        let report = try ingest([dns], rules: rules, database: database)
        #expect(report.chainProblems.count == 1)
        #expect(report.chainProblems.first?.contains("connections.pcap: not searched for DNS chains: the file changed") == true)
        #expect(report.hadProblems)
        #expect(try derived(database).count == 1, "the answer's own capture is still searched")
    }

    @Test func aFirewallLogLineIsDerivedFromTheCapturedAnswer() throws {
        let (directory, rules, dns, _) = try setUp()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The firewall logs the client's connection 5 minutes after the answer.
        let log = directory.appendingPathComponent("fw.log").path
        try "Mar  2 09:05:00 fw01 kernel: ACCEPT IN=eth1 OUT=eth0 SRC=10.0.0.5 DST=198.51.100.77 PROTO=TCP DPT=443\n"
            .write(toFile: log, atomically: true, encoding: .utf8)
        let database = directory.appendingPathComponent("case.sqlite").path
        _ = try ingest([log], rules: rules, database: database)
        let report = try ingest([dns], rules: rules, database: database)
        #expect(report.derivedSightings == 2)
        #expect(try derived(database).contains {
            $0.hasPrefix("fw.log line(number: 1, offset: 0) log.dst 198.51.100.77 bad-cdn.example 10.0.0.5 resolved")
        })
        // The log line joins the incident of the capture's client.
        let incidents = try CaseDatabase(location: database).incidents()
        #expect(incidents.count == 1)
        #expect(incidents.first?.host == "10.0.0.5")
        #expect(incidents.first?.severity == "medium", "corroborated by a capture and a log")
    }

    /// A capture that resolves the domain itself, after a connection that an earlier
    /// answer in another capture explains: its first pass (which follows each address
    /// from the capture's own answer on) cannot stand for the search there.
    @Test func aConnectionBeforeTheCapturesOwnAnswerDerivesFromAnEarlierOne() throws {
        let (directory, rules, _, _) = try setUp()
        defer { try? FileManager.default.removeItem(at: directory) }
        let early = directory.appendingPathComponent("early.pcap").path
        try Self.pcap([(0, Self.answer)]).write(to: URL(fileURLWithPath: early))
        let late = directory.appendingPathComponent("late.pcap").path
        try Self.pcap([(50, Self.syn), (300, Self.answer), (500, Self.syn)]).write(to: URL(fileURLWithPath: late))
        let oneRun = directory.appendingPathComponent("one.sqlite").path
        _ = try ingest([early, late], rules: rules, database: oneRun)
        let expected = try derived(oneRun)
        #expect(expected.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == [
            "late.pcap packet(1)", "late.pcap packet(3)",
        ])
        #expect(expected.first?.hasSuffix("in early.pcap packet 1 at 2026-03-02T09:00:00Z") == true)
        #expect(expected.last?.hasSuffix("in late.pcap packet 2 at 2026-03-02T09:05:00Z") == true)
        for order in [[late, early], [early, late]] {
            let split = directory.appendingPathComponent("split-\(order[0].hashValue).sqlite").path
            for path in order { _ = try ingest([path], rules: rules, database: split) }
            #expect(try derived(split) == expected)
        }
    }
}
