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
struct JSONScanner {
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

    let bytes: UnsafeRawBufferPointer
    var index: Int
    /// Where member paths are built, names joined by `.`; may be empty (no paths).
    var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// Scans the object that fills `bytes[range]` (white space around it allowed); false
    /// when it is not exactly one well-formed JSON object. `visit` may have been called
    /// for part of a malformed line; callers that must not act on those run it twice.
    static func scanObject(
        _ bytes: UnsafeRawBufferPointer, in range: Range<Int>,
        visit: (_ depth: Int, _ name: Range<Int>?, _ value: JSONValue) -> Void
    ) -> Bool {
        scanObject(bytes, in: range, paths: UnsafeMutableRawBufferPointer(start: nil, count: 0)) { depth, name, _, value in
            visit(depth, name, value)
        }
    }

    /// As above, and also gives each scalar its member path: the names of the members
    /// it is nested in, joined by `.` (`http.hostname`; an array's elements take the
    /// array's path), built in `paths` without allocating and valid only during the
    /// call. A path longer than `paths` is given as the innermost member's name; a
    /// scalar that is no member's gets nil (there is none in an object).
    static func scanObject(
        _ bytes: UnsafeRawBufferPointer, in range: Range<Int>, paths: UnsafeMutableRawBufferPointer,
        visit: (_ depth: Int, _ name: Range<Int>?, _ member: UnsafeRawBufferPointer?, _ value: JSONValue) -> Void
    ) -> Bool {
        var scanner = JSONScanner(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<range.upperBound]), index: range.lowerBound)
        scanner.scratch = paths
        scanner.skipSpace()
        guard scanner.peek() == UInt8(ascii: "{"),
              scanner.value(depth: 0, name: nil, path: JSONScanner.noPath, visit: visit)
        else { return false }
        scanner.skipSpace()
        return scanner.index == range.upperBound
    }

    /// The path of member `key` inside a value whose path has length `parent`: writes
    /// `.key` (or `key` at the root) after it in `scratch`.
    private func childPath(_ parent: Int, key: Range<Int>) -> Int {
        guard parent != JSONScanner.pathTooLong else { return JSONScanner.pathTooLong }
        let start = parent == JSONScanner.noPath ? 0 : parent + 1
        let length = start + key.count
        guard length <= scratch.count, let target = scratch.baseAddress, let source = bytes.baseAddress else {
            return JSONScanner.pathTooLong
        }
        // Safe: parent < start <= length <= scratch.count, and key lies inside bytes.
        if start > 0 { scratch[parent] = UInt8(ascii: ".") }
        (target + start).copyMemory(from: source + key.lowerBound, byteCount: key.count)
        return length
    }

    /// The member bytes for a scalar with path length `path` and innermost name `name`.
    private func member(_ path: Int, name: Range<Int>?) -> UnsafeRawBufferPointer? {
        if path >= 0 { return UnsafeRawBufferPointer(rebasing: scratch[0..<path]) }
        return name.map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
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
        depth: Int, name: Range<Int>?, path: Int,
        visit: (Int, Range<Int>?, UnsafeRawBufferPointer?, JSONValue) -> Void
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
                guard value(depth: depth + 1, name: key, path: childPath(path, key: key), visit: visit) else {
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
                guard value(depth: depth + 1, name: name, path: path, visit: visit) else { return false }
                skipSpace()
                guard let next = peek() else { return false }
                index += 1
                if next == UInt8(ascii: "]") { return true }
                guard next == UInt8(ascii: ",") else { return false }
            }
        case UInt8(ascii: "\""):
            guard let range = string() else { return false }
            visit(depth, name, member(path, name: name), .string(range))
            return true
        case UInt8(ascii: "t"): return literal("true", depth: depth, name: name, path: path, visit: visit)
        case UInt8(ascii: "f"): return literal("false", depth: depth, name: name, path: path, visit: visit)
        case UInt8(ascii: "n"): return literal("null", depth: depth, name: name, path: path, visit: visit)
        default:
            let start = index
            guard number() else { return false }
            visit(depth, name, member(path, name: name), .number(start..<index))
            return true
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as RFC 8259 has it.
    private mutating func number() -> Bool {
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), TextScanner.isDigit(first) else { return false }
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
        while let byte = peek(), TextScanner.isDigit(byte) { index += 1 }
        return index - start
    }

    private mutating func literal(
        _ word: StaticString, depth: Int, name: Range<Int>?, path: Int,
        visit: (Int, Range<Int>?, UnsafeRawBufferPointer?, JSONValue) -> Void
    ) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { text in
            (0..<count).allSatisfy { bytes[index + $0] == text[$0] }
        }
        guard matches else { return false }
        index += count
        visit(depth, name, member(path, name: name), .literal)
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
                          (2..<6).allSatisfy({ TextScanner.hexValue(bytes[index + $0]) })
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
    static func read(_ line: UnsafeRawBufferPointer, in range: Range<Int>) -> JSONRecord? {
        var record = JSONRecord()
        var hostName: Range<Int>? = nil
        let wellFormed = JSONScanner.scanObject(line, in: range) { depth, name, value in
            guard depth == 1, let name else { return }
            let key = UnsafeRawBufferPointer(rebasing: line[name])
            if equals(key, "id.orig_h") { record.isZeek = true }
            if equals(key, "ts") || equals(key, "timestamp"), record.time == nil {
                switch value {
                case .number(let digits): record.time = epochTime(UnsafeRawBufferPointer(rebasing: line[digits]))
                case .string(let text): record.time = SyslogHeaderParser.rfc3339(UnsafeRawBufferPointer(rebasing: line[text]))
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
    static func epochTime(_ text: UnsafeRawBufferPointer) -> Timestamp? {
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        var index = 0
        var digits = 0
        while index < text.count, TextScanner.isDigit(text[index]) {
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
                guard TextScanner.isDigit(text[index]) else { return nil }
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
    static func addressField(_ name: UnsafeRawBufferPointer) -> Field? {
        if equals(name, "id.orig_h") || equals(name, "src_ip") { return .logSource }
        if equals(name, "id.resp_h") || equals(name, "dest_ip") { return .logDestination }
        return nil
    }
}

/// Whether `bytes` are exactly the bytes of `text`: the length first, then the bytes
/// (for member names, which are compared on every member of every JSON line; the
/// generic `elementsEqual` with a `String.UTF8View` costs far more).
@inline(__always)
private func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    bytes.count == text.utf8CodeUnitCount && bytes.holds(text, at: 0)
}
