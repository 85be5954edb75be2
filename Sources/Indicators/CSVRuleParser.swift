import Observations
/// One field of a CSV record, with the 1-based column (UTF-8 bytes) where it starts.
struct CSVField {
    var text: String
    var column: Int
}

/// One record of a CSV file as `CSVReader` hands it out: its fields' bytes (quotes
/// taken off, `""` made one quote) back to back in one buffer, which the reader reuses
/// for the next record. Every field is checked text (no NUL, valid UTF-8). A
/// collection of `CSVField`, each made on demand; `bytes(_:)` reads a field without
/// making a `String` of it.
struct CSVRecord: RandomAccessCollection {
    fileprivate var buffer: [UInt8] = []
    /// Per field: where its bytes are in `buffer` and the column where it starts.
    fileprivate var fields: [(bytes: Range<Int>, column: Int)] = []

    var startIndex: Int { 0 }
    var endIndex: Int { fields.count }

    subscript(position: Int) -> CSVField {
        CSVField(text: String(decoding: bytes(position), as: UTF8.self), column: column(position))
    }

    func bytes(_ position: Int) -> ArraySlice<UInt8> { buffer[fields[position].bytes] }

    func column(_ position: Int) -> Int { fields[position].column }

    /// The field's bytes without ASCII whitespace around them, and the column of the
    /// first of them; nil when nothing is left (or there is no such field).
    func trimmed(_ position: Int) -> (bytes: ArraySlice<UInt8>, column: Int)? {
        guard position < fields.count else { return nil }
        let raw = bytes(position)
        guard let first = raw.firstIndex(where: { !ValueSyntax.isSpace($0) }) else { return nil }
        let last = raw.lastIndex(where: { !ValueSyntax.isSpace($0) }) ?? first
        return (raw[first...last], column(position) + (first - raw.startIndex))
    }
}

