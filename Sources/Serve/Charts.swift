import CaseStore
import Foundation
import Observations

/// The sightings-over-time bar chart of the case page, as the numbers its SVG template
/// (`Templates.chart`) draws; every text is inserted escaped.
struct Chart {
    var width = 960, height = 200
    var left = 8, right = 952, baseline = 170
    var label: String
    var bars: [Bar]
    var ticks: [Tick]

    struct Bar {
        var x, y, width, height: String
        var tip: String
    }

    init?(_ buckets: [CaseSummary.TimeBucket]) {
        guard let first = buckets.first, let last = buckets.last, buckets.contains(where: { $0.sightings > 0 }) else {
            return nil
        }
        let (left, right, baseline) = (left, right, baseline)
        let tallest = Double(buckets.map(\.sightings).max() ?? 1)
        let slot = Double(right - left) / Double(buckets.count)
        let room = Double(baseline - 10)
        bars = buckets.enumerated().map { index, bucket in
            let height = bucket.sightings == 0 ? 0 : max(1, room * Double(bucket.sightings) / tallest)
            return Bar(
                x: Chart.number(Double(left) + slot * Double(index) + 1),
                y: Chart.number(Double(baseline) - height),
                width: Chart.number(max(1, slot - 2)), height: Chart.number(height),
                tip: "\(bucket.sightings) sightings, \(Chart.minute(bucket.start)) – \(Chart.minute(bucket.end))")
        }
        ticks = [
            Tick(x: left, y: baseline + 18, anchor: "start", text: Chart.minute(first.start)),
            Tick(x: right, y: baseline + 18, anchor: "end", text: Chart.minute(last.end)),
        ]
        label = "Sightings from \(Chart.minute(first.start)) to \(Chart.minute(last.end)), most in one span \(Int(tallest))"
    }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// `2024-03-01 12:34` (UTC).
    static func minute(_ time: Timestamp) -> String {
        let text = time.iso8601
        return text.count >= 16 ? String(text.prefix(16)).replacingOccurrences(of: "T", with: " ") : text
    }
}

struct Tick {
    var x, y: Int
    var anchor: String
    var text: String
}

/// An incident's sightings in time, one lane per indicator (the most sighted first), as
/// the numbers its SVG template (`Templates.timeline`) draws.
struct Timeline {
    static let maximumLanes = 12
    var width = 960, height: Int
    var left = 240, right = 948, baseline: Int
    var label: String
    var lanes: [Lane]
    var ticks: [Tick]
    /// Said under the chart when lanes were left out.
    var more: String?
    var moreY: Int

    struct Lane {
        var name: String
        var y, textY, left, right: Int
        var marks: [Mark]
    }

    struct Mark {
        var id: Int64
        var x: String
        var y: Int
        var tip: String
    }

    init?(_ sightings: [SightingRow], incompleteNote: String?) {
        guard let earliest = sightings.map(\.time.nanoseconds).min(),
              let latest = sightings.map({ ($0.lastTime ?? $0.time).nanoseconds }).max()
        else { return nil }
        var order: [String] = []
        var byIndicator: [String: [SightingRow]] = [:]
        for sighting in sightings {
            let key = sighting.indicatorType + " " + sighting.indicatorValue
            if byIndicator[key] == nil { order.append(key) }
            byIndicator[key, default: []].append(sighting)
        }
        order.sort { (byIndicator[$0]?.count ?? 0, $1) > (byIndicator[$1]?.count ?? 0, $0) }
        let shown = order.prefix(Timeline.maximumLanes)
        let span = Double(max(1, latest - earliest))
        let (left, right) = (left, right)
        lanes = shown.enumerated().map { index, key in
            let y = 20 + index * 24
            let name = key.count > 34 ? String(key.prefix(33)) + "…" : key
            return Lane(
                name: name, y: y, textY: y + 4, left: left, right: right,
                marks: (byIndicator[key] ?? []).map { sighting in
                    let x = Double(left) + Double(right - left) * Double(sighting.time.nanoseconds - earliest) / span
                    return Mark(
                        id: sighting.id, x: Chart.number(x), y: y,
                        tip: "\(sighting.time.iso8601) \(sighting.field): \(sighting.observed)")
                })
        }
        baseline = 20 + shown.count * 24
        height = baseline + 40
        moreY = baseline + 34
        var notes: [String] = []
        if order.count > shown.count { notes.append("\(order.count - shown.count) more indicators not drawn") }
        if let incompleteNote { notes.append(incompleteNote) }
        more = notes.isEmpty ? nil : notes.joined(separator: "; ")
        ticks = [
            Tick(x: left, y: baseline + 18, anchor: "start", text: Timestamp(nanoseconds: earliest).iso8601),
            Tick(x: right, y: baseline + 18, anchor: "end", text: Timestamp(nanoseconds: latest).iso8601),
        ]
        label = "Sightings of \(order.count) indicators from \(Timestamp(nanoseconds: earliest).iso8601) to "
            + Timestamp(nanoseconds: latest).iso8601
    }
}
