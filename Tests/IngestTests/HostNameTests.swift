import CaseStore
import Foundation
import Testing
@testable import Ingest

/// Log host names resolved to addresses by the DHCP leases of the same case: a real
/// capture's leases (../shared/corpus: two Windows clients named in their DHCP
/// requests) and a DHCP server's log.
@Suite struct HostNameTests {
    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func logSightingsOfALeasedNameAreGroupedUnderItsAddress() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = corpus.appendingPathComponent("pcap/sv-smb2-ntlmssp-negotiateflags.pcap").path
        // The capture leases DESKTOP-V1FA0UQ 192.168.199.133 and DESKTOP-2AEFM7G
        // 192.168.199.132; the DHCP server's log leases kiosk two addresses.
        let logs = directory.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try """
            2023-04-01T10:00:00Z dhcp1 dhcpd[100]: DHCPACK on 10.0.0.5 to 00:11:22:33:44:55 (kiosk) via eth0
            2023-04-01T11:00:00Z dhcp1 dhcpd[100]: DHCPACK on 10.0.0.6 to 00:11:22:33:44:55 (kiosk) via eth0

            """.write(to: logs.appendingPathComponent("dhcpd.log"), atomically: true, encoding: .utf8)
        try """
            2023-04-01T12:00:00Z desktop-v1fa0uq sshd[1]: Failed password for admin from 203.0.113.45 port 4000
            2023-04-01T12:00:01Z DESKTOP-2AEFM7G.corp.example sshd[1]: Failed password for admin from 203.0.113.45 port 4001
            2023-04-01T12:00:02Z kiosk sshd[1]: Failed password for admin from 203.0.113.45 port 4002
            2023-04-01T12:00:03Z web01 sshd[1]: Failed password for admin from 203.0.113.45 port 4003

            """.write(to: logs.appendingPathComponent("auth.log"), atomically: true, encoding: .utf8)

        let (report, database) = try Fixtures.ingest([capture, logs.path], indicators: "203.0.113.45\n", in: directory)
        #expect(report.failed.isEmpty)
        #expect(report.hostNames.resolved.map { "\($0.name)=\($0.address)" }.sorted()
                == ["DESKTOP-2AEFM7G.corp.example=192.168.199.132", "desktop-v1fa0uq=192.168.199.133"])
        #expect(report.hostNames.ambiguous.map(\.name) == ["kiosk"])
        #expect(report.hostNames.ambiguous.first?.addresses == ["10.0.0.5", "10.0.0.6"])

        let case_ = try CaseDatabase(location: database)
        let hosts = try case_.sightings(incident: nil).map { "\($0.host)|\($0.hostName ?? "")" }.sorted()
        #expect(hosts == [
            "192.168.199.132|DESKTOP-2AEFM7G.corp.example", "192.168.199.133|desktop-v1fa0uq", "kiosk|", "web01|",
        ])
        // The evidence: the capture's five ACKs give two name-address pairs, the log two.
        let leases = try case_.hostAddresses().map { lease -> String in
            let number: UInt64 = switch lease.locator {
            case .packet(let packet): packet
            case .line(let line, _): line
            }
            return "\(lease.name)=\(lease.address)@\(number)"
        }.sorted()
        #expect(leases == [
            "DESKTOP-2AEFM7G=192.168.199.132@335", "DESKTOP-V1FA0UQ=192.168.199.133@22", "kiosk=10.0.0.5@1",
            "kiosk=10.0.0.6@2",
        ])
        // Resolving again changes nothing: each sighting is resolved once.
        let again = try case_.resolveHostNames()
        #expect(again.resolved.isEmpty)
    }

    /// A DHCP server's log of a busy (or hostile) network does not fill the case: at most
    /// four addresses per name and 65,536 names per source are kept, and the source says
    /// how many leases were not.
    @Test func leasesKeptAreBounded() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var text = ""
        for index in 0..<6 {
            text += "2023-04-01T10:00:0\(index)Z dhcp1 dhcpd[1]: DHCPACK on 10.0.0.\(index + 1) to 00:11:22:33:44:55 (kiosk) via eth0\n"
        }
        let names = SightingCollector.namesKept + 10
        for index in 0..<names {
            text += "2023-04-01T11:00:00Z dhcp1 dhcpd[1]: DHCPACK on 10.1.\(index / 256 % 256).\(index % 256) to "
                + "00:11:22:33:44:55 (host-\(index)) via eth0\n"
        }
        let log = directory.appendingPathComponent("dhcpd.log")
        try text.write(to: log, atomically: true, encoding: .utf8)
        let (report, database) = try Fixtures.ingest([log.path], indicators: "203.0.113.45\n", in: directory, jobs: 1)
        #expect(report.failed.isEmpty)
        let leases = try CaseDatabase(location: database).hostAddresses()
        #expect(leases.filter { $0.name == "kiosk" }.map(\.address) == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"])
        // kiosk is one of the names kept: the first 65,536 names, so 65,535 of host-….
        #expect(leases.count == 4 + SightingCollector.namesKept - 1)
        #expect(report.sources.first?.summary.notes.contains {
            $0.hasPrefix("11 DHCP lease(s) of host names past the first 65536 were not kept")
        } == true, "\(report.sources.first?.summary.notes ?? [])")
    }
}
