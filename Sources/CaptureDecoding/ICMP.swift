import ByteParsing
import Observations

extension PacketDecoder {
    /// ICMP (RFC 792) and ICMPv6 (RFC 4443) error messages: destination unreachable,
    /// source quench, redirect, time exceeded, parameter problem (ICMPv6: unreachable,
    /// packet too big, time exceeded, parameter problem) quote the start of the packet
    /// that caused them after an 8-byte header. The quoted IP header's addresses are
    /// observed (`icmp.quoted.*`, as tshark lists them among `ip.addr`): an error about a
    /// packet to a listed address shows a host tried to reach it. Nothing else of the
    /// quote is decoded: it is a cut copy, not a packet of its own.
    mutating func decodeICMP(
        _ bytes: Span<UInt8>, isVersion6: Bool, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let cursor = ByteCursor(bytes)
        guard let type = cursor.getUInt8(at: 0) else {
            anomalies.record(.icmpTruncated)
            return .done
        }
        let isError: Bool
        switch (isVersion6, type) {
        case (true, 1...4), (false, 3...5), (false, 11...12): isError = true
        default: isError = false
        }
        guard isError, let version = cursor.getUInt8(at: 8).map({ $0 >> 4 }) else { return .done }
        var observation = Observation(value: .ipv4(IPv4Address(0)), field: .quotedIPSource, host: .none,
                                      locator: context.locator, time: context.time)
        switch version {
        case 4:
            guard let source = cursor.getUInt32(at: 8 + 12), let destination = cursor.getUInt32(at: 8 + 16) else {
                anomalies.record(.icmpQuoteTruncated)
                return .done
            }
            observation.value = .ipv4(IPv4Address(source))
            observation.host = .ipv4(IPv4Address(destination))
            observe(observation)
            observation.value = .ipv4(IPv4Address(destination))
            observation.host = .ipv4(IPv4Address(source))
            observation.field = .quotedIPDestination
            observe(observation)
        case 6:
            guard let sourceAddress = bytes.ipv6Address(at: 8 + 8), let destinationAddress = bytes.ipv6Address(at: 8 + 24)
            else {
                anomalies.record(.icmpQuoteTruncated)
                return .done
            }
            observation.value = .ipv6(sourceAddress)
            observation.host = .ipv6(destinationAddress)
            observation.field = .quotedIPv6Source
            observe(observation)
            observation.value = .ipv6(destinationAddress)
            observation.host = .ipv6(sourceAddress)
            observation.field = .quotedIPv6Destination
            observe(observation)
        default:
            anomalies.record(.icmpQuoteBadVersion)
        }
        return .done
    }
}
