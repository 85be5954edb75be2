import ByteParsing
import Observations

/// The HTTP messages of one stream so far: requests (and which were HEAD, for the
/// last 64) or responses.
struct HTTPExchange {
    var count: UInt64 = 0
    /// Bit i set: request `count - 1 - i` was HEAD.
    var headMask: UInt64 = 0
    /// How far the incomplete head at the start of the held bytes has been searched for
    /// its end, so that a head arriving a byte at a time costs linear, not quadratic, time.
    var scanned = 0
    /// The stream was seen from its SYN, so its first bytes start its first message.
    var fromSYN = false
    /// Where the search for the end of an incomplete response head stopped (the head
    /// starts at its status line, which does not move while it is incomplete).
    var responseSearch = PacketDecoder.HeadSearch()
    /// The HTTP/2 state of this direction, once the connection speaks HTTP/2.
    var http2: HTTP2Direction? = nil

    mutating func record(isHEAD: Bool) {
        headMask = headMask << 1 | (isHEAD ? 1 : 0)
        count += 1
    }

    /// Whether request `number` (0-based) was HEAD; false when it is unknown.
    func wasHEAD(_ number: UInt64) -> Bool {
        guard number < count, count - number <= 64 else { return false }
        return headMask >> (count - 1 - number) & 1 == 1
    }
}

/// Whether bytes start a pattern: surely, perhaps (too few bytes to say), or not.
enum PrefixMatch { case yes, maybe, no }

extension PacketDecoder {
    /// The request methods `startsHTTPRequest` knows, with their space.
    static let httpMethods: [StaticString] = [
        "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PATCH ", "TRACE ",
        "M-SEARCH ", "NOTIFY ", "SUBSCRIBE ", "UNSUBSCRIBE ",
    ]

    /// Whether `bytes` start an HTTP request line, or may once more bytes come.
    static func httpRequestStart(_ bytes: Span<UInt8>) -> PrefixMatch {
        guard let first = bytes.uint8(at: 0), first >= UInt8(ascii: "C"), first <= UInt8(ascii: "U") else {
            return bytes.isEmpty ? .maybe : .no
        }
        var result = PrefixMatch.no
        for method in httpMethods {
            let match = prefixMatch(bytes, method)
            if match == .yes { return .yes }
            if match == .maybe { result = .maybe }
        }
        return result
    }

    /// Whether `bytes` start with `literal` (`.maybe`: they are a shorter prefix of it).
    static func prefixMatch(_ bytes: Span<UInt8>, _ literal: StaticString, foldCase: Bool = false) -> PrefixMatch {
        literal.withUTF8Span { literal in
            let count = min(bytes.count, literal.count)
            for index in 0..<count {
                var byte = bytes[index]
                if foldCase, byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                if byte != literal[index] { return .no }
            }
            return count == literal.count ? .yes : .maybe
        }
    }

    /// What a stream carries, from its first bytes: DNS by port (53), a TLS handshake
    /// record (0x16 0x03), an HTTP request line; `.unknown` while too few bytes have
    /// come to say.
    static func classify(_ bytes: Span<UInt8>, sourcePort: UInt16, destinationPort: UInt16) -> StreamMode {
        if sourcePort == 53 || destinationPort == 53 { return .dns }
        guard let first = bytes.uint8(at: 0) else { return .unknown }
        if first == 0x16 {
            guard bytes.count >= 2 else { return .unknown }
            return bytes[1] == 3 ? .tls : .ignored
        }
        switch httpRequestStart(bytes) {
        case .yes: return .http
        case .maybe: return .unknown
        case .no: break
        }
        switch http2PrefaceStart(bytes) {
        case .yes: return .http2
        case .maybe: return .unknown
        case .no: break
        }
        // A server's HTTP/2 SETTINGS frame (RFC 9113 §6.5: stream 0, flags 0 or ACK, a
        // whole number of 6-byte settings, far fewer than 256 of them), which may come
        // before the client's preface.
        if first == 0 {
            guard bytes.count >= 9 else { return .unknown }
            let cursor = ByteCursor(bytes)
            if cursor.getUInt8(at: 1) == 0, let length = cursor.getUInt8(at: 2), length % 6 == 0,
               cursor.getUInt8(at: 3) == 4, let flags = cursor.getUInt8(at: 4), flags & 0xFE == 0,
               cursor.getUInt32(at: 5) == 0 {
                return .http2
            }
        }
        switch httpResponseStart(bytes) {
        case .yes: return .httpResponse
        case .maybe: return .unknown
        case .no: return .ignored
        }
    }

