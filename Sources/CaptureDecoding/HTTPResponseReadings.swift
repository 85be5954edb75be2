import ByteParsing
import SystemZlib
import Observations

// Responses whose head a strict reader would not accept, read every way a browser may.
//
// A server (or an attacker's) response may frame its body in ways the RFC forbids and
// browsers still accept, differently from one another: `Transfer-Encoding: chunked` in
// an HTTP/1.0 response or beside a Content-Length, two Content-Lengths, a folded or
// NUL-split header name, lines ended by a bare CR, junk before the status line, two or
// unknown Content-Encodings, a gzip header with reserved flags or a wrong CRC (the
// noxxi.de HTTP Evader catalogue, kept in suricata-verify). An IDS that picks one
// reading is evaded by the others. So a response whose head is not strict is kept
// (up to `DecodingOptions.maxBufferedBodyBytes`) until its connection ends, and its
// body is read each way a browser may: chunked when the head names chunked anywhere
// and the bytes are chunked, else as they are; cut at each Content-Length the head
// gives, or not cut; then compressed layers undone as their bytes say (gzip, zlib and
// zstd by their headers, raw deflate and brotli when the head names them), up to
// three. Each distinct non-empty result is hashed and observed, and the responses
// that follow on the connection are read the same way. A strict head is read as the
// RFC says, streaming (`HTTPBody.swift`).

/// What a response head says about its body, read leniently: every name compared
/// with NUL bytes removed and case folded, lines ended by CR, LF or CRLF.
struct LenientHead {
    /// Some header (or the status line) names `chunked`.
    var mentionsChunked = false
    /// Some header names `deflate`.
    var mentionsDeflate = false
    /// A Content-Encoding header names `br` (brotli, which its bytes do not show).
    var mentionsBrotli = false
    /// Every number written in a Content-Length value (folded lines included), at most
    /// `maxLengths`, distinct.
    var lengths: [Int64] = []

    static let maxLengths = 4

    init(_ head: Span<UInt8>) {
        var inLength = false
        var lineStart = 0
        var position = 0
        while position <= head.count {
            let atEnd = position == head.count
            if atEnd || head[position] == UInt8(ascii: "\r") || head[position] == UInt8(ascii: "\n") {
                let line = head.extracting(lineStart..<position)
                // (The empty piece between the CR and LF of a CRLF is no line.)
                let folded = line.uint8(at: 0) == UInt8(ascii: " ") || line.uint8(at: 0) == UInt8(ascii: "\t")
                if !folded, !line.isEmpty { inLength = LenientHead.contains(line, "content-length") }
                if LenientHead.contains(line, "chunked") { mentionsChunked = true }
                if LenientHead.contains(line, "deflate") { mentionsDeflate = true }
                if LenientHead.contains(line, "content-encoding"),
                   let colon = line.firstIndex(of: UInt8(ascii: ":")), LenientHead.contains(line.extracting(colon...), "br") {
                    mentionsBrotli = true
                }
                if inLength { collectLengths(line) }
                lineStart = position + 1
            }
            position += 1
        }
    }

    /// The decimal numbers in the value part of a Content-Length line (after its
    /// colon) or in a folded continuation of one.
    private mutating func collectLengths(_ line: Span<UInt8>) {
        var start = 0
        if let colon = line.firstIndex(of: UInt8(ascii: ":")), LenientHead.contains(line.extracting(0..<colon), "content-length") {
            start = colon + 1
        }
        var value: Int64 = 0
        var digits = 0
        for index in start...line.count {
            let byte = index < line.count ? line[index] : 0
            if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), value < 1 << 58 {
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
            } else {
                if digits > 0, !lengths.contains(value), lengths.count < LenientHead.maxLengths { lengths.append(value) }
                value = 0
                digits = 0
            }
        }
    }

    /// Whether `line` holds `word` (lower-case), comparing without NUL bytes and with
    /// ASCII case folded.
    static func contains(_ line: Span<UInt8>, _ word: StaticString) -> Bool {
        word.withUTF8Span { literal in contains(line, literal) }
    }

    private static func contains(_ line: Span<UInt8>, _ literal: Span<UInt8>) -> Bool {
        guard literal.count > 0 else { return true }
        var start = 0
        while start < line.count {
            var matched = 0
            var index = start
            while index < line.count, matched < literal.count {
                var byte = line[index]
                index += 1
                if byte == 0 { continue }
                if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                guard byte == literal[matched] else { break }
                matched += 1
            }
            if matched == literal.count { return true }
            start += 1
        }
        return false
    }
}

