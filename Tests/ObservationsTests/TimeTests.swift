import Foundation
import Testing
@testable import Observations

@Suite struct ISO8601Tests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.000000001Z"),
        (1000, "1970-01-01T00:00:00.000001Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
        (-86_400_000_000_001, "1969-12-30T23:59:59.999999999Z"),
        (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
        (4_107_542_399_999_999_999, "2100-02-28T23:59:59.999999999Z"),
        (Int64.min, "1677-09-21T00:12:43.145224192Z"),
        (Int64.max, "2262-04-11T23:47:16.854775807Z"),
    ])
    func writesEdgeCases(nanoseconds: Int64, text: String) {
        #expect(Timestamp(nanoseconds: nanoseconds).iso8601 == text)
    }

    @Test(arguments: ["1970-01-01T00:00:00Z", "2000-02-29T00:00:00.000001Z", "2100-02-28T23:59:59.999999999Z"])
    func parsesWhatItWrites(text: String) {
        #expect(Timestamp(iso8601: text)?.iso8601 == text)
    }

    @Test("a typed time: a date is its midnight, minutes get seconds, a missing Z is UTC", arguments: [
        ("2024-03-01", "2024-03-01T00:00:00Z"), ("2024-03-01T12:30", "2024-03-01T12:30:00Z"),
        ("2024-03-01T12:30:05", "2024-03-01T12:30:05Z"), ("2024-03-01T12:30:05.25Z", "2024-03-01T12:30:05.250Z"),
        ("2024-03-01 12:30", "2024-03-01T12:30:00Z"),  // a space for the T, as forms and people write it
    ])
    func typedTimes(text: String, expected: String) {
        #expect(Timestamp(typed: text) == Timestamp(iso8601: expected))
    }

    @Test(arguments: ["yesterday", "2024-03", "2024-13-01", ""])
    func typedNonsenseIsRefused(text: String) {
        #expect(Timestamp(typed: text) == nil)
    }

    /// Foundation's formatter as an independent reference for the calendar arithmetic,
    /// on whole seconds across 1685-2255 (fractions are covered by the cases above).
    @Test func agreesWithFoundationOnRandomTimes() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -9_000_000_000...9_000_000_000, using: &generator)
            let time = Timestamp(seconds: seconds)
            #expect(time.iso8601 == formatter.string(from: Date(timeIntervalSince1970: Double(seconds))), "\(seconds) s")
            #expect(Timestamp(iso8601: time.iso8601) == time)
        }
    }
}
