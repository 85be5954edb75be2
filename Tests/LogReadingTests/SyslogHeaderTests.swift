import Observations
import Testing
@testable import LogReading

struct HeaderCase: CustomStringConvertible, Sendable {
    var line: String
    /// Expected UTC time, nil when no header is recognised, "-" for a header without time.
    var time: String?
    var host: String? = nil
    /// The text where the message starts.
    var message: String = ""
    var description: String { line }
}

let headerCases: [HeaderCase] = [
    HeaderCase(
        line: "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal", time: "2024-02-12T14:10:21Z",
        host: "sd-126005", message: "Invalid user pascal"),
    HeaderCase(
        line: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", time: "2024-10-11T22:14:15Z",
        host: "mymachine", message: "'su root' failed"),
    HeaderCase(
        line: "Mar  5 21:44:43 srv scanlogd: 192.0.2.123 to 192.0.2.1", time: "2024-03-05T21:44:43Z",
        host: "srv", message: "192.0.2.123 to 192.0.2.1"),
    HeaderCase(
        line: "Nov 2 15:40:14 workshop sshd[28179]: pam_unix(sshd:auth)", time: "2024-11-02T15:40:14Z",
        host: "workshop", message: "pam_unix(sshd:auth)"),
    HeaderCase(
        line: "Aug 03 21:39:20 hostname sshd[69420]: Connection", time: "2024-08-03T21:39:20Z",
        host: "hostname", message: "Connection"),
    HeaderCase(
        line: "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure", time: "2024-06-14T15:16:01Z",
        host: "combo", message: "authentication failure"),
    HeaderCase(
        line: "Jul  1 09:01:05 calvisitor-10-105-160-95 com.apple.CDScheduler[43]: Thermal", time: "2024-07-01T09:01:05Z",
        host: "calvisitor-10-105-160-95", message: "Thermal"),
    HeaderCase(line: "Mar  5 21:44:43 sshd[12]: no host here", time: "2024-03-05T21:44:43Z", host: nil, message: "no host here"),
    HeaderCase(
        line: "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An application",
        time: "2003-10-11T22:14:15.003000Z", host: "mymachine.example.com",
        message: "[exampleSDID@32473 iut=\"3\"] An application"),
    HeaderCase(
        line: "<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan filterlog 92653 - - 7,,,1000000102",
        time: "2025-11-06T11:32:42.868451Z", host: "firewall.lan", message: "- 7,,,1000000102"),
    HeaderCase(
        line: "<13>1 2024-01-01T00:00:00-05:30 - app - - - text", time: "2024-01-01T05:30:00Z", host: nil,
        message: "- text"),
    HeaderCase(line: "<13>1 - relay.example.org app 12 ID1 text", time: "-", host: "relay.example.org", message: "text"),
    HeaderCase(
        line: "2024-03-05T10:11:12.123456+01:00 host tag: msg", time: "2024-03-05T09:11:12.123456Z", host: "host",
        message: "msg"),
    HeaderCase(
        line: "2023-03-18T20:35:05.734637+01:00 10.120.127.1 firewall,info drop-in input: in:ether1-WAN",
        time: "2023-03-18T19:35:05.734637Z", host: "10.120.127.1", message: "firewall,info drop-in input: in:ether1-WAN"),
    HeaderCase(
        line: "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", time: "2005-12-04T04:47:44Z", host: nil,
        message: " [notice] workerEnv.init() ok"),
    HeaderCase(
        line: "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]", time: "2015-07-29T17:41:44.747000Z", host: nil,
        message: " - INFO  [QuorumPeer[myid=1]"),
    HeaderCase(line: "D\u{e9}c 31 11:59:59 [sshd] error: PAM", time: nil),
    HeaderCase(line: "0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP", time: nil),
    HeaderCase(line: "Feb 12 25:10:21 host sshd: bad hour", time: nil),
    HeaderCase(line: "<34>no header after priority", time: nil),
    HeaderCase(line: "plain text", time: nil),
    HeaderCase(line: "", time: nil),
    HeaderCase(line: "Feb", time: nil),
    HeaderCase(line: "2024-03-05T10:11:12", time: nil),
]

@Test(arguments: headerCases)
func parsesHeaders(_ testCase: HeaderCase) {
    let bytes = Array(testCase.line.utf8)
    let header = SyslogHeaderParser.parse(bytes.span, year: 2024)
    guard let expectedTime = testCase.time else {
        #expect(header == nil)
        return
    }
    guard let header else {
        Issue.record("no header recognised")
        return
    }
    #expect((header.time?.iso8601 ?? "-") == expectedTime)
    #expect(header.host.map { String(decoding: bytes[$0], as: UTF8.self) } == testCase.host)
    #expect(String(decoding: bytes[header.messageStart...], as: UTF8.self) == testCase.message)
}

@Test func headerlessLinesTakeTheEarlierTime() throws {
    let text = """
        continuation from 192.0.2.1
        Feb 12 14:10:21 web1 sshd[1]: login from 192.0.2.2
        \tat frame 192.0.2.3
        <13>1 - relay app - - - from 192.0.2.4
        """
    let (seen, _) = try Fixture.observe(Array(text.utf8))
    #expect(seen.map(\.time.iso8601) == [
        "1970-01-01T00:00:00Z", "2024-02-12T14:10:21Z", "2024-02-12T14:10:21Z", "2024-02-12T14:10:21Z",
    ])
    #expect(seen.map(\.host) == [nil, "web1", nil, "relay"])
}

/// The timestamp memo changes no header: every case after every other one (so the memo
/// holds the last one's timestamp), and lines whose first 16 bytes after the priority
/// are the same but whose year or following bytes differ.
@Test func timestampMemoGivesTheHeadersParsingGives() {
    let lines = headerCases.map(\.line) + [
        "<38>Mar  1 00:00:00 bastion01 sshd[1]: a", "<190>Mar  1 00:00:00 web03 nginx: b", "Mar  1 00:00:00 x",
        "<4>Mar  1 00:00:00 fw02 kernel: c", "Mar  1 00:00:01 fw02 kernel: d", "Mar  1 00:00:00", "Mar  1 00:00:0",
        "Mar 01 00:00:00 host tag: e", "Mar 012 00:00:00 host tag: f", "Mar  1 00:00:00host tag: g", "Feb 29 12:00:00 h t: i",
    ]
    var memo = BSDTimestampMemo()
    for _ in 0..<2 {
        for line in lines {
            for year in [2024, 2024, 2023] {
                let bytes = Array(line.utf8)
                let memoized = SyslogHeaderParser.parse(bytes.span, year: year, memo: &memo)
                #expect(memoized == SyslogHeaderParser.parse(bytes.span, year: year), "\(line) in \(year)")
            }
        }
    }
}