    /// Whether `bytes` start an HTTP/1.x status line (in any case, as tshark reads
    /// `http/1.1 200`), or may once more bytes come.
    static func httpResponseStart(_ bytes: Span<UInt8>) -> PrefixMatch {
        prefixMatch(bytes, "http/1.", foldCase: true)
    }

    /// The parsers of reassembled streams: reads every whole unit (DNS message,
    /// ClientHello record, HTTP request head) at the start of `bytes` and returns how
    /// many bytes it consumed; what is left is an incomplete unit, to be offered again
    /// with more bytes. With `final` (the stream ends, or its buffer is full), an
    /// incomplete unit is parsed as far as it goes, so the unit's parser counts what is
    /// missing (`tls.client_hello_segmented`, `http.segmented`, `dns.tcp_segmented`).
    mutating func parseStream(
        _ bytes: Span<UInt8>, mode: inout StreamMode, exchange: inout HTTPExchange, body: inout HTTPBody?,
        key: StreamKey, final: Bool, context: PacketContext, observe: (Observation) -> Void
    ) -> Int {
        var position = 0
        // Each unit consumes at least one byte, or the loop returns: the bytes bound it.
        while true {
            let rest = bytes.suffix(from: position)
            if rest.isEmpty { return position }
            if body != nil {
                guard let used = consumeBody(rest, body: &body, mode: &mode, final: final, context: context,
                                             observe: observe)
                else { return final ? bytes.count : position }
                if mode == .ignored { return bytes.count }
                position += used
                continue
            }
            if mode == .unknown {
                mode = PacketDecoder.classify(rest, sourcePort: key.sourcePort, destinationPort: key.destinationPort)
                // Bytes that start nothing known, from the side that answers HTTP requests:
                // responses, whatever junk comes before the first status line
                // (`httpResponseHead`), or HTTP/2 frames.
                if mode == .ignored || (mode == .unknown && final && !rest.isEmpty),
                   let reverse = flows.index[key.reversed] {
                    if flows.slots[reverse].mode == .http { mode = .httpResponse }
                    if flows.slots[reverse].mode == .http2 { mode = .http2 }
                }
                if mode == .unknown {
                    if final { mode = .ignored }
                    return final ? bytes.count : position
                }
            }
            let used: Int?
            switch mode {
            case .unknown, .ignored: return bytes.count
            case .dns: used = dnsMessage(rest, mode: &mode, final: final, context: context, observe: observe)
            case .tls: used = clientHelloRecord(rest, mode: &mode, final: final, context: context, observe: observe)
            case .http2:
                used = http2Frame(rest, mode: &mode, exchange: &exchange, key: key, final: final, context: context,
                                  observe: observe)
            case .http, .httpResponse:
                used = httpHead(rest, mode: &mode, exchange: &exchange, body: &body, key: key, final: final,
                                context: context, observe: observe)
            }
            guard let used else { return position }
            if mode == .ignored { return bytes.count }
            position += used
        }
    }