extension PacketDecoder {
    /// Whether a response head (status line to the empty line) is one a strict reader
    /// accepts as it is: `HTTP/1.0` or `HTTP/1.1`, a three-digit status, lines ended by
    /// CRLF, each a token name and a colon, no folding, no control bytes; at most one
    /// Content-Length value (digits only); Transfer-Encoding only as the one value
    /// `chunked`, in HTTP/1.1, without a Content-Length; at most one Content-Encoding,
    /// of one coding. Anything else is read every way (`bodyReadings`).
    static func isStrictResponseHead(_ head: Span<UInt8>) -> Bool {
        guard head.count >= 14, head.hasPrefix("HTTP/1."),
              head[7] == UInt8(ascii: "0") || head[7] == UInt8(ascii: "1"), head[8] == UInt8(ascii: " "),
              statusCode(head) > 0, head[12] == UInt8(ascii: " ") || head[12] == UInt8(ascii: "\r")
        else { return false }
        let http11 = head[7] == UInt8(ascii: "1")
        var lengths = 0, codings = 0, transferCodings = 0
        // Where the first Content-Length value lies in the head.
        var length: Range<Int>? = nil
        var lineStart = 0
        var first = true
        var ended = false
        while !ended {
            guard let newline = head.firstIndex(of: UInt8(ascii: "\n"), from: lineStart),
                  newline > lineStart, head[newline - 1] == UInt8(ascii: "\r")
            else { return false }
            let start = lineStart
            let line = head.extracting(lineStart..<(newline - 1))
            lineStart = newline + 1
            if line.isEmpty {
                ended = true
                continue
            }
            for index in 0..<line.count {
                let byte = line[index]
                if byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F { return false }
            }
            if first {
                first = false
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
            for index in 0..<colon where !isTokenByte(line[index]) { return false }
            let valueRange = line.trimmingSpacesAndTabs((colon + 1)..<line.count)
            let value = line.extracting(valueRange)
            if line.hasPrefix("content-length:", foldCase: true) {
                guard !value.isEmpty else { return false }
                for index in 0..<value.count where value[index] < UInt8(ascii: "0") || value[index] > UInt8(ascii: "9") {
                    return false
                }
                if let length, !head.extracting(length).elementsEqual(value) { return false }
                length = (start + valueRange.lowerBound)..<(start + valueRange.upperBound)
                lengths += 1
            } else if line.hasPrefix("transfer-encoding:", foldCase: true) {
                guard value.count == 7, value.hasPrefix("chunked", foldCase: true) else { return false }
                transferCodings += 1
            } else if line.hasPrefix("content-encoding:", foldCase: true) {
                for index in 0..<value.count where !isTokenByte(value[index]) { return false }
                codings += 1
            }
        }
        return lineStart == head.count && codings <= 1 && transferCodings <= 1
            && (transferCodings == 0 || (http11 && lengths == 0))
    }

    /// RFC 9110 §5.6.2 tchar.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte < 64 ? tokenBytesLow >> UInt64(byte) & 1 == 1 : byte < 128 && tokenBytesHigh >> UInt64(byte - 64) & 1 == 1
    }

    /// `isTokenByte` as a set of bits, bytes 0–63 and 64–127: letters, digits and
    /// `!#$%&'*+-.^_`|~` (literals, so that no lazy initialisation runs per byte).
    static let tokenBytesLow: UInt64 = 0x03FF_6CFA_0000_0000
    static let tokenBytesHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// The offset where a response's status line starts: the first `HTTP/` (any case)
    /// within the first `maxJunkBeforeStatus` bytes, as Firefox looks for it past junk;
    /// nil when it is not there (yet).
    static func statusLineStart(_ bytes: Span<UInt8>) -> Int? {
        let end = min(bytes.count, maxJunkBeforeStatus + 5)
        guard end >= 5 else { return nil }
        for start in 0...(end - 5) where bytes[start] | 0x20 == UInt8(ascii: "h") {
            if bytes.hasPrefix("http/", at: start, foldCase: true) { return start }
        }
        return nil
    }

    /// Junk a browser skips before a status line (Firefox's limit for finding
    /// `HTTP/` in a response).
    static let maxJunkBeforeStatus = 1024

    /// Where a search for a head's end stopped: the start of the line it was in, and
    /// how far it had looked for that line's end.
    struct HeadSearch {
        var lineStart = 0
        var scanned = 0
    }

    /// The offset just past the end of a head read leniently: the first line, after
    /// the status line, that holds nothing but spaces, tabs and CRs (so `\n\n`,
    /// `\r\n\r\n`, `\n\r\r\n`, `\n \n` all end it); nil when it is not within `limit`.
    /// `search` says where an earlier search of the same bytes stopped, and is left
    /// where this one stops, so a head arriving a byte at a time costs linear time.
    static func lenientHeadEnd(_ bytes: Span<UInt8>, search: inout HeadSearch, limit: Int) -> Int? {
        let end = min(bytes.count, limit)
        while let newline = bytes.firstIndex(of: UInt8(ascii: "\n"), from: min(max(search.scanned, search.lineStart), end),
                                             to: end) {
            var blank = search.lineStart > 0
            var index = search.lineStart
            while blank, index < newline {
                let byte = bytes[index]
                blank = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                index += 1
            }
            search.lineStart = newline + 1
            search.scanned = newline + 1
            if blank { return newline + 1 }
        }
        search.scanned = end
        return nil
    }

