import Observations
/// What reading one rule file produced.
struct ParsedFile {
    var indicators = IndicatorList()
    /// Entries of an allow list (MISP warning lists; files under `allow/` are turned
    /// into allow entries by `RuleSet.load`).
    var allowEntries: [AllowEntry] = []
    /// The format found from the content when it differs from the one detected (JSON).
    var format: RuleFormat? = nil
    var errors: [RuleError] = []
    var warnings: [RuleWarning] = []
    /// The details records `add` has made, by content: a feed whose lines vary a few
    /// metadata columns (severity, confidence) holds as many records as combinations,
    /// not one per line.
    private var detailsIDs: [IndicatorDetails: UInt32] = [:]

    /// Records a classified value found at `line`, its first byte at 1-based `column`.
    /// `template` carries the metadata the format gave the value.
    mutating func add(_ result: Classified, template: Indicator, column: Int) {
        let details: UInt32 = if case .indicator = result { detailsID(for: IndicatorDetails(template)) } else { 0 }
        add(result, details: details, ruleFile: template.ruleFile, line: template.line, column: column)
    }

    /// `add(_:template:column:)` for a value whose rule file and metadata are the details
    /// record `details` (`detailsID(for:)`; not read unless `result` is an indicator).
    mutating func add(_ result: Classified, details: UInt32, ruleFile: String, line: Int, column: Int) {
        switch result {
        case .indicator(let parsed):
            let start = indicators.textCount
            indicators.appendText(parsed.value.utf8)
            indicators.finishValue(
                start: start, kind: IndicatorList.kind(parsed.type, matchesSubdomains: parsed.matchesSubdomains),
                line: line, details: details)
            if let note = parsed.note {
                warnings.append(RuleWarning(file: ruleFile, line: line, column: column, message: note))
            }
        case .skipped(let message, let offset):
            warnings.append(RuleWarning(file: ruleFile, line: line, column: column + offset, message: message))
        case .invalid(let message, let offset):
            errors.append(RuleError(file: ruleFile, line: line, column: column + offset, message: message))
        }
    }

    /// The id of the details record equal to `details`, added when there is none yet.
    mutating func detailsID(for details: IndicatorDetails) -> UInt32 {
        if let id = detailsIDs[details] { return id }
        let id = indicators.addDetails(details)
        detailsIDs[details] = id
        return id
    }

    mutating func error(_ path: String, _ line: Int, _ column: Int, _ message: String) {
        errors.append(RuleError(file: path, line: line, column: column, message: message))
    }

    mutating func warning(_ path: String, _ line: Int, _ column: Int, _ message: String) {
        warnings.append(RuleWarning(file: path, line: line, column: column, message: message))
    }
}

/// The plain-list rule format: one indicator per line, its type inferred from its text.
///
/// - `#` starts a comment: a whole line, or after whitespace at the end of a value
///   (`10.0.0.0/8 # office`). Blank lines are ignored; whitespace around a value is
///   trimmed; CRLF line ends and a UTF-8 byte order mark at the start are accepted.
/// - `value;comment` and `value<TAB>anything` (LOKI's and ipsum's conventions): the
///   first field is the indicator, the rest its description. (A `;` after a `/` belongs
///   to a URL path and does not split.)
/// - Values: see `ValueSyntax.infer`, including maltrail's conventions (`.suffix`,
///   `host:port`, `/path`, `host/path`, regular expressions).
/// - A bad value is a `RuleError` for that line; a feed convention Cairn cannot use is
///   a `RuleWarning`; the other lines still load.
enum PlainListParser {
    /// Lines longer than this are rejected without being looked at: the longest valid
    /// value is a URL of a few KiB at most, so 16 KiB leaves room for a trailing
    /// comment while keeping a binary file fed in by mistake from producing huge
    /// messages.
    static let maximumLineLength = 16384