/// RFC 4180 records: fields separated by `,`, quoted with `"` (a doubled `""` inside
/// quotes is one quote; quoted fields may span lines), records ended by LF or CRLF.
/// Broken quoting is an error with the line and column where it is; the record is
/// dropped and reading goes on at the next line.
enum CSVReader {
    static func records(_ bytes: [UInt8], path: String, into result: inout ParsedFile,
                        _ body: (Int, CSVRecord) -> Void) {
        var index = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        var line = 1
        var lineStart = index
        var record = CSVRecord()
        while index < bytes.count {
            let recordLine = line
            record.buffer.removeAll(keepingCapacity: true)
            record.fields.removeAll(keepingCapacity: true)
            var fieldStart = 0
            var fieldColumn = index - lineStart + 1
            var broken = false
            // A field with a NUL byte or invalid UTF-8: reported, the record dropped.
            var notText = false
            var recordEnded = false
            while index < bytes.count, !recordEnded {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") && record.buffer.count == fieldStart {
                    // A quoted field.
                    let openLine = line, openColumn = index - lineStart + 1
                    index += 1
                    var closed = false
                    while index < bytes.count {
                        let inner = bytes[index]
                        if inner == UInt8(ascii: "\"") {
                            if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                                record.buffer.append(inner)
                                index += 2
                                continue
                            }
                            index += 1
                            closed = true
                            break
                        }
                        if inner == UInt8(ascii: "\n") {
                            line += 1
                            lineStart = index + 1
                        }
                        record.buffer.append(inner)
                        index += 1
                    }
                    if !closed {
                        result.error(path, openLine, openColumn,
                                     "a quoted field is never closed (RFC 4180: end it with \"; write a quote inside as \"\")")
                        return
                    }
                    // After the closing quote: a separator or the end of the record.
                    if index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "\n"),
                       !(bytes[index] == UInt8(ascii: "\r") && (index + 1 == bytes.count || bytes[index + 1] == UInt8(ascii: "\n")))
                    {
                        result.error(path, line, index - lineStart + 1,
                                     "text after a closing quote (RFC 4180: expected \",\" or the end of the line; write a quote inside a quoted field as \"\")")
                        broken = true
                    }
                    // Mark the field as quoted-and-complete so a later quote is an error.
                    if !broken { continue }
                } else if byte == UInt8(ascii: "\"") {
                    result.error(path, line, index - lineStart + 1,
                                 "a quote inside an unquoted field (RFC 4180: quote the whole field and write the quote as \"\")")
                    broken = true
                } else if byte == UInt8(ascii: ",") {
                    if !endField(&record, from: fieldStart, line: recordLine, column: fieldColumn, path: path, into: &result) {
                        notText = true
                    }
                    fieldStart = record.buffer.count
                    index += 1
                    fieldColumn = index - lineStart + 1
                    continue
                } else if byte == UInt8(ascii: "\n") {
                    recordEnded = true
                    index += 1
                    line += 1
                    lineStart = index
                    continue
                } else if byte == UInt8(ascii: "\r"), index + 1 == bytes.count || bytes[index + 1] == UInt8(ascii: "\n") {
                    index += 1
                    continue
                } else {
                    // The run of ordinary bytes up to the next byte that means something.
                    let start = index
                    index += 1
                    while index < bytes.count, !isSpecial(bytes[index]) { index += 1 }
                    record.buffer.append(contentsOf: bytes[start..<index])
                    continue
                }
                if broken {
                    // Skip to the end of the line and drop the record.
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                    index += 1
                    line += 1
                    lineStart = index
                    break
                }
            }
            if broken { continue }
            guard endField(&record, from: fieldStart, line: recordLine, column: fieldColumn, path: path, into: &result),
                  !notText
            else { continue }
            body(recordLine, record)
        }
    }

    /// The bytes an unquoted field's run stops at: the quote, the separator and the line ends.
    @inline(__always)
    private static func isSpecial(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    /// Ends the field whose bytes are `record.buffer[start...]`: whether they are text
    /// (no NUL, valid UTF-8); if not, the error at the field (`column` is where it
    /// starts on `line`).
    private static func endField(_ record: inout CSVRecord, from start: Int, line: Int, column: Int, path: String,
                                 into result: inout ParsedFile) -> Bool {
        record.fields.append((start..<record.buffer.count, column))
        let field = record.buffer[start...]
        // Plain ASCII, by far the common case, is text: no need to decode it.
        if field.allSatisfy({ $0 != 0 && $0 < 0x80 }) { return true }
        if let nul = field.firstIndex(of: 0) {
            result.error(path, line, column + nul - start, "field contains a NUL byte (expected text; is this a binary file?)")
            return false
        }
        guard String(validating: field, as: UTF8.self) != nil else {
            result.error(path, line, column, "field is not valid UTF-8 (expected UTF-8 or ASCII text)")
            return false
        }
        return true
    }

    /// Whether a record holds nothing (a blank line) or is a `#` comment.
    static func isBlankOrComment(_ record: CSVRecord) -> Bool {
        if record.count == 1 {
            return record.trimmed(0)?.bytes.first.map { $0 == UInt8(ascii: "#") } ?? true
        }
        return record.bytes(0).first == UInt8(ascii: "#")
    }
}

/// CSV with a header line naming its columns (any order, any case): `indicator` (or
/// `value`) is required; `type`, `severity`, `confidence`, `source`, `description`,
/// `valid_from`, `valid_until`, `tlp`, `tags` are optional; other columns are
/// ignored with one warning. Lines starting with `#` and blank lines are skipped.
///
/// Feeds of millions of lines repeat a few metadata combinations and hold mostly
/// plain values: a combination is checked once (the details record is found by the
/// fields' bytes after that), and the common values are read from their bytes
/// (`PlainListParser.fastKind`), without a `String` per field.
enum CSVRuleParser {
    enum Column: Int, CaseIterable {
        case indicator, type, severity, confidence, source, description, validFrom, validUntil, tlp, tags

        /// The column's name in a header (lower case).
        var name: String {
            switch self {
            case .validFrom: "valid_from"
            case .validUntil: "valid_until"
            default: "\(self)"
            }
        }

        init?(name: String) {
            guard let column = Column.allCases.first(where: { $0.name == name }) else { return nil }
            self = column
        }
    }

