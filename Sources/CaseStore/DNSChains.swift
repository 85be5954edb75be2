import Observations

/// DNS chains: a host that resolves a domain that is an indicator and then connects to
/// an address of the answer has that connection sighted too, as a sighting *derived*
/// from the resolution, naming the domain indicator and the DNS packet.
///
/// Reading records the resolutions (`appendResolutions`). After the readers, the
/// ingest asks `pendingDerivations` which sources may hold connections to addresses
/// of resolutions they have not been searched for — sources whose event times overlap
/// a resolution's horizon — searches them, and stores what it found with
/// `recordDerivations`. Each source is searched once per resolution, in whichever run
/// the pair first exists, so the derived sightings do not depend on the order of the
/// files or the number of runs.
extension CaseDatabase {
    /// Stores resolutions found while reading a source (one transaction).
    public func appendResolutions(_ resolutions: [NewResolution]) throws {
        guard !resolutions.isEmpty else { return }
        try store.write { db in
            try db.insertRows(Self.resolutionInsert, resolutions.map { resolution in
                [
                    resolution.sourceID, Int64(clamping: resolution.packet), resolution.time.nanoseconds,
                    resolution.host, resolution.indicatorID, resolution.name, resolution.address,
                ]
            })
        }
    }

    static let resolutionInsert = TableColumns(table: "resolutions", columns: [
        ("source_id", .bigint), ("packet", .bigint), ("time_ns", .bigint), ("host", .text), ("indicator_id", .bigint),
        ("name", .text), ("address", .text),
    ])

    /// Records the range of event times a source's observations had, for the overlap
    /// test of `pendingDerivations`.
    public func setEventRange(source sourceID: Int64, first: Timestamp, last: Timestamp) throws {
        try store.write { db in
            try db.execute(
                sql: "UPDATE sources SET first_event_ns = ?, last_event_ns = ? WHERE id = ?",
                arguments: [first.nanoseconds, last.nanoseconds, sourceID])
        }
    }

    /// The sources to search, each with the resolutions it has not been searched for:
    /// those whose horizon (`horizon` nanoseconds after the answer) overlaps the
    /// source's event times. Sources still `reading` are neither searched nor searched
    /// for.
    public func pendingDerivations(horizon: Int64) throws -> [DerivationTask] {
        try store.read { db in
            let rows = try db.fetchAll(
                sql: """
                    SELECT src.id AS source_id, src.path, src.sha256, src.kind, r.id AS resolution_id, r.address,
                        r.source_id AS resolved_in
                    FROM resolutions r
                    JOIN sources rs ON rs.id = r.source_id AND rs.status != 'reading'
                    JOIN sources src ON src.status != 'reading' AND src.sha256 IS NOT NULL
                        AND src.first_event_ns IS NOT NULL
                        AND src.first_event_ns <= r.time_ns + ? AND src.last_event_ns >= r.time_ns
                    WHERE NOT EXISTS (
                        SELECT 1 FROM derivation_scans d WHERE d.source_id = src.id AND d.resolution_id = r.id)
                    ORDER BY src.id, r.id
                    """,
                arguments: [horizon])
            var tasks: [DerivationTask] = []
            for row in rows {
                let sourceID: Int64 = try row.decode(forColumn: "source_id")
                let resolutionID: Int64 = try row.decode(forColumn: "resolution_id")
                let address: String = try row.decode(forColumn: "address")
                if tasks.last?.sourceID != sourceID {
                    let kind: String? = try row.decode(forColumn: "kind")
                    tasks.append(DerivationTask(
                        sourceID: sourceID, path: try row.decode(forColumn: "path"),
                        sha256: try row.decode(forColumn: "sha256"),
                        kind: kind.flatMap(SourceKind.init(rawValue:)) ?? .text, resolutionIDs: [], addresses: []))
                }
                tasks[tasks.count - 1].resolutionIDs.append(resolutionID)
                if try row.decode(forColumn: "resolved_in") as Int64 != sourceID {
                    tasks[tasks.count - 1].hasOtherSourcesResolutions = true
                }
                if !tasks[tasks.count - 1].addresses.contains(address) {
                    tasks[tasks.count - 1].addresses.append(address)
                }
            }
            return tasks
        }
    }

