import ByteParsing
import NIOCore
import NIOHPACK
import Observations

// HTTP/2 in clear text (RFC 9113): a connection that starts with the client preface
// (prior knowledge), or that an HTTP/1.1 `Upgrade: h2c` request turned into HTTP/2 with
// a 101 response. Each direction is a sequence of frames; header blocks (HEADERS or
// PUSH_PROMISE, then CONTINUATION) are decoded with SwiftNIO's HPACK decoder, one per
// direction since the dynamic table lives across the connection. A request's
// `:authority` (or Host) is observed as `http.host`, `:scheme://:authority:path` as
// `http.url`; DATA frames are hashed per stream as HTTP/1 bodies are (content-encoding
// undone), ending with the stream. DNS over HTTPS (`application/dns-message`, RFC 8484)
// is decoded as DNS, from a POST body, a response body, or a GET's `dns` parameter.

/// One direction of an HTTP/2 connection.
final class HTTP2Direction {
    /// The client's direction (requests), or the server's (responses).
    let isClient: Bool
    var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: HTTP2Direction.maxTableSize)
    /// The header block being gathered across CONTINUATION frames.
    var block: [UInt8] = []
    var blockStream: UInt32 = 0
    var blockEndsStream = false
    var inBlock = false
    /// The DATA frame being read: its stream, content bytes and padding left.
    var dataStream: UInt32 = 0
    var dataLeft = 0
    var paddingLeft = 0
    var dataEndsStream = false
    /// Bodies in progress, by stream.
    var bodies: [UInt32: HTTPBody] = [:]

    /// The largest HPACK dynamic table a peer may ask for here (RFC 7541 §4.2; the
    /// default is 4 KiB, servers rarely ask for more than 64 KiB).
    static let maxTableSize = 65_536
    /// Streams with a body in progress at once, per direction; past it a new stream's
    /// body is not hashed (`http2.too_many_streams`). Browsers rarely have more than
    /// a few dozen downloads in flight on one connection; each compressed body holds an
    /// inflater (about 56 KiB), so the bound also bounds a hostile connection's memory.
    static let maxStreams = 64

    init(isClient: Bool) {
        self.isClient = isClient
    }
}

extension PacketDecoder {
    /// The client connection preface (RFC 9113 §3.4).
    static let http2Preface: StaticString = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    static let http2PrefaceLength = 24

    /// Whether `bytes` start with the client preface, or may once more bytes come.
    static func http2PrefaceStart(_ bytes: Span<UInt8>) -> PrefixMatch {
        prefixMatch(bytes, http2Preface)
    }

    /// One HTTP/2 frame (or the preface, or the part of a DATA frame that has come);
    /// nil while a frame other than DATA is incomplete.
    mutating func http2Frame(
        _ bytes: Span<UInt8>, mode: inout StreamMode, exchange: inout HTTPExchange, key: StreamKey,
        final: Bool, context: PacketContext, observe: (Observation) -> Void
    ) -> Int? {
        let connection: HTTP2Direction
        if let existing = exchange.http2 {
            connection = existing
        } else {
            // The client's side starts with the preface (after an upgrade, the upgrading
            // code made the connection already).
            let isClient = PacketDecoder.http2PrefaceStart(bytes) != .no
            connection = HTTP2Direction(isClient: isClient)
            exchange.http2 = connection
        }
        if connection.dataLeft > 0 || connection.paddingLeft > 0 {
            return http2Data(bytes, connection, context: context, observe: observe)
        }
        if connection.isClient {
            switch PacketDecoder.http2PrefaceStart(bytes) {
            case .yes: return PacketDecoder.http2PrefaceLength
            case .maybe: return final ? bytes.count : nil
            case .no: break
            }
        }
        let cursor = ByteCursor(bytes)
        guard let high = cursor.getUInt8(at: 0), let low = cursor.getUInt16(at: 1), let type = cursor.getUInt8(at: 3),
              let flags = cursor.getUInt8(at: 4), let rawStream = cursor.getUInt32(at: 5)
        else {
            if final, !bytes.isEmpty { anomalies.record(.http2Truncated) }
            return final ? bytes.count : nil
        }
        let length = Int(high) << 16 | Int(low)
        let stream = rawStream & 0x7FFF_FFFF
        if type == 0 {  // DATA: read as it comes, however long
            var content = length
            var padding = 0
            if flags & 0x08 != 0 {
                guard let pad = cursor.getUInt8(at: 9) else { return final ? bytes.count : nil }
                guard Int(pad) < length else { return http2Malformed(&mode) }
                padding = Int(pad)
                content = length - 1 - padding
            }
            connection.dataStream = stream
            connection.dataLeft = content
            connection.paddingLeft = padding
            connection.dataEndsStream = flags & 0x01 != 0
            let header = 9 + (flags & 0x08 != 0 ? 1 : 0)
            if content == 0 && padding == 0 {
                if connection.dataEndsStream { endHTTP2Stream(stream, connection, context: context, observe: observe) }
                return header
            }
            return header + http2Data(bytes.suffix(from: header), connection, context: context, observe: observe)
        }
        // Any other frame is read whole; header blocks are bounded by the head limit.
        guard length <= flows.options.maxHTTPHeadBytes * 4 else {
            anomalies.record(.http2FrameTooLong)
            mode = .ignored
            return 0
        }
        guard let payload = cursor.getBytes(at: 9, count: length) else {
            if final { anomalies.record(.http2Truncated) }
            return final ? bytes.count : nil
        }
        switch type {
        case 1, 5, 9:  // HEADERS, PUSH_PROMISE, CONTINUATION
            guard http2HeaderFragment(type: type, flags: flags, stream: stream, payload: payload, connection,
                                      context: context, observe: observe)
            else { return http2Malformed(&mode) }
        case 3:  // RST_STREAM: the stream's body is cut
            if connection.bodies.removeValue(forKey: stream) != nil { anomalies.record(.httpBodyIncomplete) }
        default:
            break  // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY: nothing to observe
        }
        return 9 + length
    }

