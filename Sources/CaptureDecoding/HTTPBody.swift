import ByteParsing
import SystemZlib
import Crypto
import Observations

/// How much of a body is left, and in what framing (RFC 9112 §6, §7.1).
enum BodyProgress {
    case length(Int64)
    /// Chunked: expecting a chunk-size line, chunk data, the CRLF after it, or trailers.
    case chunkSize
    case chunkData(Int64)
    case chunkEnd
    case trailers
    /// Delimited by the end of the connection (a response without length).
    case close
    /// The response, head included, kept whole until the connection ends, then read
    /// every way a browser may (a head that is not strict: HTTPResponseReadings.swift).
    case buffered
}

/// One HTTP body being hashed as it passes: MD5, SHA-1 and SHA-256 of the content after
/// its Content-Encoding is undone. Nothing of the body is kept.
struct HTTPBody {
    var framing: BodyProgress
    /// "deflate": the inflater is chosen on the first byte (zlib-wrapped or raw).
    var pendingDeflate = false
    /// "gzip": the member header is read here on the first bytes (`gzipPayloadStart`),
    /// then the deflate data inflated raw, so that reserved flags and a wrong CRC or
    /// length in the trailer do not stop it, as they do not stop Chrome.
    var pendingGzip = false
    var gzipHeader: [UInt8] = []
    var inflater: (any BodyDecoder)?
    var md5 = Insecure.MD5()
    var sha1 = Insecure.SHA1()
    var sha256 = SHA256()
    /// Decoded bytes hashed so far.
    var decoded: Int64 = 0
    /// A decoding error or a cap: the body's framing is still followed, its digests
    /// are not observed.
    var failed = false
    /// The client: the requester whether the body is a request's or a response's.
    var client: HostAddress
    /// Which of the three digests are computed (`DecodingOptions.derivedObservables`).
    var digests: DerivedObservables = .fileDigests
    /// The digests were observed at the last chunk; trailers are still being read.
    var observed = false
    /// The decoded body, gathered when it is a DNS message (`application/dns-message`,
    /// DNS over HTTPS) to be decoded as DNS at its end; nil for any other body, or
    /// once it passes the 65 535 bytes a DNS message may have.
    var dnsMessage: [UInt8]? = nil

    var isBuffered: Bool {
        if case .buffered = framing { return true }
        return false
    }

    mutating func hash(_ bytes: Span<UInt8>) {
        if digests.contains(.fileMD5) { md5.update(span: bytes) }
        if digests.contains(.fileSHA1) { sha1.update(span: bytes) }
        if digests.contains(.fileSHA256) { sha256.update(span: bytes) }
        decoded += Int64(bytes.count)
        if var message = dnsMessage {
            dnsMessage = nil  // (so that the append below does not copy)
            if message.count + bytes.count <= 65_535 {
                message.append(span: bytes)
                dnsMessage = message
            }
        }
    }
}

extension PacketDecoder {
    /// A chunk-size line longer than this is not one (`http.bad_chunk_size`): hex
    /// digits and a short extension fit easily.
    static let maxChunkLine = 1024
    /// Chunk sizes at or above 2^40 (1 TiB) are hostile, not data (`http.bad_chunk_size`).
    static let maxChunkSize: Int64 = 1 << 40