    /// Every reading of a response kept whole, head included (see the top of this
    /// file), and of the responses that follow it on the connection: the distinct
    /// non-empty bodies, at most `maxBufferedDecodedBytes` each. The head ends at its
    /// first blank line, or (a blank line may be a folded header) at its first empty
    /// one. Where a reading's body ends before the bytes do and a status line follows,
    /// that next response is read every way too (a keep-alive connection), up to
    /// `maxResponsesRead` responses. Counts `http.body_ambiguous` per response.
    mutating func bodyReadings(response bytes: Span<UInt8>) -> [[UInt8]] {
        var results: [[UInt8]] = []
        var pending = [0]
        var visited: Set<Int> = [0]
        while let start = pending.popLast(), visited.count <= PacketDecoder.maxResponsesRead {
            let response = bytes.extracting(start...)
            for next in readingsOfOneResponse(response, into: &results) {
                let rest = response.extracting(next...)
                // The next status line, after the line ends a server may leave.
                guard let status = PacketDecoder.statusLineStart(rest),
                      (0..<status).allSatisfy({ PacketDecoder.isChunkLinePadding(rest[$0]) }),
                      visited.insert(start + next + status).inserted
                else { continue }
                pending.append(start + next + status)
            }
        }
        return results
    }

    /// Responses read every way in one connection's kept bytes: each costs a few
    /// readings, so a hostile connection of many tiny responses costs at most this many.
    static let maxResponsesRead = 16

    /// The readings of the one response at the start of `bytes`, added to `results`;
    /// returns the offsets where a reading's body ended before the bytes did.
    private mutating func readingsOfOneResponse(_ bytes: Span<UInt8>, into results: inout [[UInt8]]) -> Set<Int> {
        anomalies.record(.httpBodyAmbiguous)
        let cap = flows.options.maxHTTPHeadBytes
        var ends: [Int] = []
        var search = HeadSearch()
        if let end = PacketDecoder.lenientHeadEnd(bytes, search: &search, limit: cap) { ends.append(end) }
        if let end = PacketDecoder.headEnd(bytes, limit: cap), !ends.contains(end) { ends.append(end) }
        var bodyEnds: Set<Int> = []
        for end in ends {
            let head = LenientHead(bytes.extracting(0..<end))
            let body = bytes.extracting(end...)
            // Each framing: its bytes, and where in `body` it ends (nil: it runs to the end).
            var framings: [(bytes: [UInt8], consumed: Int?)] = [(body.array, nil)]
            if head.mentionsChunked, let (dechunked, consumed) = PacketDecoder.dechunked(body) {
                framings.append((dechunked, consumed))
            }
            for (framed, consumed) in framings {
                var cuts: [Int] = head.lengths.compactMap { $0 < Int64(framed.count) ? Int($0) : nil }
                cuts.append(framed.count)
                for cut in Set(cuts).sorted() {
                    let decoded = decodedLayers(framed.span.extracting(0..<cut), head: head)
                    if !decoded.isEmpty, !results.contains(decoded) { results.append(decoded) }
                    // A raw body cut by a length ends there; a chunked one where its chunks do.
                    let bodyEnd = consumed ?? cut
                    if end + bodyEnd < bytes.count { bodyEnds.insert(end + bodyEnd) }
                }
            }
        }
        return bodyEnds
    }

    /// Compressed layers undone as the bytes say, up to `maxContentCodingLayers`: gzip
    /// (its header read here, reserved flags ignored, the trailer's CRC and length not
    /// checked, as Chrome reads it), zlib (the check sum not checked) and zstd by their
    /// headers; raw deflate and brotli, which have none, when the head names them. A
    /// layer is undone only when its stream ends whole.
    func decodedLayers(_ bytes: Span<UInt8>, head: LenientHead) -> [UInt8] {
        var data = bytes.array
        for _ in 0..<PacketDecoder.maxContentCodingLayers {
            guard let next = decodedLayer(data.span, head: head), !next.isEmpty else { break }
            data = next
        }
        return data
    }

