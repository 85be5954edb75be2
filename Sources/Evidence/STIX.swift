import ByteParsing
import CaseStore
import Crypto
import Foundation
import Observations

/// `stix-bundle.json`: the incidents as a STIX 2.1 bundle.
///
/// - the CERT as an `identity` (creator of every object, where each sighting was made);
/// - one `indicator` per distinct indicator, with a STIX pattern;
/// - one `observed-data` per incident, indicator and observed value, referring to the
///   SCO seen (`ipv4-addr`, `ipv6-addr`, `domain-name`, `file` with its hash);
/// - one `sighting` per incident and indicator, referring to the indicator and to its
///   observed-data;
/// - the TLP marking definition, on every object but the identity and the SCOs.
///
/// Ids are deterministic: SCOs follow STIX 2.1 §2.9 (UUIDv5 in the STIX namespace of
/// their id-contributing properties); the others are derived the same way from their
/// identifying content in Cairn's namespace but shaped as UUIDv4 (`contentID`), so that
/// the same incident exported twice gives the same ids.
struct STIXBundle {
    let organisation: String
    let tlp: TLP
    let created: Timestamp
    let incidents: [(incident: IncidentRow, sightings: [SightingRow])]

    /// STIX 2.1 §2.9: the namespace of deterministic SCO ids.
    static let scoNamespace: [UInt8] = uuidBytes("00abedb4-aa42-466c-9c01-fed23315a9b7")
    /// Cairn's namespace for its other deterministic ids.
    static let cairnNamespace: [UInt8] = uuidBytes("5b0e3c1a-7f7e-4c6e-9a8e-2f4b1d0c9e11")

    /// The TLP 1.0 marking definitions predefined by STIX 2.1 §7.2.1.4 (TLP:CLEAR maps
    /// to WHITE; AMBER+STRICT is AMBER plus a statement saying so).
    static func predefinedMarking(_ tlp: TLP) -> (id: String, name: String, colour: String) {
        switch tlp {
        case .clear: ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE", "white")
        case .green: ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN", "green")
        case .amber, .amberStrict: ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER", "amber")
        case .red: ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED", "red")
        }
    }