    /// The body a head announces, or nil when there is none: a response's status says
    /// none (1xx, 204, 304), or a request has neither Content-Length nor chunked
    /// framing. `.bad` framing is counted and ends the stream's reading (nil with
    /// `stop`).
    func announcedBody(forHead head: Span<UInt8>, isResponse: Bool, client: HostAddress) -> (HTTPBody?, stop: Bool) {
        var framing: BodyProgress? = nil
        switch PacketDecoder.requestBody(head) {
        case .bad: return (nil, true)
        case .chunked: framing = .chunkSize
        case .length(let length): framing = length > 0 ? .length(length) : nil
        case .none:
            if isResponse {
                let status = PacketDecoder.statusCode(head)
                framing = (status >= 200 && status != 204 && status != 304) ? .close : nil
            }
        }
        guard let framing else { return (nil, false) }
        var body = makeBody(framing: framing, client: client)
        let (encoding, isDNSMessage) = PacketDecoder.contentCoding(head)
        if isDNSMessage { body.dnsMessage = [] }
        switch encoding {
        case .identity: break
        case .gzip: body.pendingGzip = true
        case .deflate: body.pendingDeflate = true
        case .brotli: body.inflater = BrotliBodyDecoder()
        case .zstd: body.inflater = ZstdBodyDecoder()
        case .other: body.failed = true  // compress: not decoded, so not hashed
        }
        return (body, false)
    }

    /// A body to hash, with the digests the options ask for.
    func makeBody(framing: BodyProgress, client: HostAddress) -> HTTPBody {
        var body = HTTPBody(framing: framing, client: client)
        body.digests = flows.options.derivedObservables.intersection(.fileDigests)
        return body
    }

