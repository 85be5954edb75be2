import CaseStore
import Foundation
import Observations

/// `iodef.xml`: the incidents as one IODEF v2 document (RFC 7970), the format CERTs
/// exchange incidents in.
///
/// Each incident carries the elements and attributes the RFC requires (`IncidentID`
/// with `name`, `GenerationTime`, a `Contact` with `role` and `type`, the `purpose`
/// attribute), its time span, an `Assessment` with the severity, and one `EventData`
/// per indicator: the local host as the `target` system and the observed addresses or
/// names as the `source` systems. Digest sightings have no IODEF node; their
/// EventData describes them in text.
enum IODEFDocument {
    static func render(
        organisation: String, tlp: TLP, generated: Timestamp,
        incidents: [(incident: IncidentRow, sightings: [SightingRow])]
    ) -> [UInt8] {
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- \(tlp.rawValue) -->
            <IODEF-Document version="2.00" xml:lang="en" xmlns="urn:ietf:params:xml:ns:iodef-2.0">

            """
        let restriction: String
        switch tlp {
        case .clear: restriction = "white"
        case .green: restriction = "green"
        case .amber, .amberStrict: restriction = "amber"
        case .red: restriction = "red"
        }
        let name = escape(organisation)
        for (incident, sightings) in incidents {
            out += """
                  <Incident purpose="reporting" restriction="\(restriction)">
                    <IncidentID name="\(name)">cairn-\(incident.id)</IncidentID>
                    <DetectTime>\(incident.firstSeen.iso8601)</DetectTime>
                    <StartTime>\(incident.firstSeen.iso8601)</StartTime>
                    <EndTime>\(incident.lastSeen.iso8601)</EndTime>
                    <GenerationTime>\(generated.iso8601)</GenerationTime>
                    <Description>\(escape(incident.title))</Description>
                    <Assessment>
                      <SystemImpact severity="\(IODEFDocument.impactSeverity(incident.severity))" type="unknown"/>
                    </Assessment>
                    <Contact role="creator" type="organization">
                      <ContactName>\(name)</ContactName>
                    </Contact>

                """
            var byIndicator: [String: [SightingRow]] = [:]
            var order: [String] = []
            for sighting in sightings {
                let key = "\(sighting.indicatorType) \(sighting.indicatorValue)"
                if byIndicator[key] == nil { order.append(key) }
                byIndicator[key, default: []].append(sighting)
            }
            for key in order {
                guard let rows = byIndicator[key], let first = rows.first else { continue }
                let times = rows.map(\.time)
                let start = times.min() ?? first.time
                let end = times.max() ?? first.time
                let rules = Set(rows.map { "\($0.ruleFile):\($0.ruleLine)" }).sorted().joined(separator: ", ")
                out += """
                        <EventData>
                          <Description>Indicator \(escape(key)) (rule \(escape(rules))): \(rows.count) sighting(s)</Description>
                          <StartTime>\(start.iso8601)</StartTime>
                          <EndTime>\(end.iso8601)</EndTime>

                    """
                let observed = Set(rows.map(\.observed)).sorted()
                let sources = observed.compactMap { node(for: $0, indicatorType: first.indicatorType) }
                if !sources.isEmpty {
                    out += "      <Flow>\n"
                    if let target = node(for: incident.host, indicatorType: nil) {
                        out += "        <System category=\"target\">\n          <Node>\(target)</Node>\n        </System>\n"
                    }
                    for source in sources {
                        out += "        <System category=\"source\">\n          <Node>\(source)</Node>\n        </System>\n"
                    }
                    out += "      </Flow>\n"
                }
                out += "    </EventData>\n"
            }
            out += "  </Incident>\n"
        }
        out += "</IODEF-Document>\n"
        return Array(out.utf8)
    }

    /// The content of a `Node` for an address or a name; nil for a digest or nothing.
    static func node(for value: String, indicatorType: String?) -> String? {
        guard !value.isEmpty, value != "(unknown)" else { return nil }
        switch indicatorType {
        case "md5", "sha1", "sha256", "url", "email": return nil
        default: break
        }
        if IPv4Address(value) != nil {
            return "<Address category=\"ipv4-addr\">\(escape(value))</Address>"
        }
        if IPv6Address(value) != nil {
            return "<Address category=\"ipv6-addr\">\(escape(value))</Address>"
        }
        return "<DomainData system-status=\"unknown\"><Name>\(escape(value))</Name></DomainData>"
    }

    /// Text as XML character data or attribute value. Characters XML 1.0 cannot hold
    /// (control characters other than tab, LF, CR) become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// IODEF's `SystemImpact@severity` has three levels (RFC 7970 §3.12.2): Cairn's
    /// `info` is reported as `low`, `critical` as `high`.
    static func impactSeverity(_ severity: String) -> String {
        switch severity {
        case "critical", "high": "high"
        case "medium": "medium"
        default: "low"
        }
    }
}
