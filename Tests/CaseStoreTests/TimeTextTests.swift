import Observations
import Testing
@testable import CaseStore

@Test(
    "fast ISO 8601 text is the same as Timestamp.iso8601",
    arguments: [
        0, 1, 999, 1000, 1_000_000, 999_999_999, -1, -1000, -1_000_000_000, -86_400_000_000_001,
        1_709_294_400_000_000_000, 1_709_294_400_250_000_000, 1_709_294_400_123_456_789,
        951_782_400_000_000_000,  // 2000-02-29
        4_107_542_399_999_999_999,  // 2100-02-28T23:59:59.999999999
        -9_000_000_000_000_000_000, 9_000_000_000_000_000_000,
        Int64.max, Int64.min + 1_000_000_000,
    ] as [Int64]
)
func fastISO8601Matches(nanoseconds: Int64) {
    let time = Timestamp(nanoseconds: nanoseconds)
    #expect(time.fastISO8601 == time.iso8601)
}

@Test("the earliest timestamp does not trap")
func fastISO8601Earliest() {
    // `Timestamp.iso8601` itself overflows here, so the text is checked by hand.
    #expect(Timestamp(nanoseconds: .min).fastISO8601 == "1677-09-21T00:12:43.145224192Z")
}

@Test("fast ISO 8601 text matches on random times")
func fastISO8601Random() {
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<5000 {
        let time = Timestamp(nanoseconds: Int64.random(in: (Int64.min + 1_000_000_000)...Int64.max, using: &generator))
        #expect(time.fastISO8601 == time.iso8601)
        let microseconds = Timestamp(nanoseconds: time.nanoseconds / 1000 * 1000)
        #expect(microseconds.fastISO8601 == microseconds.iso8601)
    }
}