    /// One length-prefixed DNS message (RFC 1035 §4.2.2); nil while it is incomplete.
    private mutating func dnsMessage(
        _ bytes: Span<UInt8>, mode: inout StreamMode, final: Bool, context: PacketContext,
        observe: (Observation) -> Void
    ) -> Int? {
        let cursor = ByteCursor(bytes)
        guard let length = cursor.getUInt16(at: 0) else {
            return final ? dnsSegmented(&mode) : nil
        }
        guard length >= 12 else {
            anomalies.record(.dnsMalformed)
            mode = .ignored
            return 0
        }
        guard let message = cursor.getBytes(at: 2, count: Int(length)) else {
            return final ? dnsSegmented(&mode) : nil
        }
        decodeDNSMessage(message, context: context, observe: observe)
        return 2 + Int(length)
    }

    /// A DNS message carried by a stream or an HTTP body, handed to `decodeDNS`.
    mutating func decodeDNSMessage(_ message: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void) {
        _ = decodeDNS(message, context: context, observe: observe)
    }

    private mutating func dnsSegmented(_ mode: inout StreamMode) -> Int {
        anomalies.record(.dnsTCPSegmented)
        mode = .ignored
        return 0
    }

    /// The record holding a ClientHello (up to `maxClientHelloBytes` of it), handed to
    /// `decodeTLS`; nil while it is incomplete. The stream is of no interest afterwards.
    private mutating func clientHelloRecord(
        _ bytes: Span<UInt8>, mode: inout StreamMode, final: Bool, context: PacketContext,
        observe: (Observation) -> Void
    ) -> Int? {
        let cursor = ByteCursor(bytes)
        // Not a handshake record, or a handshake other than ClientHello: nothing to read.
        if cursor.getUInt8(at: 0) != 0x16 || cursor.getUInt8(at: 5).map({ $0 != 1 }) ?? false {
            mode = .ignored
            return 0
        }
        var need = Int.max
        if let recordLength = cursor.getUInt16(at: 3) {
            need = min(5 + Int(recordLength), flows.options.maxClientHelloBytes)
            // A ClientHello longer than its record continues in the next records
            // (RFC 8446 §5.1): gathered into one record before it is read.
            if let high = cursor.getUInt8(at: 6), let low = cursor.getUInt16(at: 7),
               4 + (Int(high) << 16 | Int(low)) > Int(recordLength)
            {
                return spanningClientHello(bytes, length: 4 + (Int(high) << 16 | Int(low)), mode: &mode, final: final,
                                           context: context, observe: observe)
            }
        }
        if bytes.count >= need {
            _ = decodeTLS(bytes.extracting(0..<need), context: context, observe: observe)
        } else if final {
            _ = decodeTLS(bytes, context: context, observe: observe)
        } else {
            return nil
        }
        mode = .ignored
        return 0
    }

    /// A ClientHello of `length` bytes (handshake header included) spread over several
    /// handshake records: their fragments are joined after one record header in the
    /// flow table's scratch buffer (up to `maxClientHelloBytes`) and read as one record.
    /// nil while records are missing.
    private mutating func spanningClientHello(
        _ bytes: Span<UInt8>, length: Int, mode: inout StreamMode, final: Bool, context: PacketContext,
        observe: (Observation) -> Void
    ) -> Int? {
        let cursor = ByteCursor(bytes)
        let capacity = min(FlowTable.helloCapacity, flows.options.maxClientHelloBytes)
        let joined = flows.helloAssembly
        // The record header, its length written once the fragments are in.
        joined.bytes.removeAll(keepingCapacity: true)
        joined.bytes.append(0x16)
        joined.bytes.append(3)
        joined.bytes.append(bytes.uint8(at: 2) ?? 0)
        joined.bytes.append(0)
        joined.bytes.append(0)
        var position = 0
        // Each record adds at least its 5-byte header: the bytes bound the loop.
        while joined.bytes.count - 5 < length, joined.bytes.count < capacity {
            guard cursor.getUInt8(at: position) == 0x16, let recordLength = cursor.getUInt16(at: position + 3),
                  let fragment = cursor.getBytes(at: position + 5, count: Int(recordLength))
            else { break }
            joined.bytes.append(span: fragment.prefix(capacity - joined.bytes.count))
            position += 5 + Int(recordLength)
            if cursor.getUInt8(at: position).map({ $0 != 0x16 }) ?? false { break }  // another content type
        }
        let written = joined.bytes.count
        let complete = written - 5 >= length || written >= capacity
            || (cursor.getUInt8(at: position).map { $0 != 0x16 } ?? false)
        guard complete || final else { return nil }
        joined.bytes[3] = UInt8((written - 5) >> 8)
        joined.bytes[4] = UInt8((written - 5) & 0xFF)
        _ = decodeTLS(joined.bytes.span, context: context, observe: observe)
        mode = .ignored
        return 0
    }