    /// Stores the outcome of searching a source: for each contact, a sighting derived
    /// from the latest of the task's resolutions of the same host and address at most
    /// `horizon` before it (one per contact and domain indicator); then marks the source
    /// searched for all the task's resolutions. One transaction; returns the number of
    /// derived sightings added.
    @discardableResult
    public func recordDerivations(_ task: DerivationTask, contacts: [Contact], horizon: Int64) throws -> Int {
        try store.write { db in
            // The task's resolutions of the contact's host and address, latest first; a
            // contact may only derive from those this task searches for.
            let candidates = """
                SELECT r.id, r.indicator_id, r.time_ns FROM resolutions r
                WHERE r.address = ? AND r.host = ? AND r.time_ns <= ? AND r.time_ns >= ?
                ORDER BY r.time_ns DESC, r.id DESC
                """
            let insert = """
                INSERT INTO sightings (source_id, locator_kind, locator, byte_offset, time_ns, time, indicator_id,
                                       observed, field, host, derived_from, packets, bytes, last_time_ns, last_time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """
            let searched = Set(task.resolutionIDs)
            var added = 0
            for contact in contacts {
                let rows = try db.fetchAll(sql: candidates, arguments: [
                    contact.address, contact.host, contact.time.nanoseconds, contact.time.nanoseconds &- horizon,
                ])
                var indicatorsDone = Set<Int64>()
                for row in rows {
                    let resolutionID: Int64 = try row.decode(forColumn: "id")
                    guard searched.contains(resolutionID) else { continue }
                    let indicatorID: Int64 = try row.decode(forColumn: "indicator_id")
                    guard indicatorsDone.insert(indicatorID).inserted else { continue }
                    let (kind, number, offset) = CaseDatabase.locatorColumns(contact.locator)
                    added += try db.execute(sql: insert, arguments: [
                        task.sourceID, kind, Int64(clamping: number), offset, contact.time.nanoseconds,
                        contact.time.iso8601, indicatorID, contact.address, contact.field, contact.host,
                        resolutionID, Int64(clamping: contact.packets),
                        contact.bytes.map { Int64(clamping: $0) }, contact.lastTime?.nanoseconds,
                        contact.lastTime?.iso8601,
                    ])
                }
            }
            for resolutionID in task.resolutionIDs {
                try db.execute(
                    sql: "INSERT INTO derivation_scans (source_id, resolution_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    arguments: [task.sourceID, resolutionID])
            }
            return added
        }
    }
}

/// An address a DNS answer gave for a name that matched a domain indicator.
public struct NewResolution: Sendable, Hashable {
    public var sourceID: Int64
    /// The DNS response's packet number.
    public var packet: UInt64
    public var time: Timestamp
    /// The host that asked (the response's destination).
    public var host: String
    /// The domain indicator the query or a CNAME of its answer matched.
    public var indicatorID: Int64
    /// The name that matched, as seen.
    public var name: String
    /// The address of an A or AAAA record of the answer, as text.
    public var address: String

    public init(
        sourceID: Int64, packet: UInt64, time: Timestamp, host: String, indicatorID: Int64, name: String,
        address: String
    ) {
        self.sourceID = sourceID
        self.packet = packet
        self.time = time
        self.host = host
        self.indicatorID = indicatorID
        self.name = name
        self.address = address
    }
}

/// A source to search again for the addresses of resolutions.
public struct DerivationTask: Sendable, Hashable {
    public var sourceID: Int64
    public var path: String
    /// The SHA-256 recorded when the source was read: the search must find the same
    /// bytes.
    public var sha256: String
    public var kind: SourceKind
    /// The resolutions the source has not been searched for, ascending.
    public var resolutionIDs: [Int64]
    /// Their distinct addresses.
    public var addresses: [String]
    /// Whether some of the resolutions were read from other sources (else the source
    /// resolved them all itself).
    public var hasOtherSourcesResolutions = false
}

/// An observation of a resolved address, found by searching a source.
public struct Contact: Sendable, Hashable {
    public var locator: Locator
    public var time: Timestamp
    /// The local host of the observation (the other endpoint).
    public var host: String
    public var address: String
    /// Where it was seen (`ip.dst`, `log.dst`…).
    public var field: String
    /// For a contact folding an IP conversation: its packets, their bytes on the wire
    /// and the last packet's time.
    public var packets: UInt64 = 1
    public var bytes: UInt64? = nil
    public var lastTime: Timestamp? = nil

    public init(locator: Locator, time: Timestamp, host: String, address: String, field: String) {
        self.locator = locator
        self.time = time
        self.host = host
        self.address = address
        self.field = field
    }
}
