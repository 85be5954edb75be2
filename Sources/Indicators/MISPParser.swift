import Foundation
import Observations

/// MISP attribute types and what Cairn reads them as; shared by the CSV export and the
/// feed (event JSON) formats.
enum MISPAttribute {
    /// What a MISP type yields: the part of a composite value (`filename|md5`,
    /// `domain|ip`) to read and how.
    enum Reading {
        /// Read the whole value (or part `part` of a `|` composite) as `expected`.
        case value(Expected, part: Int?)
        /// `domain|ip`: both parts, the domain and the address.
        case domainAndAddress
        /// A type with a port (`ip-dst|port`): skipped like plain-list `address:port`.
        case withPort
    }

    static let address = Expected.oneOf([.ipv4, .ipv6, .cidr], name: "an IP address or range")

    /// The reading for a MISP `type`, nil for types Cairn does not match (skipped with a count).
    static func reading(_ type: String) -> Reading? {
        switch type.lowercased() {
        case "ip-src", "ip-dst", "ip": .value(address, part: nil)
        case "ip-src|port", "ip-dst|port": .withPort
        case "domain": .value(.domain(exact: false), part: nil)
        // A MISP hostname is a full host name: that name only.
        case "hostname": .value(.domain(exact: true), part: nil)
        case "domain|ip": .domainAndAddress
        case "hostname|port": .withPort
        case "url", "uri": .value(.url, part: nil)
        case "md5": .value(.oneOf([.md5], name: "an MD5 hash"), part: nil)
        case "sha1": .value(.oneOf([.sha1], name: "a SHA-1 hash"), part: nil)
        case "sha256": .value(.oneOf([.sha256], name: "a SHA-256 hash"), part: nil)
        case "filename|md5": .value(.oneOf([.md5], name: "an MD5 hash"), part: 1)
        case "filename|sha1": .value(.oneOf([.sha1], name: "a SHA-1 hash"), part: 1)
        case "filename|sha256": .value(.oneOf([.sha256], name: "a SHA-256 hash"), part: 1)
        case "email", "email-src", "email-dst", "target-email", "email-reply-to": .value(.email, part: nil)
        case "ja3-fingerprint-md5", "ja3": .value(.ja3, part: nil)
        case "ja4-fingerprint", "ja4": .value(.ja4, part: nil)
        default: nil
        }
    }

    /// Reads one attribute into `result`. `template` carries origin and metadata.
    static func add(type: String, value: String, template: Indicator, column: Int, suffixes: PublicSuffixList,
                    into result: inout ParsedFile, skippedTypes: inout [String: (count: Int, line: Int)])
    {
        guard let reading = reading(type) else {
            let key = type.isEmpty ? "(empty)" : type
            skippedTypes[key, default: (0, template.line)].count += 1
            return
        }
        let parts = value.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        switch reading {
        case .withPort:
            result.warning(template.ruleFile, template.line, column,
                           "\(ValueSyntax.quoted(value)): MISP \(type): \(ValueSyntax.portMessage)")
        case .domainAndAddress:
            guard parts.count == 2 else {
                result.error(template.ruleFile, template.line, column,
                             "\(ValueSyntax.quoted(value)): a domain|ip value needs both parts (expected example.com|192.0.2.1)")
                return
            }
            result.add(ValueSyntax.classify(PlainListParser.trimmed(parts[0]), as: .domain(exact: true), suffixes: suffixes),
                       template: template, column: column)
            result.add(ValueSyntax.classify(PlainListParser.trimmed(parts[1]), as: address, suffixes: suffixes),
                       template: template, column: column + parts[0].utf8.count + 1)
        case .value(let expected, let part):
            var text = Substring(value)
            var offset = 0
            if let part {
                guard parts.count == 2 else {
                    result.error(template.ruleFile, template.line, column,
                                 "\(ValueSyntax.quoted(value)): MISP \(type) needs two parts separated by \"|\"")
                    return
                }
                text = parts[part]
                offset = part == 1 ? parts[0].utf8.count + 1 : 0
            }
            let trimmed = PlainListParser.trimmed(text)
            guard !trimmed.isEmpty else {
                result.error(template.ruleFile, template.line, column, "the value is empty")
                return
            }
            result.add(ValueSyntax.classify(trimmed, as: expected, suffixes: suffixes), template: template,
                       column: column + offset)
        }
    }

