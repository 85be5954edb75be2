import Observations

// Where the decoders make observations: a value and the packet's host, lent to the
// closure for one call (an `Observation` borrows the span it names and cannot escape).

/// Which `ObservedValue` case a decoder's bytes are observed as.
enum ObservedText {
    case domain, hexDigest, url, ja3, ja4
}

extension PacketContext {
    /// Hands `bytes` to `observe` as one observation of this packet (host: the packet's
    /// source unless given).
    func observe(
        _ bytes: Span<UInt8>, as kind: ObservedText, field: Field, host: HostAddress? = nil,
        to observe: (Observation) -> Void
    ) {
        let value: ObservedValue = switch kind {
        case .domain: .domain(bytes)
        case .hexDigest: .hexDigest(bytes)
        case .url: .url(bytes)
        case .ja3: .ja3(bytes)
        case .ja4: .ja4(bytes)
        }
        self.observe(value, field: field, host: host, to: observe)
    }

    /// Hands `value` to `observe` as one observation of this packet (host: the packet's
    /// source unless given).
    func observe(_ value: ObservedValue, field: Field, host: HostAddress? = nil, to observe: (Observation) -> Void) {
        observe(Observation(value: value, field: field, host: HostReference(host ?? source), locator: locator, time: time))
    }
}