    /// One HTTP/1.x head: a request's is handed to `decodeHTTP` (Host, URL); a
    /// response's (`httpResponseHead`) is read for its framing only. The body that
    /// follows (Content-Length, chunked, or for a response the connection's end) is
    /// hashed by `consumeBody`, and the next head of a keep-alive connection read after
    /// it. nil while the head is incomplete.
    private mutating func httpHead(
        _ bytes: Span<UInt8>, mode: inout StreamMode, exchange: inout HTTPExchange, body: inout HTTPBody?,
        key: StreamKey, final: Bool, context: PacketContext, observe: (Observation) -> Void
    ) -> Int? {
        if mode == .httpResponse {
            return httpResponseHead(bytes, mode: &mode, exchange: &exchange, body: &body, key: key, final: final)
        }
        switch PacketDecoder.httpRequestStart(bytes) {
        case .yes: break
        case .maybe:
            if final { mode = .ignored }
            return final ? 0 : nil
        case .no:
            // After an `Upgrade: h2c` request the client goes on in HTTP/2.
            switch PacketDecoder.http2PrefaceStart(bytes) {
            case .yes:
                mode = .http2
                exchange.http2 = HTTP2Direction(isClient: true)
            case .maybe where !final: return nil
            default: mode = .ignored
            }
            return 0
        }
        let cap = flows.options.maxHTTPHeadBytes
        // The end's 4 bytes may straddle what was searched and what is new.
        let from = min(max(0, exchange.scanned - 3), bytes.count)
        guard let end = PacketDecoder.headEnd(bytes, from: from, limit: cap) else {
            exchange.scanned = bytes.count
            if bytes.count >= cap {
                anomalies.record(.httpHeadTooLong)
                _ = decodeHTTP(bytes.extracting(0..<cap), context: context, observe: observe)
            } else if final {
                _ = decodeHTTP(bytes, context: context, observe: observe)
            } else {
                return nil
            }
            mode = .ignored
            return 0
        }
        exchange.scanned = 0
        let head = bytes.extracting(0..<end)
        _ = decodeHTTP(head, context: context, observe: observe)
        exchange.record(isHEAD: head.hasPrefix("HEAD "))
        // A request whose Content-Length cannot be read is taken to have no body, and
        // the next request is looked for after its head, as tshark does (so a smuggled
        // request is still read).
        let (announced, bad) = announcedBody(forHead: head, isResponse: false, client: key.source)
        if bad { anomalies.record(.httpBadContentLength) }
        body = announced
        return end
    }