    /// What a single line holds.
    enum Line: Equatable {
        /// Blank or comment only.
        case empty
        case indicator(ParsedValue, description: String?)
        /// A warning; `column` is 1-based.
        case skipped(String, column: Int)
        /// An error; `column` is 1-based.
        case invalid(String, column: Int)
    }

    /// Parses a whole file's bytes, or a segment of whole lines that follows
    /// `linesBefore` lines (`RuleFiles.stream`); `path` is used for the indicators'
    /// `ruleFile` and for errors. Duplicates are not removed here.
    static func parse(file bytes: [UInt8], path: String, suffixes: PublicSuffixList, linesBefore: Int = 0) -> ParsedFile {
        var result = ParsedFile()
        // Every indicator without a description shares the file's one details record.
        let plain = result.indicators.addDetails(IndicatorDetails(ruleFile: path))
        forEachLine(bytes, linesBefore: linesBefore) { number, line in
            if appendFastValue(line, suffixes: suffixes, line: number, details: plain, to: &result.indicators) {
                return
            }
            switch parseLine(line, suffixes: suffixes) {
            case .empty:
                break
            case .indicator(let parsed, let description):
                var details = plain
                if let description {
                    var record = IndicatorDetails(ruleFile: path)
                    record.description = description
                    details = result.detailsID(for: record)
                }
                // A note is reported at the line's first non-blank byte.
                let start = line.firstIndex(where: { !ValueSyntax.isSpace($0) }) ?? line.startIndex
                result.add(.indicator(parsed), details: details, ruleFile: path, line: number,
                           column: start - line.startIndex + 1)
            case .skipped(let message, let column):
                result.warning(path, number, column, message)
            case .invalid(let message, let column):
                result.error(path, number, column, message)
            }
        }
        return result
    }

    /// The common lines read straight from their bytes, without making a String of the
    /// line: a bare dotted-quad IPv4 address or `address/prefix` IPv4 range, a bare
    /// MD5/SHA-1/SHA-256 hex digest, or a
    /// bare lower-case ASCII domain that passes every check of `ValueSyntax.classifyDomain`.
    /// Nil for anything else (comments, separators, upper case, errors...): those take
    /// the general path (`parseLine`), which gives the same result for the lines
    /// accepted here and the messages for the others.
    static func fastValue(_ line: ArraySlice<UInt8>, suffixes: PublicSuffixList) -> ParsedValue? {
        switch fastKind(line, suffixes: suffixes) {
        case nil: return nil
        case .digest(let type):
            return ParsedValue(type: type, value: String(decoding: line.lazy.map(ByteStringTable.lowercased), as: UTF8.self))
        case .ipv4(let address):
            return ParsedValue(type: .ipv4, value: IPv4Address(address).description)
        case .cidr(let network, let prefix):
            return ParsedValue(type: .cidr, value: "\(IPv4Address(network))/\(prefix)")
        case .domain:
            return ParsedValue(type: .domain, value: String(decoding: line, as: UTF8.self))
        case .ipv6(let address):
            return ParsedValue(type: .ipv6, value: address.description)
        case .ipv6Network(let network, let prefix):
            return ParsedValue(type: .cidr, value: "\(network)/\(prefix)")
        }
    }

    /// `fastValue` written straight into `list` as canonical bytes (no `String`):
    /// whether the line was one of the common lines it reads.
    static func appendFastValue(
        _ line: ArraySlice<UInt8>, suffixes: PublicSuffixList, line number: Int, details: UInt32,
        to list: inout IndicatorList
    ) -> Bool {
        guard let kind = fastKind(line, suffixes: suffixes) else { return false }
        append(kind, of: line, line: number, details: details, to: &list)
        return true
    }

