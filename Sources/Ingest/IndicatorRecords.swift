import CaseStore
import Concurrency
import Indicators
import Observations

/// The case database ids of the indicators that have been sighted, stored on their
/// first sighting. A rule set of millions of indicators costs nothing in the database
/// until one of them matches (storing them all up front took minutes), and the case
/// holds exactly the indicators its sightings name. The readers use the rule set's
/// side; the ids are the `SightingWriter`'s.
final class IndicatorRecords: Sendable {
    private let indicators: IndicatorList
    private let allowEntries: [AllowEntry]
    private let database: CaseDatabase
    private let ids = Lock([Int: Int64]())

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
        indicators.type(at: index) == .domain
    }

    /// The database ids of the indicators at `indices`, storing first (in one
    /// transaction) those this run has not stored yet.
    func ids(forIndicatorsAt indices: [Int]) throws -> [Int: Int64] {
        try ids.withLock { ids in
            var result: [Int: Int64] = [:]
            var unstored: [Int] = []
            var seen = Set<Int>()
            for index in indices where seen.insert(index).inserted {
                if let id = ids[index] {
                    result[index] = id
                } else {
                    unstored.append(index)
                }
            }
            guard !unstored.isEmpty else { return result }
            // In the rule set's order: workers storing overlapping indicators at once then
            // take the rows' locks in one order, so that neither waits for the other in a
            // cycle (PostgreSQL would abort one as a deadlock).
            unstored.sort()
            // storeIndicators keeps one row per (type, value, rule file, line): a rule
            // sighted in an earlier run gets its existing id back.
            let unstoredIndicators = unstored.map { indicators[$0] }
            guard !indicators.failedToRead else { throw IngestError.indicatorsUnreadable }
            let stored = try database.storeIndicators(unstoredIndicators)
            guard stored.count == unstored.count else {
                throw IngestError.indicatorNotStored(indicator: nil)
            }
            for (index, id) in zip(unstored, stored) {
                ids[index] = id
                result[index] = id
            }
            return result
        }
    }
}
