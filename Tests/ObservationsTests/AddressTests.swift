import Testing
@testable import Observations

@Suite struct AddressTests {
    @Test(arguments: [
        ("192.0.2.1", UInt32(0xC000_0201)), ("0.0.0.0", 0), ("255.255.255.255", 0xFFFF_FFFF),
    ])
    func parsesIPv4(text: String, value: UInt32) {
        #expect(IPv4Address(text)?.value == value)
        #expect(IPv4Address(text)?.description == text)
    }

    @Test(arguments: ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "", "a.b.c.d", "1.2.3.4 "])
    func rejectsBadIPv4(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test(arguments: [
        ("2001:db8::1", "2001:db8::1"), ("::", "::"), ("::1", "::1"),
        ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("fe80:0:0:0:0:0:0:0", "fe80::"), ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
    ])
    func parsesIPv6(text: String, canonical: String) {
        #expect(IPv6Address(text)?.description == canonical)
    }

    @Test(arguments: ["1::2::3", "12345::", ":1", "1:", "1:2:3:4:5:6:7:8:9", "g::1", "1.2.3.4"])
    func rejectsBadIPv6(text: String) {
        #expect(IPv6Address(text) == nil)
    }
}

@Suite struct TimestampTests {
    @Test func formatsAndParsesISO8601() {
        let time = Timestamp(year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 58, nanosecond: 250_000_000)!
        #expect(time.iso8601 == "2024-02-29T23:59:58.250000Z")
        #expect(Timestamp(iso8601: time.iso8601) == time)
        #expect(Timestamp(seconds: 0).iso8601 == "1970-01-01T00:00:00Z")
        #expect(Timestamp(seconds: -1).iso8601 == "1969-12-31T23:59:59Z")
        #expect(Timestamp(seconds: 1_700_000_000).iso8601 == "2023-11-14T22:13:20Z")
    }
}