    /// The status code of a response head (`HTTP/1.x NNN …`), or 0.
    static func statusCode(_ head: Span<UInt8>) -> Int {
        guard head.count >= 12, head[8] == UInt8(ascii: " ") else { return 0 }
        var code = 0
        for index in 9..<12 {
            let byte = head[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return 0 }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return code
    }

    enum ContentEncoding { case identity, gzip, deflate, brotli, zstd, other }

    /// A head's Content-Encoding (the first such header), and whether its Content-Type
    /// is `application/dns-message` (DNS over HTTPS): one pass over the head's lines.
    static func contentCoding(_ head: Span<UInt8>) -> (ContentEncoding, isDNSMessage: Bool) {
        var encoding: ContentEncoding? = nil
        var isDNSMessage = false
        var start = 0
        while let end = lineEnd(head, from: start), end > start {
            let line = head.extracting(start..<end)
            start = afterLineEnd(head, end)
            guard let first = line.uint8(at: 0), first | 0x20 == UInt8(ascii: "c") else { continue }
            if encoding == nil, line.hasPrefix("content-encoding:", foldCase: true) {
                encoding = codingNamed(line.suffix(from: 17).trimmingSpacesAndTabs())
            } else if line.hasPrefix("content-type:", foldCase: true) {
                isDNSMessage = line.suffix(from: 13).trimmingSpacesAndTabs().hasPrefix("application/dns-message",
                                                                                       foldCase: true)
            }
        }
        return (encoding ?? .identity, isDNSMessage)
    }

    /// The coding a Content-Encoding value names first.
    static func codingNamed(_ value: Span<UInt8>) -> ContentEncoding {
        if value.hasPrefix("gzip", foldCase: true) || value.hasPrefix("x-gzip", foldCase: true) { return .gzip }
        if value.hasPrefix("deflate", foldCase: true) || value.hasPrefix("x-deflate", foldCase: true) { return .deflate }
        if value.hasPrefix("br", foldCase: true) { return .brotli }
        if value.hasPrefix("zstd", foldCase: true) { return .zstd }
        // LZW (`compress`) is compressed but not decoded here: not hashed. Any other
        // (unknown) coding is ignored, as browsers show such a body as it came.
        if value.hasPrefix("compress", foldCase: true) || value.hasPrefix("x-compress", foldCase: true) { return .other }
        return .identity
    }

    /// Consumes body bytes at the start of `bytes` as the framing says; nil when a
    /// chunk-size line is incomplete. Sets `body` to nil when the body ends (its
    /// digests observed). With `final`, the stream ends here.
    mutating func consumeBody(
        _ bytes: Span<UInt8>, body: inout HTTPBody?, mode: inout StreamMode, final: Bool,
        context: PacketContext, observe: (Observation) -> Void
    ) -> Int? {
        guard var current = body else { return 0 }
        var used = 0
        defer { body = body == nil ? nil : current }
        switch current.framing {
        case .length(let remaining):
            let count = Int(min(remaining, Int64(bytes.count)))
            feedBody(&current, bytes.extracting(0..<count))
            used = count
            if remaining - Int64(count) == 0 {
                endBody(current, context: context, observe: observe)
                body = nil
            } else {
                current.framing = .length(remaining - Int64(count))
            }
        case .close:
            feedBody(&current, bytes)
            used = bytes.count
        case .chunkData(let remaining):
            let count = Int(min(remaining, Int64(bytes.count)))
            feedBody(&current, bytes.extracting(0..<count))
            used = count
            current.framing = remaining - Int64(count) == 0 ? .chunkEnd : .chunkData(remaining - Int64(count))
        case .chunkEnd:
            if bytes[0] == UInt8(ascii: "\n") {
                used = 1
            } else if bytes[0] == UInt8(ascii: "\r") {
                guard bytes.count >= 2 else { return final ? badChunk(&body, &mode) : nil }
                used = bytes[1] == UInt8(ascii: "\n") ? 2 : 1
            }
            current.framing = .chunkSize
        case .chunkSize, .trailers:
            guard let end = bytes.firstIndex(of: UInt8(ascii: "\n"), to: PacketDecoder.maxChunkLine) else {
                if current.observed, final {
                    body = nil  // trailers cut by the end: the body was whole at its last chunk
                    return bytes.count
                }
                // The connection ends inside a last size line (`0`, `0\r`): the body is whole.
                if final, case .chunkSize = current.framing,
                   PacketDecoder.chunkSize(PacketDecoder.trimmedChunkLine(bytes)) == 0 {
                    endBody(current, context: context, observe: observe)
                    body = nil
                    return bytes.count
                }
                return bytes.count >= PacketDecoder.maxChunkLine || final ? badChunk(&body, &mode) : nil
            }
            used = end + 1
            let line = bytes.extracting(0..<end)
            if case .trailers = current.framing {
                // The empty line (CRLF or LF) ends the trailers.
                if line.isEmpty || (line.count == 1 && line[0] == UInt8(ascii: "\r")) { body = nil }
                return used
            }
            // Browsers skip blank lines and whitespace (SP, HT, CR, VT, FF) before a size.
            let sizeLine = PacketDecoder.trimmedChunkLine(line)
            if sizeLine.isEmpty { return used }
            guard let size = PacketDecoder.chunkSize(sizeLine) else { return badChunk(&body, &mode) }
            if size == 0 {
                // The last chunk: the body is whole, whatever trailers follow or not.
                endBody(current, context: context, observe: observe)
                current.observed = true
                current.framing = .trailers
            } else {
                current.framing = .chunkData(size)
            }
        case .buffered:
            guard final else { return nil }
            for reading in bodyReadings(response: bytes) {
                var whole = makeBody(framing: .close, client: current.client)
                whole.hash(reading.span)
                endBody(whole, context: context, observe: observe)
            }
            body = nil
            return bytes.count
        }
        return used
    }

    /// A gzip member header longer than this (its name or comment fields) is not
    /// waited for: zlib reads the member instead.
    static let maxGzipHeader = 1024

    /// A chunk-size line without the whitespace browsers skip before the size.
    @_lifetime(copy line)
    static func trimmedChunkLine(_ line: Span<UInt8>) -> Span<UInt8> {
        var start = 0
        while start < line.count, isChunkLinePadding(line[start]) { start += 1 }
        return line.extracting(start...)
    }

    private mutating func badChunk(_ body: inout HTTPBody?, _ mode: inout StreamMode) -> Int {
        anomalies.record(.httpBadChunkSize)
        body = nil
        mode = .ignored
        return 0
    }

    /// The size of a chunk-size line (hex digits, then optionally `;extensions`); nil
    /// when it does not start with a hex digit or passes `maxChunkSize`.
    static func chunkSize(_ line: Span<UInt8>) -> Int64? {
        var size: Int64 = 0
        var digits = 0
        for index in 0..<line.count {
            let byte = line[index]
            let value: Int64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int64(byte - UInt8(ascii: "A") + 10)
            default:
                guard digits > 0 else { return nil }
                return size
            }
            size = size * 16 + value
            digits += 1
            guard size < maxChunkSize else { return nil }
        }
        return digits > 0 ? size : nil
    }

