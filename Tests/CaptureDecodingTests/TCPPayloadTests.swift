import Observations
import Testing
@testable import CaptureDecoding

/// A TCP segment (no options unless `headerWords` says more) from the client.
private func tcp(source: Int = 40000, destination: Int, payload: [UInt8], headerWords: Int = 5) -> [UInt8] {
    Craft.be16(source) + Craft.be16(destination) + Craft.be32(1) + Craft.be32(0)
        + [UInt8(headerWords << 4), 0x18] + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0)
        + [UInt8](repeating: 1, count: max(headerWords - 5, 0) * 4) + payload
}

private func overTCP(_ segment: [UInt8]) -> [UInt8] { Craft.ipv4(proto: 6, payload: segment) }

private func observed(_ packet: [UInt8], _ field: Field) -> (values: [String], anomalies: [String: UInt64], hosts: Set<String>) {
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    let matching = seen.filter { $0.field == field }
    return (matching.map { "\($0.value)" }, anomalies, Set(matching.compactMap(\.host)))
}

private let query = Craft.dns(questions: [Craft.question("example.com")])
private let otherQuery = Craft.dns(questions: [Craft.question("example.org")])

@Test func dnsOverTCPReadsEveryWholeMessageOfTheSegment() {
    let two = Craft.be16(query.count) + query + Craft.be16(otherQuery.count) + otherQuery
    let (names, anomalies, hosts) = observed(overTCP(tcp(destination: 53, payload: two, headerWords: 8)), .dnsQuery)
    #expect(names == ["example.com", "example.org"])
    #expect(anomalies.isEmpty)
    #expect(hosts == [Craft.client.description])
    // The second message continues in the next segment: counted, not read.
    let cut = Craft.be16(query.count) + query + Craft.be16(otherQuery.count) + otherQuery.prefix(10)
    let partial = observed(overTCP(tcp(destination: 53, payload: Array(cut))), .dnsQuery)
    #expect(partial.values == ["example.com"])
    #expect(partial.anomalies == ["dns.tcp_segmented": 1])
}

@Test func llmnrIsReadAsDNS() {
    let packet = Craft.ipv4(payload: Craft.udp(destination: 5355, payload: query))
    #expect(observed(packet, .dnsQuery).values == ["example.com"])
}

/// A ClientHello record with the given extensions (type, data).
private func clientHello(_ extensions: [(Int, [UInt8])], session: Int = 32) -> [UInt8] {
    let body = Craft.be16(0x0303) + [UInt8](repeating: 0xAB, count: 32) + [UInt8(session)]
        + [UInt8](repeating: 0xCD, count: session) + Craft.be16(4) + [0x13, 0x01, 0x13, 0x02] + [1, 0]
        + Craft.be16(extensions.reduce(0) { $0 + 4 + $1.1.count })
        + extensions.flatMap { Craft.be16($0.0) + Craft.be16($0.1.count) + $0.1 }
    let handshake = [1, 0] + Craft.be16(body.count) + body
    return [0x16, 3, 1] + Craft.be16(handshake.count) + handshake
}

private func serverName(_ name: String) -> [UInt8] {
    let entry = [0] + Craft.be16(name.utf8.count) + Array(name.utf8)
    return Craft.be16(entry.count) + entry
}

@Test func tlsServerNameIsObservedOnAnyPort() {
    let hello = clientHello([(10, [0, 2, 0, 0x1D]), (0, serverName("tls.example")), (16, [0, 3, 2, 0x68, 0x32])])
    for port in [443, 8443] {
        let (names, anomalies, hosts) = observed(overTCP(tcp(destination: port, payload: hello)), .tlsSNI)
        #expect(names == ["tls.example"])
        #expect(anomalies.isEmpty)
        #expect(hosts == [Craft.client.description])
    }
    #expect(observed(overTCP(tcp(destination: 443, payload: clientHello([(10, [0, 2, 0, 0x1D])]))), .tlsSNI).values.isEmpty)
}

