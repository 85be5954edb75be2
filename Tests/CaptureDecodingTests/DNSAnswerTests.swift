import Observations
import Testing
@testable import CaptureDecoding

/// A resource record: owner, type, class IN, TTL 60, data.
private func record(_ owner: [UInt8], _ type: Int, _ data: [UInt8]) -> [UInt8] {
    owner + Craft.be16(type) + Craft.be16(1) + Craft.be32(60) + Craft.be16(data.count) + data
}

/// A response to `www.example.com` (question name at offset 12, so `0xC0 0x0C` points
/// to it) with the given answer, authority and additional records.
private func response(answers: [[UInt8]], authority: [[UInt8]] = [], additional: [[UInt8]] = []) -> [UInt8] {
    Craft.be16(0x1234) + Craft.be16(0x8180) + Craft.be16(1) + Craft.be16(answers.count)
        + Craft.be16(authority.count) + Craft.be16(additional.count)
        + Craft.question("www.example.com") + (answers + authority + additional).flatMap { $0 }
}

private let toQuestion: [UInt8] = [0xC0, 0x0C]

private func answersSeen(_ message: [UInt8]) -> (answers: [String], anomalies: [String: UInt64], hosts: Set<String>) {
    let packet = Craft.ipv4(source: Craft.server, destination: Craft.client,
                            payload: Craft.udp(source: 53, destination: 40000, payload: message))
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    let answers = seen.filter { $0.field == .dnsAnswer }
    return (answers.map { "\($0.value)" }, anomalies, Set(answers.compactMap(\.host)))
}

@Test func answersOfEachTypeAreObservedWithTheClientAsHost() {
    let message = response(
        answers: [
            record(toQuestion, 5, Craft.wireName("edge.cdn.example.net")),
            record(Craft.wireName("edge.cdn.example.net"), 1, [203, 0, 113, 7]),
            record(toQuestion, 28, Craft.address(IPv6Address("2001:db8::7")!)),
        ],
        authority: [record(Craft.wireName("example.com"), 2, Craft.wireName("ns1.example.com"))],
        additional: [
            record(toQuestion, 15, Craft.be16(10) + [4] + Array("mail".utf8) + [0xC0, 0x10]),  // mail.example.com
            record(Craft.wireName("7.113.0.203.in-addr.arpa"), 12, Craft.wireName("host.example.org")),
            record([0], 41, []),  // OPT: root owner, nothing observed
        ])
    let (answers, anomalies, hosts) = answersSeen(message)
    #expect(answers == [
        "www.example.com", "edge.cdn.example.net", "edge.cdn.example.net", "203.0.113.7",
        "www.example.com", "2001:db8::7", "example.com", "ns1.example.com",
        "www.example.com", "mail.example.com", "7.113.0.203.in-addr.arpa", "host.example.org",
    ])
    #expect(anomalies.isEmpty)
    #expect(hosts == [Craft.client.description])
}

@Test(arguments: [
    // (what is wrong, the records, answers still observed, the anomaly)
    ("A of 5 bytes", [record(toQuestion, 1, [1, 2, 3, 4, 5])], ["www.example.com"], "dns.bad_rdata"),
    ("AAAA of 4 bytes", [record(toQuestion, 28, [1, 2, 3, 4])], ["www.example.com"], "dns.bad_rdata"),
    ("CNAME pointing forward", [record(toQuestion, 5, [0xC0, 0x7F])], ["www.example.com"], "dns.bad_rdata"),
    ("CNAME past its data", [record(toQuestion, 5, [1, 0x61]), record(toQuestion, 1, [192, 0, 2, 9])],
     ["www.example.com", "www.example.com", "192.0.2.9"], "dns.bad_rdata"),
    ("data length past the end", [toQuestion + Craft.be16(1) + Craft.be16(1) + Craft.be32(1) + Craft.be16(200) + [1]],
     [], "dns.malformed_record"),
    ("owner pointer loop", [[0xC0, 0x21] + Craft.be16(1)], [], "dns.malformed_name"),
] as [(String, [[UInt8]], [String], String)])
func malformedRecordsAreCounted(_ what: String, _ records: [[UInt8]], _ expected: [String], _ anomaly: String) {
    let (answers, anomalies, _) = answersSeen(response(answers: records))
    #expect(answers == expected, "\(what)")
    #expect(anomalies == [anomaly: 1], "\(what)")
}

@Test func answerCountsLargerThanTheMessageStopAtItsEnd() {
    var message = response(answers: [record(toQuestion, 1, [192, 0, 2, 9])])
    message[6] = 0xFF  // 65,280+ answers claimed, one present
    let (answers, anomalies, _) = answersSeen(message)
    #expect(answers == ["www.example.com", "192.0.2.9"])
    #expect(anomalies == ["dns.malformed_name": 1])
}
