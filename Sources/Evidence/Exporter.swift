import CaseStore
import Crypto
import Foundation
import Observations

/// What to export and how to label it.
public struct ExportOptions: Sendable {
    /// The incidents, by id (`cairn incidents`); order kept, duplicates dropped.
    public var incidentIDs: [Int64]
    /// The TLP asked for (`--tlp`), raised to at least the default (`TLP:AMBER`). The
    /// package's TLP is the strictest of this and the sighted indicators' TLPs; asking
    /// for a TLP less strict than an indicator's makes the export fail.
    public var tlp: TLP
    /// The TLP as asked for, before raising (nil: not asked).
    public var requestedTLP: TLP?
    /// The CERT's name: the STIX identity and `Source-Organization` of bag-info.txt.
    public var organisation: String
    /// Recorded in the custody entry.
    public var commandLine: String
    public var toolVersion: String
    /// The package's time (STIX `created`, `exported_at`); now by default.
    public var exportedAt: Timestamp
    /// Truncate every packet of the pcap extract after its transport header, except the
    /// sighted packets whose sightings need the payload (DNS, TLS, HTTP… fields), which
    /// are kept whole (`--headers-only`).
    public var headersOnly = false
    /// When set, the tag manifest is signed with this Ed25519 key (`--sign KEYFILE`),
    /// see `PackageSigning`.
    public var signingKey: Curve25519.Signing.PrivateKey?

    /// The default TLP of a package.
    public static let defaultTLP = TLP.amber

    public init(
        incidentIDs: [Int64], tlp: TLP? = nil, organisation: String = "CERT", commandLine: String,
        toolVersion: String, exportedAt: Timestamp? = nil
    ) {
        var seen = Set<Int64>()
        self.incidentIDs = incidentIDs.filter { seen.insert($0).inserted }
        self.tlp = max(ExportOptions.defaultTLP, tlp ?? ExportOptions.defaultTLP)
        self.requestedTLP = tlp
        self.organisation = organisation
        self.commandLine = commandLine
        self.toolVersion = toolVersion
        self.exportedAt = exportedAt ?? Timestamp(seconds: Int64(Date().timeIntervalSince1970))
    }
}

/// What an export wrote.
public struct ExportResult: Sendable {
    /// The package directory.
    public var directory: String
    /// Every file written, bag-relative, with SHA-256 and size (payload first, then tag files).
    public var files: [CustodyFile]
    /// The custody entry recording the export.
    public var custodyEntry: CustodyEntry
    /// Things the investigator should know (e.g. a log source that changed and was not quoted).
    public var notes: [String]
    public var sightingCount: Int
    /// Packets written to the pcap extract.
    public var packetCount = 0
    /// Capture sources whose packets were left out of the extract, one sentence each
    /// (the file changed since ingest, or cannot be read): the package is incomplete.
    public var omittedSources: [String] = []
}

/// Writes evidence packages from a case database.
public struct EvidenceExporter: Sendable {
    /// The payload files of a package, in the order written.
    public static let payloadFiles = [
        "incident.json", "sightings.csv", "log-excerpts.txt", "stix-bundle.json", "iodef.xml", "report.html", "custody.json",
        "evidence.pcap", "evidence-index.csv",
    ]

    public let database: CaseDatabase

    public init(database: CaseDatabase) {
        self.database = database
    }

