import Observations
import Testing
@testable import CaptureDecoding

// TCP reassembly: the same observations whatever the sender's (or the network's) cut,
// order, retransmissions and overlaps; the caps hit and counted.

private let synFlag: UInt8 = 0x02, ack: UInt8 = 0x10, fin: UInt8 = 0x01

/// One TCP connection between `Craft.client` and `Craft.server`.
private struct Connection {
    var clientPort = 40000
    var serverPort: Int
    var clientISN: UInt32 = 1_000
    var serverISN: UInt32 = 4_294_967_000  // wraps within the stream

    /// A packet from the client (or the server) carrying `payload` at stream offset
    /// `offset` (0 = the first byte after the SYN).
    func packet(fromClient: Bool = true, offset: Int, flags: UInt8 = ack | 0x08, payload: [UInt8]) -> [UInt8] {
        let isn = fromClient ? clientISN : serverISN
        let sequence = flags & synFlag != 0 ? isn : isn &+ 1 &+ UInt32(offset)
        let (source, destination) = fromClient ? (clientPort, serverPort) : (serverPort, clientPort)
        let segment = Craft.be16(source) + Craft.be16(destination) + Craft.be32(sequence) + Craft.be32(0)
            + [0x50, flags] + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0) + payload
        return fromClient ? Craft.ipv4(proto: 6, payload: segment)
            : Craft.ipv4(source: Craft.server, destination: Craft.client, proto: 6, payload: segment)
    }

    func syn(fromClient: Bool = true) -> [UInt8] {
        packet(fromClient: fromClient, offset: 0, flags: fromClient ? synFlag : synFlag | ack, payload: [])
    }

    /// Segments `(offset, bytes)` of `data` as packets after the SYN.
    func packets(_ data: [UInt8], cuts: [(Int, Int)], fromClient: Bool = true) -> [[UInt8]] {
        cuts.map { packet(fromClient: fromClient, offset: $0.0, payload: Array(data[$0.0..<$0.1])) }
    }
}

/// Runs packets through one decoder, numbered from 1, one second apart, and ends the
/// capture.
private func run(_ packets: [[UInt8]], options: DecodingOptions = DecodingOptions(), spacing: Int64 = 1)
    -> (seen: [Seen], anomalies: [String: UInt64])
{
    let (seen, anomalies) = decodePackets(packets, options: options, spacing: spacing)
    return (seen.filter { ![.ipSource, .ipDestination].contains($0.field) }, anomalies)
}

/// What the application layer yielded, without packet numbers.
/// The values seen, as text; JA3/JA4 fingerprints left out (FingerprintTests covers them).
private func values(_ seen: [Seen]) -> [String] {
    seen.filter { $0.field != .tlsJA3 && $0.field != .tlsJA4 }.map { "\($0.field.rawValue)=\($0.value) host=\($0.host ?? "-")" }
}

/// Cuts of `count` bytes: whole, one byte each, and chunks of 15, 16, 17, 31, 32, 33.
private func cuttings(_ count: Int) -> [[(Int, Int)]] {
    var all: [[(Int, Int)]] = [[(0, count)]]
    for size in [1, 15, 16, 17, 31, 32, 33] {
        all.append(stride(from: 0, to: count, by: size).map { ($0, min($0 + size, count)) })
    }
    return all
}

/// A deterministic shuffle (a linear congruential generator), so a failure repeats.
private func shuffled<T>(_ items: [T], seed: UInt64) -> [T] {
    var items = items
    var state = seed
    for index in stride(from: items.count - 1, to: 0, by: -1) {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        items.swapAt(index, Int(state >> 33) % (index + 1))
    }
    return items
}

private func clientHello(_ name: String, padding: Int = 200) -> [UInt8] {
    let entry = [0] + Craft.be16(name.utf8.count) + Array(name.utf8)
    let extensions: [(Int, [UInt8])] = [(21, [UInt8](repeating: 0, count: padding)), (0, Craft.be16(entry.count) + entry)]
    let body = Craft.be16(0x0303) + [UInt8](repeating: 0xAB, count: 32) + [0] + Craft.be16(2) + [0x13, 0x01] + [1, 0]
        + Craft.be16(extensions.reduce(0) { $0 + 4 + $1.1.count })
        + extensions.flatMap { Craft.be16($0.0) + Craft.be16($0.1.count) + $0.1 }
    let handshake = [1, 0] + Craft.be16(body.count) + body
    return [0x16, 3, 1] + Craft.be16(handshake.count) + handshake
}

