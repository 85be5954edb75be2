import CaseStore
import Foundation
import Observations

/// `report.html`: one self-contained page for a person — the TLP, the incidents, a
/// timeline drawn as inline SVG, the sightings with their provenance, and how to verify
/// the package. No script, no external resource: it renders offline.
enum HTMLReport {
    /// Sightings listed in the page's table; the rest are in sightings.csv. A page with
    /// 100,000 rows is no longer readable, nor quick to open.
    static let maximumTableRows = 2000
    /// Timeline geometry (SVG user units).
    static let width = 960
    static let labelWidth = 170
    static let rowHeight = 26

    static func render(
        organisation: String, tlp: TLP, generated: Timestamp,
        incidents: [(incident: IncidentRow, sightings: [SightingRow])]
    ) -> [UInt8] {
        let e = IODEFDocument.escape
        let total = incidents.reduce(0) { $0 + $1.sightings.count }
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(e(tlp.rawValue)) — Cairn evidence package</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
            .tlp { display: inline-block; background: #000; color: \(colour(tlp)); font-weight: bold; padding: 0.2em 0.6em; }
            table { border-collapse: collapse; margin: 1em 0; }
            th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
            th { background: #eee; }
            td.mono, code, pre { font-family: ui-monospace, monospace; font-size: 12px; }
            pre { background: #f5f5f5; padding: 0.8em; }
            svg text { font: 11px sans-serif; }
            </style>
            </head>
            <body>
            <p class="tlp">\(e(tlp.rawValue))</p>
            <h1>Evidence package: \(incidents.count) incident(s), \(total) sighting(s)</h1>
            <p>Made by \(e(organisation)) with Cairn on \(generated.iso8601). All times are UTC.</p>
            <h2>Incidents</h2>
            <table>
            <tr><th>ID</th><th>Host</th><th>Severity</th><th>First seen</th><th>Last seen</th><th>Sightings</th><th>Title</th></tr>

            """
        for (incident, _) in incidents {
            out += "<tr><td>\(incident.id)</td><td>\(e(incident.host))</td><td>\(e(incident.severity))</td>"
                + "<td>\(incident.firstSeen.iso8601)</td><td>\(incident.lastSeen.iso8601)</td>"
                + "<td>\(incident.sightingCount)</td><td>\(e(incident.title))</td></tr>\n"
        }
        out += "</table>\n<h2>Timeline</h2>\n" + timeline(incidents)
        out += """
            <h2>Sightings</h2>
            <p>Each row leads back to the exact bytes: the source file (by path and SHA-256), the packet \
            (numbered as Wireshark numbers frames) or the line, and the rule line that matched.\
            \(total > maximumTableRows ? " The first \(maximumTableRows) are shown; all \(total) are in <code>data/sightings.csv</code> and <code>data/incident.json</code>." : "")</p>
            <table>
            <tr><th>Incident</th><th>Time</th><th>Source</th><th>Locator</th><th>Indicator</th><th>Observed</th><th>Where</th><th>Host</th><th>Rule</th></tr>

            """
        var shown = 0
        outer: for (incident, sightings) in incidents {
            for row in sightings {
                guard shown < maximumTableRows else { break outer }
                shown += 1
                let locator: String
                switch row.locator {
                case .packet(let number): locator = "packet \(number)"
                case .line(let number, let offset):
                    locator = "line \(number) (byte \(offset))"
                        + (row.unverified ? "<br><strong>unverified</strong>: its gzip member's CRC-32 was never checked" : "")
                }
                out += "<tr><td>\(incident.id)</td><td class=\"mono\">\(row.time.iso8601)</td>"
                    + "<td class=\"mono\">\(e(row.sourcePath))<br>sha256 \(e(row.sourceSHA256))</td><td>\(locator)</td>"
                    + "<td>\(e(row.indicatorType)) \(e(row.indicatorValue))</td><td>\(e(row.observed))</td>"
                    + "<td>\(e(row.field))</td><td>\(e(row.host))</td><td class=\"mono\">\(e(row.ruleFile)):\(row.ruleLine)</td></tr>\n"
            }
        }
        out += """
            </table>
            <h2>How to verify this package</h2>
            <p>The package is a BagIt bag (RFC 8493). In its directory, check every file against the manifests:</p>
            <pre>sha256sum -c tagmanifest-sha256.txt
            sha256sum -c manifest-sha256.txt</pre>
            <p>or run <code>cairn verify DIR</code>, which also checks Payload-Oxum, that no file was added, and the \
            hash chain of the custody log in <code>data/custody.json</code> and that <code>data/evidence.pcap</code> \
            holds exactly the packets <code>data/evidence-index.csv</code> lists. Compare the SHA-256 of \
            <code>tagmanifest-sha256.txt</code> with the one sent separately with the package, or, when the package \
            carries <code>tagmanifest-sha256.txt.sig</code>, check its signature with the sender's public key:</p>
            <pre>openssl pkeyutl -verify -pubin -inkey SENDER.pub -rawin -in tagmanifest-sha256.txt -sigfile tagmanifest-sha256.txt.sig</pre>
            <p>The packets of <code>data/evidence.pcap</code> open in Wireshark or <code>tshark -r</code>; each index row \
            gives the packet's source file, the source's SHA-256 and the packet's number in it.</p>
            <p class="tlp">\(e(tlp.rawValue))</p>
            </body>
            </html>

            """
        return Array(out.utf8)
    }

    /// One row per incident, a tick per sighting (at most one per pixel and row), on a
    /// shared time axis.
    static func timeline(_ incidents: [(incident: IncidentRow, sightings: [SightingRow])]) -> String {
        let times = incidents.flatMap { $0.sightings.map(\.time.nanoseconds) }
        guard let low = times.min(), let high = times.max() else { return "<p>No sightings.</p>\n" }
        let plot = width - labelWidth - 20
        let span = max(high - low, 1)
        let height = rowHeight * incidents.count + 40
        func x(_ nanoseconds: Int64) -> Int {
            labelWidth + Int((Double(nanoseconds - low) / Double(span)) * Double(plot))
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"Timeline of the sightings\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#fafafa\"/>\n"
        for (index, group) in incidents.enumerated() {
            let y = 10 + index * rowHeight + rowHeight / 2
            let colour = switch group.incident.severity {
            case "critical": "#7b241c"
            case "high": "#c0392b"
            case "medium": "#e67e22"
            default: "#2c7fb8"
            }
            svg += "<text x=\"4\" y=\"\(y + 4)\">#\(group.incident.id) \(IODEFDocument.escape(String(group.incident.host.prefix(18))))</text>\n"
            svg += "<line x1=\"\(labelWidth)\" y1=\"\(y)\" x2=\"\(labelWidth + plot)\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
            var drawn = Set<Int>()
            for sighting in group.sightings {
                let position = x(sighting.time.nanoseconds)
                guard drawn.insert(position).inserted else { continue }
                svg += "<circle cx=\"\(position)\" cy=\"\(y)\" r=\"4\" fill=\"\(colour)\"><title>\(sighting.time.iso8601) \(IODEFDocument.escape(sighting.observed))</title></circle>\n"
            }
        }
        let axis = 10 + incidents.count * rowHeight + 12
        svg += "<line x1=\"\(labelWidth)\" y1=\"\(axis - 8)\" x2=\"\(labelWidth + plot)\" y2=\"\(axis - 8)\" stroke=\"#333\"/>\n"
        svg += "<text x=\"\(labelWidth)\" y=\"\(axis + 6)\">\(Timestamp(nanoseconds: low).iso8601)</text>\n"
        svg += "<text x=\"\(labelWidth + plot)\" y=\"\(axis + 6)\" text-anchor=\"end\">\(Timestamp(nanoseconds: high).iso8601)</text>\n"
        svg += "</svg>\n"
        return svg
    }

    /// The TLP's colour as FIRST specifies it (on black).
    static func colour(_ tlp: TLP) -> String {
        switch tlp {
        case .clear: "#FFFFFF"
        case .green: "#33FF00"
        case .amber, .amberStrict: "#FFC000"
        case .red: "#FF2B2B"
        }
    }
}
