import ByteParsing
import Observations

/// The parts of a log line's header that matter for observations: when, which host,
/// and where the message text starts. Positions are byte offsets into the line.
struct SyslogHeader: Equatable {
    /// The header's time in UTC; nil for RFC 5424's NILVALUE (`-`), whose line then
    /// takes the time of the nearest earlier line.
    var time: Timestamp?
    /// The host field's byte range in the line, nil when the header names no host.
    var host: Range<Int>?
    /// Where the text to scan for observables starts (after the host and the tag).
    var messageStart: Int
    /// The month of an RFC 3164 time, which has no year (`time` then holds the year the
    /// parser was given); nil for formats with a year.
    var yearlessMonth: Int? = nil
    /// Whether the time was written without a zone (RFC 3164, Apache, log4j) and is
    /// therefore local time, converted here as if UTC.
    var zoneless: Bool = false
}

/// Recognises syslog headers (RFC 3164, RFC 5424, RFC 3339 high-precision as rsyslog
/// writes it) and, for time only, the Apache error-log and log4j (Zookeeper) date forms.
/// Works on borrowed bytes; allocates nothing. O(header length).
enum SyslogHeaderParser {
    /// Parses the header at the start of `line`; nil when none is recognised.
    /// `year` is given to RFC 3164 timestamps, which carry none; their zone is UTC.
    static func parse(_ line: Span<UInt8>, year: Int) -> SyslogHeader? {
        var memo = BSDTimestampMemo()
        return parse(line, year: year, memo: &memo)
    }

    /// `parse(_:year:)` for the lines of a file one after another: an RFC 3164
    /// timestamp with the same bytes as the last one parsed is taken from `memo`.
    static func parse(_ line: Span<UInt8>, year: Int, memo: inout BSDTimestampMemo) -> SyslogHeader? {
        var scanner = HeaderScanner(line)
        var priority = false
        if scanner.peek() == UInt8(ascii: "<") {
            var probe = scanner
            probe.index += 1
            if let digits = probe.digits(maximum: 3), digits.count > 0, probe.take(UInt8(ascii: ">")) {
                scanner = probe
                priority = true
            }
        }
        // RFC 5424: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID ..."
        if priority, scanner.peek() == UInt8(ascii: "1"), scanner.peek(at: 1) == UInt8(ascii: " ") {
            var probe = scanner
            probe.index += 2
            let time: Timestamp?
            if probe.take(UInt8(ascii: "-")) {
                time = nil
            } else {
                time = probe.rfc3339()
            }
            if probe.take(UInt8(ascii: " ")), let host = probe.token() {
                // APP-NAME, PROCID and MSGID are skipped; structured data is scanned.
                for _ in 0..<3 {
                    guard probe.take(UInt8(ascii: " ")), probe.token() != nil else { break }
                }
                _ = probe.take(UInt8(ascii: " "))
                let hostRange: Range<Int>? = host.count == 1 && line[host.lowerBound] == UInt8(ascii: "-") ? nil : host
                return SyslogHeader(time: time, host: hostRange, messageStart: probe.index)
            }
        }
        // RFC 3339 timestamp followed by host and tag (rsyslog's high-precision format).
        var probe = scanner
        if let time = probe.rfc3339(), probe.take(UInt8(ascii: " ")) {
            return hostAndTag(line, &probe, time: time)
        }
        // RFC 3164: "Mmm dd hh:mm:ss host tag: msg".
        probe = scanner
        if let (time, month) = probe.bsdTimestamp(year: year, memo: &memo) {
            var header: SyslogHeader
            if probe.take(UInt8(ascii: " ")) {
                header = hostAndTag(line, &probe, time: time)
            } else {
                header = SyslogHeader(time: time, host: nil, messageStart: probe.index)
            }
            header.yearlessMonth = month
            header.zoneless = true
            return header
        }
        if priority { return nil }
        // Apache error log: "[Sun Dec 04 04:47:44 2005] ..."
        probe = scanner
        if let time = probe.apacheTimestamp() {
            return SyslogHeader(time: time, host: nil, messageStart: probe.index, zoneless: true)
        }
        // log4j default (Zookeeper): "2015-07-29 17:41:44,747 - ..."
        probe = scanner
        if let time = probe.log4jTimestamp() {
            return SyslogHeader(time: time, host: nil, messageStart: probe.index, zoneless: true)
        }
        return nil
    }

