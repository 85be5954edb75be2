import Observations
import Testing
@testable import LogReading

/// Observations of one line as "field value host time".
func observeLine(_ line: String) throws -> [String] {
    let (seen, _) = try Fixture.observe(Array((line + "\n").utf8))
    return seen.map { "\($0.field.rawValue) \($0.value) \($0.host ?? "-") \($0.time.iso8601)" }
}

@Test func zeekConnRecord() throws {
    let line = #"{"ts":1700000000.123456,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"10.0.0.5","id.orig_p":49152,"id.resp_h":"2001:db8::80","id.resp_p":443,"proto":"tcp","host":"evil.example.com"}"#
    #expect(try observeLine(line) == [
        // A source's host is the line's destination and the other way round: the local
        // host of a sighting is the side that is not the (remote) indicator.
        "log.src 10.0.0.5 2001:db8::80 2023-11-14T22:13:20.123456Z",
        "log.dst 2001:db8::80 10.0.0.5 2023-11-14T22:13:20.123456Z",
        // A Zeek record's "host" is an HTTP Host header: a domain, not the logging host.
        "log.domain evil.example.com - 2023-11-14T22:13:20.123456Z",
    ])
}

@Test func zeekISOTimeAndSuricataEVE() throws {
    #expect(try observeLine(#"{"ts":"2024-01-02T03:04:05.5Z","query":"bad.example.net","answers":["192.0.2.9","cname.example.org"]}"#) == [
        "log.domain bad.example.net - 2024-01-02T03:04:05.500000Z",
        "log.ip 192.0.2.9 - 2024-01-02T03:04:05.500000Z",
        "log.domain cname.example.org - 2024-01-02T03:04:05.500000Z",
    ])
    let eve = #"{"timestamp":"2024-01-02T04:04:05.000001+0100","flow_id":1,"event_type":"http","src_ip":"192.0.2.1","src_port":1,"dest_ip":"198.51.100.2","dest_port":80,"hostname":"sensor1","http":{"hostname":"www.example.com","url":"\/x.php","http_user_agent":"curl"}}"#
    let seen = try observeLine(eve)
    #expect(seen == [
        "log.src 192.0.2.1 198.51.100.2 2024-01-02T03:04:05.000001Z",
        "log.dst 198.51.100.2 192.0.2.1 2024-01-02T03:04:05.000001Z",
        "log.domain www.example.com sensor1 2024-01-02T03:04:05.000001Z",
    ])
}

@Test func jsonAfterASyslogHeaderKeepsTheHeaderHost() throws {
    let line = #"<14>1 2024-05-01T00:00:00Z ids suricata 1 - - {"timestamp":"2024-05-01T00:00:01+00:00","src_ip":"192.0.2.7","alert":{"signature":"ET hit to http://c2.example.com/gate"}}"#
    #expect(try observeLine(line) == [
        "log.src 192.0.2.7 ids 2024-05-01T00:00:01Z",
        "log.url http://c2.example.com/gate ids 2024-05-01T00:00:01Z",
        "log.domain c2.example.com ids 2024-05-01T00:00:01Z",
    ])
}

@Test(arguments: [
    #"{"src_ip":"192.0.2.1""#,  // unterminated
    #"{"src_ip":"192.0.2.1",}"#,  // trailing comma
    #"{"src_ip":192.0.2.1}"#,  // not a number
    #"{"src_ip":"192.0.2.1"} trailing"#,
    #"{"a":"\x","src_ip":"192.0.2.1"}"#,  // a bad escape
    #"{"a":01,"src_ip":"192.0.2.1"}"#,  // a leading zero
    String(repeating: "[", count: 40) + #"{"src_ip":"192.0.2.1"}"#,
])
func malformedJSONIsScannedAsText(line: String) throws {
    let seen = try observeLine(line)
    // As text: the address is found, but not tagged from the member name.
    #expect(seen.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["log.ip 192.0.2.1"])
}

@Test func deepNestingWithinTheLimitIsAccepted() throws {
    let depth = JSONScanner.maximumDepth - 1
    let line = "{" + String(repeating: #""a":{"#, count: depth - 1) + #""x":"192.0.2.4""# + String(repeating: "}", count: depth)
    #expect(try observeLine(line).map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["log.ip 192.0.2.4"])
    let bytes = Array(line.utf8)
    let wellFormed = JSONScanner.scanObject(bytes.span, in: 0..<bytes.count) { _, _, _ in }
    #expect(wellFormed)
}

@Test(arguments: [
    ("1700000000", "2023-11-14T22:13:20Z"), ("1700000000.5", "2023-11-14T22:13:20.500000Z"),
    ("0.000000001", "1970-01-01T00:00:00.000000001Z"), ("1e9", nil), ("-1", nil), ("1.", nil),
    ("1234567890123", nil),
] as [(String, String?)])
func epochTimes(text: String, expected: String?) {
    let bytes = Array(text.utf8)
    let time = JSONRecord.epochTime(bytes.span)?.iso8601
    #expect(time == expected)
}

@Test func sourceAndDestinationAreAttributedToTheOtherSide() throws {
    let both = "Mar  2 09:05:20 fw01 kernel: DROP IN=eth0 SRC=203.0.113.45 DST=10.0.0.23 PROTO=TCP evil.example"
    #expect(try observeLine(both).map { $0.components(separatedBy: " ").prefix(3).joined(separator: " ") } == [
        "log.src 203.0.113.45 10.0.0.23",
        "log.dst 10.0.0.23 203.0.113.45",
        // Values the line does not name as source or destination keep the header's host.
        "log.domain evil.example fw01",
    ])
    let sourceOnly = "Mar  2 09:05:20 mail01 sshd[812]: Failed password for root from 203.0.113.9 port 22 ssh2"
    #expect(try observeLine(sourceOnly).map { $0.components(separatedBy: " ").prefix(3).joined(separator: " ") } == [
        "log.src 203.0.113.9 mail01",
    ])
}
