import ByteParsing
import Observations

/// A JSON value as the scanner meets it: where its bytes are in the line.
enum JSONValue {
    /// The bytes between the quotes, escapes left as written.
    case string(Range<Int>)
    case number(Range<Int>)
    /// `true`, `false` or `null`.
    case literal
}

/// A minimal, validating JSON scanner over borrowed bytes for one log line (Zeek and
/// Suricata EVE logs, generic JSON lines). It does not build values: it reports every
/// scalar with its depth and the name of the member it belongs to (array elements take
/// their array's member name). Allocates nothing; O(line length). Nesting deeper than
/// `maximumDepth` counts as malformed, so hostile input cannot exhaust the stack.
struct JSONScanner: ~Escapable {
    /// Deeper than any real log record; bounds the recursion.
    static let maximumDepth = 32
    /// The longest member path (`dns.answers.rdata`) built for `Observation.member`:
    /// real Zeek and Suricata paths are under 64 bytes; a longer one falls back to the
    /// innermost member name. The reader allocates one buffer of this size.
    static let maximumMemberPathLength = 512

    /// `path` for a value that is no member's (the line's root object).
    private static let noPath = -1
    /// `path` for a value whose member path did not fit: its innermost name stands in.
    private static let pathTooLong = -2

    let bytes: Span<UInt8>
    var index: Int

    @_lifetime(copy bytes)
    private init(_ bytes: Span<UInt8>, index: Int) {
        self.bytes = bytes
        self.index = index
    }

    /// Scans the object that fills `bytes[range]` (white space around it allowed); false
    /// when it is not exactly one well-formed JSON object. `visit` may have been called
    /// for part of a malformed line; callers that must not act on those run it twice.
    static func scanObject(
        _ bytes: Span<UInt8>, in range: Range<Int>,
        visit: (_ depth: Int, _ name: Range<Int>?, _ value: JSONValue) -> Void
    ) -> Bool {
        // An empty array has no storage to allocate: no paths are built.
        var none: [UInt8] = []
        var paths = none.mutableSpan
        return scanObject(bytes, in: range, paths: &paths) { depth, name, _, value in visit(depth, name, value) }
    }

    /// As above, and also gives each scalar its member path: the names of the members
    /// it is nested in, joined by `.` (`http.hostname`; an array's elements take the
    /// array's path), built in `paths` (names joined by `.`) without allocating and
    /// valid only during the call. A path longer than `paths` is given as the innermost
    /// member's name; a scalar that is no member's gets nil (there is none in an object).
    static func scanObject(
        _ bytes: Span<UInt8>, in range: Range<Int>, paths: inout MutableSpan<UInt8>,
        visit: (_ depth: Int, _ name: Range<Int>?, _ member: Span<UInt8>?, _ value: JSONValue) -> Void
    ) -> Bool {
        var scanner = JSONScanner(bytes.prefix(range.upperBound), index: range.lowerBound)
        scanner.skipSpace()
        guard scanner.peek() == UInt8(ascii: "{"),
              scanner.value(depth: 0, name: nil, path: JSONScanner.noPath, paths: &paths, visit: visit)
        else { return false }
        scanner.skipSpace()
        return scanner.index == range.upperBound
    }

    /// The path of member `key` inside a value whose path has length `parent`: writes
    /// `.key` (or `key` at the root) after it in `paths`.
    private func childPath(_ parent: Int, key: Range<Int>, paths: inout MutableSpan<UInt8>) -> Int {
        guard parent != JSONScanner.pathTooLong else { return JSONScanner.pathTooLong }
        let start = parent == JSONScanner.noPath ? 0 : parent + 1
        let length = start + key.count
        guard length <= paths.count else { return JSONScanner.pathTooLong }
        if start > 0 { paths[parent] = UInt8(ascii: ".") }
        for offset in 0..<key.count { paths[start + offset] = bytes[key.lowerBound + offset] }
        return length
    }

