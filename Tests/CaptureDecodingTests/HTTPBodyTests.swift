import Foundation
import Observations
import Testing
@testable import CaptureDecoding

// HTTP bodies: framed by Content-Length, chunks or the connection's end, decoded from
// gzip or deflate, hashed as they pass; hostile framing counted.

/// The SHA-256 (hex) of what the body test serves, computed by the test from the bytes.
private let content = Array(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 200).utf8)

/// gzip and raw-deflate encodings of `content`, made with the system's gzip.
private func compressed(gzip: Bool) throws -> [UInt8] {
    let bytes = try gzipped(content)
    if gzip { return bytes }
    // Raw deflate: the gzip member without its 10-byte header and 8-byte trailer.
    return Array(bytes[10..<(bytes.count - 8)])
}

/// A server→client stream after a SYN-ACK, cut in `size`-byte segments, then a FIN.
private func serve(_ response: [UInt8], size: Int, fin: Bool = true) -> [[UInt8]] {
    func packet(_ sequence: UInt32, _ flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let segment = Craft.be16(80) + Craft.be16(40000) + Craft.be32(sequence) + Craft.be32(0)
            + [0x50, flags] + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0) + payload
        return Craft.ipv4(source: Craft.server, destination: Craft.client, proto: 6, payload: segment)
    }
    var packets = [packet(99, 0x12, [])]
    for start in stride(from: 0, to: response.count, by: size) {
        packets.append(packet(100 + UInt32(start), 0x18, Array(response[start..<min(start + size, response.count)])))
    }
    if fin { packets.append(packet(100 + UInt32(response.count), 0x11, [])) }
    return packets
}

private func run(_ packets: [[UInt8]]) -> (digests: [String], anomalies: [String: UInt64], hosts: Set<String>) {
    var decoder = PacketDecoder()
    var seen: [Seen] = []
    for (index, packet) in packets.enumerated() {
        decoder.decode(packet: packet.span, link: .rawIP, locator: .packet(UInt64(index + 1)),
                       time: Timestamp(seconds: Int64(index))) { seen.append(Seen($0)) }
    }
    decoder.finish { seen.append(Seen($0)) }
    let digests = seen.filter { [.fileMD5, .fileSHA1, .fileSHA256].contains($0.field) }
    return (digests.map { "\($0.field.rawValue)=\($0.value)" }, decoder.anomalies.counts, Set(digests.compactMap(\.host)))
}

