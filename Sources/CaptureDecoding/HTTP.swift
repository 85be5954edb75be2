import ByteParsing
import Observations

extension PacketDecoder {
    /// Whether `bytes` starts with an HTTP/1.x request method and a space: RFC 9110's
    /// methods, PATCH, and the UPnP ones (SSDP's M-SEARCH and NOTIFY, GENA's
    /// SUBSCRIBE and UNSUBSCRIBE), which tshark also reads as HTTP.
    static func startsHTTPRequest(_ bytes: Span<UInt8>) -> Bool {
        guard let first = bytes.uint8(at: 0), first >= UInt8(ascii: "C"), first <= UInt8(ascii: "U") else { return false }
        return bytes.hasPrefix("GET ") || bytes.hasPrefix("POST ") || bytes.hasPrefix("HEAD ")
            || bytes.hasPrefix("PUT ") || bytes.hasPrefix("DELETE ") || bytes.hasPrefix("OPTIONS ")
            || bytes.hasPrefix("CONNECT ") || bytes.hasPrefix("PATCH ") || bytes.hasPrefix("TRACE ")
            || bytes.hasPrefix("M-SEARCH ") || bytes.hasPrefix("NOTIFY ") || bytes.hasPrefix("SUBSCRIBE ")
            || bytes.hasPrefix("UNSUBSCRIBE ")
    }



    /// `decodeHTTP` on a span.
    mutating func decodeHTTP(
        _ bytes: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        guard let lineEnd = PacketDecoder.lineEnd(bytes, from: 0) else { return httpSegmented() }
        // METHOD SP target SP HTTP/1.x
        guard let firstSpace = bytes.firstIndex(of: UInt8(ascii: " "), from: 0, to: lineEnd),
              let secondSpace = bytes.firstIndex(of: UInt8(ascii: " "), from: firstSpace + 1, to: lineEnd),
              secondSpace > firstSpace + 1,
              bytes.extracting((secondSpace + 1)..<lineEnd).hasPrefix("HTTP/1.")
        else {
            anomalies.record(.httpBadRequestLine)
            return .done
        }
        let target = bytes.extracting((firstSpace + 1)..<secondSpace)
        let isConnect = bytes.hasPrefix("CONNECT ")
        // Header lines: find Host.
        var lineStart = PacketDecoder.afterLineEnd(bytes, lineEnd)
        var hostRange: Range<Int>? = nil
        while hostRange == nil {
            guard let end = PacketDecoder.lineEnd(bytes, from: lineStart) else {
                return httpSegmented()
            }
            if end == lineStart { break }  // the empty line: headers end
            if bytes.hasPrefix("host:", at: lineStart, foldCase: true) {
                hostRange = bytes.trimmingSpacesAndTabs((lineStart + 5)..<end)
            }
            lineStart = PacketDecoder.afterLineEnd(bytes, end)
        }
        let host = bytes.extracting(hostRange ?? 0..<0)
        if !host.isEmpty {
            observeHost(PacketDecoder.hostName(host), context: context, observe: observe)
        }
        guard !isConnect, let first = target.uint8(at: 0) else { return .done }
        // DNS over HTTPS as a GET (RFC 8484 §4.1): the query is in the `dns` parameter.
        if LenientHead.contains(target, "dns=") { observeDNSParameter(target.array, context: context, observe: observe) }
        if target.hasPrefix("http://", foldCase: true) {
            context.observe(target, as: .url, field: .httpURL, to: observe)
        } else if first == UInt8(ascii: "/") || first == UInt8(ascii: "*"), !host.isEmpty {
            guard PacketDecoder.httpScheme.utf8.count + host.count + target.count <= ValueCapacity.url else {
                anomalies.record(.httpURLTooLong)
                return .done
            }
            let url = flows.valueAssembly
            url.bytes.removeAll(keepingCapacity: true)
            url.bytes.append(contentsOf: PacketDecoder.httpScheme.utf8)
            url.bytes.append(span: host)
            url.bytes.append(span: target)
            context.observe(url.bytes.span, as: .url, field: .httpURL, to: observe)
        }
        return .done
    }

    static let httpScheme = "http://"

    /// A request's host (Host header or `:authority`, without port) as `http.host`: an
    /// address when it is an IP literal, so that an address indicator matches it, else
    /// a name.
    mutating func observeHost(_ name: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void) {
        guard let first = name.uint8(at: 0) else { return }
        // A dotted quad is 7 to 15 bytes from a digit on; only such a name is copied (to
        // the reused assembly buffer) to be read as one.
        let assembly = flows.valueAssembly
        if first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9"), name.count >= 7, name.count <= 15,
           let address = assembly.ipv4Address(ascii: name) {
            context.observe(.ipv4(address), field: .httpHost, to: observe)
        } else if name.firstIndex(of: UInt8(ascii: ":")) != nil, let address = IPv6Address(name.string) {
            context.observe(.ipv6(address), field: .httpHost, to: observe)
        } else {
            context.observe(name, as: .domain, field: .httpHost, to: observe)
        }
    }

    private mutating func httpSegmented() -> Step {
        anomalies.record(.httpSegmented)
        return .done
    }

    /// The name in a Host value: without a `:port`, without the brackets of an IPv6
    /// literal.
    @_lifetime(copy host)
    static func hostName(_ host: Span<UInt8>) -> Span<UInt8> {
        if host.uint8(at: 0) == UInt8(ascii: "["), let close = host.firstIndex(of: UInt8(ascii: "]"), from: 1) {
            return host.extracting(1..<close)
        }
        guard let colon = host.firstIndex(of: UInt8(ascii: ":")) else { return host }
        return host.extracting(0..<colon)
    }

    /// The offset of the CR of a CRLF (or of a bare LF) at or after `start`; nil when
    /// the line runs past the buffer.
    static func lineEnd(_ bytes: Span<UInt8>, from start: Int) -> Int? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n"), from: start) else { return nil }
        return newline > start && bytes[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
    }

    /// The offset after the line end found by `lineEnd`.
    static func afterLineEnd(_ bytes: Span<UInt8>, _ end: Int) -> Int {
        bytes.uint8(at: end) == UInt8(ascii: "\r") ? end + 2 : end + 1
    }
}