    /// One warning per file for the types skipped, and one for `to_ids` = 0 attributes.
    static func summarise(path: String, skippedTypes: [String: (count: Int, line: Int)],
                          notForDetection: (count: Int, line: Int), into result: inout ParsedFile)
    {
        for (type, skipped) in skippedTypes.sorted(by: { $0.value.line < $1.value.line }) {
            result.warning(path, skipped.line, 0,
                           "\(skipped.count) MISP attribute\(skipped.count == 1 ? "" : "s") of type \(ValueSyntax.quoted(type)) "
                               + "skipped: Cairn does not match that type (first here)")
        }
        if notForDetection.count > 0 {
            result.warning(path, notForDetection.line, 0,
                           "\(notForDetection.count) MISP attribute\(notForDetection.count == 1 ? "" : "s") with to_ids=0 "
                               + "(information, not for detection) skipped (first here)")
        }
    }

    /// MISP tags that carry metadata: `tlp:amber` is the TLP; the rest are tags.
    static func apply(tags: [String], to template: inout Indicator) {
        for tag in tags {
            if tag.lowercased().hasPrefix("tlp:"), case .success(let tlp) = Metadata.tlp(tag) {
                template.tlp = strictestTLP(template.tlp, tlp)
            } else {
                template.tags.append(tag)
            }
        }
    }

    static func strictestTLP(_ a: String?, _ b: String?) -> String? {
        guard let a else { return b }
        guard let b else { return a }
        let order = Metadata.tlpLevels
        return (order.firstIndex(of: a) ?? 0) >= (order.firstIndex(of: b) ?? 0) ? a : b
    }
}

/// MISP's CSV export (`/events/csv/download`, `/attributes/restSearch` with
/// `returnFormat: csv`): a header naming `uuid,event_id,category,type,value,comment,
/// to_ids,date,object_relation,attribute_tag,…`. Recognised by a header with `type`,
/// `value` and `to_ids` (or `event_id` or `category`). Attributes with `to_ids` 0 are
/// information, not detection data: they are skipped and counted in one warning.
enum MISPCSVParser {
    /// Whether the lower-cased header fields are a MISP CSV export's.
    static func isHeader(_ fields: [String]) -> Bool {
        fields.contains("type") && fields.contains("value")
            && (fields.contains("to_ids") || fields.contains("event_id") || fields.contains("category"))
    }

    static func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        var quoting = ParsedFile()
        var columns: [String: Int]? = nil
        var skippedTypes: [String: (count: Int, line: Int)] = [:]
        var notForDetection = (count: 0, line: 0)
        CSVReader.records(bytes, path: path, into: &quoting) { line, fields in
            if CSVReader.isBlankOrComment(fields) { return }
            guard let header = columns else {
                var names: [String: Int] = [:]
                for (position, field) in fields.enumerated() {
                    names[field.text.trimmingASCIISpaces.lowercased()] = position
                }
                columns = names
                return
            }
            func field(_ name: String) -> CSVField? {
                guard let position = header[name], position < fields.count else { return nil }
                let text = fields[position].text.trimmingASCIISpaces
                return text.isEmpty ? nil : CSVField(text: text, column: fields[position].column)
            }
            guard let type = field("type"), let value = field("value") else {
                result.error(path, line, fields.first?.column ?? 1, "the type or value column is empty")
                return
            }
            if let toIDs = field("to_ids")?.text.lowercased(), toIDs == "0" || toIDs == "false" {
                if notForDetection.count == 0 { notForDetection.line = line }
                notForDetection.count += 1
                return
            }
            var template = Indicator(type: .domain, value: "", ruleFile: path, line: line)
            template.description = field("comment")?.text
            if let event = field("event_id")?.text { template.source = "MISP event \(event)" }
            if let tags = field("attribute_tag")?.text { MISPAttribute.apply(tags: Metadata.tags(tags), to: &template) }
            if let category = field("category")?.text { template.tags.append(category) }
            MISPAttribute.add(type: type.text, value: value.text, template: template, column: value.column,
                              suffixes: suffixes, into: &result, skippedTypes: &skippedTypes)
        }
        if columns == nil { result.error(path, 0, 0, "CSV file without a header line") }
        MISPAttribute.summarise(path: path, skippedTypes: skippedTypes, notForDetection: notForDetection, into: &result)
        result.errors = (quoting.errors + result.errors).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        return result
    }
}