    /// Exports the incidents into `directory` as a BagIt bag and appends an `export`
    /// entry to the custody log (outputs: every file of the bag). Refuses a directory
    /// that exists and is not empty; writes nothing outside it. The package's
    /// `data/custody.json` holds the custody log as it was before this export's entry
    /// (that entry's hashes cover custody.json itself).
    public func export(_ options: ExportOptions, to directory: String) throws -> ExportResult {
        guard !options.incidentIDs.isEmpty else { throw EvidenceError.noIncidents }
        var incidents: [IncidentRow] = []
        for id in options.incidentIDs {
            guard let incident = try database.incident(id) else { throw EvidenceError.unknownIncident(id) }
            if let into = incident.mergedInto { throw CaseStoreError.mergedIncident(id, into: into) }
            guard incident.sightingCount > 0 || incident.lineCount > 0 else { throw EvidenceError.unknownIncident(id) }
            incidents.append(incident)
        }
        // Fail before touching the file system if the directory is not usable.
        try BagIt.checkUsable(directory)

        let sightings = try database.sightings(incidents: incidents.map(\.id))
        let sightingsByIncident = incidents.map { (incident: $0, sightings: sightings[$0.id] ?? []) }
        var triage: [Int64: [TriageEvent]] = [:]
        for incident in incidents { triage[incident.id] = try database.triageHistory(incident: incident.id) }
        // The log lines correlation rules counted in rule incidents (not sightings).
        var lineEvents: [StoredLineEvent] = []
        for incident in incidents where incident.lineCount > 0 {
            lineEvents += try database.lineEvents(incident: incident.id)
        }
        let flat = sightingsByIncident.flatMap { group in group.sightings.map { (incident: group.incident.id, sighting: $0) } }
        let exportedAt = options.exportedAt.iso8601

        // The package's TLP: the strictest of the default, the indicators' and --tlp,
        // which may only make it stricter.
        let indicatorLevels = IndicatorTLP.strictest(
            sightings: flat.map(\.sighting), stored: try database.sightedIndicators(incidents: incidents.map(\.id)))
        let floor = max(ExportOptions.defaultTLP, indicatorLevels.tlp ?? ExportOptions.defaultTLP)
        if let requested = options.requestedTLP, requested < floor {
            throw EvidenceError.tlpLessStrict(requested: requested, required: floor)
        }
        let tlp = max(floor, options.tlp)

        // The package is written file by file, each hashed as written and dropped from
        // memory before the next is made; the pcap extract is streamed. A failure removes
        // what was written.
        let bag = try BagWriter(directory: directory)
        let files: [CustodyFile]
        var notes: [String] = indicatorLevels.notes
        let extract: PacketExtract.Output
        do {
            try bag.add("incident.json", try IncidentDocument(
                tlp: tlp.rawValue, exportedAt: exportedAt, toolVersion: options.toolVersion,
                incidents: sightingsByIncident.map { group in
                    IncidentDocument.IncidentEntry(
                        id: group.incident.id, title: group.incident.title, host: group.incident.host,
                        severity: group.incident.severity, firstSeen: group.incident.firstSeen.iso8601,
                        lastSeen: group.incident.lastSeen.iso8601, confidence: group.incident.confidence,
                        status: group.incident.status.rawValue,
                        triage: triage[group.incident.id] ?? [],
                        explanation: group.incident.explanation, indicators: group.incident.indicators,
                        sightingCount: group.incident.sightingCount,
                        sightings: group.sightings.map(IncidentDocument.sighting))
                }
            ).encoded())
            try bag.add("sightings.csv", SightingsCSV.render(flat))
            var sources: [String: LogExcerpts.SourceFacts] = [:]
            for source in try database.sources() where source.isLog {
                // The latest record of the same bytes at the same path says how they were read.
                guard let sha256 = source.sha256 else { continue }
                sources[LogExcerpts.key(path: source.path, sha256: sha256)] = LogExcerpts.SourceFacts(
                    settings: source.logSettings, unverifiedFromLine: source.unverifiedFromLine)
            }
            try bag.add("log-excerpts.txt", LogExcerpts.render(
                sightings: flat.map(\.sighting), lineEvents: lineEvents, sources: sources, tlp: tlp, notes: &notes))
            try bag.add("stix-bundle.json", try STIXBundle(
                organisation: options.organisation, tlp: tlp, created: options.exportedAt,
                incidents: sightingsByIncident
            ).encoded())
            try bag.add("iodef.xml", IODEFDocument.render(
                organisation: options.organisation, tlp: tlp, generated: options.exportedAt,
                incidents: sightingsByIncident))
            try bag.add("report.html", HTMLReport.render(
                organisation: options.organisation, tlp: tlp, generated: options.exportedAt,
                incidents: sightingsByIncident))
            try bag.add("custody.json", try Self.json(try database.custodyEntries()))
            extract = try PacketExtract.write(
                sightings: flat.map(\.sighting), headersOnly: options.headersOnly, into: bag)
            notes += extract.notes
            for file in PreservationRequests.render(
                sightings: flat, flows: extract.sightedFlows, tlp: tlp, organisation: options.organisation,
                generated: options.exportedAt)
            {
                try bag.add(file.name, file.bytes)
            }
            let info: [(String, String)] = [
                ("Source-Organization", options.organisation),
                ("Bagging-Date", String(exportedAt.prefix(10))),
                ("Bag-Software-Agent", "cairn \(options.toolVersion)"),
                ("External-Identifier", "cairn incidents " + incidents.map { String($0.id) }.joined(separator: ",")),
                ("External-Description", "Cairn evidence package: \(incidents.count) incident(s), \(flat.count) sighting(s). \(tlp.rawValue)."),
                ("Cairn-TLP", tlp.rawValue),
                ("Cairn-Exported-At", exportedAt),
                ("Cairn-Case-Database", database.location),
                ("Cairn-Pcap-Extract", "\(extract.packetCount) packet(s) of the sighted flows"
                    + (options.headersOnly ? ", cut after the transport header except the packets sighted in their payload" : "")),
            ] + extract.omitted.map { ("Cairn-Omitted-Source", $0) }
            let signingKey = options.signingKey
            files = try bag.finish(
                info: info,
                sign: signingKey.map { key -> ([UInt8]) throws -> (name: String, bytes: [UInt8]) in
                    { manifest in (PackageSigning.signatureFile, Array(try key.signature(for: manifest))) }
                })
        } catch {
            bag.discard()
            throw error
        }

        let sourceRows = try database.sources()
        var inputs: [CustodyFile] = []
        var seen = Set<String>()
        for row in flat.map(\.sighting) where seen.insert(row.sourceSHA256 + row.sourcePath).inserted {
            let size = sourceRows.first { $0.path == row.sourcePath && $0.sha256 == row.sourceSHA256 }?.size ?? 0
            inputs.append(CustodyFile(path: row.sourcePath, sha256: row.sourceSHA256, bytes: size))
        }
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        let entry = try database.appendCustodyEntry(
            action: .export, commandLine: options.commandLine, toolVersion: options.toolVersion, rulesDigest: "",
            inputs: inputs.sorted { ($0.path, $0.sha256) < ($1.path, $1.sha256) },
            outputs: files.map { CustodyFile(path: absolute + "/" + $0.path, sha256: $0.sha256, bytes: $0.bytes) })
        return ExportResult(
            directory: directory, files: files, custodyEntry: entry, notes: notes, sightingCount: flat.count,
            packetCount: extract.packetCount, omittedSources: extract.omitted)
    }

    static func json<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }
}
