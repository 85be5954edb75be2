import Foundation
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
    /// MISP's CSV export (`uuid,event_id,category,type,value,comment,to_ids,…`).
    case mispCSV = "MISP CSV"
    /// A MISP event (feed JSON, `{"Event": {"Attribute": […]}}`).
    case mispEvent = "MISP event"
    /// A MISP warning list (JSON with `name`, `type`, `list`): an allow list.
    case mispWarningList = "MISP warning list"
    /// abuse.ch SSLBL's JA3 fingerprint CSV (`# ja3_md5,Firstseen,Lastseen,Listingreason`).
    case sslblJA3 = "abuse.ch SSLBL JA3 CSV"
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
            if trimmed.lowercased().hasPrefix(SSLBLJA3Parser.headerPrefix) {
                format = .sslblJA3
                decided = true
                return
            }
            if trimmed.hasPrefix("#") { return }
            decided = true
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: " \t\"").lowercased() }
            if MISPCSVParser.isHeader(fields) {
                format = .mispCSV
            } else if fields.count >= 2, fields.contains("indicator") || fields.contains("value") {
                format = .csv
            } else if fields.count >= 3, !(fields.first ?? "").contains(" ") {
                format = .maltrailCSV
            }
        }
        return format
    }

    /// Reads a file of this format. JSON (detected as `.stixBundle`) is decoded once and
    /// read as a STIX bundle, a MISP event or a MISP warning list by its content; the
    /// format found is in `ParsedFile.format`.
    func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        parse(bytes, path: path, suffixes: suffixes, linesBefore: 0)
    }

    /// `parse` of a segment of whole lines after `linesBefore` lines (plain lists only;
    /// the other formats are always read whole).
    func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList, linesBefore: Int) -> ParsedFile {
        switch self {
        case .stixBundle, .mispEvent, .mispWarningList:
            return RuleFormat.parseJSON(bytes, path: path, suffixes: suffixes)
        case .mispCSV: return MISPCSVParser.parse(bytes, path: path, suffixes: suffixes)
        case .sslblJA3: return SSLBLJA3Parser.parse(bytes, path: path)
        case .plainList: return PlainListParser.parse(file: bytes, path: path, suffixes: suffixes, linesBefore: linesBefore)
        case .csv: return CSVRuleParser.parse(bytes, path: path, suffixes: suffixes)
        case .maltrailCSV: return MaltrailCSVParser.parse(bytes, path: path, suffixes: suffixes)
        case .zeekIntel: return ZeekIntelParser.parse(bytes, path: path, suffixes: suffixes)
        case .unrecognised:
            var result = ParsedFile()
            let nul = bytes.firstIndex(of: 0) ?? 0
            result.error(path, 0, 0,
                         "binary file (a NUL byte at offset \(nul)); expected a text rule file (plain list, CSV, Zeek intel or STIX 2.1 JSON)")
            return result
        }
    }
}

extension RuleFormat {
    static let notAnyJSONRuleFile =
        "JSON file that is neither a STIX 2.1 bundle, a MISP event nor a MISP warning list"

    static func parseJSON(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            var result = ParsedFile()
            result.error(path, 0, 0, "not valid JSON: \(STIXBundleParser.reason(error))")
            result.format = .stixBundle
            return result
        }
        var result: ParsedFile
        if MISPWarningListParser.isWarningList(json) {
            result = MISPWarningListParser.parse(json, bytes: bytes, path: path, suffixes: suffixes)
            result.format = .mispWarningList
        } else if MISPEventParser.events(json) != nil {
            result = MISPEventParser.parse(json, bytes: bytes, path: path, suffixes: suffixes)
            result.format = .mispEvent
        } else if let bundle = json as? [String: Any], bundle["type"] as? String == "bundle" {
            result = STIXBundleParser.parse(json, bytes: bytes, path: path, suffixes: suffixes)
            result.format = .stixBundle
        } else {
            result = ParsedFile()
            result.error(path, 0, 0, notAnyJSONRuleFile)
            result.format = .unrecognised
        }
        return result
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
