import Observations
/// The format of a rule file, detected from its content (never its name).
public enum RuleFormat: String, Sendable, Hashable, CaseIterable {
    /// One indicator per line (see docs/rules.md).
    case plainList = "plain list"
    /// CSV whose header names the columns (`indicator`, `type`, `severity`, …).
    case csv = "CSV"
    /// Maltrail's `trails.csv`: `value,info,reference`, no header.
    case maltrailCSV = "maltrail trails CSV"
    /// Zeek intel (`#fields indicator indicator_type …`).
    case zeekIntel = "Zeek intel"
    /// A STIX 2.1 bundle (JSON).
    case stixBundle = "STIX 2.1 bundle"
    /// Not a rule file: binary, or JSON that is not a STIX bundle. One error for the file.
    case unrecognised = "not a rule file"

    /// How many leading bytes are looked at for a NUL byte (binary files).
    static let binaryProbeLength = 8192

    /// Detects the format from the content: JSON by its first byte (`{` or `[`), a NUL
    /// in the first 8 KiB as binary, Zeek by a `#fields` (or `#separator`) line among
    /// the leading comments, CSV by a header whose fields include `indicator` (or
    /// `value`), maltrail's CSV by a first line of three or more comma-separated fields
    /// whose first has no spaces; anything else is a plain list.
    static func detect(_ bytes: [UInt8]) -> RuleFormat {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        if bytes[start..<min(bytes.count, start + binaryProbeLength)].contains(0) { return .unrecognised }
        var firstByte = start
        while firstByte < bytes.count, ValueSyntax.isSpace(bytes[firstByte]) { firstByte += 1 }
        if firstByte < bytes.count, bytes[firstByte] == UInt8(ascii: "{") || bytes[firstByte] == UInt8(ascii: "[") {
            return .stixBundle
        }
        var format = RuleFormat.plainList
        var decided = false
        PlainListParser.forEachLine(Array(bytes[start..<min(bytes.count, start + 65536)])) { _, raw in
            guard !decided else { return }
            let line = String(decoding: raw, as: UTF8.self)
            let trimmed = line.trimmingASCIISpaces
            if trimmed.isEmpty { return }
            if line.hasPrefix("#fields") || line.hasPrefix("#separator") {
                format = .zeekIntel
                decided = true
                return
            }
            if trimmed.hasPrefix("#") { return }
            decided = true
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: " \t\"").lowercased() }
            if fields.count >= 2, fields.contains("indicator") || fields.contains("value") {
                format = .csv
            } else if fields.count >= 3, !(fields.first ?? "").contains(" ") {
                format = .maltrailCSV
            }
        }
        return format
    }

    /// Reads a file of this format.
    func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        switch self {
        case .plainList: return PlainListParser.parse(file: bytes, path: path, suffixes: suffixes)
        case .csv: return CSVRuleParser.parse(bytes, path: path, suffixes: suffixes)
        case .maltrailCSV: return MaltrailCSVParser.parse(bytes, path: path, suffixes: suffixes)
        case .zeekIntel: return ZeekIntelParser.parse(bytes, path: path, suffixes: suffixes)
        case .stixBundle: return STIXBundleParser.parse(bytes, path: path, suffixes: suffixes)
        case .unrecognised:
            var result = ParsedFile()
            let nul = bytes.firstIndex(of: 0) ?? 0
            result.error(path, 0, 0,
                         "binary file (a NUL byte at offset \(nul)); expected a text rule file (plain list, CSV, Zeek intel or STIX 2.1 JSON)")
            return result
        }
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return text
    }
}