    /// One compressed layer of `current` undone (see `decodedLayers`); nil when none is.
    private func decodedLayer(_ current: Span<UInt8>, head: LenientHead) -> [UInt8]? {
        if let start = PacketDecoder.gzipPayloadStart(current) {
            return decodedWhole(current.extracting(start...), BodyInflater(windowBits: -MAX_WBITS))
        }
        if PacketDecoder.isZlibHeader(current) {
            return decodedWhole(current.extracting(2...), BodyInflater(windowBits: -MAX_WBITS))
        }
        if current.uint32(at: 0) == 0x28B5_2FFD { return decodedWhole(current, ZstdBodyDecoder()) }
        if head.mentionsDeflate, let raw = decodedWhole(current, BodyInflater(windowBits: -MAX_WBITS)) { return raw }
        return head.mentionsBrotli ? decodedWhole(current, BrotliBodyDecoder()) : nil
    }

    /// Content codings undone at most this many times over (as Suricata's default).
    static let maxContentCodingLayers = 3

    /// The offset of the deflate data in a gzip member (RFC 1952 §2.3), or nil when
    /// `bytes` do not start one or its header is cut.
    static func gzipPayloadStart(_ bytes: Span<UInt8>) -> Int? {
        let cursor = ByteCursor(bytes)
        guard cursor.getUInt8(at: 0) == 0x1F, cursor.getUInt8(at: 1) == 0x8B, cursor.getUInt8(at: 2) == 8,
              let flags = cursor.getUInt8(at: 3)
        else { return nil }
        var position = 10
        if flags & 0x04 != 0 {
            guard let low = cursor.getUInt8(at: position), let high = cursor.getUInt8(at: position + 1) else { return nil }
            position += 2 + (Int(high) << 8 | Int(low))
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {
            guard let zero = bytes.firstIndex(of: 0, from: position) else { return nil }
            position = zero + 1
        }
        if flags & 0x02 != 0 { position += 2 }
        return position < bytes.count ? position : nil
    }

    /// Whether `bytes` start with a zlib header (RFC 1950 §2.2) without a preset
    /// dictionary: CM 8, a window of at most 32 KiB, FCHECK right.
    static func isZlibHeader(_ bytes: Span<UInt8>) -> Bool {
        guard bytes.count >= 3 else { return false }
        return bytes[0] & 0x0F == 8 && bytes[0] >> 4 <= 7 && bytes[1] & 0x20 == 0
            && (Int(bytes[0]) << 8 | Int(bytes[1])) % 31 == 0
    }

    /// `bytes` decoded whole by `decoder`; nil when they are not of its coding, do not
    /// end, or decode past `maxBufferedDecodedBytes`.
    func decodedWhole(_ bytes: Span<UInt8>, _ decoder: any BodyDecoder) -> [UInt8]? {
        var output: [UInt8] = []
        let limit = flows.options.maxBufferedDecodedBytes
        let ok = decoder.inflate(bytes) { piece in
            output.append(span: piece)
            return output.count <= limit
        }
        return ok && decoder.ended && output.count <= limit ? output : nil
    }

    /// A chunked body decoded leniently, as browsers accept it: blank lines and leading
    /// whitespace (SP, HT, CR, VT, FF) before a chunk size skipped, anything after the
    /// hex digits ignored, the last chunk's data taken as far as it goes, the body ended
    /// by a zero size (and the trailers up to an empty line) or the data's end. Returns
    /// the data and how many bytes the body took; nil when the bytes do not start as a
    /// chunked body (a size line first).
    static func dechunked(_ bytes: Span<UInt8>) -> ([UInt8], Int)? {
        var output: [UInt8] = []
        var position = 0
        var chunks = 0
        while position < bytes.count {
            while position < bytes.count, isChunkLinePadding(bytes[position]) { position += 1 }
            guard position < bytes.count else { break }
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n"), from: position, to: position + maxChunkLine),
                  let size = chunkSize(bytes.extracting(position..<newline))
            else { return chunks > 0 ? (output, bytes.count) : nil }
            chunks += 1
            position = newline + 1
            if size == 0 {
                // Trailers, up to the empty line that ends them (or the data's end).
                // (A status line is the next response, not a trailer.)
                while position < bytes.count,
                      !bytes.hasPrefix("http/", at: position, foldCase: true),
                      let end = bytes.firstIndex(of: UInt8(ascii: "\n"), from: position, to: position + maxChunkLine) {
                    let blank = end == position || (end == position + 1 && bytes[position] == UInt8(ascii: "\r"))
                    position = end + 1
                    if blank { break }
                }
                return (output, position)
            }
            let end = min(bytes.count, position + Int(size))
            output.append(span: bytes.extracting(position..<end))
            position = end
        }
        return chunks > 0 ? (output, bytes.count) : nil
    }

    /// Bytes a browser skips before a chunk size: SP, HT, CR, LF, VT, FF.
    static func isChunkLinePadding(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }
}
