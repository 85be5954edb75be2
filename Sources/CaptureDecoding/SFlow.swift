import ByteParsing
import Observations

extension PacketDecoder {
    /// sFlow version 5 (sflow.org's sFlow Version 5 specification, UDP 6343): a datagram
    /// of samples, each a format (enterprise and number) and a length. Flow samples
    /// (standard formats 1 and 3, expanded) hold flow records; a raw packet header record
    /// (standard format 1) holds the first bytes of a sampled packet, whose header
    /// protocol says how it starts: Ethernet (1), IPv4 (11) or IPv6 (12). Those bytes
    /// are another packet, not a payload of this one: each is decoded as a sampled packet
    /// (`PacketContext.isSampled`) to its IP headers, whose addresses are observed with
    /// the `tunnel.*` fields (as tshark lists them in `ip.addr`). Counter samples and
    /// other records carry no address. Every sample and record takes at least 8 bytes,
    /// so the datagram's length bounds the loops whatever its counts say.
    mutating func decodeSFlow(
        _ bytes: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        var cursor = ByteCursor(bytes)
        // Other versions (2, 4) are not decoded.
        guard let version = cursor.readUInt32(), version == 5 else { return .done }
        guard let addressType = cursor.readUInt32() else {
            anomalies.record(.sflowTruncated)
            return .done
        }
        let addressLength: Int
        switch addressType {
        case 1: addressLength = 4
        case 2: addressLength = 16
        default:
            anomalies.record(.sflowBadAddressType)
            return .done
        }
        // Agent address, sub-agent id, sequence number, uptime, then the sample count.
        guard cursor.skip(addressLength + 12), var samples = cursor.readUInt32() else {
            anomalies.record(.sflowTruncated)
            return .done
        }
        while samples > 0, !cursor.isAtEnd {
            samples -= 1
            guard let format = cursor.readUInt32(), let length = cursor.readUInt32(),
                  let sample = cursor.readBytes(Int(length))
            else {
                anomalies.record(.sflowTruncated)
                return .done
            }
            switch format {
            case 1: decodeSFlowFlowSample(sample, fixedLength: 28, context: context, observe: observe)
            case 3: decodeSFlowFlowSample(sample, fixedLength: 40, context: context, observe: observe)
            default: continue  // counter samples, other enterprises' samples
            }
        }
        // Fewer samples than the count says.
        if samples > 0 { anomalies.record(.sflowTruncated) }
        return .done
    }

    /// A flow sample: `fixedLength` bytes (sequence, source, sampling rate, pool, drops,
    /// interfaces: 7 words, or 10 in the expanded form), the record count, the records.
    private mutating func decodeSFlowFlowSample(
        _ bytes: Span<UInt8>, fixedLength: Int, context: PacketContext, observe: (Observation) -> Void
    ) {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(fixedLength), var records = cursor.readUInt32() else {
            anomalies.record(.sflowTruncated)
            return
        }
        while records > 0, !cursor.isAtEnd {
            records -= 1
            guard let format = cursor.readUInt32(), let length = cursor.readUInt32(),
                  let record = cursor.readBytes(Int(length))
            else {
                anomalies.record(.sflowTruncated)
                return
            }
            guard format == 1 else { continue }  // only the raw packet header names addresses
            // Header protocol, frame length, bytes stripped, header length, header.
            let fields = ByteCursor(record)
            guard let proto = fields.getUInt32(at: 0), let headerLength = fields.getUInt32(at: 12),
                  let header = fields.getBytes(at: 16, count: Int(headerLength))
            else {
                anomalies.record(.sflowTruncated)
                continue
            }
            let first: Layer
            switch proto {
            case 1: first = .ethernet
            case 11: first = .ipv4
            case 12: first = .ipv6
            default: continue
            }
            // The sampled packet's headers count after this packet's, so its addresses
            // have the tunnel fields and the IP header bound holds for both together.
            // The nested dispatch cannot come back here: a sampled packet stops before
            // UDP, and it has its own `maxLayers` bound.
            var sampled = PacketContext(locator: context.locator, time: context.time)
            sampled.ipHeaders = context.ipHeaders
            sampled.isSampled = true
            run(first, header, context: &sampled, observe: observe)
        }
        // Fewer records than the count says.
        if records > 0 { anomalies.record(.sflowTruncated) }
    }
}
