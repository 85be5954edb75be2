import Foundation

extension Timestamp {
    /// The current time (the system's real-time clock).
    public static var now: Timestamp {
        var spec = timespec()
        // Safe: clock_gettime writes one timespec into `spec`, which lives for the call.
        _ = unsafe clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }

    /// UTC ISO 8601 with microseconds when the time has a fraction of whole
    /// microseconds, nanoseconds when finer, none when whole: e.g.
    /// `2024-03-01T12:00:00.250000Z`, `2024-03-01T12:00:00Z`. Written byte by byte,
    /// since it is on the path of every stored sighting (`String(format:)` costs about
    /// 6 µs a call). Nanoseconds in an Int64 span the years 1677 to 2262, so the year
    /// always has four digits.
    public var iso8601: String {
        let nanoseconds = self.nanoseconds
        var seconds = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        if fraction < 0 {
            seconds -= 1
            fraction += 1_000_000_000
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            days -= 1
            secondOfDay += 86_400
        }
        let (year, month, day) = Timestamp.civil(fromDays: days)
        // "YYYY-MM-DDTHH:MM:SS" + ".fffffffff" + "Z" is at most 30 bytes.
        // Safe: every `put` below writes at `index` and moves it on, and the puts write
        // 4+1+2+1+2+1+2+1+2+1+2 + 1+9 + 1 = 30 bytes at most: within the capacity.
        return unsafe String(unsafeUninitializedCapacity: 30) { buffer in
            var index = 0
            func put(_ value: Int64, digits: Int) {
                var remaining = value
                var position = index + digits - 1
                while position >= index {
                    unsafe buffer[position] = UInt8(truncatingIfNeeded: 48 + remaining % 10)
                    remaining /= 10
                    position -= 1
                }
                index += digits
            }
            func put(_ byte: Character) {
                unsafe buffer[index] = byte.asciiValue ?? 0
                index += 1
            }
            put(year, digits: 4)
            put("-")
            put(Int64(month), digits: 2)
            put("-")
            put(Int64(day), digits: 2)
            put("T")
            put(secondOfDay / 3600, digits: 2)
            put(":")
            put(secondOfDay / 60 % 60, digits: 2)
            put(":")
            put(secondOfDay % 60, digits: 2)
            if fraction != 0 {
                put(".")
                if fraction % 1000 == 0 {
                    put(fraction / 1000, digits: 6)
                } else {
                    put(fraction, digits: 9)
                }
            }
            put("Z")
            return index
        }
    }

    /// Builds a timestamp from a UTC calendar date; nil when a field is out of range.
    public init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, nanosecond: Int = 0) {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour),
              (0...59).contains(minute), (0...60).contains(second), (0..<1_000_000_000).contains(nanosecond)
        else { return nil }
        let days = Timestamp.days(fromCivilYear: Int64(year), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        self.init(seconds: seconds, nanoseconds: Int64(nanosecond))
    }

    /// A time as analysts type it (`--since`, a filter field): `2024-03-01` (midnight
    /// UTC), `2024-03-01T12:00`, or `2024-03-01T12:00:00Z` with optional fraction (a
    /// space for the `T` too, as `init(iso8601:)` does not look at it); a missing `Z`
    /// still means UTC.
    public init?(typed text: String) {
        var text = text
        if text.count == 10 { text += "T00:00:00Z" }
        if text.count == 16 { text += ":00" }
        if !text.hasSuffix("Z") { text += "Z" }
        self.init(iso8601: text)
    }

    /// Parses the ISO 8601 UTC form that `iso8601` writes.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var nanos = 0
        if bytes[19] == UInt8(ascii: ".") {
            let digits = bytes.count - 21
            guard digits > 0, digits <= 9, let fraction = number(20..<(bytes.count - 1)) else { return nil }
            nanos = fraction
            for _ in digits..<9 { nanos *= 10 }
        }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanos)
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    public static func days(fromCivilYear year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

extension Int64 {
    /// Division rounding toward negative infinity.
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

extension Duration {
    /// This duration in seconds: how run reports and benchmarks print the times they
    /// take with `ContinuousClock`.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
