import ByteParsing
import Observations

extension PacketDecoder {
    /// Whether `bytes` starts with an HTTP/1.x request method and a space: RFC 9110's
    /// methods, PATCH, and the UPnP ones (SSDP's M-SEARCH and NOTIFY, GENA's
    /// SUBSCRIBE and UNSUBSCRIBE), which tshark also reads as HTTP.
    static func startsHTTPRequest(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let first = bytes.first, first >= UInt8(ascii: "C"), first <= UInt8(ascii: "U") else { return false }
        return hasPrefix(bytes, "GET ") || hasPrefix(bytes, "POST ") || hasPrefix(bytes, "HEAD ")
            || hasPrefix(bytes, "PUT ") || hasPrefix(bytes, "DELETE ") || hasPrefix(bytes, "OPTIONS ")
            || hasPrefix(bytes, "CONNECT ") || hasPrefix(bytes, "PATCH ") || hasPrefix(bytes, "TRACE ")
            || hasPrefix(bytes, "M-SEARCH ") || hasPrefix(bytes, "NOTIFY ") || hasPrefix(bytes, "SUBSCRIBE ")
            || hasPrefix(bytes, "UNSUBSCRIBE ")
    }

    /// Byte-wise prefix test against a literal (case-sensitive when `foldCase` is false;
    /// otherwise ASCII letters of `bytes` are lower-cased first, and `prefix` is
    /// lower-case).
    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString, foldCase: Bool = false) -> Bool {
        prefix.withUTF8Buffer { literal in
            guard bytes.count >= literal.count else { return false }
            for index in 0..<literal.count {
                var byte = bytes[index]
                if foldCase, byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                if byte != literal[index] { return false }
            }
            return true
        }
    }

    /// HTTP/1.x request (RFC 9112): the request line and the header lines up to the
    /// empty line, within the segment. Observes the Host header's name (without the
    /// port) as `.httpHost` and the URL as tshark's `http.request.full_uri` builds it
    /// (`http://` + Host as written + the target, `/…` or SSDP's `*`; an absolute
    /// target as it is) as
    /// `.httpURL`, both with the client as host. Headers cut by the segment's end
    /// before a Host header are counted as `http.segmented`.
    mutating func decodeHTTP(
        _ bytes: UnsafeRawBufferPointer, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        guard let lineEnd = PacketDecoder.lineEnd(bytes, from: 0) else { return httpSegmented() }
        // METHOD SP target SP HTTP/1.x
        guard let firstSpace = PacketDecoder.index(of: UInt8(ascii: " "), in: bytes, from: 0, to: lineEnd),
              let secondSpace = PacketDecoder.index(of: UInt8(ascii: " "), in: bytes, from: firstSpace + 1, to: lineEnd),
              secondSpace > firstSpace + 1,
              PacketDecoder.hasPrefix(UnsafeRawBufferPointer(rebasing: bytes[(secondSpace + 1)..<lineEnd]), "HTTP/1.")
        else {
            anomalies.record("http.bad_request_line")
            return .done
        }
        let target = UnsafeRawBufferPointer(rebasing: bytes[(firstSpace + 1)..<secondSpace])
        let isConnect = PacketDecoder.hasPrefix(bytes, "CONNECT ")
        // Header lines: find Host.
        var lineStart = PacketDecoder.afterLineEnd(bytes, lineEnd)
        var host: UnsafeRawBufferPointer? = nil
        while host == nil {
            guard let end = PacketDecoder.lineEnd(bytes, from: lineStart) else {
                return httpSegmented()
            }
            if end == lineStart { break }  // the empty line: headers end
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<end])
            if PacketDecoder.hasPrefix(line, "host:", foldCase: true) {
                host = PacketDecoder.trimmed(UnsafeRawBufferPointer(rebasing: line[5...]))
            }
            lineStart = PacketDecoder.afterLineEnd(bytes, end)
        }
        if let host, !host.isEmpty {
            observeHost(PacketDecoder.hostName(host), context: context, observe: observe)
        }
        guard !isConnect, let first = target.first else { return .done }
        // DNS over HTTPS as a GET (RFC 8484 §4.1): the query is in the `dns` parameter.
        if LenientHead.contains(target, "dns=") { observeDNSParameter(Array(target), context: context, observe: observe) }
        if PacketDecoder.hasPrefix(target, "http://", foldCase: true) {
            observe(Observation(value: .url(target), field: .httpURL, host: context.source,
                                locator: context.locator, time: context.time))
        } else if first == UInt8(ascii: "/") || first == UInt8(ascii: "*"), let host, !host.isEmpty {
            let scratch = urlScratch.bytes
            let length = 7 + host.count + target.count
            guard length <= scratch.count else {
                anomalies.record("http.url_too_long")
                return .done
            }
            PacketDecoder.httpScheme.withUTF8Buffer { scheme in
                UnsafeMutableRawBufferPointer(rebasing: scratch[0..<7]).copyMemory(from: UnsafeRawBufferPointer(scheme))
            }
            UnsafeMutableRawBufferPointer(rebasing: scratch[7..<(7 + host.count)]).copyMemory(from: host)
            UnsafeMutableRawBufferPointer(rebasing: scratch[(7 + host.count)..<length]).copyMemory(from: target)
            observe(Observation(value: .url(UnsafeRawBufferPointer(rebasing: scratch[0..<length])), field: .httpURL,
                                host: context.source, locator: context.locator, time: context.time))
        }
        return .done
    }

    static let httpScheme: StaticString = "http://"

    /// A request's host (Host header or `:authority`, without port) as `http.host`: an
    /// address when it is an IP literal, so that an address indicator matches it, else
    /// a name.
    mutating func observeHost(_ name: UnsafeRawBufferPointer, context: PacketContext, observe: (Observation) -> Void) {
        guard !name.isEmpty else { return }
        var value = ObservedValue.domain(name)
        if let address = IPv4Address(ascii: name) {
            value = .ipv4(address)
        } else if PacketDecoder.index(of: UInt8(ascii: ":"), in: name, from: 0, to: name.count) != nil,
                  let address = IPv6Address(String(decoding: name, as: UTF8.self)) {
            value = .ipv6(address)
        }
        observe(Observation(value: value, field: .httpHost, host: context.source, locator: context.locator,
                            time: context.time))
    }

    private mutating func httpSegmented() -> Step {
        anomalies.record("http.segmented")
        return .done
    }

    /// The name in a Host value: without a `:port`, without the brackets of an IPv6
    /// literal.
    static func hostName(_ host: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if host.first == UInt8(ascii: "["),
           let close = index(of: UInt8(ascii: "]"), in: host, from: 1, to: host.count) {
            return UnsafeRawBufferPointer(rebasing: host[1..<close])
        }
        guard let colon = index(of: UInt8(ascii: ":"), in: host, from: 0, to: host.count) else { return host }
        return UnsafeRawBufferPointer(rebasing: host[0..<colon])
    }

    /// The offset of the CR of a CRLF (or of a bare LF) at or after `start`; nil when
    /// the line runs past the buffer.
    static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let newline = index(of: UInt8(ascii: "\n"), in: bytes, from: start, to: bytes.count) else { return nil }
        return newline > start && bytes[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
    }

    /// The offset after the line end found by `lineEnd`.
    static func afterLineEnd(_ bytes: UnsafeRawBufferPointer, _ end: Int) -> Int {
        bytes[end] == UInt8(ascii: "\r") ? end + 2 : end + 1
    }

    static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var position = start
        while position < end {
            if bytes[position] == byte { return position }
            position += 1
        }
        return nil
    }

    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
