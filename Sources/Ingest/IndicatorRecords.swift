import CaseStore
import Indicators
import Observations
import Synchronization

/// The case database ids of the indicators that have been sighted, stored on their
/// first sighting. A rule set of millions of indicators costs nothing in the database
/// until one of them matches (storing them all up front took minutes), and the case
/// holds exactly the indicators its sightings name. Shared by the reader threads:
/// hits are rare, so one lock is cheap.
final class IndicatorRecords: Sendable {
    private let indicators: IndicatorList
    private let allowEntries: [AllowEntry]
    private let database: CaseDatabase
    private let ids = Mutex([Int: Int64]())

    init(rules: RuleSet, database: CaseDatabase) {
        self.indicators = rules.indicators
        self.allowEntries = rules.allowEntries
        self.database = database
    }

    /// The value of the indicator at `index`.
    func value(ofIndicatorAt index: Int) -> String {
        indicators[index].value
    }

    /// How a sighting names the allow entry at `index` of the rule set:
    /// `Rules/allow/resolvers.txt:3 8.8.8.8` (with the MISP warning list's name).
    func describe(allowEntryAt index: Int) -> String {
        let entry = allowEntries[index]
        let list = entry.listName.map { " (\($0))" } ?? ""
        return "\(entry.ruleFile):\(entry.line) \(entry.value)\(list)"
    }

    /// Whether the indicator at `index` is a domain (whose resolutions start DNS chains).
    func isDomain(indicatorAt index: Int) -> Bool {
        indicators[index].type == .domain
    }

    /// The database id of the indicator at `index` of the rule set, storing it first if
    /// this run has not yet.
    func id(forIndicatorAt index: Int) throws -> Int64 {
        try ids.withLock { ids in
            if let id = ids[index] { return id }
            // storeIndicators keeps one row per (type, value, rule file, line): a rule
            // sighted in an earlier run gets its existing id back.
            guard let id = try database.storeIndicators([indicators[index]]).first else {
                throw IngestError(description: "the case database did not store indicator \(indicators[index].value)")
            }
            ids[index] = id
            return id
        }
    }
}
