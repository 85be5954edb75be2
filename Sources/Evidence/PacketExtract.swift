import ByteParsing
import CaptureDecoding
import CaseStore
import Crypto
import Foundation
import Observations

/// `evidence.pcap` and `evidence-index.csv`: only the packets of the flows behind the
/// capture sightings (data minimisation), with their original timestamps and link type,
/// written by libpcap (`pcap_open_dead` + `pcap_dump`).
///
/// Each source capture (path and recorded SHA-256) is read twice, and neither read keeps
/// packets. Both go through CaptureDecoding's record reader (`CaptureRecordReader` over
/// the hashing `InputFile`, the readers the ingest uses), so frames are numbered by one
/// implementation, as tshark numbers them, and each pass takes the capture's SHA-256
/// from the very bytes it reads; flows are found by `PacketHeaderReader`, which walks
/// every link type the ingest decodes. The first pass (`locate`) only takes the flow key
/// of every sighted packet, and checks the SHA-256 before anything is written; the
/// second (`copy`) streams every packet of those flows straight into the package's pcap
/// file and its row into the index, both hashed as written. The flows must be known
/// before the first packet is written (a flow's packets may come before its sighted
/// packet), hence the two passes. A source whose SHA-256 is not the one the case
/// recorded is left out, and the export says so: what was already written for it is cut
/// off the pcap file and the index again. So is a source whose sighted packets are not,
/// in the second pass, in the flows the first found (it changed in between). Memory
/// holds the sighted frames and their flows, never the packets.
///
/// One output file per link type: `evidence.pcap` when every packet shares one (the
/// usual case), else `evidence-<link type name>.pcap` (e.g. `evidence-en10mb.pcap`,
/// `evidence-raw.pcap`). Packets are in source order (sources sorted by path), then
/// frame order. Timestamps are written with microsecond resolution when every packet's
/// time is whole microseconds, with nanosecond resolution (the nanosecond pcap magic)
/// otherwise, so nothing is rounded. The file names, the resolution and the snapshot
/// length go in the pcap header, before the packets that decide them are read: they are
/// taken from the first pass (exact in the usual case: one link type, one resolution);
/// when the written packets turn out to need others, the pcap files are written again.
enum PacketExtract {
    static let indexFile = "evidence-index.csv"
    static let singleFile = "evidence.pcap"
    static let indexColumns = [
        "evidence_file", "evidence_packet", "source_path", "source_sha256", "source_packet", "time",
        "captured_length", "original_length", "packet_sha256", "sighted", "flow",
    ]
    /// Snapshot length written in the pcap header: libpcap's own maximum, raised to the
    /// longest packet if one is longer, so that readers accept every record.
    static let snapshotLength: Int32 = 262_144
    /// How many times the pcap files may be written again after the first pass guessed
    /// their header wrong (a source changing between passes can change it again).
    static let maximumRewrites = 2

    struct Output {
        /// The payload files written: the pcap file(s), sorted by name, then the index.
        var files: [CustodyFile] = []
        var packetCount = 0
        /// One sentence per source left out (or partly read).
        var notes: [String] = []
        /// Sources whose packets were left out, with why.
        var omitted: [String] = []
        /// The flow of each sighted packet, by `flowKey(path:sha256:frame:)`.
        var sightedFlows: [String: FlowKey] = [:]
    }

    static func flowKey(path: String, sha256: String, frame: UInt64) -> String {
        "\(path)\u{0}\(sha256)\u{0}\(frame)"
    }

    /// Sighting fields read from the outermost IP header: a packet sighted only in these
    /// needs no payload, so `--headers-only` cuts it like the rest of its flow. Any other
    /// field (DNS, TLS, HTTP, QUIC, file digests, tunnelled addresses) needs the bytes
    /// past the transport header, and its packet is kept whole.
    static let headerFields: Set<String> = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst"]