    /// Appends the value `fastKind` found `bytes` to be, as canonical bytes.
    static func append(
        _ kind: FastKind, of bytes: ArraySlice<UInt8>, line number: Int, details: UInt32, to list: inout IndicatorList
    ) {
        let start = list.textCount
        switch kind {
        case .digest:
            list.appendText(bytes.lazy.map(ByteStringTable.lowercased))
        case .ipv4(let address):
            appendDottedQuad(address, to: &list)
        case .cidr(let network, let prefix):
            appendDottedQuad(network, to: &list)
            list.appendText(UInt8(ascii: "/"))
            appendDecimal(prefix, to: &list)
        case .domain:
            list.appendText(bytes)
        case .ipv6(let address):
            list.appendText(address.description.utf8)
        case .ipv6Network(let network, let prefix):
            list.appendText(network.description.utf8)
            list.appendText(UInt8(ascii: "/"))
            appendDecimal(prefix, to: &list)
        }
        list.finishValue(start: start, kind: IndicatorList.kind(kind.type, matchesSubdomains: true), line: number, details: details)
    }

    /// The text `IPv4Address.description` gives.
    private static func appendDottedQuad(_ address: UInt32, to list: inout IndicatorList) {
        for shift in [24, 16, 8, 0] as [UInt32] {
            appendDecimal(Int((address >> shift) & 0xFF), to: &list)
            if shift > 0 { list.appendText(UInt8(ascii: ".")) }
        }
    }

    /// `number` (0...999) in decimal.
    private static func appendDecimal(_ number: Int, to list: inout IndicatorList) {
        if number >= 100 { list.appendText(UInt8(truncatingIfNeeded: 0x30 + number / 100)) }
        if number >= 10 { list.appendText(UInt8(truncatingIfNeeded: 0x30 + number / 10 % 10)) }
        list.appendText(UInt8(truncatingIfNeeded: 0x30 + number % 10))
    }

    /// What `fastValue` recognised a line as.
    enum FastKind {
        case digest(IndicatorType)
        case ipv4(UInt32)
        /// Host bits cleared.
        case cidr(UInt32, prefix: Int)
        /// The line as it is (lower-case ASCII).
        case domain
        case ipv6(IPv6Address)
        /// Host bits cleared.
        case ipv6Network(IPv6Address, prefix: Int)

        var type: IndicatorType {
            switch self {
            case .digest(let type): type
            case .ipv4: .ipv4
            case .cidr, .ipv6Network: .cidr
            case .domain: .domain
            case .ipv6: .ipv6
            }
        }

        /// Whether `ValueSyntax.classify` reads the value as it does without a declared
        /// type when `expected` is declared (else the general path says why not).
        func satisfies(_ expected: Expected) -> Bool {
            switch expected {
            case .inferred: true
            case .oneOf(let types, _): types.contains(type)
            case .domain(exact: false): type == .domain
            case .domain(exact: true), .url, .email, .ja3, .ja4: false
            }
        }
    }

    /// An IPv6 address or network of hex groups (`2001:db8::1`, `2001:db8::/32`), read
    /// from the bytes by `AddressText.parseIPv6` as `IPv6Address.init?(_:)` reads its
    /// text; nil for anything else (a zone index, a bad prefix), which the general path
    /// then reads and reports.
    static func fastIPv6(_ line: ArraySlice<UInt8>) -> FastKind? {
        var end = line.endIndex
        var prefix: Int? = nil
        if let slash = line.firstIndex(of: UInt8(ascii: "/")) {
            let digits = line[(slash + 1)...]
            guard digits.count >= 1, digits.count <= 3, digits.allSatisfy({ $0 &- 0x30 < 10 }) else { return nil }
            let number = digits.reduce(0) { $0 * 10 + Int($1 &- 0x30) }
            guard number <= 128 else { return nil }
            prefix = number
            end = slash
        }
        guard let address = AddressText.parseIPv6(line.span, 0..<(end - line.startIndex)) else { return nil }
        guard let prefix else { return .ipv6(address) }
        return .ipv6Network(IPv6Network.mask(address, prefix: prefix), prefix: prefix)
    }