private let requests = Array(("POST /form HTTP/1.1\r\nHost: one.example\r\nContent-Length: 14\r\n\r\nGET / HTTP/1.1"
    + "GET /next?x=1 HTTP/1.1\r\nUser-Agent: t\r\nHost: two.example:8080\r\n\r\n").utf8)
private let requestValues = [
    "http.host=one.example host=192.0.2.1", "http.url=http://one.example/form host=192.0.2.1",
    // The first request's body, hashed (it looks like a request line: it is not one).
    "file.md5=581fc5e8bc2861213adeacb07b851092 host=192.0.2.1", "file.sha1=237e1da92209c64fdb32ffc52cdef59b29405a2f host=192.0.2.1",
    "file.sha256=fc5d49bbaf39f98b659cbafac841654f529b9690293d106902a27acb82aad4b6 host=192.0.2.1",
    "http.host=two.example host=192.0.2.1", "http.url=http://two.example:8080/next?x=1 host=192.0.2.1",
]

private func dnsStream(_ names: [String], response: Bool = false) -> [UInt8] {
    names.flatMap { name -> [UInt8] in
        let message = Craft.dns(response: response, questions: [Craft.question(name)])
        return Craft.be16(message.count) + message
    }
}

private struct StreamCase: Sendable, CustomTestStringConvertible {
    var name: String
    var serverPort: Int
    var data: [UInt8]
    var fromClient = true
    var expected: [String]
    var testDescription: String { name }
}

/// A ClientHello whose handshake message is spread over three records.
private let helloOverRecords: [UInt8] = {
    let handshake = Array(clientHello("records.example").dropFirst(5))
    let cuts = [0, 100, 180, handshake.count]
    return (0..<3).flatMap { index -> [UInt8] in
        let piece = Array(handshake[cuts[index]..<cuts[index + 1]])
        return [0x16, 3, 1] + Craft.be16(piece.count) + piece
    }
}()

private let streamCases: [StreamCase] = [
    StreamCase(name: "TLS ClientHello over three records", serverPort: 443, data: helloOverRecords,
               expected: ["tls.sni=records.example host=192.0.2.1"]),
    StreamCase(name: "TLS ClientHello", serverPort: 443, data: clientHello("split.example"),
               expected: ["tls.sni=split.example host=192.0.2.1"]),
    StreamCase(name: "two HTTP requests on one connection", serverPort: 80, data: requests, expected: requestValues),
    StreamCase(name: "DNS over TCP queries", serverPort: 53, data: dnsStream(["a.example", "b.example", "c.example"]),
               expected: ["dns.query=a.example host=192.0.2.1", "dns.query=b.example host=192.0.2.1",
                          "dns.query=c.example host=192.0.2.1"]),
    StreamCase(name: "DNS over TCP responses", serverPort: 53, data: dnsStream(["r.example", "s.example"], response: true),
               fromClient: false,
               expected: ["dns.query=r.example host=192.0.2.1", "dns.query=s.example host=192.0.2.1"]),
]

@Test(arguments: streamCases)
private func sameObservationsHoweverTheStreamIsCut(_ test: StreamCase) {
    let connection = Connection(serverPort: test.serverPort)
    let opening = [connection.syn(), connection.syn(fromClient: false)]
    for cuts in cuttings(test.data.count) {
        let packets = connection.packets(test.data, cuts: cuts, fromClient: test.fromClient)
        let described = "\(cuts.count) segments"
        // In order: each unit is observed in the packet that completes it, and the last
        // unit in the last packet.
        let inOrder = run(opening + packets)
        #expect(values(inOrder.seen) == test.expected, "\(described)")
        #expect(inOrder.anomalies.isEmpty, "\(described)")
        #expect(inOrder.seen.last?.locator == .packet(UInt64(opening.count + packets.count)), "\(described)")
        // Shuffled, retransmitted (every segment twice, the copies shuffled too).
        for seed in 1...3 as ClosedRange<UInt64> {
            let shuffledRun = run(opening + shuffled(packets, seed: seed))
            #expect(values(shuffledRun.seen) == test.expected, "\(described) shuffled \(seed)")
            #expect(shuffledRun.anomalies.isEmpty, "\(described) shuffled \(seed)")
            let twice = run(opening + shuffled(packets + packets, seed: seed))
            #expect(values(twice.seen) == test.expected, "\(described) retransmitted \(seed)")
            #expect(twice.anomalies.isEmpty, "\(described) retransmitted \(seed)")
        }
    }
    // Overlapping segments with the same bytes: 20-byte segments every 10 bytes.
    let overlapping = stride(from: 0, to: test.data.count, by: 10).map { ($0, min($0 + 20, test.data.count)) }
    let overlapRun = run(opening + shuffled(connection.packets(test.data, cuts: overlapping, fromClient: test.fromClient), seed: 7))
    #expect(values(overlapRun.seen) == test.expected)
    #expect(overlapRun.anomalies.isEmpty)
}