    /// The columns a row's details record is made of.
    static let metadataColumns: [Column] = [.severity, .confidence, .source, .description, .validFrom, .validUntil, .tlp, .tags]

    static func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        /// Per `Column` (by its position in `allCases`), its position in the records.
        var columns: [Int?]? = nil
        var fileResult = ParsedFile()
        var expectedByType: [String: Expected] = [:]
        /// Details records by the bytes of the metadata fields that made them (each
        /// field followed by a NUL, which a field never holds).
        var detailsByFields: [[UInt8]: UInt32] = [:]
        var fieldsKey: [UInt8] = []
        CSVReader.records(bytes, path: path, into: &fileResult) { line, record in
            if CSVReader.isBlankOrComment(record) { return }
            guard let header = columns else {
                var positions = [Int?](repeating: nil, count: Column.allCases.count)
                var unknown: [String] = []
                for (position, field) in record.enumerated() {
                    var name = field.text.trimmingASCIISpaces.lowercased()
                    if name == "value" { name = "indicator" }
                    if let column = Column(name: name) {
                        positions[column.rawValue] = position
                    } else {
                        unknown.append(field.text)
                    }
                }
                if !unknown.isEmpty {
                    result.warning(path, line, 0, "columns not used by Cairn, ignored: \(unknown.map(ValueSyntax.quoted).joined(separator: ", "))")
                }
                columns = positions
                return
            }
            guard let indicatorColumn = header[Column.indicator.rawValue] else { return }
            func field(_ column: Column) -> (bytes: ArraySlice<UInt8>, column: Int)? {
                header[column.rawValue].flatMap { record.trimmed($0) }
            }
            /// The field as text, with the column where the field starts (for messages).
            func fieldText(_ column: Column) -> CSVField? {
                guard let position = header[column.rawValue], let trimmed = record.trimmed(position) else { return nil }
                return CSVField(text: String(decoding: trimmed.bytes, as: UTF8.self), column: record.column(position))
            }
            guard let value = field(.indicator) else {
                let column = indicatorColumn < record.count ? record.column(indicatorColumn) : 1
                result.error(path, line, column, "the indicator column is empty")
                return
            }
            var expected = Expected.inferred
            if let type = fieldText(.type) {
                if let known = expectedByType[type.text] {
                    expected = known
                } else if let declared = expectedType(type.text) {
                    expectedByType[type.text] = declared
                    expected = declared
                } else {
                    result.error(path, line, type.column,
                                 "type \(ValueSyntax.quoted(type.text)) is not one of ipv4, ipv6, cidr, ip, domain, md5, sha1, sha256, hash, url, email, ja3, ja4")
                    return
                }
            }
            fieldsKey.removeAll(keepingCapacity: true)
            for column in metadataColumns {
                if let field = field(column) { fieldsKey.append(contentsOf: field.bytes) }
                fieldsKey.append(0)
            }
            let knownDetails = detailsByFields[fieldsKey]
            var newDetails = IndicatorDetails(ruleFile: path)
            if knownDetails == nil {
                // A combination not seen yet: its fields checked, with errors at the row.
                newDetails.source = fieldText(.source)?.text
                newDetails.description = fieldText(.description)?.text
                newDetails.tags = fieldText(.tags).map { Metadata.tags($0.text) } ?? []
                do throws(FieldProblem) {
                    if let f = fieldText(.severity) { newDetails.severity = try check(Metadata.severity(f.text), f) }
                    if let f = fieldText(.confidence) { newDetails.confidence = try check(Metadata.confidence(f.text), f) }
                    if let f = fieldText(.tlp) { newDetails.tlp = try check(Metadata.tlp(f.text), f) }
                    if let f = fieldText(.validFrom) {
                        newDetails.validFrom = try check(Metadata.timestamp(f.text, field: "valid_from"), f)
                    }
                    if let f = fieldText(.validUntil) {
                        newDetails.validUntil = try check(Metadata.timestamp(f.text, field: "valid_until"), f)
                    }
                } catch {
                    result.error(path, line, error.column, error.message)
                    return
                }
                if let from = newDetails.validFrom, let until = newDetails.validUntil, until <= from {
                    result.error(path, line, fieldText(.validUntil)?.column ?? 0, "valid_until is not after valid_from")
                    return
                }
            }
            /// The row's details record, added the first time its combination yields an indicator.
            func details() -> UInt32 {
                if let knownDetails { return knownDetails }
                let id = result.detailsID(for: newDetails)
                detailsByFields[fieldsKey] = id
                return id
            }
            if let kind = PlainListParser.fastKind(value.bytes, suffixes: suffixes), kind.satisfies(expected) {
                PlainListParser.append(kind, of: value.bytes, line: line, details: details(), to: &result.indicators)
                return
            }
            let classified = ValueSyntax.classify(Substring(decoding: value.bytes, as: UTF8.self), as: expected, suffixes: suffixes)
            let id: UInt32 = if case .indicator = classified { details() } else { 0 }
            result.add(classified, details: id, ruleFile: path, line: line, column: value.column)
        }
        if columns == nil {
            result.error(path, 0, 0, "CSV file without a header line")
        } else if let columns, columns[Column.indicator.rawValue] == nil {
            result.error(path, 1, 0, "the CSV header has no indicator (or value) column")
        }
        result.errors = fileResult.errors + result.errors
        result.errors.sort { ($0.line, $0.column) < ($1.line, $1.column) }
        return result
    }

    struct FieldProblem: Error {
        var message: String
        var column: Int
    }

    static func check<T>(_ result: Result<T, MetadataProblem>, _ field: CSVField) throws(FieldProblem) -> T {
        switch result {
        case .success(let value): return value
        case .failure(let problem): throw FieldProblem(message: problem.message, column: field.column)
        }
    }

    /// The CSV `type` column's words.
    static func expectedType(_ text: String) -> Expected? {
        switch text.lowercased() {
        case "ipv4", "ipv4-addr": .oneOf([.ipv4, .cidr], name: "an IPv4 address or range")
        case "ipv6", "ipv6-addr": .oneOf([.ipv6, .cidr], name: "an IPv6 address or range")
        case "cidr", "subnet", "ip-range": .oneOf([.cidr], name: "a CIDR range")
        case "ip", "ip-src", "ip-dst", "address": .oneOf([.ipv4, .ipv6, .cidr], name: "an IP address or range")
        case "domain", "hostname", "domain-name": .domain(exact: false)
        case "md5": .oneOf([.md5], name: "an MD5 hash")
        case "sha1", "sha-1": .oneOf([.sha1], name: "a SHA-1 hash")
        case "sha256", "sha-256": .oneOf([.sha256], name: "a SHA-256 hash")
        case "hash", "file_hash": .oneOf([.md5, .sha1, .sha256], name: "an MD5, SHA-1 or SHA-256 hash")
        case "url", "uri": .url
        case "email", "email-addr", "email-src", "email-dst": .email
        case "ja3", "ja3-fingerprint-md5": .ja3
        case "ja4", "ja4-fingerprint": .ja4
        default: nil
        }
    }
}

/// Maltrail's `trails.csv`: `value,info,reference` without a header (the trail, what
/// it is, where it came from). The value is read as a plain-list line (maltrail's
/// conventions apply); `info` becomes the description, `reference` the source.
enum MaltrailCSVParser {
    static func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        var quoting = ParsedFile()
        CSVReader.records(bytes, path: path, into: &quoting) { line, fields in
            if CSVReader.isBlankOrComment(fields) { return }
            guard let value = fields.trimmed(0) else {
                result.error(path, line, 1, "the trail (first field) is empty")
                return
            }
            var template = Indicator(type: .domain, value: "", ruleFile: path, line: line)
            if fields.count > 1 { template.description = nonEmpty(fields[1].text) }
            if fields.count > 2 { template.source = nonEmpty(fields[2].text) }
            let classified = ValueSyntax.classify(Substring(decoding: value.bytes, as: UTF8.self), as: .inferred, suffixes: suffixes)
            result.add(classified, template: template, column: value.column)
        }
        result.errors = (quoting.errors + result.errors).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        return result
    }

    static func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimmingASCIISpaces
        return trimmed.isEmpty ? nil : trimmed
    }
}
