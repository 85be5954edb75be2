import CaptureDecoding
import CaseStore
import Foundation
import Observations

/// `preservation-request-<party>.txt`: one pre-filled request for the expedited
/// preservation of stored computer data (Council of Europe Convention on Cybercrime,
/// "Budapest Convention", Article 29 §2 (a)–(f)) per remote party of the sightings.
///
/// A remote party is the indicator side of a sighting: the observed address for an
/// address indicator, the indicator's domain for a domain indicator, the host of a URL
/// indicator. File-hash sightings name no party. What Cairn knows is filled in: the
/// addresses and names, the UTC times, the services (transport and the party's port,
/// from the flows of the pcap extract) and where each was seen; what it cannot know —
/// the requesting authority, the offence, the custodian — is marked `[TO FILL: …]`.
enum PreservationRequests {
    /// Times listed one by one per request; more are summarised by the time span.
    static let maximumListedTimes = 50

    struct Party {
        var name: String
        var kind: String
        var observed: Set<String> = []
        var times: [Timestamp] = []
        var services: Set<String> = []
        var seenAs: Set<String> = []
        var localHosts: Set<String> = []
        var incidents: Set<Int64> = []
        var indicators: Set<String> = []

        mutating func update(with row: SightingRow, incident: Int64, flows: [String: FlowKey]) {
            observed.insert(row.observed)
            times.append(row.time)
            seenAs.insert(row.field)
            if !row.host.isEmpty { localHosts.insert(row.host) }
            incidents.insert(incident)
            indicators.insert("\(row.indicatorType) \(row.indicatorValue) (\(row.ruleFile):\(row.ruleLine))")
            if case .packet(let frame) = row.locator,
               let flow = flows[PacketExtract.flowKey(path: row.sourcePath, sha256: row.sourceSHA256, frame: frame)] {
                services.insert(PreservationRequests.service(flow, party: row.observed))
            }
        }
    }

    /// The request files (name, bytes), sorted by party.
    static func render(
        sightings: [(incident: Int64, sighting: SightingRow)], flows: [String: FlowKey], tlp: TLP,
        organisation: String, generated: Timestamp
    ) -> [(name: String, bytes: [UInt8])] {
        var parties: [String: Party] = [:]
        for (incident, row) in sightings {
            guard let (name, kind) = party(of: row) else { continue }
            // Updated in place: a copy out and back per sighting would copy the party's
            // sets and times each time, quadratic in an incident of 100,000 sightings.
            parties[name, default: Party(name: name, kind: kind)].update(with: row, incident: incident, flows: flows)
        }
        var used = Set<String>()
        return parties.values.sorted { $0.name < $1.name }.map { party in
            var file = "preservation-request-\(safeName(party.name)).txt"
            var counter = 2
            while !used.insert(file).inserted {
                file = "preservation-request-\(safeName(party.name))-\(counter).txt"
                counter += 1
            }
            return (file, Array(text(party, tlp: tlp, organisation: organisation, generated: generated).utf8))
        }
    }

    /// The party a sighting names, and what kind of identifier it is.
    static func party(of row: SightingRow) -> (String, String)? {
        switch row.indicatorType {
        case "ipv4", "ipv6", "ipv4-cidr", "ipv6-cidr", "cidr", "ip", "address-range":
            return (row.observed, "IP address")
        case "domain":
            let value = row.indicatorValue.hasPrefix("*.") ? String(row.indicatorValue.dropFirst(2)) : row.indicatorValue
            return (value.lowercased(), "domain name")
        case "url":
            let text = row.observed.isEmpty ? row.indicatorValue : row.observed
            guard let host = URL(string: text)?.host, !host.isEmpty else { return (text, "URL") }
            return (host.lowercased(), "host of a URL")
        default:
            // Any address-like observation of another indicator type still names a party.
            if IPv4Address(row.observed) != nil || IPv6Address(row.observed) != nil { return (row.observed, "IP address") }
            return nil
        }
    }

