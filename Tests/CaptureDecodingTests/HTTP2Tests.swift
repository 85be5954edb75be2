import Foundation
import NIOCore
import NIOHPACK
import Observations
import Testing
@testable import CaptureDecoding

// HTTP/2 in clear text and DNS over HTTPS: a crafted conversation, both directions,
// cut into segments of several sizes, must give the same observations.

/// One HTTP/2 frame (RFC 9113 §4.1).
private func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
    [UInt8(payload.count >> 16), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF), type, flags]
        + Craft.be32(stream) + payload
}

/// A header block encoded by SwiftNIO's HPACK encoder (one encoder per direction, as
/// a real peer keeps its dynamic table).
private func block(_ encoder: inout HPACKEncoder, _ headers: [(String, String)]) throws -> [UInt8] {
    var buffer = ByteBuffer()
    try encoder.encode(headers: HPACKHeaders(headers), to: &buffer)
    return buffer.readBytes(length: buffer.readableBytes) ?? []
}

/// A TCP conversation: the handshake, then each side's bytes in `size`-byte segments,
/// in the order given, then both FINs.
private func conversation(_ turns: [(fromClient: Bool, bytes: [UInt8])], size: Int) -> [[UInt8]] {
    var sequence: [Bool: UInt32] = [true: 1000, false: 5000]
    func packet(_ fromClient: Bool, _ flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let (source, destination) = fromClient ? (40000, 8080) : (8080, 40000)
        let segment = Craft.be16(source) + Craft.be16(destination) + Craft.be32(sequence[fromClient]!)
            + Craft.be32(0) + [0x50, flags] + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0) + payload
        sequence[fromClient]! &+= UInt32(payload.count) + (flags & 0x03 != 0 ? 1 : 0)
        return fromClient ? Craft.ipv4(proto: 6, payload: segment)
            : Craft.ipv4(source: Craft.server, destination: Craft.client, proto: 6, payload: segment)
    }
    var packets = [packet(true, 0x02, []), packet(false, 0x12, [])]
    for turn in turns {
        for start in stride(from: 0, to: turn.bytes.count, by: size) {
            packets.append(packet(turn.fromClient, 0x18, Array(turn.bytes[start..<min(start + size, turn.bytes.count)])))
        }
    }
    return packets + [packet(true, 0x11, []), packet(false, 0x11, [])]
}

private func observe(_ packets: [[UInt8]]) -> (seen: Set<String>, anomalies: [String: UInt64]) {
    var decoder = PacketDecoder()
    var seen: Set<String> = []
    let record: (Observation) -> Void = { observation in
        switch observation.field {
        case .httpHost, .httpURL, .fileSHA256, .dnsQuery, .dnsAnswer:
            seen.insert("\(observation.field.rawValue)=\(observation.value.owned)")
        default: break
        }
    }
    for (index, packet) in packets.enumerated() {
        decoder.decode(packet: packet.span, link: .rawIP, locator: .packet(UInt64(index + 1)),
                       time: Timestamp(seconds: Int64(index)), observe: record)
    }
    decoder.finish(observe: record)
    return (seen, decoder.anomalies.counts)
}

private let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
private let settings = frame(4, stream: 0, Craft.be16(3) + Craft.be32(100))
private let page = Array(String(repeating: "<p>payload</p>", count: 300).utf8)

@Test func http2RequestsAndBodiesAreObservedHoweverTheStreamIsCut() throws {
    var client = HPACKEncoder(allocator: ByteBufferAllocator())
    var server = HPACKEncoder(allocator: ByteBufferAllocator())
    // A request whose header block continues in a CONTINUATION frame, and a second
    // one on stream 3 (its fields indexed from the dynamic table).
    let first = try block(&client, [(":method", "GET"), (":scheme", "http"), (":authority", "user:pw@example.com:8080"),
                                    (":path", "/a/payload.exe")])
    let second = try block(&client, [(":method", "GET"), (":scheme", "http"), (":authority", "user:pw@example.com:8080"),
                                     (":path", "/b")])
    let response = try block(&server, [(":status", "200"), ("content-type", "application/octet-stream")])
    // The body in two DATA frames, the first padded.
    let padded: [UInt8] = [4] + page[0..<1000] + [0, 0, 0, 0]
    let clientBytes = preface + settings
        + frame(1, flags: 0x01, stream: 1, Array(first[0..<5])) + frame(9, flags: 0x04, stream: 1, Array(first[5...]))
        + frame(1, flags: 0x05, stream: 3, second)
    let serverBytes = settings + frame(1, flags: 0x04, stream: 1, response)
        + frame(0, flags: 0x08, stream: 1, padded) + frame(0, flags: 0x01, stream: 1, Array(page[1000...]))
    for size in [1, 9, 17, 1460] {
        let result = observe(conversation([(true, clientBytes), (false, serverBytes)], size: size))
        #expect(result.seen.contains("http.host=example.com"), "\(size)")
        #expect(result.seen.contains("http.url=http://user:pw@example.com:8080/a/payload.exe"), "\(size)")
        #expect(result.seen.contains("http.url=http://user:pw@example.com:8080/b"), "\(size)")
        #expect(result.seen.contains("file.sha256=" + (try sha256(page))), "\(size)")
        #expect(result.anomalies.isEmpty, "\(size): \(result.anomalies)")
    }
}