    /// One HTTP/1.x response head, found past junk (`statusLineStart`). A strict head
    /// (`isStrictResponseHead`) frames its body as the RFC says, and the body streams;
    /// any other head's body is kept whole and read every way a browser may
    /// (`bodyReadings`). With no status line at all in the first response of a stream
    /// seen from its SYN, the response is HTTP/0.9: all of it is the body. nil while
    /// the head is incomplete.
    private mutating func httpResponseHead(
        _ bytes: Span<UInt8>, mode: inout StreamMode, exchange: inout HTTPExchange, body: inout HTTPBody?,
        key: StreamKey, final: Bool
    ) -> Int? {
        guard let start = PacketDecoder.statusLineStart(bytes) else {
            guard final || bytes.count >= PacketDecoder.maxJunkBeforeStatus + 5 else { return nil }
            // (Only from a stream seen from its SYN: one picked up midway starts anywhere.)
            if exchange.count == 0, exchange.fromSYN {
                exchange.count += 1
                anomalies.record(.httpResponseWithoutStatus)
                body = makeBody(framing: .close, client: key.destination)
                return 0
            }
            mode = .ignored
            return 0
        }
        let cap = flows.options.maxHTTPHeadBytes
        let rest = bytes.extracting(start...)
        guard let end = PacketDecoder.lenientHeadEnd(rest, search: &exchange.responseSearch, limit: cap) else {
            if bytes.count >= cap { anomalies.record(.httpHeadTooLong) }
            guard bytes.count >= cap || final else { return nil }
            mode = .ignored
            return 0
        }
        exchange.responseSearch = HeadSearch()
        let head = rest.extracting(0..<end)
        // A response to HEAD has no body whatever its Content-Length (RFC 9110
        // §9.3.2): the client's stream says which requests were HEAD, in order.
        var bodiless = false
        let status = PacketDecoder.statusCode(head)
        if status >= 200 || status == 0 {
            let number = exchange.count
            exchange.count += 1
            if let reverse = flows.index[key.reversed] {
                bodiless = flows.slots[reverse].exchange.wasHEAD(number)
            }
        }
        if bodiless { return start + end }
        if status == 101, LenientHead.contains(head, "h2c") {
            // Switching to HTTP/2 (RFC 7540 §3.2): the server's next bytes are frames,
            // the first answering the upgraded request as stream 1.
            mode = .http2
            exchange.http2 = HTTP2Direction(isClient: false)
            return start + end
        }
        if start == 0, PacketDecoder.isStrictResponseHead(head) {
            body = announcedBody(forHead: head, isResponse: true, client: key.destination).0
            return end
        }
        // Kept from the status line on: where the head ends is one of the readings.
        body = makeBody(framing: .buffered, client: key.destination)
        return start
    }

    /// The offset just past the empty line that ends an HTTP head (CRLF CRLF, or bare
    /// LFs), searched within `limit` bytes; nil when it is not there.
    static func headEnd(_ bytes: Span<UInt8>, from start: Int = 0, limit: Int) -> Int? {
        let end = min(bytes.count, limit)
        var position = start
        while let newline = bytes.firstIndex(of: UInt8(ascii: "\n"), from: position, to: end) {
            if newline + 1 < end, bytes[newline + 1] == UInt8(ascii: "\n") { return newline + 2 }
            if newline + 2 < end, bytes[newline + 1] == UInt8(ascii: "\r"), bytes[newline + 2] == UInt8(ascii: "\n") {
                return newline + 3
            }
            position = newline + 1
        }
        return nil
    }

    /// How a request's body is framed (RFC 9112 §6).
    enum BodyFraming: Equatable { case none, length(Int64), chunked, bad }


    /// Reads Content-Length and Transfer-Encoding from a request head. Several
    /// different lengths, or one that is not a decimal number below 2^62, are `.bad`.
    static func requestBody(_ head: Span<UInt8>) -> BodyFraming {
        var framing = BodyFraming.none
        var start = 0
        while let end = lineEnd(head, from: start), end > start {
            let line = head.extracting(start..<end)
            if line.hasPrefix("transfer-encoding:", foldCase: true) {
                return .chunked
            }
            if line.hasPrefix("content-length:", foldCase: true) {
                let value = line.suffix(from: 15).trimmingSpacesAndTabs()
                guard !value.isEmpty else { return .bad }
                var length: Int64 = 0
                for index in 0..<value.count {
                    let byte = value[index]
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), length < 1 << 58 else { return .bad }
                    length = length * 10 + Int64(byte - UInt8(ascii: "0"))
                }
                if case .length(let other) = framing, other != length { return .bad }
                framing = .length(length)
            }
            start = afterLineEnd(head, end)
        }
        return framing
    }
}