    /// Writes the extract for the packet sightings among `sightings` into `bag`.
    static func write(sightings: [SightingRow], headersOnly: Bool, into bag: BagWriter) throws -> Output {
        var wanted: [String: Wanted] = [:]
        for sighting in sightings {
            guard case .packet(let number) = sighting.locator else { continue }
            let key = sighting.sourcePath + "\u{0}" + sighting.sourceSHA256
            wanted[key, default: Wanted(path: sighting.sourcePath, sha256: sighting.sourceSHA256)].frames.insert(number)
            if !headerFields.contains(sighting.field) { wanted[key]?.whole.insert(number) }
            if let conversation = Conversation(sighting) { wanted[key]?.conversations.append(conversation) }
        }
        let sources = wanted.keys.sorted().compactMap { wanted[$0] }

        // Pass 1 over every source: the flows, and the SHA-256 checked.
        var plans: [Plan?] = []
        var omissions: [String?] = []
        var output = Output()
        for source in sources {
            switch locate(source, headersOnly: headersOnly) {
            case .success(let plan):
                plans.append(plan)
                omissions.append(nil)
                for (frame, flow) in plan.sightedFlows {
                    output.sightedFlows[flowKey(path: source.path, sha256: source.sha256, frame: frame)] = flow
                }
            case .failure(let omission):
                plans.append(nil)
                omissions.append(omission.reason)
            }
        }

        // Pass 2: the packets, streamed into the package.
        var layout = Layout.guess(plans.compactMap { $0 })
        let index = try bag.stream(indexFile)
        var header: [UInt8] = []
        SightingsCSV.line(indexColumns, into: &header)
        try index.write(header)
        let indexStart = try index.mark()
        var rewrites = 0
        var extract: Extract
        while true {
            extract = Extract(layout: layout, bag: bag, index: index)
            for (position, plan) in plans.enumerated() {
                guard let plan else { continue }
                if let omission = try extract.copy(plan) {
                    plans[position] = nil
                    omissions[position] = omission.reason
                }
            }
            let needed = extract.neededLayout
            guard needed != layout, extract.packetCount > 0, rewrites < maximumRewrites else { break }
            // The header guessed from the first pass does not fit the packets: again,
            // with the header they need.
            extract.discard()
            try index.rollback(to: indexStart)
            layout = needed
            rewrites += 1
        }
        let (files, packetCount, failures) = try extract.finish()
        output.files = files
        output.packetCount = packetCount
        for (position, plan) in plans.enumerated() {
            if let plan { output.notes += plan.notes }
            if let omission = omissions[position] {
                output.omitted.append(omission)
                output.notes.append(omission)
            }
        }
        output.notes += failures
        return output
    }

    /// The sightings of one source.
    struct Wanted {
        var path: String
        var sha256: String
        var frames = Set<UInt64>()
        /// Sighted frames whose sightings need the payload.
        var whole = Set<UInt64>()
        var conversations: [Conversation] = []
    }

    struct Omission: Error {
        var reason: String

        init(path: String, _ why: String) {
            reason = "NOT INCLUDED: \(path): \(why); its packets are left out of the pcap extract"
        }
    }

    /// The packets an IP sighting of a conversation folds: those between the two
    /// addresses, either way, from its first to its last packet. Their flows are all
    /// extracted, and the packets themselves count as sighted.
    struct Conversation {
        var addresses: Set<IPv6Address>
        var from: Timestamp
        var until: Timestamp

        init?(_ sighting: SightingRow) {
            guard let last = sighting.lastTime, headerFields.contains(sighting.field),
                  let local = Conversation.address(sighting.host), let remote = Conversation.address(sighting.observed)
            else { return nil }
            addresses = [local, remote]
            from = sighting.time
            until = last
        }

        /// An address as `FlowKey` holds it (IPv4 in the low 32 bits).
        static func address(_ text: String) -> IPv6Address? {
            if let v4 = IPv4Address(text) { return IPv6Address(high: 0, low: UInt64(v4.value)) }
            return IPv6Address(text)
        }