    /// The classification behind `fastValue`.
    @inline(__always)
    static func fastKind(_ line: ArraySlice<UInt8>, suffixes: PublicSuffixList) -> FastKind? {
        let count = line.count
        guard count <= 253 else { return nil }
        if line.contains(UInt8(ascii: ":")) {
            // Only hex digits, colons and a `/prefix`: an IPv6 address or network.
            guard line.allSatisfy({ $0 &- 0x30 < 10 || $0 &- 0x61 < 6 || $0 &- 0x41 < 6
                || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") })
            else { return nil }
            return fastIPv6(line)
        }
        guard count >= 3 else { return nil }
        var digitsAndDots = true
        var hex = true
        var domain = true
        for byte in line {
            let isDigit = byte &- 0x30 < 10
            let isDot = byte == UInt8(ascii: ".")
            let isLower = byte &- 0x61 < 26
            // A `/` among digits and dots: an IPv4 CIDR range.
            digitsAndDots = digitsAndDots && (isDigit || isDot || byte == UInt8(ascii: "/"))
            hex = hex && (isDigit || byte &- 0x61 < 6 || byte &- 0x41 < 6)
            domain = domain && (isDigit || isDot || isLower || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_"))
            if !digitsAndDots, !hex, !domain { return nil }
        }
        // Hex first: a digest may be all decimal digits, which an address never is
        // (it has dots), so the order decides nothing else.
        if hex {
            let type: IndicatorType
            switch count {
            case 32: type = .md5
            case 40: type = .sha1
            case 64: type = .sha256
            default: return nil
            }
            return .digest(type)
        }
        if digitsAndDots {
            guard let slash = line.firstIndex(of: UInt8(ascii: "/")) else {
                guard let address = IPv4Address(ascii: line) else { return nil }
                return .ipv4(address.value)
            }
            // `a.b.c.d/n` with a prefix of one or two digits, at most 32; host bits
            // cleared, as `ValueSyntax.classifyNetwork` does.
            let prefixDigits = line[(slash + 1)...]
            guard prefixDigits.count >= 1, prefixDigits.count <= 2, prefixDigits.allSatisfy({ $0 &- 0x30 < 10 }),
                  let address = IPv4Address(ascii: line[..<slash])
            else { return nil }
            let prefix = prefixDigits.reduce(0) { $0 * 10 + Int($1 &- 0x30) }
            guard prefix <= 32 else { return nil }
            return .cidr(IPv4Network.mask(address.value, prefix: prefix), prefix: prefix)
        }
        guard domain, line.first != UInt8(ascii: "."), line.last != UInt8(ascii: ".") else { return nil }
        // Labels: non-empty, at most 63 bytes, at least two, the last not all digits.
        var labels = 1
        var labelLength = 0
        var lastLabelAllDigits = true
        for byte in line {
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0 else { return nil }
                labels += 1
                labelLength = 0
                lastLabelAllDigits = true
            } else {
                labelLength += 1
                guard labelLength <= 63 else { return nil }
                if byte &- 0x30 >= 10 { lastLabelAllDigits = false }
            }
        }
        guard labels >= 2, !lastLabelAllDigits else { return nil }
        guard !suffixes.isPublicSuffix(line.span, section: .all) else { return nil }
        return .domain
    }

    /// Calls `body` with each line's 1-based number and its bytes without the line end
    /// (LF or CRLF), after a UTF-8 byte order mark. For a segment of a file, line
    /// numbers start after `linesBefore` (and there is no byte order mark to skip).
    static func forEachLine(_ bytes: [UInt8], linesBefore: Int = 0, _ body: (Int, ArraySlice<UInt8>) -> Void) {
        var start = 0
        // A UTF-8 byte order mark is an editor's artefact, not part of the first value.
        if linesBefore == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var lineNumber = linesBefore
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            lineNumber += 1
            var contentEnd = end
            if contentEnd > start, bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            body(lineNumber, bytes[start..<contentEnd])
            start = end + 1
        }
    }

    /// Checks that a line is short, NUL-free UTF-8; the text, or the reason it is not.
    static func text(of raw: ArraySlice<UInt8>) -> Result<String, LineProblem> {
        if raw.count > maximumLineLength {
            return .failure(LineProblem(
                message: "line is \(raw.count) bytes long; the limit is \(maximumLineLength) "
                    + "(expected one indicator per line; is this a rule file?)", column: 1))
        }
        if let nul = raw.firstIndex(of: 0) {
            return .failure(LineProblem(
                message: "line contains a NUL byte at column \(nul - raw.startIndex + 1) "
                    + "(expected text; is this a binary file?)", column: nul - raw.startIndex + 1))
        }
        guard let text = String(validating: raw, as: UTF8.self) else {
            return .failure(LineProblem(message: "line is not valid UTF-8 (expected UTF-8 or ASCII text)", column: 1))
        }
        return .success(text)
    }

    struct LineProblem: Error {
        var message: String
        var column: Int
    }

    /// Parses one line (without its line end).
    static func parseLine(_ raw: ArraySlice<UInt8>, suffixes: PublicSuffixList) -> Line {
        let text: String
        switch self.text(of: raw) {
        case .success(let valid): text = valid
        case .failure(let problem): return .invalid(problem.message, column: problem.column)
        }
        let content = stripCommentAndWhitespace(text)
        if content.isEmpty { return .empty }
        var value = content
        var description: String? = nil
        if let separator = fieldSeparator(in: content) {
            value = trimmed(content[..<separator])
            let rest = trimmed(content[content.index(after: separator)...])
            description = rest.isEmpty ? nil : String(rest)
            if value.isEmpty {
                return .invalid(
                    "\(ValueSyntax.quoted(content)): the line starts with a field separator; \(ValueSyntax.expectation)",
                    column: column(of: content, in: text))
            }
        }
        let column = column(of: value, in: text)
        switch ValueSyntax.classify(value, as: .inferred, suffixes: suffixes) {
        case .indicator(let parsed): return .indicator(parsed, description: description)
        case .skipped(let message, let offset): return .skipped(message, column: column + offset)
        case .invalid(let message, let offset): return .invalid(message, column: column + offset)
        }
    }

    /// The TAB or `;` that ends the value of a `value;comment` or `value<TAB>score`
    /// line. A `;` after a `/` is part of a URL path.
    static func fieldSeparator(in content: Substring) -> Substring.Index? {
        var sawSlash = false
        var index = content.startIndex
        while index < content.endIndex {
            let character = content[index]
            if character == "\t" { return index }
            if character == "/" { sawSlash = true }
            if character == ";", !sawSlash { return index }
            index = content.index(after: index)
        }
        return nil
    }

    /// 1-based UTF-8 column of `part`'s first byte in `line`.
    static func column(of part: Substring, in line: String) -> Int {
        line.utf8.distance(from: line.utf8.startIndex, to: part.startIndex) + 1
    }

    static func trimmed(_ text: Substring) -> Substring {
        var utf8 = text.utf8
        while let first = utf8.first, ValueSyntax.isSpace(first) { utf8 = utf8.dropFirst() }
        while let last = utf8.last, ValueSyntax.isSpace(last) { utf8 = utf8.dropLast() }
        return Substring(utf8)
    }

    /// The value part of a line: the text before a `#` that starts the line or follows
    /// whitespace, trimmed.
    static func stripCommentAndWhitespace(_ text: String) -> Substring {
        var utf8 = Substring(text).utf8
        var previousWasSpace = true  // so that a `#` at the very start is a comment
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "#"), previousWasSpace {
                utf8 = utf8[utf8.startIndex..<index]
                break
            }
            previousWasSpace = ValueSyntax.isSpace(byte)
            index = utf8.index(after: index)
        }
        return trimmed(Substring(utf8))
    }
}
