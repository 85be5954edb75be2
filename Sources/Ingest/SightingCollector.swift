import CaseStore
import Indicators
import Observations

/// The matcher glue: looks every observation up and keeps only the hits, in batches
/// for the case database's single writer.
struct SightingCollector {
    /// Sightings per write transaction: large enough that the commit cost is small per
    /// row, small enough that a killed run loses little work (it is redone anyway).
    static let batchSize = 4096

    let table: IndicatorTable
    /// Database ids of the indicators, stored on their first sighting.
    let indicatorRecords: IndicatorRecords
    let sourceID: Int64
    let database: CaseDatabase
    private(set) var pending: [NewSighting] = []
    private(set) var total: UInt64 = 0
    /// The first write error; once set, no more writes are tried for this source.
    private(set) var writeError: (any Error)?

    init(table: IndicatorTable, indicatorRecords: IndicatorRecords, sourceID: Int64, database: CaseDatabase) {
        self.table = table
        self.indicatorRecords = indicatorRecords
        self.sourceID = sourceID
        self.database = database
        pending.reserveCapacity(Self.batchSize)
    }

    /// Looks `observation` up; on a hit, keeps a sighting. The miss path allocates nothing.
    mutating func observe(_ observation: Observation) {
        guard let index = table.lookup(observation.value), writeError == nil,
              indicatorRecords.isValid(indicatorAt: index, at: observation.time)
        else { return }
        let indicatorID: Int64
        do {
            indicatorID = try indicatorRecords.id(forIndicatorAt: index)
        } catch {
            writeError = error
            return
        }
        pending.append(NewSighting(
            sourceID: sourceID,
            locator: observation.locator,
            time: observation.time,
            indicatorID: indicatorID,
            observed: observation.value.owned.description,
            field: observation.field,
            host: observation.host.text ?? ""))
        total += 1
        if pending.count >= Self.batchSize { flush() }
    }

    /// Writes the pending sightings in one transaction.
    mutating func flush() {
        guard !pending.isEmpty, writeError == nil else { return }
        do {
            try database.appendSightings(pending)
        } catch {
            writeError = error
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Hands over what is left for the source's final transaction.
    mutating func takePending() -> [NewSighting] {
        defer { pending = [] }
        return pending
    }
}
