import ByteParsing
import Observations

/// Tells from the words around an address whether the line names it as the source or
/// the destination of a connection. Looks only at bytes next to the address (and, for
/// pf's CSV, at the message's first fields); allocates nothing.
///
/// | the line says | as in | field |
/// | --- | --- | --- |
/// | `SRC=a`, `DST=a` (also lower case) | iptables, UFW, netfilter, Proxmox | `log.src`, `log.dst` |
/// | `from a`, `from ::ffff:a` | sshd, and most daemons that accept connections | `log.src` |
/// | `rhost=a` | PAM | `log.src` |
/// | `client: a` | nginx error log | `log.src` |
/// | `from host[a]`, `client=host[a]` | postfix | `log.src` |
/// | field 18/19 (IPv4) or 15/16 (IPv6) of `…,in|out,4|6,…` CSV | pf `filterlog` (pfSense, OPNsense) | `log.src`, `log.dst` |
///
/// Anything else stays `log.ip`.
enum AddressRoles {
    /// The field for the address at `range` of `line`, whose message starts at `messageStart`.
    static func field(of range: Range<Int>, in line: Span<UInt8>, messageStart: Int) -> Field {
        var start = range.lowerBound
        // "::ffff:192.0.2.1": the IPv4 part of a mapped address takes the mapped form's place.
        if endsWith(line, start, "::ffff:") { start -= 7 }
        // Each word before an address ends in `=`, ` ` or `[`: the byte before it picks
        // the few to compare.
        switch start > 0 && start <= line.count ? line[start - 1] : 0 {
        case UInt8(ascii: "="):
            if endsWith(line, start, "SRC=") || endsWith(line, start, "src=") || endsWith(line, start, "rhost=") {
                return .logSource
            }
            if endsWith(line, start, "DST=") || endsWith(line, start, "dst=") { return .logDestination }
        case UInt8(ascii: " "):
            if endsWith(line, start, "from ") || endsWith(line, start, "client: ") { return .logSource }
        case UInt8(ascii: "["):
            // postfix: "connect from host[192.0.2.1]", "client=host[192.0.2.1]".
            var hostStart = start - 1
            while hostStart > messageStart, ByteClasses.isWordByte(line[hostStart - 1]) { hostStart -= 1 }
            if endsWith(line, hostStart, "from ") || endsWith(line, hostStart, "client=") { return .logSource }
        default:
            break
        }
        if let field = filterlogField(of: range, in: line, messageStart: messageStart) { return field }
        return .logIP
    }

    /// Whether `line[..<end]` ends with `suffix`.
    @inline(__always)
    static func endsWith(_ line: Span<UInt8>, _ end: Int, _ suffix: StaticString) -> Bool {
        line.hasPrefix(suffix, at: end - suffix.utf8CodeUnitCount)
    }

    /// The fields a filterlog line has before its addresses need to be read to place them.
    static let filterlogDirectionField = 7
    static let filterlogVersionField = 8

    /// pf's filterlog CSV: `rule,subrule,anchor,tracker,interface,reason,action,direction,
    /// ipversion,…`; for IPv4 the source and destination are fields 18 and 19, for IPv6
    /// 15 and 16 (0-based). The address must fill its field exactly.
    static func filterlogField(of range: Range<Int>, in line: Span<UInt8>, messageStart: Int) -> Field? {
        guard range.lowerBound > messageStart, line[range.lowerBound - 1] == UInt8(ascii: ","),
              range.upperBound == line.count || line[range.upperBound] == UInt8(ascii: ",")
        else { return nil }
        var field = 0
        var fieldStart = messageStart
        var direction: Range<Int>? = nil
        var version: Range<Int>? = nil
        var index = messageStart
        while index < range.lowerBound {
            if line[index] == UInt8(ascii: ",") {
                if field == filterlogDirectionField { direction = fieldStart..<index }
                if field == filterlogVersionField { version = fieldStart..<index }
                field += 1
                fieldStart = index + 1
            }
            index += 1
        }
        guard let direction, let version, version.count == 1 else { return nil }
        guard direction.count == 2 && line.hasPrefix("in", at: direction.lowerBound)
                || direction.count == 3 && line.hasPrefix("out", at: direction.lowerBound)
        else { return nil }
        switch (line[version.lowerBound], field) {
        case (UInt8(ascii: "4"), 18), (UInt8(ascii: "6"), 15): return .logSource
        case (UInt8(ascii: "4"), 19), (UInt8(ascii: "6"), 16): return .logDestination
        default: return nil
        }
    }
}