/// The SHA-256 (hex) of `bytes`, by the system's sha256sum (an independent checker).
func sha256(_ bytes: [UInt8]) throws -> String {
    let input = NSTemporaryDirectory() + "cairn-sum-\(UUID().uuidString)"
    try Data(bytes).write(to: URL(fileURLWithPath: input))
    defer { try? FileManager.default.removeItem(atPath: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum", input]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data.prefix(64), as: UTF8.self)
}

private func chunked(_ body: [UInt8], size: Int) -> [UInt8] {
    var out: [UInt8] = []
    for start in stride(from: 0, to: body.count, by: size) {
        let piece = body[start..<min(start + size, body.count)]
        out += Array(String(piece.count, radix: 16).utf8) + Array(";ext=1\r\n".utf8) + piece + [13, 10]
    }
    return out + Array("0\r\nX-Trailer: t\r\n\r\n".utf8)
}

@Test func bodiesAreHashedWhateverTheirFramingAndEncoding() throws {
    let expected = "file.sha256=" + (try sha256(content))
    let gzip = try compressed(gzip: true), deflate = try compressed(gzip: false)
    let heads: [(String, [UInt8])] = [
        ("HTTP/1.1 200 OK\r\nContent-Length: \(content.count)\r\n\r\n", content),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(content, size: 1000)),
        ("HTTP/1.0 200 OK\r\n\r\n", content),  // until the connection closes
        ("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(gzip.count)\r\n\r\n", gzip),
        ("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(gzip, size: 77)),
        ("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: \(deflate.count)\r\n\r\n", deflate),
    ]
    for (head, body) in heads {
        // After a 100 Continue (no body) and before a second, empty response.
        // (A body delimited by the connection's end is last: anything after it is body.)
        let closes = head.hasPrefix("HTTP/1.0")
        let response = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8) + Array(head.utf8) + body
            + (closes ? [] : Array("HTTP/1.1 304 Not Modified\r\n\r\n".utf8))
        for size in [1, 16, 33, 1460] {
            let result = run(serve(response, size: size))
            #expect(result.digests.count == 3, "\(head) in \(size)-byte segments")
            #expect(result.digests.last == expected, "\(head) in \(size)-byte segments")
            #expect(result.anomalies.isEmpty, "\(head) in \(size)-byte segments")
            #expect(result.hosts == [Craft.client.description])
        }
    }
}

@Test(arguments: ["10000000000000000", "-1", "zz", "ffffffffffffffffffff"])
func hostileChunkSizesAreCounted(_ size: String) {
    let response = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc\r\n0\r\n\r\n".utf8)
    let result = run(serve(response, size: 1460))
    #expect(result.digests.isEmpty)
    #expect(result.anomalies == ["http.bad_chunk_size": 1])
}

@Test func cutBodiesAreHashedAsReceivedAndUndecodableOnesAreNot() throws {
    // Content-Length longer than the connection: the client got these bytes, as a
    // browser keeps what came.
    let short = run(serve(Array("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nonly this".utf8), size: 1460))
    #expect(short.digests.last == "file.sha256=" + (try sha256(Array("only this".utf8))))
    #expect(short.anomalies == ["http.body_incomplete": 1])
    // gzip that is not.
    let bad = run(serve(Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!".utf8), size: 1460))
    #expect(bad.digests.isEmpty)
    #expect(bad.anomalies == ["http.body_decode_error": 1])
    // Brotli that is not (a stream that never ends): nothing hashed.
    let brotli = run(serve(Array("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc".utf8), size: 1460))
    #expect(brotli.digests.isEmpty)
}

/// Two fox sentences and a newline, compressed by the `brotli` and `zstd` command-line
/// tools (Debian's brotli 1.0.9, zstd 1.5.4), and their SHA-256 by sha256sum.
private let foxes = Array("The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.\n".utf8)
private let foxesSHA256 = "3665416e36b7fdc1ded594e099b627f52780f480b19e42775536b977a0fb6e5e"
private let foxesBrotli: [UInt8] = [
    0xa1, 0xc8, 0x02, 0x40, 0x64, 0x75, 0xc0, 0x9b, 0x86, 0x5e, 0x65, 0xd3, 0x25, 0xc4, 0xee, 0x89, 0x2f, 0xa9, 0xca,
    0xd0, 0x92, 0xcc, 0x8c, 0xad, 0x14, 0x40, 0x1a, 0xe4, 0x0c, 0x4f, 0x4f, 0x85, 0xbd, 0x35, 0x88, 0xcb, 0x5c, 0x5e,
    0xd8, 0x80, 0x03, 0x87, 0x2c, 0x90, 0xfd, 0x85, 0xfc, 0x06, 0x9d, 0x56, 0x38, 0x73, 0x78, 0x9c, 0xa8, 0x4d, 0x21,
    0x23, 0x5c, 0xda, 0xa7, 0x35, 0x16,
]
private let foxesZstd: [UInt8] = [
    0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x5a, 0xb5, 0x01, 0x00, 0xe4, 0x02, 0x54, 0x68, 0x65, 0x20, 0x71, 0x75, 0x69, 0x63,
    0x6b, 0x20, 0x62, 0x72, 0x6f, 0x77, 0x6e, 0x20, 0x66, 0x6f, 0x78, 0x20, 0x6a, 0x75, 0x6d, 0x70, 0x73, 0x20, 0x6f,
    0x76, 0x65, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x6c, 0x61, 0x7a, 0x79, 0x20, 0x64, 0x6f, 0x67, 0x2e, 0x20, 0x0a,
    0x01, 0x00, 0x0d, 0x9a, 0xaa, 0x0c, 0xc7, 0x26, 0xe6, 0xac,
]

@Test(arguments: [("br", foxesBrotli), ("zstd", foxesZstd)])
func brotliAndZstdBodiesAreDecoded(_ coding: String, _ body: [UInt8]) throws {
    #expect(try sha256(foxes) == foxesSHA256)
    for head in ["HTTP/1.1 200 OK\r\nContent-Encoding: \(coding)\r\nContent-Length: \(body.count)\r\n\r\n",
                 // Not strict (two lengths): read every way, the coding by its name or its bytes.
                 "HTTP/1.1 200 OK\r\nContent-Encoding: \(coding)\r\nContent-Length: \(body.count)\r\nContent-Length: 1\r\n\r\n"] {
        for size in [1, 7, 1460] {
            let result = run(serve(Array(head.utf8) + body, size: size))
            #expect(result.digests.contains("file.sha256=" + foxesSHA256), "\(coding) in \(size)-byte segments")
        }
    }
}

@Test func aResponseToHEADHasNoBody() throws {
    func packet(fromClient: Bool, _ sequence: UInt32, _ flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let (source, destination) = fromClient ? (40000, 80) : (80, 40000)
        let segment = Craft.be16(source) + Craft.be16(destination) + Craft.be32(sequence) + Craft.be32(0)
            + [0x50, flags] + Craft.be16(65535) + Craft.be16(0) + Craft.be16(0) + payload
        return fromClient ? Craft.ipv4(proto: 6, payload: segment)
            : Craft.ipv4(source: Craft.server, destination: Craft.client, proto: 6, payload: segment)
    }
    let requests = Array("HEAD /file HTTP/1.1\r\nHost: h.example\r\n\r\nGET /file HTTP/1.1\r\nHost: h.example\r\n\r\n".utf8)
    let responses = Array("HTTP/1.1 200 OK\r\nContent-Length: \(content.count)\r\n\r\n".utf8)
        + Array("HTTP/1.1 200 OK\r\nContent-Length: \(content.count)\r\n\r\n".utf8) + content
    let result = run([packet(fromClient: true, 9, 0x02, []), packet(fromClient: false, 99, 0x12, []),
                      packet(fromClient: true, 10, 0x18, requests), packet(fromClient: false, 100, 0x18, responses)])
    #expect(result.digests.last == "file.sha256=" + (try sha256(content)))
    #expect(result.digests.count == 3)
    #expect(result.anomalies.isEmpty)
}

private let digestChoices: [(DerivedObservables, [String])] = [
    (.all, ["file.md5", "file.sha1", "file.sha256"]),
    ([.fileSHA256], ["file.sha256"]),
    ([.fileMD5, .fileSHA1], ["file.md5", "file.sha1"]),
    ([.ja3, .ja4], []),
]

@Test(arguments: digestChoices)
func onlyTheWantedBodyDigestsAreComputed(_ wanted: DerivedObservables, _ fields: [String]) throws {
    let gzip = try compressed(gzip: true)
    let response = Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(gzip.count)\r\n\r\n".utf8) + gzip
    var options = DecodingOptions()
    options.derivedObservables = wanted
    let packets = serve(response, size: 500)
    let (seen, anomalies) = decodePackets(packets, options: options)
    let digests = seen.filter { [.fileMD5, .fileSHA1, .fileSHA256].contains($0.field) }
    #expect(digests.map(\.field.rawValue) == fields)
    if fields.contains("file.sha256") {
        #expect(digests.last?.value.description == (try sha256(content)))
    }
    // Everything else is unchanged: the same addresses, no anomaly.
    #expect(seen.filter { $0.field == .ipSource }.count == packets.count)
    #expect(anomalies.isEmpty)
    // A body that does not decode is still counted when no digest is wanted.
    options.derivedObservables = []
    let bad = decodePackets(
        serve(Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!".utf8), size: 1460),
        options: options)
    #expect(bad.anomalies == ["http.body_decode_error": 1])
}

/// Responses a strict reader refuses and browsers accept (the HTTP Evader catalogue's
/// kinds): each must yield the content's digest among its readings, however the
/// stream is cut. (Junk before the status line needs the request's stream: the
/// corpus's evader captures check it.)
@Test(arguments: [
    ("HTTP/1.0 with chunked and a plain body", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "plain"),
    ("chunked and Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 68\r\n\r\n", "chunked"),
    ("a folded Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", "chunked"),
    ("a NUL in the header name", "HTTP/1.1 200 OK\r\nTransfer\u{0}-Encoding: chunked\r\n\r\n", "chunked"),
    ("lines ended by a bare CR", "HTTP/1.1 200 OK\rTransfer-Encoding: chunked\rX: y\r\n\r\n", "chunked"),
    ("two Content-Lengths, junk after", "HTTP/1.1 200 OK\r\nContent-Length: 68\r\nContent-Length: 136\r\n\r\n", "plain+junk"),
    ("a blank line that folds", "HTTP/1.1 200 OK\r\nX: y\r\n \r\nContent-Length: 68\r\n\r\n", "plain"),
    ("two gzip layers", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Encoding: gzip\r\n\r\n", "gzip2"),
    ("one gzip layer named twice", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\n\r\n", "gzip"),
    ("gzip with reserved flags", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n", "gzip-flags"),
    ("gzip with a wrong CRC", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n", "gzip-crc"),
    ("whitespace before chunk sizes", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked-padded"),
    ("the last chunk cut", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked-cut"),
    ("an unknown coding", "HTTP/1.1 200 OK\r\nContent-Encoding: foo\r\nContent-Length: 68\r\n\r\n", "plain"),
])
func responsesBrowsersAcceptAreReadEveryWay(_ name: String, _ head: String, _ form: String) throws {
    let eicar = Array(#"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#.utf8)
    #expect(eicar.count == 68)
    let gzip = try gzipped(eicar)
    let body: [UInt8]
    switch form {
    case "plain": body = eicar
    case "plain+junk": body = eicar + Array(repeating: UInt8(ascii: "X"), count: 68)
    case "chunked": body = chunked(eicar, size: 10)
    case "chunked-padded":
        body = Array(" 5\r\n".utf8) + eicar[0..<5] + Array("\r\n\r\n\t3f\r\n".utf8) + eicar[5...] + Array("\r\n0\r\n\r\n".utf8)
    case "chunked-cut": body = Array("44\r\n".utf8) + eicar + Array("\r\n0".utf8)
    case "gzip": body = gzip
    case "gzip2": body = try gzipped(gzip)
    case "gzip-flags": body = Array(gzip[0..<3]) + [gzip[3] | 0xE0] + gzip[4...]
    case "gzip-crc": body = Array(gzip[0..<(gzip.count - 8)]) + [0xDE, 0xAD, 0xBE, 0xEF] + gzip[(gzip.count - 4)...]
    default: body = []
    }
    let expected = "file.sha256=" + (try sha256(eicar))
    for size in [1, 7, 1460] {
        let result = run(serve(Array(head.utf8) + body, size: size))
        #expect(result.digests.contains(expected), "\(name) in \(size)-byte segments: \(result.anomalies)")
    }
}

/// `bytes` gzip-compressed by the system's gzip.
private func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let input = NSTemporaryDirectory() + "cairn-gz-\(UUID().uuidString)"
    try Data(bytes).write(to: URL(fileURLWithPath: input))
    defer { try? FileManager.default.removeItem(atPath: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["gzip", "-c", "-n", input]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return [UInt8](data)
}

/// A response that is not strict is read to the connection's end; the responses after
/// it on a keep-alive connection are read every way too, each on its own.
@Test(arguments: [
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: \u{0}\r\n\r\n3\r\nabc\r\n0\r\n",
])
func responsesAfterAnAmbiguousOneAreReadToo(_ first: String) throws {
    let eicar = Array(#"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#.utf8)
    let second = Array("HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n".utf8) + eicar
    let expected = "file.sha256=" + (try sha256(eicar))
    for size in [1, 1460] {
        let result = run(serve(Array(first.utf8) + second, size: size))
        #expect(result.digests.contains(expected), "\(size)-byte segments: \(result.digests)")
        #expect(result.digests.contains("file.sha256=" + (try sha256(Array("abc".utf8)))))
    }
}

@Test func tokenBytesAreRFC9110s() {
    let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))
    for byte in 0...255 { #expect(PacketDecoder.isTokenByte(UInt8(byte)) == tchar.contains(UInt8(byte)), "\(byte)") }
}
