import ByteParsing
import Observations

extension PacketDecoder {
    /// IPv4 (RFC 791). Observes both addresses (the other one as host; as `tunnel.*`
    /// fields inside a tunnel, i.e. when an IP header came before), then hands the payload on (UDP,
    /// IP-in-IP, 6in4, GRE); a fragment's once its datagram is whole. The packet ends at the
    /// smaller of the total length and the captured bytes; a total length of 0 (TCP
    /// segmentation offload captures) means "what was captured".
    mutating func decodeIPv4(
        _ bytes: Span<UInt8>, context: inout PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let header = ByteCursor(bytes)
        guard let versionAndLength = header.getUInt8(at: 0) else {
            anomalies.record(.ipv4Truncated)
            return .done
        }
        guard versionAndLength >> 4 == 4 else {
            anomalies.record(.ipv4BadVersion)
            return .done
        }
        guard let totalLength = header.getUInt16(at: 2), let identification = header.getUInt16(at: 4),
              let fragment = header.getUInt16(at: 6),
              let proto = header.getUInt8(at: 9), let source = header.getUInt32(at: 12),
              let destination = header.getUInt32(at: 16)
        else {
            // A header cut inside the destination still names its source (as Wireshark
            // shows it); the source is worth matching even without a host.
            if versionAndLength & 0x0F >= 5, let source = header.getUInt32(at: 12) {
                observe(Observation(value: .ipv4(IPv4Address(source)),
                                    field: context.ipHeaders > 0 ? .tunnelIPSource : .ipSource, host: .none,
                                    locator: context.locator, time: context.time))
            }
            anomalies.record(.ipv4Truncated)
            return .done
        }
        let headerLength = Int(versionAndLength & 0x0F) * 4
        guard headerLength >= 20 else {
            anomalies.record(.ipv4BadHeaderLength)
            return .done
        }
        guard totalLength == 0 || Int(totalLength) >= headerLength else {
            anomalies.record(.ipv4BadTotalLength)
            return .done
        }

        context.ipHeaders += 1
        guard context.ipHeaders <= PacketDecoder.maxIPHeaders else {
            anomalies.record(.tunnelTooDeep)
            return .done
        }
        let sourceAddress = IPv4Address(source)
        let destinationAddress = IPv4Address(destination)
        context.source = .ipv4(sourceAddress)
        context.destination = .ipv4(destinationAddress)

        var payload: Range<Int>? = nil
        var reassembled: [UInt8]? = nil
        if bytes.count >= headerLength {
            var end = bytes.count
            if totalLength != 0 {
                if Int(totalLength) > bytes.count {
                    // A sampled packet is cut on purpose (sFlow).
                    if !context.isSampled { anomalies.record(.ipv4Truncated) }
                } else {
                    end = Int(totalLength)
                }
            }
            let fragmentOffset = Int(fragment & 0x1FFF) * 8
            let more = fragment & 0x2000 != 0
            if fragmentOffset == 0 && !more {
                payload = headerLength <= end ? headerLength..<end : nil
            } else if headerLength <= end, !context.isSampled {
                // A fragment: the payload is handed on once all fragments have come
                // (Fragments.swift), in the packet of the one that completes it.
                let key = FragmentKey(sourceHigh: 0, sourceLow: UInt64(source), destinationHigh: 0,
                                      destinationLow: UInt64(destination), identification: UInt32(identification),
                                      proto: proto, isIPv6: false)
                reassembled = reassembleFragment(
                    key, proto: proto, offset: fragmentOffset, more: more, data: bytes.extracting(headerLength..<end),
                    context: context, observe: observe)
            }
        } else {
            anomalies.record(.ipv4Truncated)
        }
        // A header inside a tunnel (not the packet's first) has the tunnel fields.
        let inner = context.ipHeaders > 1
        // One observation for both addresses: the second changes only what differs.
        var observation = Observation(
            value: .ipv4(sourceAddress), field: inner ? .tunnelIPSource : .ipSource, host: .ipv4(destinationAddress),
            locator: context.locator, time: context.time, packetLength: context.wireLength)
        observe(observation)
        observation.value = .ipv4(destinationAddress)
        observation.field = inner ? .tunnelIPDestination : .ipDestination
        observation.host = .ipv4(sourceAddress)
        observe(observation)
        guard let layer = PacketDecoder.layer(forIPProtocol: proto) else { return .done }
        if let reassembled {
            run(layer, reassembled.span, context: &context, observe: observe)
            return .done
        }
        guard let payload else { return .done }
        return .next(layer, payload)
    }

    /// The layer an IP protocol number (IPv4 protocol, IPv6 next header) hands its
    /// payload to; nil for those not decoded.
    static func layer(forIPProtocol proto: UInt8) -> Layer? {
        switch proto {
        case 17: .udp
        case 6: .tcp
        case 4: .ipv4
        case 41: .ipv6
        case 47: .gre
        case 1: .icmp
        case 58: .icmpv6
        default: nil
        }
    }
}