    /// An RFC 3339 time filling `bytes` exactly (the offset's colon optional); nil otherwise.
    static func rfc3339(_ bytes: Span<UInt8>) -> Timestamp? {
        var scanner = HeaderScanner(bytes)
        guard let time = scanner.rfc3339(), scanner.index == bytes.count else { return nil }
        return time
    }

    /// After the timestamp and one space: "host tag: msg", "tag: msg" (no host), or
    /// "host msg". A token ending in `:` is the tag, not a host.
    private static func hostAndTag(
        _ line: Span<UInt8>, _ scanner: inout HeaderScanner, time: Timestamp
    ) -> SyslogHeader {
        let start = scanner.index
        guard let first = scanner.token() else {
            return SyslogHeader(time: time, host: nil, messageStart: start)
        }
        if line[first.upperBound - 1] == UInt8(ascii: ":") {
            _ = scanner.take(UInt8(ascii: " "))
            return SyslogHeader(time: time, host: nil, messageStart: scanner.index)
        }
        var probe = scanner
        if probe.take(UInt8(ascii: " ")) {
            let tagStart = probe.index
            if let tag = probe.token(), line[tag.upperBound - 1] == UInt8(ascii: ":") {
                _ = probe.take(UInt8(ascii: " "))
                return SyslogHeader(time: time, host: first, messageStart: probe.index)
            }
            return SyslogHeader(time: time, host: first, messageStart: tagStart)
        }
        return SyslogHeader(time: time, host: first, messageStart: scanner.index)
    }
}

/// The last RFC 3164 timestamp parsed, with the 16 bytes it was read from and the
/// year given: lines come many to a second, and reading the month, the clock and the
/// days since 1970 is a good part of reading a header. `bsdTimestamp` reads at most
/// 16 bytes ("Mmm  dd hh:mm:ss" and no more), so the same 16 bytes give the same time.
struct BSDTimestampMemo {
    fileprivate var first: UInt64 = 0
    fileprivate var second: UInt64 = 0
    fileprivate var year = 0
    fileprivate var stored: (time: Timestamp, month: Int, length: Int)?
}

/// A forward-only reader over header bytes; every access is bounds-checked.
private struct HeaderScanner: ~Escapable {
    let bytes: Span<UInt8>
    var index = 0

    @_lifetime(copy bytes)
    init(_ bytes: Span<UInt8>) { self.bytes = bytes }

    func peek(at offset: Int = 0) -> UInt8? {
        let position = index + offset
        return position < bytes.count ? bytes[position] : nil
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    /// Up to `maximum` decimal digits as (value, count); nil when there are more.
    mutating func digits(maximum: Int) -> (value: Int, count: Int)? {
        var value = 0
        var count = 0
        while let byte = peek(), byte >= 48, byte <= 57 {
            guard count < maximum else { return nil }
            value = value * 10 + Int(byte - 48)
            count += 1
            index += 1
        }
        return (value, count)
    }

    /// Exactly `count` digits.
    mutating func number(_ count: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let byte = peek(), byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
            index += 1
        }
        return value
    }

    /// A run of bytes up to the next space or the end; nil when empty.
    mutating func token() -> Range<Int>? {
        let start = index
        while let byte = peek(), byte != UInt8(ascii: " ") { index += 1 }
        return index > start ? start..<index : nil
    }

    /// "hh:mm:ss"
    mutating func clock() -> (hour: Int, minute: Int, second: Int)? {
        guard let hour = number(2), take(UInt8(ascii: ":")), let minute = number(2), take(UInt8(ascii: ":")),
              let second = number(2)
        else { return nil }
        return (hour, minute, second)
    }

    /// Optional fraction after a separator, as nanoseconds (digits beyond 9 ignored).
    mutating func fraction(separator: UInt8) -> Int? {
        guard take(separator) else { return 0 }
        var nanos = 0
        var count = 0
        while let byte = peek(), byte >= 48, byte <= 57 {
            if count < 9 {
                nanos = nanos * 10 + Int(byte - 48)
                count += 1
            }
            index += 1
        }
        guard count > 0 else { return nil }
        for _ in count..<9 { nanos *= 10 }
        return nanos
    }

