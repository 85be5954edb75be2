import CaseStore
import Foundation
import Indicators

/// The TLP of the indicators behind a package's sightings.
///
/// The case database stores each indicator's TLP as the rule entry gave it when it was
/// first sighted (`indicators.tlp`, migration `v3-incident-identity`), and that is the
/// one used: a later change of the rule file does not change the package's TLP. A row
/// that holds none of the rule entry's metadata may have been stored before those
/// columns existed (an old case), so for those only the rule files named by the
/// sightings are read again and each indicator is found by its file and line, as
/// before. A rule file that is gone, or a line that no longer holds the same
/// indicator, leaves that indicator's TLP unknown; the export notes it and the package
/// keeps at least the default (`ExportOptions.defaultTLP`).
enum IndicatorTLP {
    /// The strictest TLP of the sighted indicators (nil when none has one), and one
    /// note per rule file or indicator whose TLP could not be found. `stored` are the
    /// labels the case holds (`CaseDatabase.sightedIndicators(incidents:)`).
    static func strictest(sightings: [SightingRow], stored: [StoredIndicatorLabel] = []) -> (tlp: TLP?, notes: [String]) {
        var strictest: TLP? = nil
        func raise(_ text: String) {
            if let level = TLP(text: text.lowercased() == "white" || text.uppercased() == "TLP:WHITE" ? "clear" : text) {
                strictest = max(strictest ?? level, level)
            }
        }
        var known: [String: Set<String>] = [:]
        for label in stored where label.tlp != nil || label.hasMetadata {
            known[label.ruleFile, default: []].insert("\(label.ruleLine)\u{0}\(label.value.lowercased())")
            if let text = label.tlp { raise(text) }
        }
        var wanted: [String: Set<String>] = [:]
        for row in sightings {
            let key = "\(row.ruleLine)\u{0}\(row.indicatorValue.lowercased())"
            guard known[row.ruleFile]?.contains(key) != true else { continue }
            wanted[row.ruleFile, default: []].insert(key)
        }
        var notes: [String] = []
        for file in wanted.keys.sorted() {
            guard let entries = wanted[file] else { continue }
            guard FileManager.default.isReadableFile(atPath: file) else {
                notes.append("rule file \(file) cannot be read now: the TLP of its \(entries.count) sighted indicator(s) is unknown; the package keeps at least \(ExportOptions.defaultTLP.rawValue)")
                continue
            }
            let rules = RuleSet.load(paths: [file])
            var found = Set<String>()
            // Only the indicators at a sighted line are built (a rule file may hold millions).
            let lines = Set(sightings.lazy.filter { $0.ruleFile == file }.map(\.ruleLine))
            for position in rules.indicators.indices where lines.contains(rules.indicators.line(at: position)) {
                let indicator = rules.indicators[position]
                let key = "\(indicator.line)\u{0}\(indicator.value.lowercased())"
                guard entries.contains(key) else { continue }
                found.insert(key)
                if let text = indicator.tlp { raise(text) }
            }
            let missing = entries.subtracting(found).count
            if missing > 0 {
                notes.append("rule file \(file): \(missing) sighted indicator(s) are no longer at the line recorded: their TLP is unknown")
            }
        }
        return (strictest, notes)
    }
}