@Test func conflictingOverlapsAreCountedAndTheFirstDataWins() {
    let hello = clientHello("first.example")
    let connection = Connection(serverPort: 443)
    var forged = hello
    for index in 60..<80 { forged[index] ^= 0xFF }
    // In order: the forged copy overlaps bytes still held (the hello is incomplete).
    let heldConflict = run([connection.syn()] + connection.packets(hello, cuts: [(0, 70)])
        + connection.packets(forged, cuts: [(50, 70)]) + connection.packets(hello, cuts: [(70, hello.count)]))
    #expect(values(heldConflict.seen) == ["tls.sni=first.example host=192.0.2.1"])
    #expect(heldConflict.anomalies == ["tcp.overlap_conflict": 1])
    // Out of order: the forged copy overlaps a segment waiting beyond a hole.
    let pendingConflict = run([connection.syn()] + connection.packets(hello, cuts: [(60, 100)])
        + connection.packets(forged, cuts: [(70, 110)]) + connection.packets(hello, cuts: [(0, 60), (100, hello.count)]))
    #expect(values(pendingConflict.seen) == ["tls.sni=first.example host=192.0.2.1"])
    #expect(pendingConflict.anomalies == ["tcp.overlap_conflict": 1])
}

@Test func midStreamCapturesWithoutTheSYN() {
    // The first segment seen with data is taken as the stream's start.
    for cuts in cuttings(requests.count) {
        let result = run(Connection(serverPort: 80).packets(requests, cuts: cuts))
        #expect(values(result.seen) == requestValues, "\(cuts.count) segments")
    }
    let hello = clientHello("nosyn.example")
    let result = run(Connection(serverPort: 443).packets(hello, cuts: cuttings(hello.count)[2]))
    #expect(values(result.seen) == ["tls.sni=nosyn.example host=192.0.2.1"])
}

@Test func aClientHelloAfterOtherBytesIsStillRead() {
    // SOCKS or STARTTLS: the stream starts with something else, then the hello.
    let connection = Connection(serverPort: 1080)
    let hello = clientHello("socks.example")
    let result = run([connection.syn(), connection.packet(offset: 0, payload: [5, 1, 0]),
                      connection.packet(offset: 3, payload: Array(hello.prefix(100))),
                      connection.packet(offset: 103, payload: Array(hello.dropFirst(100)))])
    #expect(values(result.seen) == ["tls.sni=socks.example host=192.0.2.1"])
    #expect(result.seen.first?.locator == .packet(4))
}

@Test func holesAreSkippedNotWaitedFor() {
    let connection = Connection(serverPort: 80)
    let first = Array("GET /lost HTTP/1.1\r\nHost: lost.example\r\n".utf8)
    let second = Array("GET /found HTTP/1.1\r\nHost: found.example\r\n\r\n".utf8)
    let data = first + Array("X-Missing: yes\r\n\r\n".utf8) + second
    // The middle is never sent; the FIN closes the stream: the hole is skipped, the
    // request after it is read, the one before counted as cut.
    let finPacket = connection.packet(offset: data.count, flags: fin | ack, payload: [])
    let result = run([connection.syn()] + connection.packets(data, cuts: [(0, first.count), (data.count - second.count, data.count)])
                     + [finPacket])
    #expect(values(result.seen) == ["http.host=lost.example host=192.0.2.1", "http.url=http://lost.example/lost host=192.0.2.1",
                                    "http.host=found.example host=192.0.2.1", "http.url=http://found.example/found host=192.0.2.1"])
    #expect(result.anomalies == ["tcp.gap": 1])
    // Without a FIN: data beyond the hole past the per-stream bound skips it too.
    var options = DecodingOptions()
    options.maxBytesPerStream = 64
    let bounded = run([connection.syn()] + connection.packets(data, cuts: [(0, 10), (20, 40), (40, 60), (60, data.count)]),
                      options: options)
    #expect(bounded.anomalies["tcp.gap", default: 0] >= 1)
    // A DNS stream cannot find its framing again: it stops at the hole.
    let dns = dnsStream(["one.example", "two.example"])
    let dnsConnection = Connection(serverPort: 53)
    let dnsResult = run([dnsConnection.syn()] + dnsConnection.packets(dns, cuts: [(0, 5), (10, dns.count)]))
    #expect(values(dnsResult.seen).isEmpty)
    #expect(dnsResult.anomalies == ["tcp.gap": 1, "dns.tcp_segmented": 1])
}

