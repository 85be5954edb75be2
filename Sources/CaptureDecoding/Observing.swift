import Observations

// Where the decoders make observations. `Observation` still holds its bytes through a
// pointer (Observations): these are the places a decoder's span lends it, each for one
// non-escaping call.

/// Which `ObservedValue` case a decoder's bytes are observed as.
enum ObservedText {
    case domain, hexDigest, url, ja3, ja4
}

extension PacketContext {
    /// Hands `bytes` to `observe` as one observation of this packet (host: the packet's
    /// source unless given). The one place the decoders lend bytes to an `Observation`,
    /// which still borrows them through a pointer.
    func observe(
        _ bytes: Span<UInt8>, as kind: ObservedText, field: Field, host: HostReference? = nil,
        to observe: (Observation) -> Void
    ) {
        // Safe: the pointer is the span's own memory, and the observation holding it is
        // handed to a non-escaping closure during this call only.
        unsafe bytes.withUnsafeBytes { raw in
            let value: ObservedValue = switch kind {
            case .domain: unsafe .domain(raw)
            case .hexDigest: unsafe .hexDigest(raw)
            case .url: unsafe .url(raw)
            case .ja3: unsafe .ja3(raw)
            case .ja4: unsafe .ja4(raw)
            }
            self.observe(value, field: field, host: host, to: observe)
        }
    }

    /// Hands `value` to `observe` as one observation of this packet (host: the packet's
    /// source unless given).
    func observe(_ value: ObservedValue, field: Field, host: HostReference? = nil, to observe: (Observation) -> Void) {
        // Safe: the observation (and any bytes its value borrows) is handed to a
        // non-escaping closure during this call only.
        unsafe observe(Observation(value: value, field: field, host: host ?? source, locator: locator, time: time))
    }
}

extension Observation {
    /// Hands `body` an observation of `value` whose host is the name in `hostName`
    /// (a DHCP client's), borrowed like `PacketContext.observe(_:as:field:host:to:)`.
    static func lending(
        hostName: Span<UInt8>, value: ObservedValue, field: Field, locator: Locator, time: Timestamp,
        _ body: (Observation) -> Void
    ) {
        // Safe: as above; the host name's pointer lives for this call only.
        unsafe hostName.withUnsafeBytes { raw in
            body(Observation(value: value, field: field, host: unsafe .name(raw), locator: locator, time: time))
        }
    }
}
