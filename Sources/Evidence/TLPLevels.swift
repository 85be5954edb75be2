import CaseStore
import Foundation
import Indicators

/// The TLP of the indicators behind a package's sightings.
///
/// The case database does not store an indicator's TLP (its `indicators` table holds
/// type, value, rule file and line only), so the rule files named by the sightings are
/// read again when the package is made and each sighted indicator is found by its file
/// and line. A rule file that is gone, or a line that no longer holds the same
/// indicator, leaves that indicator's TLP unknown; the export notes it and the package
/// keeps at least the default (`ExportOptions.defaultTLP`).
enum IndicatorTLP {
    /// The strictest TLP of the sighted indicators (nil when none has one), and one
    /// note per rule file or indicator whose TLP could not be found.
    static func strictest(sightings: [SightingRow]) -> (tlp: TLP?, notes: [String]) {
        var wanted: [String: Set<String>] = [:]
        for row in sightings {
            wanted[row.ruleFile, default: []].insert("\(row.ruleLine)\u{0}\(row.indicatorValue.lowercased())")
        }
        var strictest: TLP? = nil
        var notes: [String] = []
        for file in wanted.keys.sorted() {
            guard let entries = wanted[file] else { continue }
            guard FileManager.default.isReadableFile(atPath: file) else {
                notes.append("rule file \(file) cannot be read now: the TLP of its \(entries.count) sighted indicator(s) is unknown; the package keeps at least \(ExportOptions.defaultTLP.rawValue)")
                continue
            }
            let rules = RuleSet.load(paths: [file])
            var found = Set<String>()
            for indicator in rules.indicators {
                let key = "\(indicator.line)\u{0}\(indicator.value.lowercased())"
                guard entries.contains(key) else { continue }
                found.insert(key)
                if let text = indicator.tlp, let level = TLP(text: text == "white" ? "clear" : text) {
                    strictest = max(strictest ?? level, level)
                }
            }
            let missing = entries.subtracting(found).count
            if missing > 0 {
                notes.append("rule file \(file): \(missing) sighted indicator(s) are no longer at the line recorded: their TLP is unknown")
            }
        }
        return (strictest, notes)
    }
}