    private mutating func http2Malformed(_ mode: inout StreamMode) -> Int {
        anomalies.record(.http2Malformed)
        mode = .ignored
        return 0
    }

    /// The content bytes of the current DATA frame that are here, then its padding.
    private mutating func http2Data(
        _ bytes: Span<UInt8>, _ connection: HTTP2Direction, context: PacketContext,
        observe: (Observation) -> Void
    ) -> Int {
        let content = min(connection.dataLeft, bytes.count)
        if content > 0, var body = connection.bodies[connection.dataStream] {
            feedBody(&body, bytes.extracting(0..<content))
            connection.bodies[connection.dataStream] = body
        }
        connection.dataLeft -= content
        let padding = min(connection.paddingLeft, bytes.count - content)
        connection.paddingLeft -= padding
        if connection.dataLeft == 0, connection.paddingLeft == 0, connection.dataEndsStream {
            endHTTP2Stream(connection.dataStream, connection, context: context, observe: observe)
        }
        return content + padding
    }

    /// A HEADERS, PUSH_PROMISE or CONTINUATION frame: its fragment is added to the
    /// header block, which is decoded once END_HEADERS comes. false when the frame
    /// breaks the rules of header blocks (a fragment out of sequence, padding past the
    /// frame, a block HPACK cannot decode): the connection is not read further.
    private mutating func http2HeaderFragment(
        type: UInt8, flags: UInt8, stream: UInt32, payload: Span<UInt8>, _ connection: HTTP2Direction,
        context: PacketContext, observe: (Observation) -> Void
    ) -> Bool {
        var fragment = 0..<payload.count
        if type == 9 {
            guard connection.inBlock, stream == connection.blockStream else { return false }
        } else {
            guard !connection.inBlock else { return false }
            var cursor = ByteCursor(payload)
            var padding = 0
            if flags & 0x08 != 0 {
                guard let pad = cursor.readUInt8() else { return false }
                padding = Int(pad)
            }
            if type == 1, flags & 0x20 != 0 { guard cursor.skip(5) else { return false } }  // priority
            if type == 5 { guard cursor.skip(4) else { return false } }  // the promised stream
            guard padding <= cursor.remaining else { return false }
            fragment = cursor.offset..<(payload.count - padding)
            connection.inBlock = true
            connection.blockStream = stream
            connection.blockEndsStream = type == 1 && flags & 0x01 != 0
            connection.block.removeAll(keepingCapacity: true)
        }
        guard connection.block.count + fragment.count <= flows.options.maxHTTPHeadBytes * 4 else { return false }
        connection.block.append(span: payload.extracting(fragment))
        guard flags & 0x04 != 0 else { return true }  // END_HEADERS not yet
        connection.inBlock = false
        var buffer = ByteBuffer(bytes: connection.block)
        guard let headers = try? connection.decoder.decodeHeaders(from: &buffer) else { return false }
        // A promised request is the server's, with its own stream: only its URL is read.
        http2Headers(headers, stream: connection.blockStream, isRequest: connection.isClient || type == 5,
                     endsStream: connection.blockEndsStream && type != 5, connection, context: context,
                     observe: observe)
        return true
    }