@Test func capsAreHitAndCounted() {
    // A request head longer than the cap: read as far as it goes, counted.
    var options = DecodingOptions()
    options.maxHTTPHeadBytes = 64
    let longHead = Array("GET /h HTTP/1.1\r\nHost: capped.example\r\nX-Long: \(String(repeating: "a", count: 100))\r\n\r\n".utf8)
    let connection = Connection(serverPort: 80)
    let head = run([connection.syn()] + connection.packets(longHead, cuts: cuttings(longHead.count)[2]), options: options)
    #expect(values(head.seen) == ["http.host=capped.example host=192.0.2.1", "http.url=http://capped.example/h host=192.0.2.1"])
    #expect(head.anomalies == ["http.head_too_long": 1])
    // The per-stream buffer: a DNS message longer than it.
    options = DecodingOptions()
    options.maxBytesPerStream = 20
    let dns = dnsStream(["a-rather-long-name.example"])
    let dnsConnection = Connection(serverPort: 53)
    let stream = run([dnsConnection.syn()] + dnsConnection.packets(dns, cuts: cuttings(dns.count)[1]), options: options)
    #expect(values(stream.seen).isEmpty)
    #expect(stream.anomalies == ["tcp.stream_cap": 1, "dns.tcp_segmented": 1])
    // All streams together.
    options = DecodingOptions()
    options.maxBytesTotal = 150
    let hello = clientHello("a.example", padding: 0)
    let connections = (0..<3).map { Connection(clientPort: 41000 + $0, serverPort: 443) }
    let firsts = connections.map { $0.packets(hello, cuts: [(0, 60)])[0] }
    let rests = connections.map { $0.packets(hello, cuts: [(60, hello.count)])[0] }
    // 60 + 60 bytes held; the third stream's 60 would pass 150.
    let total = run(connections.map { $0.syn() } + firsts + rests, options: options)
    #expect(total.anomalies == ["tcp.memory_cap": 1])
    #expect(values(total.seen) == ["tls.sni=a.example host=192.0.2.1", "tls.sni=a.example host=192.0.2.1"])
    // The flow table: the least recently used streams are evicted.
    options = DecodingOptions()
    options.maxTCPStreams = 2
    let evicted = run(connections.map { $0.syn() } + firsts + rests, options: options)
    #expect(evicted.anomalies["tcp.flow_evicted", default: 0] >= 1)
    #expect(values(evicted.seen).count < 3)
}

@Test func idleStreamsAreFinishedInPacketTime() {
    let hello = clientHello("idle.example")
    let connection = Connection(serverPort: 443)
    let other = Connection(clientPort: 40001, serverPort: 80)
    // 200 s between packets: the first stream times out before the capture ends.
    let result = run([connection.syn(), connection.packets(hello, cuts: [(0, 100)])[0], other.syn()], spacing: 200)
    #expect(values(result.seen).isEmpty)
    #expect(result.anomalies == ["tcp.idle_with_data": 1, "tls.client_hello_segmented": 1])
}

@Test func aNewConnectionOnTheSamePortsStartsAfresh() {
    let connection = Connection(serverPort: 443)
    var again = connection
    again.clientISN = 900_000
    let first = clientHello("first.example"), second = clientHello("second.example")
    let result = run([connection.syn()] + connection.packets(first, cuts: [(0, first.count)])
                     + [again.syn()] + again.packets(second, cuts: [(0, 50), (50, second.count)]))
    #expect(values(result.seen) == ["tls.sni=first.example host=192.0.2.1", "tls.sni=second.example host=192.0.2.1"])
    #expect(result.anomalies.isEmpty)
}
