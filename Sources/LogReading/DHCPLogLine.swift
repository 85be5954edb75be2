import ByteParsing
import Observations

/// The DHCP servers' log lines that say which address a host name was given: ISC
/// dhcpd's `DHCPACK on 10.0.0.5 to 00:11:22:33:44:55 (web01) via eth0` and dnsmasq's
/// `DHCPACK(eth0) 10.0.0.5 00:11:22:33:44:55 web01` (with `log-dhcp`, after a
/// transaction number). A line without a client name says nothing of the kind.
enum DHCPLogLine {
    /// Whether a message starting with `byte` may be a DHCPACK line: `D`, or a digit (a
    /// dnsmasq transaction number). Checked inline for every line before `lease`.
    @inline(__always)
    static func mayStart(with byte: UInt8) -> Bool { byte == UInt8(ascii: "D") || ByteClasses.isDigit(byte) }

    /// The address and the client's host name (a range of `line`) of the DHCPACK that
    /// `line[messageStart...]` is, or nil. Cheap for other lines: it gives up at the
    /// first byte that does not fit.
    static func lease(_ line: Span<UInt8>, messageStart: Int) -> (address: IPv4Address, name: Range<Int>)? {
        var index = messageStart
        // dnsmasq's transaction number.
        while index < line.count, ByteClasses.isDigit(line[index]) { index += 1 }
        if index > messageStart {
            guard index < line.count, line[index] == UInt8(ascii: " ") else { return nil }
            index += 1
        }
        guard line.hasPrefix("DHCPACK", at: index) else { return nil }
        index += 7
        if line.hasPrefix(" on ", at: index) {
            // ISC: " on ADDRESS to MAC (NAME) via …"
            index += 4
            guard let (address, afterAddress) = address(line, at: index),
                  line.hasPrefix(" to ", at: afterAddress)
            else { return nil }
            let afterMAC = word(line, at: afterAddress + 4).upperBound
            guard line.hasPrefix(" (", at: afterMAC) else { return nil }
            let nameStart = afterMAC + 2
            var nameEnd = nameStart
            while nameEnd < line.count, line[nameEnd] != UInt8(ascii: ")") { nameEnd += 1 }
            guard nameEnd < line.count, nameEnd > nameStart else { return nil }
            return (address, nameStart..<nameEnd)
        }
        // dnsmasq: "(INTERFACE) ADDRESS MAC NAME"
        guard index < line.count, line[index] == UInt8(ascii: "(") else { return nil }
        while index < line.count, line[index] != UInt8(ascii: ")") { index += 1 }
        guard line.hasPrefix(") ", at: index), let (address, afterAddress) = address(line, at: index + 2),
              line.hasPrefix(" ", at: afterAddress)
        else { return nil }
        let mac = word(line, at: afterAddress + 1)
        guard !mac.isEmpty, line.hasPrefix(" ", at: mac.upperBound) else { return nil }
        let name = word(line, at: mac.upperBound + 1)
        return name.isEmpty ? nil : (address, name)
    }

    /// The non-space bytes from `index`.
    private static func word(_ line: Span<UInt8>, at index: Int) -> Range<Int> {
        var end = min(max(index, 0), line.count)
        let start = end
        while end < line.count, line[end] != UInt8(ascii: " ") { end += 1 }
        return start..<end
    }

    /// The dotted quad that is the word at `index`, and where the word ends.
    private static func address(_ line: Span<UInt8>, at index: Int) -> (IPv4Address, Int)? {
        let range = word(line, at: index)
        guard let address = AddressText.parseIPv4(line, range) else { return nil }
        return (IPv4Address(address), range.upperBound)
    }
}