        func contains(_ flow: FlowKey, at time: Timestamp) -> Bool {
            time >= from && time <= until && addresses.count == (flow.addressA == flow.addressB ? 1 : 2)
                && addresses.contains(flow.addressA) && addresses.contains(flow.addressB)
        }
    }

    /// What the first pass learnt of one source: what to copy in the second.
    struct Plan {
        var path: String
        var sha256: String
        /// Sighted frames, and frames folded into a conversation sighting (sighted too).
        var frames: Set<UInt64>
        var folded: Set<UInt64>
        /// With `--headers-only`: the sighted frames cut after the transport header.
        var cutSighted: Set<UInt64>?
        /// Every flow to copy.
        var flows: Set<FlowKey>
        var sightedFlows: [UInt64: FlowKey]
        var notes: [String]
        /// Link types, resolution and longest packet: of every record, and of the
        /// sighted and folded ones (which are surely copied).
        var linkTypes = Set<Int32>()
        var fractional = false
        var longest = 0
        var sightedLinkTypes = Set<Int32>()
        var sightedFractional = false
        var sightedLongest = 0
    }

    /// Pass 1: the flows of the sighted packets (and of the packets folded into
    /// conversation sightings), and the file's SHA-256, which must be the recorded one.
    static func locate(_ source: Wanted, headersOnly: Bool) -> Result<Plan, Omission> {
        let frames = source.frames
        let conversations = source.conversations
        var plan = Plan(
            path: source.path, sha256: source.sha256, frames: frames, folded: [],
            cutSighted: headersOnly ? frames.subtracting(source.whole) : nil, flows: [], sightedFlows: [:], notes: [])
        var found = Set<UInt64>()
        var headerReader = PacketHeaderReader()
        let first: (damage: String?, sha256: String)
        do {
            first = try read(source.path) { record in
                plan.linkTypes.insert(record.linkType)
                if record.time.nanoseconds % 1000 != 0 { plan.fractional = true }
                plan.longest = max(plan.longest, record.bytes.count)
                var sighted = false
                if frames.contains(record.frame) {
                    sighted = true
                    found.insert(record.frame)
                    if let headers = headerReader.locate(packet: record.bytes, linkType: record.linkType) {
                        plan.flows.insert(headers.flow)
                        plan.sightedFlows[record.frame] = headers.flow
                    }
                } else if !conversations.isEmpty,
                          let headers = headerReader.locate(packet: record.bytes, linkType: record.linkType),
                          conversations.contains(where: { $0.contains(headers.flow, at: record.time) })
                {
                    sighted = true
                    plan.folded.insert(record.frame)
                    plan.flows.insert(headers.flow)
                }
                if sighted {
                    plan.sightedLinkTypes.insert(record.linkType)
                    if record.time.nanoseconds % 1000 != 0 { plan.sightedFractional = true }
                    plan.sightedLongest = max(plan.sightedLongest, record.bytes.count)
                }
                return true
            }
        } catch {
            return .failure(Omission(path: source.path, "cannot be read now (\(error))"))
        }
        if first.sha256 != source.sha256 {
            return .failure(Omission(path: source.path, changedSinceIngest(now: first.sha256, recorded: source.sha256)))
        }
        if let damage = first.damage {
            plan.notes.append("\(source.path): \(damage) (as at ingest); packets past that point cannot be extracted")
        }
        let missing = frames.subtracting(found)
        if !missing.isEmpty {
            plan.notes.append("\(source.path): sighted packet(s) \(missing.sorted().prefix(10).map(String.init).joined(separator: ", ")) not found in the file")
        }
        return .success(plan)
    }

    static func changedSinceIngest(now: String, recorded: String) -> String {
        "its SHA-256 is now \(now), the case recorded \(recorded): the file changed after it was ingested"
    }

