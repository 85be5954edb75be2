import Observations
/// One field of a CSV record, with the 1-based column (UTF-8 bytes) where it starts.
struct CSVField {
    var text: String
    var column: Int
}

/// RFC 4180 records: fields separated by `,`, quoted with `"` (a doubled `""` inside
/// quotes is one quote; quoted fields may span lines), records ended by LF or CRLF.
/// Broken quoting is an error with the line and column where it is; the record is
/// dropped and reading goes on at the next line.
enum CSVReader {
    static func records(_ bytes: [UInt8], path: String, into result: inout ParsedFile,
                        _ body: (Int, [CSVField]) -> Void) {
        var index = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        var line = 1
        var lineStart = index
        while index < bytes.count {
            let recordLine = line
            var fields: [CSVField] = []
            var field: [UInt8] = []
            var fieldColumn = index - lineStart + 1
            var broken = false
            // A field with a NUL byte or invalid UTF-8: reported, the record dropped.
            var notText = false
            var recordEnded = false
            while index < bytes.count, !recordEnded {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") && field.isEmpty {
                    // A quoted field.
                    let openLine = line, openColumn = index - lineStart + 1
                    index += 1
                    var closed = false
                    while index < bytes.count {
                        let inner = bytes[index]
                        if inner == UInt8(ascii: "\"") {
                            if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                                field.append(inner)
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
                        field.append(inner)
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
                    let text = text(of: field, line: recordLine, column: fieldColumn, path: path, into: &result)
                    if text == nil { notText = true }
                    fields.append(CSVField(text: text ?? "", column: fieldColumn))
                    field = []
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
                    field.append(byte)
                    index += 1
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
            guard let text = text(of: field, line: recordLine, column: fieldColumn, path: path, into: &result),
                  !notText
            else { continue }
            fields.append(CSVField(text: text, column: fieldColumn))
            body(recordLine, fields)
        }
    }

    /// A field's text when its bytes are text (no NUL, valid UTF-8); if not, nil and
    /// the error at the field (`column` is where it starts on `line`).
    static func text(of field: [UInt8], line: Int, column: Int, path: String, into result: inout ParsedFile) -> String? {
        if let nul = field.firstIndex(of: 0) {
            result.error(path, line, column + nul, "field contains a NUL byte (expected text; is this a binary file?)")
            return nil
        }
        guard let text = String(validating: field, as: UTF8.self) else {
            result.error(path, line, column, "field is not valid UTF-8 (expected UTF-8 or ASCII text)")
            return nil
        }
        return text
    }

    /// Whether a record holds nothing (a blank line) or is a `#` comment.
    static func isBlankOrComment(_ fields: [CSVField]) -> Bool {
        if fields.count == 1 {
            let text = fields[0].text.trimmingASCIISpaces
            return text.isEmpty || text.hasPrefix("#")
        }
        return fields.first?.text.hasPrefix("#") ?? false
    }
}

/// CSV with a header line naming its columns (any order, any case): `indicator` (or
/// `value`) is required; `type`, `severity`, `confidence`, `source`, `description`,
/// `valid_from`, `valid_until`, `tlp`, `tags` are optional; other columns are
/// ignored with one warning. Lines starting with `#` and blank lines are skipped.
enum CSVRuleParser {
    static let known = ["indicator", "type", "severity", "confidence", "source", "description",
                        "valid_from", "valid_until", "tlp", "tags"]

    static func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        var columns: [String: Int]? = nil
        var fileResult = ParsedFile()
        CSVReader.records(bytes, path: path, into: &fileResult) { line, fields in
            if CSVReader.isBlankOrComment(fields) { return }
            guard let header = columns else {
                var names: [String: Int] = [:]
                var unknown: [String] = []
                for (position, field) in fields.enumerated() {
                    var name = field.text.trimmingASCIISpaces.lowercased()
                    if name == "value" { name = "indicator" }
                    if known.contains(name) { names[name] = position } else { unknown.append(field.text) }
                }
                if !unknown.isEmpty {
                    result.warning(path, line, 0, "columns not used by Cairn, ignored: \(unknown.map(ValueSyntax.quoted).joined(separator: ", "))")
                }
                columns = names
                return
            }
            guard let indicatorColumn = header["indicator"] else { return }
            func field(_ name: String) -> CSVField? {
                guard let position = header[name], position < fields.count else { return nil }
                let text = fields[position].text.trimmingASCIISpaces
                return text.isEmpty ? nil : CSVField(text: text, column: fields[position].column)
            }
            guard let value = field("indicator") else {
                let column = indicatorColumn < fields.count ? fields[indicatorColumn].column : 1
                result.error(path, line, column, "the indicator column is empty")
                return
            }
            var template = Indicator(type: .domain, value: "", ruleFile: path, line: line)
            var expected = Expected.inferred
            if let type = field("type") {
                guard let declared = expectedType(type.text) else {
                    result.error(path, line, type.column,
                                 "type \(ValueSyntax.quoted(type.text)) is not one of ipv4, ipv6, cidr, ip, domain, md5, sha1, sha256, hash, url, email, ja3, ja4")
                    return
                }
                expected = declared
            }
            template.source = field("source")?.text
            template.description = field("description")?.text
            template.tags = field("tags").map { Metadata.tags($0.text) } ?? []
            do throws(FieldProblem) {
                if let f = field("severity") { template.severity = try check(Metadata.severity(f.text), f) }
                if let f = field("confidence") { template.confidence = try check(Metadata.confidence(f.text), f) }
                if let f = field("tlp") { template.tlp = try check(Metadata.tlp(f.text), f) }
                if let f = field("valid_from") { template.validFrom = try check(Metadata.timestamp(f.text, field: "valid_from"), f) }
                if let f = field("valid_until") { template.validUntil = try check(Metadata.timestamp(f.text, field: "valid_until"), f) }
            } catch {
                result.error(path, line, error.column, error.message)
                return
            }
            if let from = template.validFrom, let until = template.validUntil, until <= from {
                result.error(path, line, field("valid_until")?.column ?? 0, "valid_until is not after valid_from")
                return
            }
            result.add(ValueSyntax.classify(Substring(value.text), as: expected, suffixes: suffixes),
                       template: template, column: value.column + leadingSpaces(fields[indicatorColumn].text))
        }
        if columns == nil {
            result.error(path, 0, 0, "CSV file without a header line")
        } else if columns?["indicator"] == nil {
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

    static func leadingSpaces(_ text: String) -> Int {
        text.utf8.prefix(while: ValueSyntax.isSpace).count
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
            let value = PlainListParser.trimmed(Substring(fields[0].text))
            guard !value.isEmpty else {
                result.error(path, line, 1, "the trail (first field) is empty")
                return
            }
            var template = Indicator(type: .domain, value: "", ruleFile: path, line: line)
            if fields.count > 1 { template.description = nonEmpty(fields[1].text) }
            if fields.count > 2 { template.source = nonEmpty(fields[2].text) }
            let column = fields[0].column + CSVRuleParser.leadingSpaces(fields[0].text)
            result.add(ValueSyntax.classify(value, as: .inferred, suffixes: suffixes), template: template, column: column)
        }
        result.errors = (quoting.errors + result.errors).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        return result
    }

    static func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimmingASCIISpaces
        return trimmed.isEmpty ? nil : trimmed
    }
}