    /// Hashes body bytes, through the inflater when the body is compressed.
    mutating func feedBody(_ body: inout HTTPBody, _ bytes: Span<UInt8>) {
        guard !body.failed, !bytes.isEmpty else { return }
        if body.pendingDeflate {
            // "deflate" is zlib-wrapped by the RFC, raw in some servers: a zlib header
            // is CM 8 with a check sum over the first two bytes.
            body.pendingDeflate = false
            let zlibWrapped = bytes[0] & 0x0F == 8 && bytes.count >= 2 && (Int(bytes[0]) << 8 | Int(bytes[1])) % 31 == 0
            body.inflater = BodyInflater(windowBits: zlibWrapped ? MAX_WBITS : -MAX_WBITS)
        }
        if body.pendingGzip {
            // The member header, gathered across segments (a few bytes, at most
            // `maxGzipHeader`); then the deflate data after it.
            body.gzipHeader.append(span: bytes)
            let gathered = body.gzipHeader
            let start = PacketDecoder.gzipPayloadStart(gathered.span)
            guard start != nil || gathered.count > PacketDecoder.maxGzipHeader || gathered.first != 0x1F else { return }
            body.pendingGzip = false
            body.gzipHeader = []
            // Not gzip, or a header too long to be one: zlib says what is wrong with it.
            body.inflater = BodyInflater(windowBits: start == nil ? 16 + MAX_WBITS : -MAX_WBITS)
            feedBody(&body, gathered.span.extracting((start ?? 0)...))
            return
        }
        let limit = flows.options.maxDecodedBodyBytes
        guard let inflater = body.inflater else {
            body.hash(bytes)
            if body.decoded > limit { bodyTooLarge(&body) }
            return
        }
        var hashed = body
        let ok = inflater.inflate(bytes) { piece in
            hashed.hash(piece)
            return hashed.decoded <= limit
        }
        body = hashed
        if body.decoded > limit {
            bodyTooLarge(&body)
        } else if !ok {
            anomalies.record(.httpBodyDecodeError)
            body.failed = true
        }
    }

    private mutating func bodyTooLarge(_ body: inout HTTPBody) {
        anomalies.record(.httpBodyTooLarge)
        body.failed = true
    }

    /// A body ended: its digests are observed (empty and undecodable bodies are not),
    /// with the client as host and the packet that ended it.
    mutating func endBody(_ body: HTTPBody, context: PacketContext, observe: (Observation) -> Void) {
        guard !body.failed, !body.observed, body.decoded > 0 else { return }
        func emit<D: Digest>(_ digest: D, _ field: Field) {
            // Hex of at most SHA-512's 64 bytes, on the stack.
            var hex = InlineArray<128, UInt8>(repeating: 0)
            var length = 0
            for byte in digest where length + 1 < hex.count {
                hex[length] = PacketDecoder.hexDigits[Int(byte >> 4)]
                hex[length + 1] = PacketDecoder.hexDigits[Int(byte & 0x0F)]
                length += 2
            }
            context.observe(hex.span.extracting(0..<length), as: .hexDigest, field: field, host: body.client,
                            to: observe)
        }
        if body.digests.contains(.fileMD5) { emit(body.md5.finalize(), .fileMD5) }
        if body.digests.contains(.fileSHA1) { emit(body.sha1.finalize(), .fileSHA1) }
        if body.digests.contains(.fileSHA256) { emit(body.sha256.finalize(), .fileSHA256) }
        if let message = body.dnsMessage {
            decodeDNSMessage(message.span, context: context, observe: observe)
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