    /// A decoded header block: a request's host and URL observed (and a DoH GET's
    /// query), then the stream's body started, or, for trailers, ended.
    private mutating func http2Headers(
        _ headers: HPACKHeaders, stream: UInt32, isRequest: Bool, endsStream: Bool, _ connection: HTTP2Direction,
        context: PacketContext, observe: (Observation) -> Void
    ) {
        let client = connection.isClient ? context.source : context.destination
        if isRequest, let authority = headers.first(name: ":authority") ?? headers.first(name: "host") {
            observeHTTP2Request(authority: authority, scheme: headers.first(name: ":scheme") ?? "http",
                                path: headers.first(name: ":path"), context: context, observe: observe)
        }
        if connection.bodies[stream] != nil {
            // Trailers: the body ends with them.
            if endsStream { endHTTP2Stream(stream, connection, context: context, observe: observe) }
            return
        }
        guard !endsStream, isRequest == connection.isClient else { return }
        guard connection.bodies.count < HTTP2Direction.maxStreams else {
            anomalies.record(.http2TooManyStreams)
            return
        }
        var body = makeBody(framing: .close, client: client)
        switch headers.first(name: "content-encoding").map({ $0.lowercased() }) {
        case "gzip", "x-gzip": body.pendingGzip = true
        case "deflate", "x-deflate": body.pendingDeflate = true
        case "br": body.inflater = BrotliBodyDecoder()
        case "zstd": body.inflater = ZstdBodyDecoder()
        case "compress", "x-compress": body.failed = true
        default: break
        }
        if headers.first(name: "content-type")?.lowercased().hasPrefix("application/dns-message") == true {
            body.dnsMessage = []
        }
        connection.bodies[stream] = body
    }

    /// The stream's body is whole: hashed, and decoded as DNS when it is a DNS message.
    private mutating func endHTTP2Stream(
        _ stream: UInt32, _ connection: HTTP2Direction, context: PacketContext, observe: (Observation) -> Void
    ) {
        guard let body = connection.bodies.removeValue(forKey: stream) else { return }
        endBody(body, context: context, observe: observe)
    }

    /// A request's `:authority` as `http.host` (without user information and port) and
    /// `scheme://authority/path` as `http.url`; a GET's `dns` parameter (RFC 8484 §4.1,
    /// base64url) decoded as a DNS query.
    private mutating func observeHTTP2Request(
        authority: String, scheme: String, path: String?, context: PacketContext, observe: (Observation) -> Void
    ) {
        let hostPart = authority.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? authority
        let hostBytes = Array(hostPart.utf8)
        let url = Array((scheme + "://" + authority + (path ?? "")).utf8)
        observeHost(PacketDecoder.hostName(hostBytes.span), context: context, observe: observe)
        if url.count <= ValueCapacity.url {
            context.observe(url.span, as: .url, field: .httpURL, to: observe)
        } else {
            anomalies.record(.httpURLTooLong)
        }
        if let path { observeDNSParameter(Array(path.utf8), context: context, observe: observe) }
    }

    /// The `dns` parameter of a DoH GET's query (RFC 8484 §4.1: base64url without
    /// padding), decoded as a DNS message; nothing when there is none.
    mutating func observeDNSParameter(_ target: [UInt8], context: PacketContext, observe: (Observation) -> Void) {
        guard let question = target.firstIndex(of: UInt8(ascii: "?")) else { return }
        for parameter in target[(question + 1)...].split(separator: UInt8(ascii: "&"))
        where parameter.starts(with: Array("dns=".utf8)) {
            guard let message = PacketDecoder.base64URLDecoded(parameter.dropFirst(4)), message.count >= 12 else {
                anomalies.record(.dohBadParameter)
                continue
            }
            decodeDNSMessage(message.span, context: context, observe: observe)
        }
    }

    /// base64url (RFC 4648 §5), padding optional; nil on any other byte.
    static func base64URLDecoded<Bytes: Collection<UInt8>>(_ text: Bytes) -> [UInt8]? {
        var output: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }
}
