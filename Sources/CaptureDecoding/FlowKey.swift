// The flow a packet belongs to, for the evidence extract: the outermost IP header's
// address pair, the transport protocol and (TCP, UDP, SCTP) the port pair, ordered so
// that both directions give the same key. PacketLocation.swift finds it in a packet.

import Observations

/// A direction-independent flow key: the IP address pair, the protocol and, for TCP,
/// UDP and SCTP, the port pair (zero otherwise). Endpoint `a` is the smaller
/// (address, port) of the two.
public struct FlowKey: Hashable, Sendable, CustomStringConvertible {
    /// 4 or 6.
    public var ipVersion: UInt8
    /// The IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP…).
    public var protocolNumber: UInt8
    /// Addresses as 128-bit values (IPv4 in the low 32 bits).
    public var addressA: IPv6Address
    public var portA: UInt16
    public var addressB: IPv6Address
    public var portB: UInt16

    public init(ipVersion: UInt8, protocolNumber: UInt8, source: IPv6Address, sourcePort: UInt16,
                destination: IPv6Address, destinationPort: UInt16) {
        self.ipVersion = ipVersion
        self.protocolNumber = protocolNumber
        if (source, sourcePort) <= (destination, destinationPort) {
            (addressA, portA, addressB, portB) = (source, sourcePort, destination, destinationPort)
        } else {
            (addressA, portA, addressB, portB) = (destination, destinationPort, source, sourcePort)
        }
    }

    /// Whether the key has ports (TCP, UDP, SCTP).
    public var hasPorts: Bool { FlowKey.portProtocols.contains(protocolNumber) }

    static let portProtocols: Set<UInt8> = [6, 17, 132]

    /// e.g. `tcp 192.0.2.1:51000 <-> 198.51.100.7:443`, `ip/1 192.0.2.1 <-> 192.0.2.9`.
    public var description: String {
        let name: String
        switch protocolNumber {
        case 6: name = "tcp"
        case 17: name = "udp"
        case 132: name = "sctp"
        default: name = "ip/\(protocolNumber)"
        }
        func endpoint(_ address: IPv6Address, _ port: UInt16) -> String {
            let text = ipVersion == 4 ? IPv4Address(UInt32(truncatingIfNeeded: address.low)).description : address.description
            guard hasPorts else { return text }
            return ipVersion == 4 ? "\(text):\(port)" : "[\(text)]:\(port)"
        }
        return "\(name) \(endpoint(addressA, portA)) <-> \(endpoint(addressB, portB))"
    }
}
