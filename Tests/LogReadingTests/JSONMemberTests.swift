import Foundation
import ByteParsing
import Observations
import Testing
@testable import LogReading

/// "field value member" for every observation of one line.
private func members(_ line: String) throws -> [String] {
    let (seen, _) = try Fixture.observe(Array((line + "\n").utf8))
    return seen.map { "\($0.field.rawValue) \($0.value) \($0.member ?? "-")" }
}

@Test func zeekRecordsNameTheirMembers() throws {
    let conn = #"{"ts":1700000000.1,"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":1,"id.resp_h":"192.0.2.80","id.resp_p":443,"proto":"tcp"}"#
    #expect(try members(conn) == ["log.src 10.0.0.5 id.orig_h", "log.dst 192.0.2.80 id.resp_h"])
    let dns = #"{"ts":1700000000.2,"uid":"C2","id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.53","query":"bad.example.net","answers":["192.0.2.9","cname.example.org"],"TTLs":[60.0,60.0]}"#
    #expect(try members(dns) == [
        "log.src 10.0.0.5 id.orig_h", "log.dst 10.0.0.53 id.resp_h", "log.domain bad.example.net query",
        "log.ip 192.0.2.9 answers", "log.domain cname.example.org answers",
    ])
    let http = #"{"ts":1700000000.3,"id.orig_h":"10.0.0.5","id.resp_h":"198.51.100.7","host":"c2.example.com","uri":"/gate.php?id=1","referrer":"http://lure.example.net/x","user_agent":"Mozilla/5.0"}"#
    #expect(try members(http) == [
        "log.src 10.0.0.5 id.orig_h", "log.dst 198.51.100.7 id.resp_h", "log.domain c2.example.com host",
        "log.url http://lure.example.net/x referrer", "log.domain lure.example.net referrer",
    ])
    let files = #"{"ts":1700000000.4,"fuid":"F1","tx_hosts":["198.51.100.7"],"md5":"d41d8cd98f00b204e9800998ecf8427e","sha1":"da39a3ee5e6b4b0d3255bfef95601890afd80709"}"#
    #expect(try members(files) == [
        "log.ip 198.51.100.7 tx_hosts", "log.hash d41d8cd98f00b204e9800998ecf8427e md5",
        "log.hash da39a3ee5e6b4b0d3255bfef95601890afd80709 sha1",
    ])
}

@Test func zeekWithANestedIdObjectIsTaggedLikeTheFlatForm() throws {
    let line = #"{"ts":1700000000.1,"id":{"orig_h":"10.0.0.5","orig_p":1,"resp_h":"2001:db8::80","resp_p":443}}"#
    #expect(try members(line) == ["log.src 10.0.0.5 id.orig_h", "log.dst 2001:db8::80 id.resp_h"])
}

@Test func suricataEVENestedMembersAreJoinedWithDots() throws {
    let dns = #"{"timestamp":"2024-01-02T03:04:05.000001+0000","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"10.0.0.53","dns":{"type":"answer","rrname":"bad.example.net","answers":[{"rrname":"bad.example.net","rrtype":"A","rdata":"192.0.2.9"}]}}"#
    #expect(try members(dns) == [
        "log.src 10.0.0.5 src_ip", "log.dst 10.0.0.53 dest_ip", "log.domain bad.example.net dns.rrname",
        "log.domain bad.example.net dns.answers.rrname", "log.ip 192.0.2.9 dns.answers.rdata",
    ])
    let tls = #"{"timestamp":"2024-01-02T03:04:05+0000","event_type":"tls","src_ip":"10.0.0.5","dest_ip":"203.0.113.4","tls":{"sni":"login.example.com","ja3":{"hash":"e7d705a3286e19ea42f587b344ee6865"},"ja3s":{"hash":"f4febc55ea12b31ae17cfb7e614afda8"}}}"#
    #expect(try members(tls) == [
        "log.src 10.0.0.5 src_ip", "log.dst 203.0.113.4 dest_ip", "log.domain login.example.com tls.sni",
        "log.hash e7d705a3286e19ea42f587b344ee6865 tls.ja3.hash", "log.hash f4febc55ea12b31ae17cfb7e614afda8 tls.ja3s.hash",
    ])
    let alert = #"{"timestamp":"2024-01-02T03:04:05+0000","event_type":"alert","src_ip":"10.0.0.5","dest_ip":"203.0.113.4","tunnel":{"src_ip":"192.0.2.1"},"alert":{"signature":"ET hit to http://c2.example.com/gate"},"http":{"hostname":"c2.example.com","url":"/gate"}}"#
    #expect(try members(alert) == [
        "log.src 10.0.0.5 src_ip", "log.dst 203.0.113.4 dest_ip",
        // The tunnel's outer address is not the flow's source.
        "log.ip 192.0.2.1 tunnel.src_ip",
        "log.url http://c2.example.com/gate alert.signature", "log.domain c2.example.com alert.signature",
        "log.domain c2.example.com http.hostname",
    ])
}

@Test func textLinesHaveNoMember() throws {
    #expect(try members("Mar  1 10:00:00 host sshd[1]: Failed password from 192.0.2.1 port 22") == ["log.src 192.0.2.1 -"])
}

@Test func aPathTooLongForTheBufferFallsBackToTheInnermostName() throws {
    let long = String(repeating: "k", count: JSONScanner.maximumMemberPathLength)
    let line = #"{"a":{"\#(long)":{"ip":"192.0.2.1"}},"b":{"c":"192.0.2.2"}}"#
    #expect(try members(line) == ["log.ip 192.0.2.1 ip", "log.ip 192.0.2.2 b.c"])
}

@Test(arguments: [
    (#"{"a":"x"}"#, ["a"]),
    (#"{"a":{"b":{"c":1}},"d":true}"#, ["a.b.c", "d"]),
    (#"{"a":[1,[2,{"b":null}],"x"]}"#, ["a", "a", "a.b", "a"]),
    (#"{"":{"x":1},"y":{"":2}}"#, [".x", "y."]),
    (#"{"long.name":{"short":"v"},"z":0}"#, ["long.name.short", "z"]),
    (#"{"a\"b":1}"#, [#"a\"b"#]),
])
func memberPathsOfEveryScalar(json: String, expected: [String]) {
    let bytes = Array(json.utf8)
    var scratch = [UInt8](repeating: 0, count: 64)
    var scratchSpan = scratch.mutableSpan
    var paths: [String] = []
    let wellFormed = JSONScanner.scanObject(bytes.span, in: 0..<bytes.count, paths: &scratchSpan) { _, _, member, _ in
        if let member { paths.append(member.string) } else { paths.append("nil") }
    }
    #expect(wellFormed)
    #expect(paths == expected)
}
