import Observations

/// The observed values that are bytes of the input (a name, a URL, a fingerprint), as
/// opposed to addresses, which are numbers.
enum ObservedBytes {
    case domain, url, ja3, ja4
}

extension Observation {
    /// Hands `body` an observation of `bytes` as `kind`. `Observation` holds its bytes as
    /// a borrowed pointer (Observations); this is where the decoders' spans lend it.
    static func lending(
        _ kind: ObservedBytes, _ bytes: Span<UInt8>, field: Field, host: HostReference, locator: Locator,
        time: Timestamp, _ body: (Observation) -> Void
    ) {
        // Safe: the pointer is the span's own memory; the observation holding it is handed
        // to a non-escaping closure during this call, and observations are documented as
        // valid only during the call that hands them over.
        unsafe bytes.withUnsafeBytes { raw in
            let value: ObservedValue =
                switch kind {
                case .domain: unsafe .domain(raw)
                case .url: unsafe .url(raw)
                case .ja3: unsafe .ja3(raw)
                case .ja4: unsafe .ja4(raw)
                }
            body(Observation(value: value, field: field, host: host, locator: locator, time: time))
        }
    }

    /// Hands `body` an observation of `value` whose host is the name in `hostName`
    /// (a DHCP client's), borrowed like `lending(_:_:field:host:locator:time:_:)`.
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