    func encoded() throws -> [UInt8] {
        var objects: [JSONValue] = []
        var ids = Set<String>()
        func add(_ id: String, _ object: JSONValue) {
            if ids.insert(id).inserted { objects.append(object) }
        }
        let time = STIXBundle.timestamp(created)

        let marking = STIXBundle.predefinedMarking(tlp)
        add(marking.id, .object([
            ("type", "marking-definition"), ("spec_version", "2.1"), ("id", .string(marking.id)),
            ("created", "2017-01-20T00:00:00.000Z"), ("definition_type", "tlp"), ("name", .string(marking.name)),
            ("definition", .object([("tlp", .string(marking.colour))])),
        ]))
        var markingRefs: [JSONValue] = [.string(marking.id)]
        let identityID = STIXBundle.contentID("identity", "identity|organization|\(organisation)")
        if tlp == .amberStrict {
            let statementID = STIXBundle.contentID("marking-definition", "statement|TLP:AMBER+STRICT")
            add(statementID, .object([
                ("type", "marking-definition"), ("spec_version", "2.1"), ("id", .string(statementID)),
                ("created", .string(time)), ("created_by_ref", .string(identityID)), ("definition_type", "statement"),
                ("name", "TLP:AMBER+STRICT"),
                ("definition", .object([("statement", "TLP:AMBER+STRICT: limited disclosure, recipients' organisation only (FIRST TLP 2.0).")])),
            ]))
            markingRefs.append(.string(statementID))
        }
        add(identityID, .object([
            ("type", "identity"), ("spec_version", "2.1"), ("id", .string(identityID)), ("created", .string(time)),
            ("modified", .string(time)), ("name", .string(organisation)), ("identity_class", "organization"),
        ]))

        // Indicators: one per (type, value), listing every rule line that holds it.
        var rulesByIndicator: [String: Set<String>] = [:]
        var indicatorOrder: [(type: String, value: String)] = []
        for group in incidents {
            for sighting in group.sightings {
                let key = "\(sighting.indicatorType)|\(sighting.indicatorValue)"
                if rulesByIndicator[key] == nil { indicatorOrder.append((sighting.indicatorType, sighting.indicatorValue)) }
                rulesByIndicator[key, default: []].insert("\(sighting.ruleFile):\(sighting.ruleLine)")
            }
        }
        func indicatorID(_ type: String, _ value: String) -> String {
            STIXBundle.contentID("indicator", "indicator|\(type)|\(value)")
        }
        for (type, value) in indicatorOrder {
            let id = indicatorID(type, value)
            let rules = (rulesByIndicator["\(type)|\(value)"] ?? []).sorted()
            add(id, .object([
                ("type", "indicator"), ("spec_version", "2.1"), ("id", .string(id)), ("created", .string(time)),
                ("modified", .string(time)), ("created_by_ref", .string(identityID)),
                ("name", .string("\(type) \(value)")),
                ("description", .string("Cairn rule " + rules.joined(separator: ", "))),
                ("indicator_types", .array(["malicious-activity"])),
                ("pattern", .string(STIXBundle.pattern(type: type, value: value))), ("pattern_type", "stix"),
                ("valid_from", .string(time)), ("object_marking_refs", .array(markingRefs)),
            ]))
        }

        for group in incidents {
            // Sightings of one incident, by indicator, then by observed value.
            var byIndicator: [String: [String: [SightingRow]]] = [:]
            var order: [(type: String, value: String)] = []
            for sighting in group.sightings {
                let key = "\(sighting.indicatorType)|\(sighting.indicatorValue)"
                if byIndicator[key] == nil { order.append((sighting.indicatorType, sighting.indicatorValue)) }
                byIndicator[key, default: [:]][sighting.observed, default: []].append(sighting)
            }
            for (type, value) in order {
                let observations = byIndicator["\(type)|\(value)"] ?? [:]
                var observedRefs: [JSONValue] = []
                var first = Int64.max
                var last = Int64.min
                var count = 0
                for observed in observations.keys.sorted() {
                    let rows = observations[observed] ?? []
                    guard let sco = STIXBundle.sco(indicatorType: type, observed: observed) else { continue }
                    add(sco.id, sco.object)
                    let times = rows.map(\.time.nanoseconds)
                    let low = times.min() ?? created.nanoseconds
                    let high = times.max() ?? created.nanoseconds
                    first = min(first, low)
                    last = max(last, high)
                    count += rows.count
                    let observedID = STIXBundle.contentID("observed-data", "observed-data|\(group.incident.id)|\(type)|\(value)|\(observed)|\(low)|\(high)|\(rows.count)")
                    observedRefs.append(.string(observedID))
                    add(observedID, .object([
                        ("type", "observed-data"), ("spec_version", "2.1"), ("id", .string(observedID)),
                        ("created", .string(time)), ("modified", .string(time)), ("created_by_ref", .string(identityID)),
                        ("first_observed", .string(STIXBundle.timestamp(Timestamp(nanoseconds: low)))),
                        ("last_observed", .string(STIXBundle.timestamp(Timestamp(nanoseconds: high)))),
                        ("number_observed", .integer(Int64(min(rows.count, 999_999_999)))),
                        ("object_refs", .array([.string(sco.id)])), ("object_marking_refs", .array(markingRefs)),
                    ]))
                }
                guard !observedRefs.isEmpty else { continue }
                let sightingID = STIXBundle.contentID("sighting", "sighting|\(group.incident.id)|\(type)|\(value)|\(first)|\(last)|\(count)")
                add(sightingID, .object([
                    ("type", "sighting"), ("spec_version", "2.1"), ("id", .string(sightingID)), ("created", .string(time)),
                    ("modified", .string(time)), ("created_by_ref", .string(identityID)),
                    ("description", .string("Cairn incident \(group.incident.id): \(group.incident.title)")),
                    ("first_seen", .string(STIXBundle.timestamp(Timestamp(nanoseconds: first)))),
                    ("last_seen", .string(STIXBundle.timestamp(Timestamp(nanoseconds: last)))),
                    ("count", .integer(Int64(min(count, 999_999_999)))),
                    ("sighting_of_ref", .string(indicatorID(type, value))),
                    ("observed_data_refs", .array(observedRefs)), ("where_sighted_refs", .array([.string(identityID)])),
                    ("object_marking_refs", .array(markingRefs)),
                ]))
            }
        }
        let bundleID = STIXBundle.contentID("bundle", "bundle|" + ids.sorted().joined(separator: ","))
        let bundle = JSONValue.object([("type", "bundle"), ("id", .string(bundleID)), ("objects", .array(objects))])
        var out: [UInt8] = []
        bundle.write(into: &out, indent: 0)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// The STIX pattern matching an indicator as Cairn matches it (a domain and its
    /// subdomains; a network by CIDR).
    static func pattern(type: String, value: String) -> String {
        let quoted = "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        switch type {
        case "ipv4": return "[ipv4-addr:value = \(quoted)]"
        case "ipv6": return "[ipv6-addr:value = \(quoted)]"
        case "cidr": return value.contains(":") ? "[ipv6-addr:value = \(quoted)]" : "[ipv4-addr:value = \(quoted)]"
        case "domain":
            let like = "'%." + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
            return "[domain-name:value = \(quoted) OR domain-name:value LIKE \(like)]"
        case "md5": return "[file:hashes.MD5 = \(quoted)]"
        case "sha1": return "[file:hashes.'SHA-1' = \(quoted)]"
        case "sha256": return "[file:hashes.'SHA-256' = \(quoted)]"
        case "url": return "[url:value = \(quoted)]"
        case "email": return "[email-addr:value = \(quoted)]"
        default: return "[x-cairn-unknown:value = \(quoted)]"
        }
    }