    /// Three-letter English month name, 1-based.
    mutating func month() -> Int? {
        guard let a = peek(), let b = peek(at: 1), let c = peek(at: 2) else { return nil }
        let key = (UInt32(a | 0x20) << 16) | (UInt32(b | 0x20) << 8) | UInt32(c | 0x20)
        let number: Int
        switch key {
        case 0x6a616e: number = 1
        case 0x666562: number = 2
        case 0x6d6172: number = 3
        case 0x617072: number = 4
        case 0x6d6179: number = 5
        case 0x6a756e: number = 6
        case 0x6a756c: number = 7
        case 0x617567: number = 8
        case 0x736570: number = 9
        case 0x6f6374: number = 10
        case 0x6e6f76: number = 11
        case 0x646563: number = 12
        default: return nil
        }
        index += 3
        return number
    }

    /// "YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)" converted to UTC.
    mutating func rfc3339() -> Timestamp? {
        guard let year = number(4), take(UInt8(ascii: "-")), let month = number(2), take(UInt8(ascii: "-")),
              let day = number(2), take(UInt8(ascii: "T")) || take(UInt8(ascii: "t")),
              let time = clock(), let nanos = fraction(separator: UInt8(ascii: "."))
        else { return nil }
        var offsetSeconds = 0
        if take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            index += 1
            // "+01:00" as RFC 3339 has it; "+0100" as Suricata writes it.
            guard let hours = number(2), take(UInt8(ascii: ":")) || peek() != nil, let minutes = number(2),
                  hours < 24, minutes < 60
            else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (sign == UInt8(ascii: "+") ? 1 : -1)
        } else {
            return nil
        }
        guard let local = Timestamp(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second,
            nanosecond: nanos)
        else { return nil }
        return Timestamp(nanoseconds: local.nanoseconds - Int64(offsetSeconds) * 1_000_000_000)
    }

    /// "Mmm dd hh:mm:ss", the day space-padded ("Mar  5"), zero-padded or bare ("Nov 9").
    /// Returns the time in `year` and the month.
    mutating func bsdTimestamp(year: Int) -> (Timestamp, Int)? {
        guard let month = month(), take(UInt8(ascii: " ")) else { return nil }
        _ = take(UInt8(ascii: " "))
        guard let day = digits(maximum: 2), day.count > 0, take(UInt8(ascii: " ")), let time = clock(),
              let timestamp = Timestamp(
                year: year, month: month, day: day.value, hour: time.hour, minute: time.minute, second: time.second)
        else { return nil }
        return (timestamp, month)
    }

    /// `bsdTimestamp(year:)`, from `memo` when the 16 bytes at `index` and the year are
    /// those it was last read from.
    mutating func bsdTimestamp(year: Int, memo: inout BSDTimestampMemo) -> (Timestamp, Int)? {
        guard let first = bytes.uint64(at: index), let second = bytes.uint64(at: index + 8) else {
            return bsdTimestamp(year: year)
        }
        if let stored = memo.stored, memo.first == first, memo.second == second, memo.year == year {
            index += stored.length
            return (stored.time, stored.month)
        }
        let start = index
        guard let (time, month) = bsdTimestamp(year: year) else { return nil }
        memo = BSDTimestampMemo(first: first, second: second, year: year, stored: (time, month, index - start))
        return (time, month)
    }

    /// "[Www Mmm dd hh:mm:ss yyyy]" (Apache error log), zone taken as UTC.
    mutating func apacheTimestamp() -> Timestamp? {
        guard take(UInt8(ascii: "[")), token() != nil, take(UInt8(ascii: " ")), let month = month(),
              take(UInt8(ascii: " ")), let day = number(2), take(UInt8(ascii: " ")),
              let time = clock(), take(UInt8(ascii: " ")), let year = number(4), take(UInt8(ascii: "]"))
        else { return nil }
        return Timestamp(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second)
    }

    /// "YYYY-MM-DD hh:mm:ss,mmm" (log4j's default), zone taken as UTC.
    mutating func log4jTimestamp() -> Timestamp? {
        guard let year = number(4), take(UInt8(ascii: "-")), let month = number(2), take(UInt8(ascii: "-")),
              let day = number(2), take(UInt8(ascii: " ")), let time = clock(),
              let nanos = fraction(separator: UInt8(ascii: ","))
        else { return nil }
        return Timestamp(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second,
            nanosecond: nanos)
    }
}
