import ByteParsing
import Foundation
import Observations
import Testing
@testable import CaptureDecoding

// DHCP leases that name a host (`Field.dhcpLease`): the address a server acknowledged,
// with the client's host name as the observation's host.

/// A BOOTP message from a server: `op`, `yiaddr`, then the magic cookie and `options`.
private func bootp(op: UInt8 = 2, yourAddress: [UInt8] = [10, 0, 0, 23], options: [UInt8], cookie: Bool = true) -> [UInt8] {
    var message = [op, 1, 6, 0] + [UInt8](repeating: 0, count: 12) + yourAddress + [UInt8](repeating: 0, count: 8)
    message += [0, 0x11, 0x22, 0x33, 0x44, 0x55] + [UInt8](repeating: 0, count: 10 + 64 + 128)
    return message + (cookie ? [0x63, 0x82, 0x53, 0x63] : []) + options
}

private func option(_ code: UInt8, _ value: [UInt8]) -> [UInt8] { [code, UInt8(value.count)] + value }
private let ack = option(53, [5])
private let web01 = option(12, Array("web01".utf8))

private func leases(_ message: [UInt8], sourcePort: Int = 67, destinationPort: Int = 68)
    -> (leases: [String], anomalies: [String: UInt64])
{
    let packet = Craft.ipv4(source: Craft.server, destination: Craft.client,
                            payload: Craft.udp(source: sourcePort, destination: destinationPort, payload: message))
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    return (seen.filter { $0.field == .dhcpLease }.map { "\($0.host ?? "-")=\($0.value)" }, anomalies)
}

@Test func anAcknowledgedLeaseNamesItsHost() {
    #expect(leases(bootp(options: ack + web01 + [255])).leases == ["web01=10.0.0.23"])
    // Padding, a trailing NUL in the name, options in any order, to a relay (port 67).
    let padded = [0, 0] + option(12, Array("web01\0".utf8)) + option(51, [0, 0, 14, 16]) + ack + [255]
    #expect(leases(bootp(options: padded), destinationPort: 67).leases == ["web01=10.0.0.23"])
    // No end option: the message's end ends the options.
    #expect(leases(bootp(options: ack + web01)).leases == ["web01=10.0.0.23"])
}

@Test(arguments: [
    // (what, message, anomaly expected)
    ("an offer", bootp(options: option(53, [2]) + web01 + [255]), false),
    ("an ACK without a name", bootp(options: ack + [255]), false),
    ("an ACK without an address", bootp(yourAddress: [0, 0, 0, 0], options: ack + web01 + [255]), false),
    ("a request (op 1)", bootp(op: 1, options: ack + web01 + [255]), false),
    ("plain BOOTP (no cookie)", bootp(options: [UInt8](repeating: 0, count: 64), cookie: false), false),
    ("a name with a space", bootp(options: ack + option(12, Array("web 01".utf8)) + [255]), false),
    ("a name with a control byte", bootp(options: ack + option(12, [0x77, 0x1B, 0x77]) + [255]), false),
    ("an option running past the end", bootp(options: ack + [12, 40] + Array("web01".utf8)), true),
    ("an option length cut off", bootp(options: ack + [12]), true),
    ("cut inside the header", Array(bootp(options: ack + web01).prefix(100)), true),
])
func messagesThatNameNoLeaseAreSkipped(what: String, message: [UInt8], anomaly: Bool) {
    let (found, anomalies) = leases(message)
    #expect(found.isEmpty, "\(what)")
    #expect((anomalies["dhcp.malformed"] != nil) == anomaly, "\(what): \(anomalies)")
}

@Test func onlyAServerPortIsReadAsDHCP() {
    #expect(leases(bootp(options: ack + web01 + [255]), sourcePort: 68, destinationPort: 69).leases.isEmpty)
}