    /// The SCO for an observed value, with its STIX 2.1 deterministic id.
    static func sco(indicatorType: String, observed: String) -> (id: String, object: JSONValue)? {
        func object(_ type: String, _ contributing: [(String, JSONValue)]) -> (String, JSONValue) {
            var canonical: [UInt8] = []
            JSONValue.object(contributing).write(into: &canonical, indent: nil)
            let id = "\(type)--" + uuid5(scoNamespace, canonical)
            return (id, .object([("type", .string(type)), ("spec_version", "2.1"), ("id", .string(id))] + contributing))
        }
        switch indicatorType {
        case "md5", "sha1", "sha256":
            let algorithm: String
            switch observed.utf8.count {
            case 32: algorithm = "MD5"
            case 40: algorithm = "SHA-1"
            case 64: algorithm = "SHA-256"
            default: return nil
            }
            return object("file", [("hashes", .object([(algorithm, .string(observed.lowercased()))]))])
        case "domain":
            return object("domain-name", [("value", .string(observed))])
        case "ipv4", "ipv6", "cidr":
            return object(observed.contains(":") ? "ipv6-addr" : "ipv4-addr", [("value", .string(observed))])
        case "url":
            return object("url", [("value", .string(observed))])
        case "email":
            return object("email-addr", [("value", .string(observed))])
        default:
            return nil
        }
    }

    /// RFC 3339 UTC with milliseconds, as STIX wants for `created`/`modified`.
    static func timestamp(_ time: Timestamp) -> String {
        var seconds = time.nanoseconds / 1_000_000_000
        var remainder = time.nanoseconds % 1_000_000_000
        if remainder < 0 {
            seconds -= 1
            remainder += 1_000_000_000
        }
        let whole = Timestamp(seconds: seconds).iso8601  // "YYYY-MM-DDTHH:MM:SSZ": no fraction
        let digits = String(remainder / 1_000_000)
        return String(whole.dropLast()) + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// The id of an SDO, SRO, marking or bundle: STIX 2.1 §2.9 wants UUIDv4 there (and
    /// `stix2-validator --strict` insists), so these are the name-based bits of a
    /// UUIDv5 in Cairn's namespace with the version nibble 4: shaped as v4 (whose 122
    /// bits are to be unpredictable, which a SHA-1 output is), yet deterministic.
    static func contentID(_ type: String, _ name: String) -> String {
        "\(type)--" + uuid5(cairnNamespace, Array(name.utf8), version: 4)
    }

    static func uuid5(_ namespace: [UInt8], _ name: String) -> String { uuid5(namespace, Array(name.utf8)) }

    /// RFC 9562 UUIDv5: SHA-1 of namespace and name, version and variant bits set
    /// (`version` 4 only for `contentID`).
    static func uuid5(_ namespace: [UInt8], _ name: [UInt8], version: UInt8 = 5) -> String {
        var bytes = Array(Insecure.SHA1.hash(data: namespace + name).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | (version << 4)
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let hex = Hex.string(bytes)
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }

    /// The 16 bytes of a UUID in its text form (a constant in this file, so well formed).
    static func uuidBytes(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8.filter { $0 != UInt8(ascii: "-") })
        func value(_ digit: UInt8) -> UInt8 {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: 0
            }
        }
        return stride(from: 0, to: digits.count - 1, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }
}

/// A JSON value whose objects keep keys in the order written out: sorted, here (RFC 8785
/// order for ASCII keys), so the text is the same on every platform.
indirect enum JSONValue: ExpressibleByStringLiteral, ExpressibleByArrayLiteral {
    case string(String)
    case integer(Int64)
    case array([JSONValue])
    case object([(String, JSONValue)])

    init(stringLiteral value: String) { self = .string(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }

    /// Writes the value; `indent` nil gives the compact canonical form, a number gives
    /// two-space pretty printing starting at that depth.
    func write(into out: inout [UInt8], indent: Int?) {
        func newline(_ depth: Int) {
            guard indent != nil else { return }
            out.append(UInt8(ascii: "\n"))
            out += [UInt8](repeating: UInt8(ascii: " "), count: depth * 2)
        }
        let depth = indent ?? 0
        switch self {
        case .string(let text): JSONValue.writeString(text, into: &out)
        case .integer(let number): out += Array(String(number).utf8)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                element.write(into: &out, indent: indent.map { _ in depth + 1 })
            }
            if !elements.isEmpty { newline(depth) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { Array($0.0.utf16).lexicographicallyPrecedes(Array($1.0.utf16)) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                JSONValue.writeString(member.0, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                member.1.write(into: &out, indent: indent.map { _ in depth + 1 })
            }
            if !members.isEmpty { newline(depth) }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0c: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0a: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0d: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