@Test(arguments: [0, 20, 60, 100, 130])
func tlsClientHelloCutBeforeItsServerNameIsCounted(_ cut: Int) {
    let hello = clientHello([(10, [UInt8](repeating: 0, count: 40)), (0, serverName("tls.example"))])
    let segment = Array(hello.prefix(hello.count - 1 - cut))
    let (names, anomalies, _) = observed(overTCP(tcp(destination: 443, payload: segment)), .tlsSNI)
    #expect(names.isEmpty)
    #expect(anomalies == ["tls.client_hello_segmented": 1])
}

@Test func tlsServerNameListRunningPastItsExtensionIsAnAnomaly() {
    let hello = clientHello([(0, Craft.be16(40) + [0] + Craft.be16(3) + Array("a.b".utf8))])
    let (names, anomalies, _) = observed(overTCP(tcp(destination: 443, payload: hello)), .tlsSNI)
    #expect(names.isEmpty)
    #expect(anomalies == ["tls.bad_server_name": 1])
}

@Test(arguments: [
    ("GET /a/b?c=d HTTP/1.1\r\nUser-Agent: x\r\nhOsT:  www.example.com:8080 \r\n\r\n",
     ["www.example.com"], ["http://www.example.com:8080/a/b?c=d"], [:]),
    ("POST /submit HTTP/1.0\nHost: post.example\n\nbody", ["post.example"], ["http://post.example/submit"], [:]),
    ("GET http://proxy.example/x HTTP/1.1\r\nHost: proxy.example\r\n\r\n", ["proxy.example"], ["http://proxy.example/x"], [:]),
    ("CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443\r\n\r\n", ["tunnel.example"], [], [:]),
    ("GET /v6 HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n", ["2001:db8::1"], ["http://[2001:db8::1]:80/v6"], [:]),
    ("GET /nohost HTTP/1.0\r\n\r\n", [], [], [:]),
    ("GET /cut HTTP/1.1\r\nAccept: */*\r\nHo", [], [], ["http.segmented": 1]),
    ("GET /x SPDY/3\r\n\r\n", [], [], ["http.bad_request_line": 1]),
] as [(String, [String], [String], [String: UInt64])])
func httpRequestsYieldHostAndURL(_ request: String, _ hosts: [String], _ urls: [String], _ anomalies: [String: UInt64]) {
    let packet = overTCP(tcp(destination: 80, payload: Array(request.utf8)))
    let (seen, counted) = decodeOne(packet, link: .rawIP)
    #expect(seen.filter { $0.field == .httpHost }.map { "\($0.value)" } == hosts)
    #expect(seen.filter { $0.field == .httpURL }.map { "\($0.value)" } == urls)
    #expect(counted == anomalies)
}

@Test func ssdpIsReadAsHTTP() {
    let request = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n\r\n"
    let packet = Craft.ipv4(payload: Craft.udp(destination: 1900, payload: Array(request.utf8)))
    #expect(observed(packet, .httpURL).values == ["http://239.255.255.250:1900*"])
}

@Test func longURLsAreCountedNotObserved() {
    let request = "GET /" + String(repeating: "a", count: ValueCapacity.url) + " HTTP/1.1\r\nHost: h.example\r\n\r\n"
    let (urls, anomalies, _) = observed(overTCP(tcp(destination: 80, payload: Array(request.utf8))), .httpURL)
    #expect(urls.isEmpty)
    #expect(anomalies == ["http.url_too_long": 1])
}

@Test func gtpUserPlaneIsUnwrapped() {
    // Flags: version 1, PT, E (extension header follows); G-PDU; one extension header
    // of one 4-byte unit (PDU session container), then the inner packet.
    let gtp: [UInt8] = [0x34, 0xFF, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0x85] + [1, 0x10, 0x09, 0]
    let packet = Craft.ipv4(source: IPv4Address("10.0.0.1")!, destination: IPv4Address("10.0.0.2")!,
                            payload: Craft.udp(source: 2152, destination: 2152, payload: gtp + Craft.dnsQueryV6))
    let (seen, anomalies) = decodeOne(packet, link: .rawIP)
    #expect(anomalies.isEmpty)
    #expect(seen.map(\.field) == [.ipSource, .ipDestination, .tunnelIPv6Source, .tunnelIPv6Destination, .dnsQuery])
}
