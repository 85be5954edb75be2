import CaseStore
import Foundation
import Observations

/// Traffic Light Protocol level of a package (FIRST TLP 2.0), least strict first.
public enum TLP: String, Sendable, CaseIterable, Comparable {
    case clear = "TLP:CLEAR"
    case green = "TLP:GREEN"
    case amber = "TLP:AMBER"
    case amberStrict = "TLP:AMBER+STRICT"
    case red = "TLP:RED"

    /// Parses `clear`, `green`, `amber`, `amber+strict`, `red`, with or without the
    /// `TLP:` prefix, in any case.
    public init?(text: String) {
        let upper = text.uppercased()
        let name = upper.hasPrefix("TLP:") ? upper : "TLP:" + upper
        guard let level = TLP(rawValue: name) else { return nil }
        self = level
    }

    private var rank: Int { TLP.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: TLP, rhs: TLP) -> Bool { lhs.rank < rhs.rank }
}

/// `incident.json`: the incidents and their sightings with full provenance.
struct IncidentDocument: Encodable {
    var format = "cairn-evidence-incidents/1"
    var tlp: String
    var exportedAt: String
    var toolVersion: String
    var incidents: [IncidentEntry]

    enum CodingKeys: String, CodingKey {
        case format, tlp, incidents
        case exportedAt = "exported_at", toolVersion = "tool_version"
    }

    struct IncidentEntry: Encodable {
        var id: Int64
        var title: String
        var host: String
        var severity: String
        var firstSeen: String
        var lastSeen: String
        var confidence: Int
        /// The latest triage status, and every triage event, oldest first.
        var status: String
        var triage: [TriageEvent]
        /// What grouped the sightings and how severity and confidence were reached.
        var explanation: String
        var indicators: [String]
        var sightingCount: Int
        var sightings: [SightingEntry]

        enum CodingKeys: String, CodingKey {
            case id, title, host, severity, confidence, status, triage, explanation, indicators, sightings
            case firstSeen = "first_seen", lastSeen = "last_seen", sightingCount = "sighting_count"
        }
    }

    struct SightingEntry: Encodable {
        var id: Int64
        var time: String
        var source: Source
        var locator: LocatorEntry
        var indicator: IndicatorEntry
        var observed: String
        var `where`: String
        var host: String
        /// Other indicator values the observation also matched (wider ranges, parents).
        var context: [String]
        /// For a sighting derived from a DNS answer (a DNS chain), that answer.
        var derivedFrom: Derivation?
        /// Present (true) only for a sighting on a line of a gzip member whose CRC-32 was
        /// never checked: reading stopped inside the member (damage, a truncation, the size limit).
        var unverified: Bool?
        /// The host name the log line gave, when a DHCP lease in the case resolved it to `host`.
        var hostName: String?

        enum CodingKeys: String, CodingKey {
            case id, time, source, locator, indicator, observed, `where`, host, context, unverified
            case derivedFrom = "derived_from", hostName = "host_name"
        }
    }

    struct Derivation: Encodable {
        var name: String
        var source: String
        var packet: UInt64
        var time: String
    }

    struct Source: Encodable {
        var path: String
        var sha256: String
    }

    struct LocatorEntry: Encodable {
        /// `packet` or `line`.
        var kind: String
        /// 1-based frame number as Wireshark numbers it.
        var packet: UInt64?
        /// 1-based line number.
        var line: UInt64?
        /// Offset of the line's first byte in the (decompressed) text.
        var byteOffset: UInt64?

        enum CodingKeys: String, CodingKey {
            case kind, packet, line
            case byteOffset = "byte_offset"
        }
    }

    struct IndicatorEntry: Encodable {
        var type: String
        var value: String
        var ruleFile: String
        var ruleLine: Int
        var rule: String

        enum CodingKeys: String, CodingKey {
            case type, value, rule
            case ruleFile = "rule_file", ruleLine = "rule_line"
        }
    }

    static func sighting(_ row: SightingRow) -> SightingEntry {
        let locator: LocatorEntry
        switch row.locator {
        case .packet(let number): locator = LocatorEntry(kind: "packet", packet: number)
        case .line(let number, let offset): locator = LocatorEntry(kind: "line", line: number, byteOffset: offset)
        }
        return SightingEntry(
            id: row.id, time: row.time.iso8601, source: Source(path: row.sourcePath, sha256: row.sourceSHA256),
            locator: locator,
            indicator: IndicatorEntry(
                type: row.indicatorType, value: row.indicatorValue, ruleFile: row.ruleFile, ruleLine: row.ruleLine,
                rule: "\(row.ruleFile):\(row.ruleLine)"),
            observed: row.observed, where: row.field, host: row.host, context: row.context,
            derivedFrom: row.derivedFrom.map {
                Derivation(name: $0.name, source: $0.sourcePath, packet: $0.packet, time: $0.time.iso8601)
            },
            unverified: row.unverified ? true : nil, hostName: row.hostName)
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }
}

/// `sightings.csv`: one row per sighting (RFC 4180: CRLF line ends, fields quoted when
/// they hold a comma, a double quote, CR or LF; quotes doubled).
enum SightingsCSV {
    static let columns = [
        "incident_id", "sighting_id", "time", "source_path", "source_sha256", "locator_kind", "locator", "byte_offset",
        "indicator_type", "indicator", "rule", "observed", "where", "host", "unverified", "host_name",
    ]

    /// Written byte by byte into one buffer: an incident may have 100,000 sightings.
    static func render(_ rows: [(incident: Int64, sighting: SightingRow)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + rows.count * 256)
        line(columns, into: &out)
        var fields: [String] = []
        fields.reserveCapacity(columns.count)
        for (incident, row) in rows {
            let kind: String
            let number: UInt64
            let offset: String
            switch row.locator {
            case .packet(let packet): (kind, number, offset) = ("packet", packet, "")
            case .line(let line, let byteOffset): (kind, number, offset) = ("line", line, String(byteOffset))
            }
            fields.removeAll(keepingCapacity: true)
            fields += [
                String(incident), String(row.id), row.time.iso8601, row.sourcePath, row.sourceSHA256, kind, String(number),
                offset, row.indicatorType, row.indicatorValue, "\(row.ruleFile):\(row.ruleLine)", row.observed, row.field,
                row.host, row.unverified ? "1" : "", row.hostName ?? "",
            ]
            line(fields, into: &out)
        }
        return out
    }

    static func line(_ fields: [String], into out: inout [UInt8]) {
        for (index, value) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            field(value, into: &out)
        }
        out += [UInt8(ascii: "\r"), UInt8(ascii: "\n")]
    }

    static func field(_ value: String, into out: inout [UInt8]) {
        let utf8 = value.utf8
        let needsQuotes = utf8.contains { (byte: UInt8) -> Bool in
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: "\""), 0x0d, 0x0a: true
            default: false
            }
        }
        guard needsQuotes else {
            out += utf8
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in utf8 {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// One field as RFC 4180 writes it.
    static func field(_ value: String) -> String {
        var out: [UInt8] = []
        field(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
