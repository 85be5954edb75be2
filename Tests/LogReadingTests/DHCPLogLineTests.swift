import Observations
import Testing
@testable import LogReading

// DHCP servers' log lines that say which address a host name was given
// (`Field.dhcpLease`, the name as the observation's host).

private func lease(_ message: String) -> String? {
    let bytes = Array(message.utf8)
    return DHCPLogLine.lease(bytes.span, messageStart: 0).map {
        "\(String(decoding: bytes[$0.name], as: UTF8.self))=\($0.address)"
    }
}

@Test(arguments: [
    ("DHCPACK on 10.0.0.23 to 00:11:22:33:44:55 (web01) via eth0", "web01=10.0.0.23"),
    ("DHCPACK on 10.0.0.23 to 00:11:22:33:44:55 (WS-1102.corp.example) via 10.0.0.1", "WS-1102.corp.example=10.0.0.23"),
    ("DHCPACK(eth0) 192.168.1.50 00:11:22:33:44:55 laptop-7", "laptop-7=192.168.1.50"),
    ("3528634213 DHCPACK(br0) 192.168.1.2 00:11:22:33:44:55 nas", "nas=192.168.1.2"),
])
func aDHCPServerLineNamesTheLease(message: String, expected: String) {
    #expect(lease(message) == expected)
}

@Test(arguments: [
    "DHCPACK on 10.0.0.23 to 00:11:22:33:44:55 via eth0",  // no client name
    "DHCPACK(eth0) 192.168.1.50 00:11:22:33:44:55",  // no client name
    "DHCPACK on 10.0.0.300 to 00:11:22:33:44:55 (web01) via eth0",  // not an address
    "DHCPACK on 10.0.0.23 to 00:11:22:33:44:55 (web01",  // unclosed
    "DHCPREQUEST for 10.0.0.23 from 00:11:22:33:44:55 (web01) via eth0",
    "DHCPACKX on 10.0.0.23 to 00:11:22:33:44:55 (web01) via eth0",
    "67.32.156.34 - - [01/Mar/2024:00:02:48 +0000] \"HEAD /login HTTP/1.1\" 500 20829",
    "12345",
    "",
])
func otherLinesNameNoLease(message: String) {
    #expect(lease(message) == nil, "\(message)")
}

@Test func aLogReadObservesTheLeaseWithItsNameAsHost() throws {
    let log = Array("""
        Mar  2 09:00:00 dhcp1 dhcpd[100]: DHCPACK on 10.0.0.23 to 00:11:22:33:44:55 (web01) via eth0
        Mar  2 09:00:05 gw dnsmasq-dhcp[5543]: 3528634213 DHCPACK(br0) 192.168.1.2 00:11:22:33:44:55 nas

        """.utf8)
    let (seen, _) = try Fixture.observe(log)
    let leases = seen.filter { $0.field == .dhcpLease }.map { "\($0.host ?? "-")=\($0.value)" }
    #expect(leases == ["web01=10.0.0.23", "nas=192.168.1.2"])
    // The addresses are still observed as text too, with the server as host.
    #expect(seen.contains { $0.field == .logIP && "\($0.value)" == "10.0.0.23" && $0.host == "dhcp1" })
}