    /// `tcp/443` as seen from the party's side of the flow (its port), or the protocol.
    static func service(_ flow: FlowKey, party: String) -> String {
        let name: String
        switch flow.protocolNumber {
        case 6: name = "tcp"
        case 17: name = "udp"
        case 132: name = "sctp"
        case 1, 58: name = "icmp"
        default: name = "ip protocol \(flow.protocolNumber)"
        }
        let address: IPv6Address? = IPv4Address(party).map { IPv6Address(high: 0, low: UInt64($0.value)) } ?? IPv6Address(party)
        // When the party is neither endpoint (a DNS query for its name), say which flow.
        guard let address, address == flow.addressA || address == flow.addressB else { return "\(name) (seen in \(flow))" }
        guard flow.hasPorts else { return name }
        return "\(name)/\(address == flow.addressA ? flow.portA : flow.portB)"
    }

    /// A file-name-safe form of a party: letters, digits, `.`, `-`; others become `_`.
    static func safeName(_ name: String) -> String {
        String(name.prefix(100).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "_" })
    }

    static func text(_ party: Party, tlp: TLP, organisation: String, generated: Timestamp) -> String {
        let times = party.times.sorted()
        let first = times.first?.iso8601 ?? "?"
        let last = times.last?.iso8601 ?? "?"
        var listed = times.prefix(maximumListedTimes).map { "      \($0.iso8601)" }.joined(separator: "\n")
        if times.count > maximumListedTimes {
            listed += "\n      … and \(times.count - maximumListedTimes) more (all in sightings.csv)"
        }
        func list(_ values: Set<String>) -> String {
            values.isEmpty ? "      (none recorded)" : values.sorted().map { "      \($0)" }.joined(separator: "\n")
        }
        return """
            \(tlp.rawValue)
            REQUEST FOR EXPEDITED PRESERVATION OF STORED COMPUTER DATA
            (Council of Europe Convention on Cybercrime, ETS No. 185, Article 29)

            Prepared by Cairn for \(organisation) on \(generated.iso8601), from the evidence package this file is part of.
            Remote party: \(party.name) (\(party.kind))
            Fields marked [TO FILL] must be completed by the requesting authority before sending.

            (a) Requesting authority
                [TO FILL: name, address and contact of the authority seeking preservation]

            (b) Offence and summary of the facts
                [TO FILL: the offence under investigation and a brief summary of the related facts]
                Cairn incident(s): \(party.incidents.sorted().map(String.init).joined(separator: ", ")); \
            \(party.times.count) sighting(s) of \(party.name) between \(first) and \(last) (UTC).

            (c) Stored computer data to be preserved, and its relationship to the offence
                Traffic data, subscriber information and logs relating to:
                  Identifiers observed:
            \(list(party.observed))
                  Services (transport/port on the remote party's side, from the packet flows):
            \(list(party.services))
                  Times of the observed communications (UTC):
            \(listed)
                  Period to preserve: at least \(first) to \(last) (UTC) [TO FILL: widen as the investigation requires]
                  Where Cairn saw it: \(party.seenAs.sorted().joined(separator: ", "))
                  Indicators matched (type, value, rule):
            \(list(party.indicators))
                  Counterpart host(s) in the requesting side's network:
            \(list(party.localHosts))
                [TO FILL: the relationship of this data to the offence]

            (d) Custodian of the data and location of the computer system
                [TO FILL: the operator, hosting provider or registrar responsible for \(party.name), and its country,
                e.g. from the Regional Internet Registry's or the registry's WHOIS/RDAP record]

            (e) Necessity of the preservation
                [TO FILL: why the data risks being lost or modified (e.g. short log retention) and must be preserved now]

            (f) Intended request for mutual assistance
                [TO FILL: confirm that a request for mutual assistance for the search, seizure or disclosure of the
                preserved data will be submitted]

            \(tlp.rawValue)

            """
    }
}
