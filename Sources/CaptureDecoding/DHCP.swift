import ByteParsing
import Observations

extension PacketDecoder {
    /// The fixed BOOTP header (RFC 2131 §2): op to file, 236 bytes, then the magic cookie.
    static let bootpHeaderLength = 236
    static let dhcpMagicCookie: UInt32 = 0x6382_5363

    /// DHCP (RFC 2131), to or from a server (port 67). A client names itself in its
    /// DISCOVER or REQUEST (option 12, host name); the server's DHCPACK (option 53 = 5)
    /// gives it an address (`yiaddr`), usually without repeating the name. So the name
    /// of a request is kept by transaction (its `xid` and the client's hardware address)
    /// until the ACK of the same transaction, which is observed as `.dhcpLease`: the
    /// address as the value, the name (the ACK's own, else the request's) as the host.
    /// That says which address a log's host name has.
    ///
    /// Other messages, and an ACK without an address or a name, observe nothing; a
    /// message cut short, or whose options run past it, is an anomaly
    /// (`dhcp.malformed`). Options are read up to the end option (255) or the message's
    /// end; `sname` and `file` overloading (option 52) is not followed.
    mutating func decodeDHCP(
        _ message: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let cursor = ByteCursor(message)
        guard let op = cursor.getUInt8(at: 0), let transaction = cursor.getUInt32(at: 4),
              let yourAddress = cursor.getUInt32(at: 16), let hardwareHigh = cursor.getUInt16(at: 28),
              let hardwareLow = cursor.getUInt32(at: 30),
              message.count >= PacketDecoder.bootpHeaderLength
        else {
            anomalies.record(.dhcpMalformed)
            return .done
        }
        // Without the cookie (plain BOOTP, or a vendor area cut off) there are no DHCP options.
        guard cursor.getUInt32(at: PacketDecoder.bootpHeaderLength) == PacketDecoder.dhcpMagicCookie else { return .done }
        var messageType: UInt8?
        var hostName: Range<Int>?
        var offset = PacketDecoder.bootpHeaderLength + 4
        while let code = cursor.getUInt8(at: offset), code != 255 {
            if code == 0 {  // padding
                offset += 1
                continue
            }
            guard let length = cursor.getUInt8(at: offset + 1), offset + 2 <= message.count - Int(length) else {
                anomalies.record(.dhcpMalformed)
                return .done
            }
            switch code {
            case 53 where length == 1: messageType = message[offset + 2]
            case 12 where length > 0: hostName = (offset + 2)..<(offset + 2 + Int(length))
            default: break
            }
            offset += 2 + Int(length)
        }
        let key = DHCPClientNames.Transaction(
            id: transaction, hardware: UInt64(hardwareHigh) << 32 | UInt64(hardwareLow))
        let name = hostName.flatMap { PacketDecoder.hostNameLabel(message.extracting($0)) }
        switch (op, messageType) {
        case (1, 1?), (1, 3?):  // DISCOVER, REQUEST
            if let name { dhcpClientNames.remember(name, for: key) }
        case (2, 5?) where yourAddress != 0:  // ACK
            guard let leased = name ?? dhcpClientNames.name(for: key) else { return .done }
            observe(Observation(value: .ipv4(IPv4Address(yourAddress)), field: .dhcpLease, host: .name(leased.span),
                                locator: context.locator, time: context.time))
        default:
            break
        }
        return .done
    }

    /// The host name of option 12 as a DNS name would be (RFC 1123: letters, digits,
    /// hyphens, dots between labels; `_` as Windows names have it), without a trailing
    /// NUL some clients send; nil when it holds anything else, so that no hostile bytes
    /// become a host.
    static func hostNameLabel(_ bytes: Span<UInt8>) -> [UInt8]? {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 { end -= 1 }
        guard end > 0, end <= 253 else { return nil }
        for index in 0..<end {
            let byte = bytes[index]
            let allowed = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            guard allowed else { return nil }
        }
        return bytes.extracting(0..<end).array
    }
}

/// The host names DHCP clients gave in requests not yet acknowledged, by transaction.
/// Bounded: past `capacity` names (a capture of many clients that never get an ACK)
/// the oldest half is forgotten, so memory does not grow with the capture.
struct DHCPClientNames {
    struct Transaction: Hashable {
        /// The request's `xid`.
        var id: UInt32
        /// The client's hardware address (`chaddr`, its first six bytes).
        var hardware: UInt64
    }

    static let capacity = 4096
    private var names: [Transaction: [UInt8]] = [:]
    private var order: [Transaction] = []

    mutating func remember(_ name: [UInt8], for transaction: Transaction) {
        if names.updateValue(name, forKey: transaction) == nil { order.append(transaction) }
        if order.count > DHCPClientNames.capacity {
            let forgotten = order.prefix(order.count / 2)
            for transaction in forgotten { names[transaction] = nil }
            order.removeFirst(forgotten.count)
        }
    }

    func name(for transaction: Transaction) -> [UInt8]? { names[transaction] }
}
