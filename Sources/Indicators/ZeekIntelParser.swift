import Observations
/// Zeek intel files (the Intel framework's input format): `#fields` names the
/// tab-separated columns; `indicator` and `indicator_type` are required, `meta.source`
/// and `meta.desc` become the source and description. `-` is an unset field.
///
/// Types: `Intel::ADDR` (an address), `Intel::SUBNET` (a CIDR range),
/// `Intel::DOMAIN` (that name only, as Zeek matches it), `Intel::URL` (without
/// scheme, as Zeek writes it; any scheme matches), `Intel::EMAIL`,
/// `Intel::FILE_HASH` (MD5, SHA-1 or SHA-256). Zeek's other types (`Intel::SOFTWARE`,
/// `Intel::USER_NAME`, `Intel::CERT_HASH`, `Intel::PUBKEY_HASH`, `Intel::FILE_NAME`)
/// are skipped with a warning.
enum ZeekIntelParser {
    static let unsupported = ["Intel::SOFTWARE", "Intel::USER_NAME", "Intel::CERT_HASH", "Intel::PUBKEY_HASH",
                              "Intel::FILE_NAME", "Intel::JA3"]

    static func expected(_ type: String) -> Expected? {
        switch type {
        case "Intel::ADDR": .oneOf([.ipv4, .ipv6], name: "an IP address")
        case "Intel::SUBNET": .oneOf([.cidr], name: "a CIDR range")
        case "Intel::DOMAIN": .domain(exact: true)
        case "Intel::URL": .url
        case "Intel::EMAIL": .email
        case "Intel::FILE_HASH": .oneOf([.md5, .sha1, .sha256], name: "an MD5, SHA-1 or SHA-256 hash")
        default: nil
        }
    }

    static func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        var separator: UInt8 = 0x09
        var columns: [String: Int]? = nil
        PlainListParser.forEachLine(bytes) { number, raw in
            let text: String
            switch PlainListParser.text(of: raw) {
            case .success(let valid): text = valid
            case .failure(let problem):
                result.error(path, number, problem.column, problem.message)
                return
            }
            if text.hasPrefix("#separator") {
                // `#separator \x09`: the byte, written as \xHH.
                let word = text.dropFirst("#separator".count).trimmingCharacters()
                if word.hasPrefix("\\x"), let byte = UInt8(word.dropFirst(2), radix: 16) { separator = byte }
                return
            }
            if text.hasPrefix("#fields") {
                var names: [String: Int] = [:]
                let parts = text.utf8.split(separator: separator, omittingEmptySubsequences: false).dropFirst()
                for (position, part) in parts.enumerated() { names[String(decoding: part, as: UTF8.self)] = position }
                if names["indicator"] == nil || names["indicator_type"] == nil {
                    result.error(path, number, 1, "the #fields line must name indicator and indicator_type")
                }
                columns = names
                return
            }
            if text.hasPrefix("#") || text.allSatisfy(\.isWhitespace) { return }
            guard let header = columns, let indicatorColumn = header["indicator"],
                  let typeColumn = header["indicator_type"]
            else {
                result.error(path, number, 1, "a data line before the #fields line")
                return
            }
            var fields: [(text: String, column: Int)] = []
            var column = 1
            for part in text.utf8.split(separator: separator, omittingEmptySubsequences: false) {
                fields.append((String(decoding: part, as: UTF8.self), column))
                column += part.count + 1
            }
            func field(_ name: String) -> String? {
                guard let position = header[name], position < fields.count else { return nil }
                let value = fields[position].text
                return value == "-" || value == "(empty)" || value.isEmpty ? nil : value
            }
            guard indicatorColumn < fields.count, typeColumn < fields.count else {
                result.error(path, number, column, "the line has \(fields.count) fields; #fields names \(header.count)")
                return
            }
            let type = fields[typeColumn].text
            guard let expected = expected(type) else {
                if unsupported.contains(type) {
                    result.warning(path, number, fields[typeColumn].column, "\(type) indicators are not supported; skipped")
                } else {
                    result.error(path, number, fields[typeColumn].column,
                                 "\(ValueSyntax.quoted(type)) is not a Zeek intel type (expected Intel::ADDR, Intel::SUBNET, "
                                     + "Intel::DOMAIN, Intel::URL, Intel::EMAIL or Intel::FILE_HASH)")
                }
                return
            }
            let value = fields[indicatorColumn].text
            guard !value.isEmpty, value != "-" else {
                result.error(path, number, fields[indicatorColumn].column, "the indicator field is empty")
                return
            }
            var template = Indicator(type: .domain, value: "", ruleFile: path, line: number)
            template.source = field("meta.source")
            template.description = field("meta.desc")
            result.add(ValueSyntax.classify(Substring(value), as: expected, suffixes: suffixes),
                       template: template, column: fields[indicatorColumn].column)
        }
        return result
    }
}

extension Substring {
    func trimmingCharacters() -> Substring { PlainListParser.trimmed(self) }
}