    /// Hands a scalar to `visit` with its member bytes: the path of length `path` in
    /// `paths`, or else its innermost name `name`.
    private func report(
        _ value: JSONValue, depth: Int, name: Range<Int>?, path: Int, paths: borrowing MutableSpan<UInt8>,
        visit: (Int, Range<Int>?, Span<UInt8>?, JSONValue) -> Void
    ) {
        if path >= 0 {
            visit(depth, name, paths.span.extracting(0..<path), value)
        } else if let name {
            visit(depth, name, bytes.extracting(name), value)
        } else {
            visit(depth, name, nil, value)
        }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = peek(),
              byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\n")
        {
            index += 1
        }
    }

    private mutating func value(
        depth: Int, name: Range<Int>?, path: Int, paths: inout MutableSpan<UInt8>,
        visit: (Int, Range<Int>?, Span<UInt8>?, JSONValue) -> Void
    ) -> Bool {
        guard let byte = peek() else { return false }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < JSONScanner.maximumDepth else { return false }
            index += 1
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return true
            }
            while true {
                skipSpace()
                guard let key = string() else { return false }
                skipSpace()
                guard peek() == UInt8(ascii: ":") else { return false }
                index += 1
                skipSpace()
                let keyPath = childPath(path, key: key, paths: &paths)
                guard value(depth: depth + 1, name: key, path: keyPath, paths: &paths, visit: visit) else {
                    return false
                }
                skipSpace()
                guard let next = peek() else { return false }
                index += 1
                if next == UInt8(ascii: "}") { return true }
                guard next == UInt8(ascii: ",") else { return false }
            }
        case UInt8(ascii: "["):
            guard depth < JSONScanner.maximumDepth else { return false }
            index += 1
            skipSpace()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return true
            }
            while true {
                skipSpace()
                guard value(depth: depth + 1, name: name, path: path, paths: &paths, visit: visit) else { return false }
                skipSpace()
                guard let next = peek() else { return false }
                index += 1
                if next == UInt8(ascii: "]") { return true }
                guard next == UInt8(ascii: ",") else { return false }
            }
        case UInt8(ascii: "\""):
            guard let range = string() else { return false }
            report(.string(range), depth: depth, name: name, path: path, paths: paths, visit: visit)
            return true
        case UInt8(ascii: "t"): return literal("true", depth: depth, name: name, path: path, paths: paths, visit: visit)
        case UInt8(ascii: "f"): return literal("false", depth: depth, name: name, path: path, paths: paths, visit: visit)
        case UInt8(ascii: "n"): return literal("null", depth: depth, name: name, path: path, paths: paths, visit: visit)
        default:
            let start = index
            guard number() else { return false }
            report(.number(start..<index), depth: depth, name: name, path: path, paths: paths, visit: visit)
            return true
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as RFC 8259 has it.
    private mutating func number() -> Bool {
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), ByteClasses.isDigit(first) else { return false }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { return false }
        }
        if let byte = peek(), byte | 0x20 == UInt8(ascii: "e") {
            index += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { return false }
        }
        return true
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = peek(), ByteClasses.isDigit(byte) { index += 1 }
        return index - start
    }

    private mutating func literal(
        _ word: StaticString, depth: Int, name: Range<Int>?, path: Int, paths: borrowing MutableSpan<UInt8>,
        visit: (Int, Range<Int>?, Span<UInt8>?, JSONValue) -> Void
    ) -> Bool {
        guard bytes.hasPrefix(word, at: index) else { return false }
        index += word.utf8CodeUnitCount
        report(.literal, depth: depth, name: name, path: path, paths: paths, visit: visit)
        return true
    }

    /// A string at `index`; returns the bytes between the quotes.
    private mutating func string() -> Range<Int>? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return start..<(index - 1)
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { return nil }
                if bytes[index + 1] == UInt8(ascii: "u") {
                    guard index + 6 <= bytes.count,
                          (2..<6).allSatisfy({ ByteClasses.isHexDigit(bytes[index + $0]) })
                    else { return nil }
                    index += 6
                } else {
                    switch bytes[index + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 2
                    default:
                        return nil
                    }
                }
            case 0..<0x20:
                return nil
            default:
                index += 1
            }
        }
        return nil
    }
}

