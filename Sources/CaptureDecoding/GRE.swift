import ByteParsing

extension PacketDecoder {
    /// GRE (RFC 2784, key and sequence of RFC 2890; IP protocol 47, or UDP port 4754
    /// per RFC 8086). Version 0 carries what its protocol type names: IPv4, IPv6,
    /// MPLS, Ethernet (0x6558, transparent bridging), ERSPAN type I/II (0x88BE) and
    /// type III (0x22EB), whose mirrored Ethernet frame follows its own header, and
    /// Cisco MetaData (0x8909) in its GRE layout (CiscoMetaData.swift).
    /// Version 1 is PPTP's enhanced GRE (RFC 2637): a key (payload length and call id),
    /// optional sequence and acknowledgement numbers, then a PPP frame. Source routing
    /// (RFC 1701's R bit) is not decoded.
    mutating func decodeGRE(_ bytes: Span<UInt8>) -> Step {
        let header = ByteCursor(bytes)
        guard let flags = header.getUInt16(at: 0), let proto = header.getUInt16(at: 2) else {
            anomalies.record(.greTruncated)
            return .done
        }
        let version = flags & 0x7
        let hasChecksum = flags & 0x8000 != 0
        let hasRouting = flags & 0x4000 != 0
        let hasKey = flags & 0x2000 != 0
        let hasSequence = flags & 0x1000 != 0
        guard !hasRouting else {
            anomalies.record(.greRoutingUnsupported)
            return .done
        }
        var length = 4
        switch version {
        case 0:
            length += (hasChecksum ? 4 : 0) + (hasKey ? 4 : 0) + (hasSequence ? 4 : 0)
        case 1:
            // PPTP: the key is mandatory; an acknowledgement number follows the sequence.
            guard hasKey, proto == 0x880B else {
                anomalies.record(.greBadPPTPHeader)
                return .done
            }
            length += 4 + (hasSequence ? 4 : 0) + (flags & 0x0080 != 0 ? 4 : 0)
        default:
            anomalies.record(.greBadVersion)
            return .done
        }
        guard length <= bytes.count else {
            anomalies.record(.greTruncated)
            return .done
        }
        let payload = length..<bytes.count
        switch proto {
        case 0x6558: return .next(.ethernet, payload)
        case 0x880B: return .next(.ppp, payload)
        case 0x8909: return .next(.ciscoMetaDataInGRE, payload)
        case 0x88BE:
            // ERSPAN type II has the sequence bit and an 8-byte header; type I has neither.
            guard hasSequence else { return .next(.ethernet, payload) }
            guard payload.count >= 8 else {
                anomalies.record(.erspanTruncated)
                return .done
            }
            return .next(.ethernet, (length + 8)..<bytes.count)
        case 0x22EB:
            // ERSPAN type III: 12 bytes, then an 8-byte platform subheader when O is set.
            guard let last = bytes.uint8(at: length + 11) else {
                anomalies.record(.erspanTruncated)
                return .done
            }
            let erspanLength = last & 0x01 != 0 ? 20 : 12
            guard payload.count >= erspanLength else {
                anomalies.record(.erspanTruncated)
                return .done
            }
            return .next(.ethernet, (length + erspanLength)..<bytes.count)
        default:
            return .etherType(proto, payload)
        }
    }
}
