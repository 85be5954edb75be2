import Correlation
import Indicators
import Observations

/// The case database: one SQLite file holding runs, sources, indicators, sightings
/// and incidents. All writes go through this one object (one connection, serialized).
/// CONTRACT STUB.
public final class CaseDatabase: Sendable {
    /// Opens or creates the database at `path` (created with mode 0600) and applies the
    /// migrations.
    public init(path: String) throws {
        fatalError("contract stub")
    }

    /// Records the start of a run; returns its id.
    public func beginRun(version: String, rulesDigest: String, commandLine: String) throws -> Int64 {
        fatalError("contract stub")
    }

    /// Records the end of a run.
    public func finishRun(_ runID: Int64, succeeded: Bool) throws {
        fatalError("contract stub")
    }

    /// Inserts the indicators that are not stored yet (same type, value, rule file and
    /// line); returns the database id of each, in the order given.
    public func storeIndicators(_ indicators: [Indicator]) throws -> [Int64] {
        fatalError("contract stub")
    }

    /// The path of a source with this SHA-256 that is recorded complete, if any.
    public func completedSource(sha256: String) throws -> String? {
        fatalError("contract stub")
    }

    /// Whether a complete source of exactly this size exists (a cheap pre-check before
    /// hashing a file just to see whether it is a duplicate).
    public func hasCompletedSource(size: UInt64) throws -> Bool {
        fatalError("contract stub")
    }

    /// Starts a source: removes any earlier incomplete or failed record of the same path
    /// (with its sightings), inserts a `reading` record, returns its id.
    public func beginSource(path: String, size: UInt64, kind: SourceKind, runID: Int64) throws -> Int64 {
        fatalError("contract stub")
    }

    /// Appends sightings of a source in one transaction.
    public func appendSightings(_ sightings: [NewSighting]) throws {
        fatalError("contract stub")
    }

    /// Ends a source in one transaction with its last sightings. Status is `complete`
    /// (`damage == nil`) or `failed` with the damage as its error. If another source with
    /// the same SHA-256 is already complete, this source and its sightings are removed
    /// instead and `.duplicate(path)` returned.
    public func finishSource(
        _ sourceID: Int64, sha256: String, summary: ReadSummary, lastSightings: [NewSighting]
    ) throws -> SourceOutcome {
        fatalError("contract stub")
    }

    /// Records a source that could not be read at all (missing, unreadable, not a
    /// capture), replacing earlier incomplete or failed records of the same path.
    public func recordFailedSource(path: String, kind: SourceKind?, reason: String, runID: Int64) throws {
        fatalError("contract stub")
    }

    /// Every sighting, as correlation needs it.
    public func sightingFacts() throws -> [SightingFact] {
        fatalError("contract stub")
    }

    /// Replaces all incidents with `incidents` in one transaction.
    public func replaceIncidents(_ incidents: [Incident]) throws {
        fatalError("contract stub")
    }

    /// Incidents, newest first (by last_seen, then id).
    public func incidents() throws -> [IncidentRow] {
        fatalError("contract stub")
    }

    /// Sightings (of one incident, or all), ordered by time, source path, locator.
    public func sightings(incident: Int64?) throws -> [SightingRow] {
        fatalError("contract stub")
    }
}

/// What became of a finished source.
public enum SourceOutcome: Sendable, Equatable {
    case complete
    case failed(String)
    /// Same SHA-256 as a complete source already recorded at this path: nothing added.
    case duplicate(String)
}

/// A sighting to insert.
public struct NewSighting: Sendable, Hashable {
    public var sourceID: Int64
    public var locator: Locator
    public var time: Timestamp
    /// The indicator's database id.
    public var indicatorID: Int64
    public var observed: String
    public var field: Field
    /// The local host (address text or log host); empty when unknown.
    public var host: String

    public init(sourceID: Int64, locator: Locator, time: Timestamp, indicatorID: Int64, observed: String, field: Field, host: String) {
        self.sourceID = sourceID
        self.locator = locator
        self.time = time
        self.indicatorID = indicatorID
        self.observed = observed
        self.field = field
        self.host = host
    }
}

/// An incident as listed.
public struct IncidentRow: Sendable, Hashable {
    public var id: Int64
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    public var host: String
    public var severity: String
    /// Sorted distinct indicator values.
    public var indicators: [String]
    public var sightingCount: Int
    public var title: String
}

/// A sighting as listed, with its provenance.
public struct SightingRow: Sendable, Hashable {
    public var id: Int64
    public var incidentID: Int64?
    public var sourcePath: String
    public var sourceSHA256: String
    public var locator: Locator
    public var time: Timestamp
    public var indicatorType: String
    public var indicatorValue: String
    public var observed: String
    public var field: String
    public var host: String
    public var ruleFile: String
    public var ruleLine: Int
}