@Test func anUpgradedConnectionAndDNSOverHTTPSAreRead() throws {
    var client = HPACKEncoder(allocator: ByteBufferAllocator())
    var server = HPACKEncoder(allocator: ByteBufferAllocator())
    let query = Craft.dns(questions: [Craft.question("doh-get.example")])
    let posted = Craft.dns(questions: [Craft.question("doh-post.example")])
    let get = Data(query).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    let upgrade = Array("GET /dns-query?dns=\(get) HTTP/1.1\r\nHost: resolver.example\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n".utf8)
    let post = try block(&client, [(":method", "POST"), (":scheme", "http"), (":authority", "resolver.example"),
                                   (":path", "/dns-query"), ("content-type", "application/dns-message")])
    let answer = try block(&server, [(":status", "200"), ("content-type", "application/dns-message")])
    let clientBytes = upgrade + preface + settings + frame(1, flags: 0x04, stream: 3, post)
        + frame(0, flags: 0x01, stream: 3, posted)
    let serverBytes = Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8)
        + settings + frame(1, flags: 0x04, stream: 3, answer) + frame(0, flags: 0x01, stream: 3, posted)
    for size in [1, 13, 1460] {
        let result = observe(conversation([(true, clientBytes), (false, serverBytes)], size: size))
        #expect(result.seen.contains("dns.query=doh-get.example"), "\(size)")
        #expect(result.seen.contains("dns.query=doh-post.example"), "\(size)")
        #expect(result.seen.contains("http.url=http://resolver.example/dns-query"), "\(size)")
        #expect(result.anomalies.isEmpty, "\(size): \(result.anomalies)")
    }
}

@Test func brokenHTTP2IsCountedNotFatal() throws {
    // A CONTINUATION without a HEADERS before it, and a header block HPACK refuses.
    for bad in [frame(9, flags: 0x04, stream: 1, [0x82]), frame(1, flags: 0x04, stream: 1, [0xFF, 0xFF, 0xFF, 0xFF])] {
        let result = observe(conversation([(true, preface + settings + bad)], size: 1460))
        #expect(result.anomalies == ["http2.malformed": 1])
    }
}

@Test func dnsOverHTTPSInHTTP1IsDecoded() throws {
    let query = Craft.dns(questions: [Craft.question("doh-http1.example")])
    let request = Array("POST /dns-query HTTP/1.1\r\nHost: resolver.example\r\nContent-Type: application/dns-message\r\nContent-Length: \(query.count)\r\n\r\n".utf8) + query
    for size in [1, 11, 1460] {
        let result = observe(conversation([(true, request)], size: size))
        #expect(result.seen.contains("dns.query=doh-http1.example"), "\(size)")
        #expect(result.anomalies.isEmpty, "\(size): \(result.anomalies)")
    }
}

@Test func ipLiteralHostsAreAddresses() throws {
    var client = HPACKEncoder(allocator: ByteBufferAllocator())
    let http2 = try block(&client, [(":method", "GET"), (":scheme", "http"), (":authority", "[2001:DB8::7]:8443"), (":path", "/")])
    let http1 = Array("GET / HTTP/1.1\r\nHost: 192.0.2.7:8080\r\n\r\n".utf8)
    for (bytes, expected) in [(http1, "ipv4 192.0.2.7"), (preface + settings + frame(1, flags: 0x05, stream: 1, http2), "ipv6 2001:db8::7")] {
        var decoder = PacketDecoder()
        var hosts: [String] = []
        let record: (Observation) -> Void = { observation in
            guard observation.field == .httpHost else { return }
            switch observation.value.owned {
            case .ipv4(let address): hosts.append("ipv4 \(address)")
            case .ipv6(let address): hosts.append("ipv6 \(address)")
            default: hosts.append("other \(observation.value.owned)")
            }
        }
        for (index, packet) in conversation([(true, bytes)], size: 1460).enumerated() {
            decoder.decode(packet: packet.span, link: .rawIP, locator: .packet(UInt64(index + 1)), time: Timestamp(seconds: 0), observe: record)
        }
        decoder.finish(observe: record)
        #expect(hosts == [expected])
    }
}

@Test func bodiesInProgressAreBoundedPerDirection() throws {
    var server = HPACKEncoder(allocator: ByteBufferAllocator())
    var frames = settings
    for index in 0...HTTP2Direction.maxStreams {
        frames += frame(1, flags: 0x04, stream: UInt32(2 * index + 1), try block(&server, [(":status", "200")]))
    }
    let result = observe(conversation([(true, preface + settings), (false, frames)], size: 1460))
    // The 64 bodies in progress are cut by the connection's end.
    #expect(result.anomalies == ["http2.too_many_streams": 1, "http.body_incomplete": 64])
}

@Test func aHoleEndsAnHTTP2DirectionAndItsOpenBodies() throws {
    var server = HPACKEncoder(allocator: ByteBufferAllocator())
    let serverBytes = settings + frame(1, flags: 0x04, stream: 1, try block(&server, [(":status", "200")]))
        + frame(0, flags: 0x01, stream: 1, page)
    var packets = conversation([(true, preface + settings), (false, serverBytes)], size: 1000)
    // The server's second data segment never reaches the capture.
    let serverSegments = packets.indices.filter { packets[$0].count > 40 && packets[$0][12...15].elementsEqual(Craft.be32(Craft.server.value)) }
    packets.remove(at: serverSegments[1])
    let result = observe(packets)
    #expect(!result.seen.contains { $0.hasPrefix("file.sha256=") })
    #expect(result.anomalies["tcp.gap"] == 1)
    #expect(result.anomalies["http.body_incomplete"] == 1)
}
