import Foundation
import Observations

// The JSON forms of a case's rows: what `cairn incidents|show|sightings|sources --format
// json` print and what `cairn serve` answers under /api/, so both give the same fields.
// Keys are snake_case; they are only ever added to (scripts read them).

public struct IncidentJSON: Encodable, Sendable {
    var id: Int64
    var firstSeen: String
    var lastSeen: String
    var host: String
    var severity: String
    var confidence: Int
    var status: String
    var assignee: String?
    var indicators: [String]
    var sightings: Int
    var title: String
    var explanation: String
    var mergedInto: Int64?

    public init(_ row: IncidentRow) {
        id = row.id
        firstSeen = row.firstSeen.iso8601
        lastSeen = row.lastSeen.iso8601
        host = row.host
        severity = row.severity
        confidence = row.confidence
        status = row.status.rawValue
        assignee = row.assignee
        indicators = row.indicators
        sightings = row.sightingCount
        title = row.title
        explanation = row.explanation
        mergedInto = row.mergedInto
    }

    enum CodingKeys: String, CodingKey {
        case id, host, severity, confidence, status, assignee, indicators, sightings, title, explanation
        case firstSeen = "first_seen", lastSeen = "last_seen", mergedInto = "merged_into"
    }
}

public struct ShowJSON: Encodable, Sendable {
    public var incident: IncidentJSON
    public var sightings: [SightingJSON]
    public var triage: [TriageEvent]

    public init(incident: IncidentJSON, sightings: [SightingJSON], triage: [TriageEvent]) {
        self.incident = incident
        self.sightings = sightings
        self.triage = triage
    }
}

public struct SightingJSON: Encodable, Sendable {
    var source: String
    var sourceSHA256: String
    var locator: String
    var packet: UInt64?
    var line: UInt64?
    var byteOffset: UInt64?
    var time: String
    var indicatorType: String
    var indicator: String
    var observed: String
    var `where`: String
    var rule: String
    var host: String
    var incident: Int64?
    var feed: String?
    var suppressedBy: String?
    var context: [String]
    var derivedFrom: String?
    var packets: UInt64
    var bytes: UInt64?
    var lastTime: String?
    /// Present (true) only for a sighting on a line whose gzip member was never checked.
    var unverified: Bool?
    /// The host name a log line gave, when a DHCP lease resolved it to `host`.
    var hostName: String?

    public init(_ row: SightingRow) {
        source = row.sourcePath
        sourceSHA256 = row.sourceSHA256
        locator = row.locator.shortText
        switch row.locator {
        case .packet(let number): packet = number
        case .line(let number, let offset): (line, byteOffset) = (number, offset)
        }
        time = row.time.iso8601
        indicatorType = row.indicatorType
        indicator = row.indicatorValue
        observed = row.observed
        `where` = row.field
        rule = "\(row.ruleFile):\(row.ruleLine)"
        host = row.host
        incident = row.incidentID
        feed = row.indicatorSource
        suppressedBy = row.suppressedBy
        context = row.context
        derivedFrom = row.derivedFrom?.description
        packets = row.packets
        bytes = row.bytes
        lastTime = row.lastTime?.iso8601
        unverified = row.unverified ? true : nil
        hostName = row.hostName
    }

    enum CodingKeys: String, CodingKey {
        case source, locator, packet, line, time, indicator, observed, `where`, rule, host, incident, feed, context
        case packets, bytes, unverified
        case suppressedBy = "suppressed_by", derivedFrom = "derived_from", lastTime = "last_time", hostName = "host_name"
        case sourceSHA256 = "source_sha256", byteOffset = "byte_offset", indicatorType = "indicator_type"
    }
}

public struct SourceJSON: Encodable, Sendable {
    var id: Int64
    var path: String
    var kind: String?
    var status: String
    var size: UInt64?
    var sha256: String?
    var packets: UInt64
    var lines: UInt64
    var bytes: UInt64
    var anomalies: [String: UInt64]
    var notes: [String]
    var error: String?
    var startedAt: String
    var finishedAt: String?
    /// Left out when no account was kept (a source recorded before v4, or never opened).
    var account: AccountJSON?
    /// How its run read logs; left out for captures and runs recorded before v6.
    var logSettings: LogSettingsJSON?
    /// Left out unless a gzip log stopped inside a member (`SourceRow.unverifiedFromLine`).
    var unverifiedFromLine: UInt64?

    struct LogSettingsJSON: Encodable, Sendable {
        var timezone: String
        var year: Int?
        var lineLimit: Int
        var decompressedLimit: UInt64

        enum CodingKeys: String, CodingKey {
            case timezone, year, lineLimit = "line_limit", decompressedLimit = "decompressed_limit"
        }

        /// `year` is written as null when it was inferred, not left out.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(timezone, forKey: .timezone)
            try container.encode(year, forKey: .year)
            try container.encode(lineLimit, forKey: .lineLimit)
            try container.encode(decompressedLimit, forKey: .decompressedLimit)
        }
    }

    struct AccountJSON: Encodable, Sendable {
        var packetsDecoded, packetsAnomalous, packetsUndecodable, packetsFiltered: UInt64
        var bytesConsumed, bytesUnread, lineBytes, separatorBytes, cutBytes: UInt64

        enum CodingKeys: String, CodingKey {
            case packetsDecoded = "packets_decoded", packetsAnomalous = "packets_anomalous"
            case packetsUndecodable = "packets_undecodable", packetsFiltered = "packets_filtered"
            case bytesConsumed = "bytes_consumed", bytesUnread = "bytes_unread", lineBytes = "line_bytes"
            case separatorBytes = "separator_bytes", cutBytes = "cut_bytes"
        }
    }

    public init(_ row: SourceRow) {
        id = row.id
        path = row.path
        kind = row.kind?.rawValue
        status = row.status
        size = row.size
        sha256 = row.sha256
        packets = row.packets
        lines = row.lines
        bytes = row.bytes
        anomalies = row.anomalies.counts
        notes = row.notes
        error = row.error
        startedAt = row.startedAt
        finishedAt = row.finishedAt
        account = row.account.map {
            AccountJSON(
                packetsDecoded: $0.packetsDecoded, packetsAnomalous: $0.packetsAnomalous,
                packetsUndecodable: $0.packetsUndecodable, packetsFiltered: $0.packetsFiltered,
                bytesConsumed: $0.bytesConsumed, bytesUnread: $0.bytesUnread, lineBytes: $0.lineBytes,
                separatorBytes: $0.separatorBytes, cutBytes: $0.cutBytes)
        }
        unverifiedFromLine = row.unverifiedFromLine
        logSettings = row.isLog ? row.logSettings.map {
            LogSettingsJSON(
                timezone: $0.timezoneText, year: $0.year, lineLimit: $0.maximumLineLength,
                decompressedLimit: $0.maximumDecompressedBytes)
        } : nil
    }

    enum CodingKeys: String, CodingKey {
        case id, path, kind, status, size, sha256, packets, lines, bytes, anomalies, notes, error, account
        case startedAt = "started_at", finishedAt = "finished_at", logSettings = "log_settings"
        case unverifiedFromLine = "unverified_from_line"
    }
}

/// How the JSON forms are written, by the command line and by the web interface alike:
/// keys sorted, indented, slashes as they are, and a final line break.
public enum JSONForms {
    public static func encoded<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }
}

extension Locator {
    /// `packet N` or `line N`, as listings show a sighting's place in its source.
    public var shortText: String {
        switch self {
        case .packet(let number): "packet \(number)"
        case .line(let number, _): "line \(number)"
        }
    }
}