/// A MISP feed event (`{"Event": {"info", "Tag", "Attribute": […], "Object": [{"Attribute": […]}]}}`,
/// the files of a MISP feed directory; also a `{"response": [{"Event": …}]}` search
/// result). Each attribute is read as in the CSV export; event tags (TLP) apply to all
/// attributes, attribute tags to their own.
enum MISPEventParser {
    static func events(_ json: Any) -> [[String: Any]]? {
        if let object = json as? [String: Any] {
            if let event = object["Event"] as? [String: Any] { return [event] }
            if let response = object["response"] as? [Any] {
                let events = response.compactMap { ($0 as? [String: Any])?["Event"] as? [String: Any] }
                return events.isEmpty ? nil : events
            }
        }
        return nil
    }

    static func parse(_ json: Any, bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        var result = ParsedFile()
        guard let events = events(json) else {
            result.error(path, 0, 0, "not a MISP event")
            return result
        }
        var skippedTypes: [String: (count: Int, line: Int)] = [:]
        var notForDetection = (count: 0, line: 0)
        var locator = TextLocator(bytes)
        for event in events {
            var eventTemplate = Indicator(type: .domain, value: "", ruleFile: path, line: 0)
            if let info = event["info"] as? String { eventTemplate.description = info }
            if let org = (event["Orgc"] as? [String: Any])?["name"] as? String {
                eventTemplate.source = org
            } else if let id = event["id"] as? String ?? (event["id"] as? Int).map(String.init) {
                eventTemplate.source = "MISP event \(id)"
            }
            MISPAttribute.apply(tags: tagNames(event["Tag"]), to: &eventTemplate)
            var attributes = (event["Attribute"] as? [Any]) ?? []
            for case let object as [String: Any] in (event["Object"] as? [Any]) ?? [] {
                attributes += (object["Attribute"] as? [Any]) ?? []
            }
            for case let attribute as [String: Any] in attributes {
                guard let type = attribute["type"] as? String, let value = attribute["value"] as? String else { continue }
                let (line, column) = attribute["uuid"] as? String != nil
                    ? locator.position(of: "\"\(attribute["uuid"] as? String ?? "")\"")
                    : (0, 0)
                var template = eventTemplate
                template.line = line
                let toIDs = attribute["to_ids"]
                if (toIDs as? Bool) == false || (toIDs as? String) == "0" || (toIDs as? Int) == 0 {
                    if notForDetection.count == 0 { notForDetection.line = line }
                    notForDetection.count += 1
                    continue
                }
                if let comment = attribute["comment"] as? String, !comment.isEmpty { template.description = comment }
                MISPAttribute.apply(tags: tagNames(attribute["Tag"]), to: &template)
                MISPAttribute.add(type: type, value: value, template: template, column: column, suffixes: suffixes,
                                  into: &result, skippedTypes: &skippedTypes)
            }
        }
        MISPAttribute.summarise(path: path, skippedTypes: skippedTypes, notForDetection: notForDetection, into: &result)
        return result
    }

    static func tagNames(_ tags: Any?) -> [String] {
        ((tags as? [Any]) ?? []).compactMap { ($0 as? [String: Any])?["name"] as? String }
    }
}

/// abuse.ch SSLBL's JA3 fingerprint list (`ja3_fingerprints.csv`): `#` comments, one
/// of them the header `# ja3_md5,Firstseen,Lastseen,Listingreason`, then
/// `fingerprint,first seen,last seen,reason` lines. The reason is the description;
/// the source is `abuse.ch SSLBL`.
enum SSLBLJA3Parser {
    static let headerPrefix = "# ja3_md5,"

    static func parse(_ bytes: [UInt8], path: String) -> ParsedFile {
        var result = ParsedFile()
        var quoting = ParsedFile()
        CSVReader.records(bytes, path: path, into: &quoting) { line, fields in
            if CSVReader.isBlankOrComment(fields) { return }
            let value = PlainListParser.trimmed(Substring(fields[0].text))
            var template = Indicator(type: .ja3, value: "", ruleFile: path, line: line)
            template.source = "abuse.ch SSLBL"
            if fields.count > 3 { template.description = MaltrailCSVParser.nonEmpty(fields[3].text) }
            result.add(ValueSyntax.classifyJA3(value), template: template, column: fields[0].column)
        }
        result.errors = (quoting.errors + result.errors).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        return result
    }
}
