import ByteParsing
import Observations

extension PacketDecoder {
    /// Extension headers walked before giving up: real packets carry one or two; the
    /// bound keeps a chain of empty options headers from costing more than a few reads.
    static let maxIPv6ExtensionHeaders = 8

    /// IPv6 (RFC 8200): the fixed header, the extension headers (hop-by-hop, routing,
    /// destination options, fragment, AH), both addresses observed (the other one as
    /// host; as `tunnel.*` fields when the payload is another packet), then the payload
    /// handed on (UDP, IPv4/IPv6 in IPv6, GRE). Only a first fragment is handed on. A payload length
    /// of 0 (jumbogram) means "what was captured".
    mutating func decodeIPv6(
        _ bytes: Span<UInt8>, context: inout PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let header = ByteCursor(bytes)
        guard let version = header.getUInt8(at: 0) else {
            anomalies.record(.ipv6Truncated)
            return .done
        }
        guard version >> 4 == 6 else {
            anomalies.record(.ipv6BadVersion)
            return .done
        }
        guard let payloadLength = header.getUInt16(at: 4), let next = header.getUInt8(at: 6),
              let source = bytes.ipv6Address(at: 8), let destination = bytes.ipv6Address(at: 24)
        else {
            // A header cut inside the destination still names its source (as Wireshark
            // shows it); the source is worth matching even without a host.
            if let source = bytes.ipv6Address(at: 8) {
                observe(Observation(value: .ipv6(source),
                                    field: context.ipHeaders > 0 ? .tunnelIPv6Source : .ipv6Source, host: .none,
                                    locator: context.locator, time: context.time))
            }
            anomalies.record(.ipv6Truncated)
            return .done
        }
        context.ipHeaders += 1
        guard context.ipHeaders <= PacketDecoder.maxIPHeaders else {
            anomalies.record(.tunnelTooDeep)
            return .done
        }
        context.source = .ipv6(source)
        context.destination = .ipv6(destination)

        var end = bytes.count
        if payloadLength != 0 {
            if 40 + Int(payloadLength) > bytes.count {
                // A sampled packet is cut on purpose (sFlow).
                if !context.isSampled { anomalies.record(.ipv6Truncated) }
            } else {
                end = 40 + Int(payloadLength)
            }
        }
        let transport = transportPayload(bytes.extracting(0..<end), next: next, context: context, observe: observe)
        // A header inside a tunnel (not the packet's first) has the tunnel fields.
        let inner = context.ipHeaders > 1
        // One observation for both addresses: the second changes only what differs.
        var observation = Observation(
            value: .ipv6(source), field: inner ? .tunnelIPv6Source : .ipv6Source, host: .ipv6(destination),
            locator: context.locator, time: context.time, packetLength: context.wireLength)
        observe(observation)
        observation.value = .ipv6(destination)
        observation.field = inner ? .tunnelIPv6Destination : .ipv6Destination
        observation.host = .ipv6(source)
        observe(observation)
        switch transport {
        case .next(let proto, let payload):
            guard let layer = PacketDecoder.layer(forIPProtocol: proto) else { return .done }
            return .next(layer, payload)
        case .reassembled(let proto, let datagram):
            guard let layer = PacketDecoder.layer(forIPProtocol: proto) else { return .done }
            run(layer, datagram.span, context: &context, observe: observe)
            return .done
        case nil:
            return .done
        }
    }

    /// Walks the extension headers (hop-by-hop, routing, destination options, fragment,
    /// AH) from `next` to the first other header; returns its protocol number and
    /// bytes, or nil when the chain is cut, too long, or this is a non-first fragment.
    /// Where an IPv6 packet's transport payload is: a range of its bytes, or a datagram
    /// put together from fragments.
    enum TransportPayload {
        case next(UInt8, Range<Int>)
        case reassembled(UInt8, [UInt8])
    }

    private mutating func transportPayload(
        _ bytes: Span<UInt8>, next first: UInt8, context: PacketContext, observe: (Observation) -> Void
    ) -> TransportPayload? {
        let packet = ByteCursor(bytes)
        let end = bytes.count
        var next = first
        var offset = 40
        for _ in 0...PacketDecoder.maxIPv6ExtensionHeaders {
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options: 8-octet units after the first 8
                guard let following = packet.getUInt8(at: offset), let units = packet.getUInt8(at: offset + 1) else {
                    anomalies.record(.ipv6Truncated)
                    return nil
                }
                next = following
                offset += (Int(units) + 1) * 8
            case 44:  // fragment: fixed 8 bytes
                guard let following = packet.getUInt8(at: offset), let fragment = packet.getUInt16(at: offset + 2)
                else {
                    anomalies.record(.ipv6Truncated)
                    return nil
                }
                next = following
                offset += 8
                if fragment & 0xFFF9 != 0 {
                    // A sampled packet's fragment is another packet's: not reassembled.
                    guard !context.isSampled else { return nil }
                    // A fragment (not an atomic one): the rest of the chain and the
                    // transport are in the reassembled payload, handed on once whole.
                    guard let identification = packet.getUInt32(at: offset - 4), offset <= end,
                          let source = bytes.ipv6Address(at: 8), let destination = bytes.ipv6Address(at: 24)
                    else {
                        anomalies.record(.ipv6Truncated)
                        return nil
                    }
                    let key = FragmentKey(sourceHigh: source.high, sourceLow: source.low, destinationHigh: destination.high,
                                          destinationLow: destination.low, identification: identification, proto: 0,
                                          isIPv6: true)
                    guard let whole = reassembleFragment(key, proto: next, offset: Int(fragment >> 3) * 8,
                                                         more: fragment & 1 != 0,
                                                         data: bytes.extracting(offset..<end), context: context,
                                                         observe: observe)
                    else { return nil }
                    // Extension headers after the fragment header are not walked again.
                    return .reassembled(next, whole)
                }
            case 51:  // authentication header: 4-octet units after the first 8
                guard let following = packet.getUInt8(at: offset), let units = packet.getUInt8(at: offset + 1) else {
                    anomalies.record(.ipv6Truncated)
                    return nil
                }
                next = following
                offset += (Int(units) + 2) * 4
            default:
                guard offset <= end else { return nil }
                return .next(next, offset..<end)
            }
            guard offset <= end else {
                anomalies.record(.ipv6Truncated)
                return nil
            }
        }
        anomalies.record(.ipv6TooManyExtensionHeaders)
        return nil
    }
}

extension Span where Element == UInt8 {
    /// The IPv6 address in the 16 bytes at `offset` (network order); nil when out of range.
    func ipv6Address(at offset: Int) -> IPv6Address? {
        guard let high = uint64(at: offset), let low = uint64(at: offset + 8) else { return nil }
        return IPv6Address(high: high, low: low)
    }
}
