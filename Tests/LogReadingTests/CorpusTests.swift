import Foundation
import Observations
import Testing
@testable import LogReading

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func plainAndGzipFormsGiveTheSameObservations() throws {
    let directory = Fixture.corpus
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    var compared = 0
    for name in names where name.hasSuffix(".gz") {
        let plainName = String(name.dropLast(3))
        let plainPath = directory.appendingPathComponent(plainName).path
        guard names.contains(plainName) else { continue }
        let (plainSeen, plainSummary) = try Fixture.observe(path: plainPath, compressed: false)
        let (gzipSeen, gzipSummary) = try Fixture.observe(
            path: directory.appendingPathComponent(name).path, compressed: true)
        #expect(plainSummary.damage == nil, "\(plainName)")
        #expect(gzipSummary.damage == nil, "\(name)")
        #expect(plainSummary.lines > 0, "\(plainName)")
        #expect(gzipSummary.lines == plainSummary.lines, "\(name)")
        #expect(gzipSummary.bytes == plainSummary.bytes, "\(name)")
        #expect(gzipSeen == plainSeen, "\(name)")
        compared += 1
    }
    #expect(compared >= 20)
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func multiMemberCorpusFileMatchesPlain() throws {
    let directory = Fixture.corpus
    let plain = directory.appendingPathComponent("loghub-OpenSSH_2k.log").path
    let multi = directory.appendingPathComponent("loghub-OpenSSH_2k.log.multimember.gz").path
    let (plainSeen, plainSummary) = try Fixture.observe(path: plain, compressed: false)
    for chunkSize in [333, LogReader.defaultChunkSize] {
        let (seen, summary) = try Fixture.observe(path: multi, compressed: true, chunkSize: chunkSize)
        #expect(summary.damage == nil)
        #expect(summary.lines == plainSummary.lines)
        #expect(summary.lines == 2000)
        #expect(seen == plainSeen)
    }
    #expect(plainSeen.count > 1000)
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func smallChunksGiveTheSameObservationsOnCorpus() throws {
    let directory = Fixture.corpus
    for name in ["cs-sshd-logs.log", "cs-mikrotik-logs.log", "cs-pfsense-rfc5424-filterlog.log"] {
        let path = directory.appendingPathComponent(name).path
        let (reference, _) = try Fixture.observe(path: path, compressed: false)
        for chunkSize in [1, 17, 32] {
            let (seen, _) = try Fixture.observe(path: path, compressed: false, chunkSize: chunkSize)
            #expect(seen == reference, "\(name) at chunk size \(chunkSize)")
        }
    }
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func sshdLogAddressesHaveTheirHostLineAndTime() throws {
    let directory = Fixture.corpus
    let (seen, summary) = try Fixture.observe(
        path: directory.appendingPathComponent("cs-sshd-logs.log").path, compressed: false)
    #expect(summary.lines == 24)
    #expect(summary.damage == nil)
    let addresses = seen.filter { [.logIP, .logSource, .logDestination].contains($0.field) }.map {
        "\($0.line)@\($0.offset) \($0.value) \($0.host ?? "-") \($0.time.iso8601)"
    }
    #expect(addresses.first == "1@0 35.188.49.176 sd-126005 2024-02-12T14:10:21Z")
    #expect(addresses.contains("2@89 35.188.49.176 sd-126005 2024-02-12T14:10:21Z"))
    #expect(addresses.contains("4@267 5.33.63.160 workshop 2024-11-02T15:40:14Z"))
    #expect(addresses.contains("6@555 206.81.24.125 ip-172-31-20-90 2024-12-22T14:53:37Z"))
    #expect(addresses.contains("17@2071 192.168.1.1 myserver 2023-11-13T23:20:42.738197Z"))
    // The file is a collection of samples, not one chronology: line 7 (Feb) after line 6
    // (Dec) is taken as a December→January rollover, so the rest are in 2025.
    #expect(addresses.contains("7@680 92.255.85.135 myhost 2025-02-19T10:38:14Z"))
    #expect(addresses.contains("21@2574 192.168.1.3 sd-126005 2025-02-12T14:10:24Z"))
    // "::ffff:192.168.1.1 (::ffff:192.168.1.1)": seen twice as IPv4 and twice as IPv6.
    #expect(addresses.filter { $0.hasPrefix("23@2762 192.168.1.1 myhost ") }.count == 2)
    #expect(addresses.filter { $0 == "23@2762 ::ffff:c0a8:101 myhost 2025-12-12T14:10:24Z" }.count == 2)
    #expect(addresses.last == "24@2906 192.168.1.1 myhost 2025-12-16T14:10:24Z")
    #expect(addresses.count == 27)
    let domains = seen.filter { $0.field == .logDomain }.map { "\($0.line) \($0.value)" }
    #expect(domains.contains("24 example.com"))
    // Header hosts are not observed as domains.
    #expect(!seen.contains { $0.field == .logDomain && $0.value == .domain("sd-126005") })
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func rfc5424AndHighPrecisionHostsOnCorpus() throws {
    let directory = Fixture.corpus
    let (filterlog, _) = try Fixture.observe(
        path: directory.appendingPathComponent("cs-pfsense-rfc5424-filterlog.log").path, compressed: false)
    let first = try #require(filterlog.first)
    // The source address's host is the line's destination (the other side).
    #expect(first.host == "192.168.1.100")
    #expect(first.time.iso8601 == "2025-11-06T11:32:42.868451Z")
    #expect(first.value == .ipv4(try #require(IPv4Address("192.168.5.6"))))
    #expect(!filterlog.contains { $0.value == .domain("firewall.lan") && $0.line == 1 })
    // Source and destination come from the CSV positions, for IPv4 and IPv6.
    #expect(filterlog.map { "\($0.line) \($0.field.rawValue) \($0.value)" } == [
        "1 log.src 192.168.5.6", "1 log.dst 192.168.1.100",
        "2 log.src 192.168.10.110", "2 log.dst 192.168.5.6",
        "3 log.src fdfd:ace:ace:10:d8:cdbf:f6f8:6d69", "3 log.dst fdfd:ace:ace:5::6",
        "4 log.src 192.168.5.6", "4 log.dst 192.168.1.100",
    ])

    let (mikrotik, _) = try Fixture.observe(
        path: directory.appendingPathComponent("cs-mikrotik-logs.log").path, compressed: false)
    let seen = mikrotik.filter { $0.line == 1 }.map { "\($0.value) \($0.host ?? "-") \($0.time.iso8601)" }
    #expect(seen == [
        "186.26.78.68 10.120.127.1 2023-03-18T19:35:05.734637Z",
        "81.82.202.145 10.120.127.1 2023-03-18T19:35:05.734637Z",
    ])
}

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func firewallAndMailLogsTagSourceAndDestination() throws {
    let directory = Fixture.corpus
    for (name, sources, destinations) in [
        ("cs-iptables-logs.log", 4, 4), ("cs-proxmox-iptables.log", 10, 10), ("cs-pf-logs.log", 9, 9),
    ] {
        let (seen, _) = try Fixture.observe(path: directory.appendingPathComponent(name).path, compressed: false)
        let addresses = seen.filter { [.logIP, .logSource, .logDestination].contains($0.field) }
        #expect(addresses.filter { $0.field == .logSource }.count == sources, "\(name)")
        #expect(addresses.filter { $0.field == .logDestination }.count == destinations, "\(name)")
        #expect(addresses.allSatisfy { $0.field != .logIP }, "\(name)")
    }
}