/// What a JSON log line's top level says about the record as a whole.
struct JSONRecord {
    var time: Timestamp?
    /// The `host` or `hostname` member's string, unless the record is a Zeek record
    /// (it has `id.orig_h`), whose `host` is an HTTP Host header, not the logging host.
    var host: Range<Int>?
    var isZeek = false

    /// Reads the top-level members that give the time and the host: `ts` (Zeek: epoch
    /// seconds with a fraction, or ISO 8601) and `timestamp` (Suricata: ISO 8601 with an
    /// offset). Nil when `line[range]` is not one well-formed JSON object.
    static func read(_ line: Span<UInt8>, in range: Range<Int>) -> JSONRecord? {
        var record = JSONRecord()
        var hostName: Range<Int>? = nil
        let wellFormed = JSONScanner.scanObject(line, in: range) { depth, name, value in
            guard depth == 1, let name else { return }
            let key = line.extracting(name)
            if equals(key, "id.orig_h") { record.isZeek = true }
            if equals(key, "ts") || equals(key, "timestamp"), record.time == nil {
                switch value {
                case .number(let digits): record.time = epochTime(line.extracting(digits))
                case .string(let text): record.time = SyslogHeaderParser.rfc3339(line.extracting(text))
                case .literal: break
                }
            }
            if equals(key, "host") || equals(key, "hostname"), hostName == nil,
               case .string(let text) = value, !text.isEmpty
            {
                hostName = text
            }
        }
        guard wellFormed else { return nil }
        if !record.isZeek { record.host = hostName }
        return record
    }

    /// "1700000000.123456" seconds since the epoch; nil for anything else (exponents,
    /// signs, more than 12 integer digits).
    static func epochTime(_ text: Span<UInt8>) -> Timestamp? {
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        var index = 0
        var digits = 0
        while index < text.count, ByteClasses.isDigit(text[index]) {
            // More than 12 digits is refused below: stop before Int64 overflows (fuzz
            // input Fuzz/crashes/log-lines/crash-8f32f68e…, a 60-digit "ts").
            guard digits < 12 else { return nil }
            seconds = seconds * 10 + Int64(text[index] - 48)
            digits += 1
            index += 1
        }
        guard digits > 0, digits <= 12 else { return nil }
        if index < text.count {
            guard text[index] == UInt8(ascii: ".") else { return nil }
            index += 1
            var scale: Int64 = 100_000_000
            guard index < text.count else { return nil }
            while index < text.count {
                guard ByteClasses.isDigit(text[index]) else { return nil }
                nanos += Int64(text[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        return Timestamp(seconds: seconds, nanoseconds: nanos)
    }

    /// The role of an address by its member path: `id.orig_h` (Zeek, flat or with `id`
    /// as an object), `src_ip` (Suricata) are the source, `id.resp_h`, `dest_ip` the
    /// destination; nil for other members (`tunnel.src_ip` too: not the flow's).
    static func addressField(_ name: Span<UInt8>) -> Field? {
        if equals(name, "id.orig_h") || equals(name, "src_ip") { return .logSource }
        if equals(name, "id.resp_h") || equals(name, "dest_ip") { return .logDestination }
        return nil
    }
}

/// Whether `bytes` are exactly the bytes of `text`: the length first, then the bytes
/// (for member names, which are compared on every member of every JSON line; the
/// generic `elementsEqual` with a `String.UTF8View` costs far more).
@inline(__always)
private func equals(_ bytes: Span<UInt8>, _ text: StaticString) -> Bool {
    bytes.count == text.utf8CodeUnitCount && bytes.hasPrefix(text)
}
