import Observations

// Pointer entry points kept while the stream decoders (TCP reassembly, HTTP, TLS, QUIC)
// move to spans: each lends its buffer as a span for the call. This file goes when
// they read spans.
extension PacketDecoder {
    // Safe: the span covers exactly the caller's buffer and is used only in this call.
    mutating func decodeDNS(
        _ message: UnsafeRawBufferPointer, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let span = unsafe Span<UInt8>(_unsafeBytes: message)
        return decodeDNS(span, context: context, observe: observe)
    }

    // Safe: as above.
    mutating func decode(
        packet: UnsafeRawBufferPointer, link: LinkLayer, locator: Locator, time: Timestamp, wireLength: UInt32 = 0,
        observe: (Observation) -> Void
    ) {
        let span = unsafe Span<UInt8>(_unsafeBytes: packet)
        decode(packet: span, link: link, locator: locator, time: time, wireLength: wireLength, observe: observe)
    }
}