    /// Reads every record of a capture (both passes); returns the damage (if any) and
    /// the SHA-256 of the whole file as read.
    static func read(_ path: String, _ body: (CaptureRecord) -> Bool) throws -> (damage: String?, sha256: String) {
        let file = try InputFile(path: path)
        let reader = try CaptureRecordReader(file: file)
        let damage = reader.forEachPacket(body)
        return (damage, file.sha256Hex)
    }

    /// What goes in the pcap headers: the link types present (which name the files),
    /// the timestamp resolution and the snapshot length.
    struct Layout: Equatable {
        var linkTypes: Set<Int32>
        var nanoseconds: Bool
        var snapshotLength: Int32

        init(linkTypes: Set<Int32>, nanoseconds: Bool, longest: Int) {
            self.linkTypes = linkTypes
            self.nanoseconds = nanoseconds
            snapshotLength = max(PacketExtract.snapshotLength, Int32(clamping: longest))
        }

        /// The layout the copied packets will need, as far as the first pass tells: exact
        /// when every record of the sources shares one link type and one resolution and
        /// none is longer than the default snapshot length, else taken from the sighted
        /// packets.
        static func guess(_ plans: [Plan]) -> Layout {
            let all = plans.reduce(into: Set<Int32>()) { $0.formUnion($1.linkTypes) }
            let sighted = plans.reduce(into: Set<Int32>()) { $0.formUnion($1.sightedLinkTypes) }
            let anyFractional = plans.contains { $0.fractional }
            let sightedFractional = plans.contains { $0.sightedFractional }
            let longest = plans.map(\.longest).max() ?? 0
            let sightedLongest = plans.map(\.sightedLongest).max() ?? 0
            return Layout(
                linkTypes: all.count <= 1 ? all : sighted,
                nanoseconds: anyFractional && sightedFractional,
                longest: longest <= Int(PacketExtract.snapshotLength) ? longest : sightedLongest)
        }

        /// The pcap file name of each link type.
        var fileNames: [Int32: String] { PacketExtract.fileNames(linkTypes: linkTypes) }
    }

    /// The pcap file name of each link type present.
    static func fileNames(linkTypes: Set<Int32>) -> [Int32: String] {
        if linkTypes.count <= 1 { return Dictionary(uniqueKeysWithValues: linkTypes.map { ($0, singleFile) }) }
        return Dictionary(uniqueKeysWithValues: linkTypes.map { type in
            let name = CaptureRecordReader.name(ofLinkType: type).lowercased()
                .map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
            return (type, "evidence-\(name).pcap")
        })
    }
}

extension Timestamp {
    /// UTC ISO 8601 always with nine fraction digits (`2024-03-01T12:00:00.250000000Z`):
    /// one fixed form, so that the index compares as text.
    var iso8601Nanoseconds: String {
        var bytes: [UInt8] = []
        appendISO8601Nanoseconds(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `iso8601Nanoseconds` to `bytes`, with no intermediate string.
    func appendISO8601Nanoseconds(to bytes: inout [UInt8]) {
        var (seconds, fraction) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        if fraction < 0 {
            seconds -= 1
            fraction += 1_000_000_000
        }
        var (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        if secondOfDay < 0 {
            days -= 1
            secondOfDay += 86_400
        }
        let (year, month, day) = Timestamp.civil(fromDays: days)
        func put(_ value: Int64, digits: Int) {
            var divisor: Int64 = 1
            for _ in 1..<digits { divisor *= 10 }
            var remaining = value
            while divisor > 0 {
                bytes.append(UInt8(truncatingIfNeeded: 48 + (remaining / divisor) % 10))
                remaining %= divisor
                divisor /= 10
            }
        }
        // Nanoseconds in an Int64 span the years 1677 to 2262: four digits (as `iso8601`).
        put(year, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        put(Int64(month), digits: 2)
        bytes.append(UInt8(ascii: "-"))
        put(Int64(day), digits: 2)
        bytes.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, digits: 2)
        bytes.append(UInt8(ascii: "."))
        put(fraction, digits: 9)
        bytes.append(UInt8(ascii: "Z"))
    }
}