/// Clients name themselves in their requests; the ACK of the same transaction (xid and
/// hardware address) gives the address.
@Test func theNameOfTheRequestGoesWithTheACKOfItsTransaction() {
    func request(_ xid: UInt8, _ name: String) -> [UInt8] {
        var message = bootp(op: 1, yourAddress: [0, 0, 0, 0], options: option(53, [3]) + option(12, Array(name.utf8)) + [255])
        message[7] = xid
        return message
    }
    func acknowledgement(_ xid: UInt8, _ last: UInt8) -> [UInt8] {
        var message = bootp(yourAddress: [10, 0, 0, last], options: ack + [255])
        message[7] = xid
        return message
    }
    func udp(_ message: [UInt8], toServer: Bool) -> [UInt8] {
        Craft.ipv4(source: toServer ? Craft.client : Craft.server, destination: toServer ? Craft.server : Craft.client,
                   payload: Craft.udp(source: toServer ? 68 : 67, destination: toServer ? 67 : 68, payload: message))
    }
    let (seen, anomalies) = decodePackets([
        udp(request(1, "laptop-7"), toServer: true), udp(request(2, "printer"), toServer: true),
        udp(acknowledgement(2, 9), toServer: false), udp(acknowledgement(1, 7), toServer: false),
        udp(acknowledgement(3, 5), toServer: false),  // no request seen: no name
    ])
    #expect(anomalies.isEmpty)
    #expect(seen.filter { $0.field == .dhcpLease }.map(\.description)
            == ["dhcp.lease=10.0.0.9 host=printer packet(3)", "dhcp.lease=10.0.0.7 host=laptop-7 packet(4)"])
}

/// Real captures of ../shared/corpus, against what tshark shows of their DHCP
/// (`tshark -Y dhcp -T fields -e frame.number -e dhcp.option.dhcp -e dhcp.id
/// -e dhcp.option.hostname -e dhcp.ip.your`): every ACK whose transaction's request
/// named the client, with that name and the ACK's address; an OFFER (tcpdump's
/// dhcp-option-108, which names macbookpro) and ACKs of unnamed clients give none.
@Test(.enabled(if: corpusPresent, "../shared/corpus is absent"), arguments: [
    ("sv-smb2-ntlmssp-negotiateflags.pcap", [
        "22 DESKTOP-V1FA0UQ=192.168.199.133", "40 DESKTOP-V1FA0UQ=192.168.199.133",
        "335 DESKTOP-2AEFM7G=192.168.199.132", "479 DESKTOP-2AEFM7G=192.168.199.132",
        "490 DESKTOP-2AEFM7G=192.168.199.132",
    ]),
    ("sv-output-eve-ftp-data.pcap", [
        "42 jaekuryu-HP=192.168.0.13", "178 jaekuryu-HP=192.168.0.13", "194 jaekuryu-HP=192.168.0.13",
        "317 jaekuryu-HP=192.168.0.13", "468 jaekuryu-HP=192.168.0.13", "645 jaekuryu-HP=192.168.0.13",
        "870 jaekuryu-HP=192.168.0.13", "1078 jaekuryu-HP=192.168.0.13", "1167 jaekuryu-HP=192.168.0.13",
        "1259 jaekuryu-HP=192.168.0.13",
    ]),
    ("tcpd-dhcp-option-108.pcapng", []),
    ("pngtg-le-basic-test001.pcapng", []),
])
func corpusLeasesAreTheOnesTsharkShows(file: String, expected: [String]) throws {
    let path = try #require(corpusDirectory) + "/pcap/" + file
    let reader = try CaptureReader(file: try InputFile(path: path), filter: nil)
    var found: [String] = []
    let summary = reader.read(observe: { observation in
        guard observation.field == .dhcpLease, case .packet(let number) = observation.locator else { return }
        found.append("\(number) \(observation.host.text ?? "-")=\(observation.value.owned)")
    }, progress: { _ in })
    #expect(summary.damage == nil)
    #expect(summary.anomalies.counts["dhcp.malformed"] == nil)
    #expect(found == expected)
}
