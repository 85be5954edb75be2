import ByteParsing
import CaptureDecoding
import CaseStore
import CPcap
import Crypto
import Foundation
import Observations
#if canImport(Glibc)
import Glibc
#endif

/// `evidence.pcap` and `evidence-index.csv`: only the packets of the flows behind the
/// capture sightings (data minimisation), with their original timestamps and link type,
/// written by libpcap (`pcap_open_dead` + `pcap_dump`).
///
/// For each source capture (path and recorded SHA-256) the file is read twice through
/// the hashing `InputFile`: the first pass takes the flow key of every sighted packet
/// and the file's SHA-256; the second collects every packet of those flows and hashes
/// the file again. A source whose SHA-256, in either pass, is not the one the case
/// recorded is left out, and the export says so. Packets are kept in memory until the
/// package is written: the extract is small by design.
///
/// One output file per link type: `evidence.pcap` when every packet shares one (the
/// usual case), else `evidence-<link type name>.pcap` (e.g. `evidence-en10mb.pcap`,
/// `evidence-raw.pcap`). Packets are in source order (sources sorted by path), then
/// frame order. Timestamps are written with microsecond resolution when every packet's
/// time is whole microseconds, with nanosecond resolution (the nanosecond pcap magic)
/// otherwise, so nothing is rounded.
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

    /// One packet kept for the extract.
    struct Packet {
        var sourcePath: String
        var sourceSHA256: String
        var frame: UInt64
        var linkType: Int32
        var time: Timestamp
        var originalLength: UInt32
        var bytes: [UInt8]
        var sighted: Bool
        var flow: String
    }

    struct Output {
        /// Payload files: the pcap file(s) and the index.
        var files: [(name: String, bytes: [UInt8])] = []
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

    /// Builds the extract for the packet sightings among `sightings`.
    static func build(sightings: [SightingRow], headersOnly: Bool) -> Output {
        var wanted: [String: (path: String, sha256: String, frames: Set<UInt64>, whole: Set<UInt64>,
                              conversations: [Conversation])] = [:]
        for sighting in sightings {
            guard case .packet(let number) = sighting.locator else { continue }
            let key = sighting.sourcePath + "\u{0}" + sighting.sourceSHA256
            wanted[key, default: (sighting.sourcePath, sighting.sourceSHA256, [], [], [])].frames.insert(number)
            if !headerFields.contains(sighting.field) { wanted[key]?.whole.insert(number) }
            if let conversation = Conversation(sighting) { wanted[key]?.conversations.append(conversation) }
        }
        var output = Output()
        var packets: [Packet] = []
        for key in wanted.keys.sorted() {
            guard let source = wanted[key] else { continue }
            switch extract(path: source.path, sha256: source.sha256, frames: source.frames,
                           conversations: source.conversations,
                           headersOnly: headersOnly ? source.frames.subtracting(source.whole) : nil) {
            case .success(let result):
                packets += result.packets
                output.notes += result.notes
                for (frame, flow) in result.flows {
                    output.sightedFlows[flowKey(path: source.path, sha256: source.sha256, frame: frame)] = flow
                }
            case .failure(let omission):
                output.omitted.append(omission.reason)
                output.notes.append(omission.reason)
            }
        }
        write(packets, into: &output)
        return output
    }

    struct Omission: Error {
        var reason: String
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
            time >= from && time <= until && addresses == [flow.addressA, flow.addressB]
        }
    }

    /// Reads one source twice and returns the packets of the sighted flows. With
    /// `headersOnly`, every packet is cut after its transport header except the sighted
    /// ones not in that set (those whose sightings need the payload).
    static func extract(
        path: String, sha256: String, frames: Set<UInt64>, conversations: [Conversation] = [],
        headersOnly cutSighted: Set<UInt64>?
    ) -> Result<(packets: [Packet], notes: [String], flows: [UInt64: FlowKey]), Omission> {
        func omitted(_ why: String) -> Omission {
            Omission(reason: "NOT INCLUDED: \(path): \(why); its packets are left out of the pcap extract")
        }
        // Pass 1: the flows of the sighted packets, and the file's SHA-256.
        var flows = Set<FlowKey>()
        var sightedFlows: [UInt64: FlowKey] = [:]
        var found = Set<UInt64>()
        // Packets folded into a conversation sighting, beyond its first.
        var folded = Set<UInt64>()
        let first: (damage: String?, sha256: String)
        do {
            first = try read(path) { record in
                if !conversations.isEmpty, !frames.contains(record.frame),
                   let headers = PacketHeaders.locate(packet: record.data, linkType: record.linkType),
                   conversations.contains(where: { $0.contains(headers.flow, at: record.time) })
                {
                    folded.insert(record.frame)
                    flows.insert(headers.flow)
                }
                if frames.contains(record.frame) {
                    found.insert(record.frame)
                    if let headers = PacketHeaders.locate(packet: record.data, linkType: record.linkType) {
                        flows.insert(headers.flow)
                        sightedFlows[record.frame] = headers.flow
                    }
                }
                return true
            }
        } catch {
            return .failure(omitted("cannot be read now (\(error))"))
        }
        guard first.sha256 == sha256 else {
            return .failure(omitted("its SHA-256 is now \(first.sha256), the case recorded \(sha256): the file changed after it was ingested"))
        }
        // Pass 2: every packet of those flows, and the SHA-256 again.
        var packets: [Packet] = []
        let second: (damage: String?, sha256: String)
        do {
            second = try read(path) { record in
                let headers = PacketHeaders.locate(packet: record.data, linkType: record.linkType)
                let sighted = frames.contains(record.frame) || folded.contains(record.frame)
                guard sighted || headers.map({ flows.contains($0.flow) }) == true else { return true }
                var count = record.data.count
                if let cutSighted, !sighted || cutSighted.contains(record.frame) || folded.contains(record.frame) {
                    // A packet without a readable IP header is only here when sighted: kept whole.
                    count = min(count, headers?.headersEnd ?? count)
                }
                packets.append(Packet(
                    sourcePath: path, sourceSHA256: sha256, frame: record.frame, linkType: record.linkType,
                    time: record.time, originalLength: max(record.originalLength, UInt32(clamping: record.data.count)),
                    bytes: Array(UnsafeRawBufferPointer(rebasing: record.data[0..<count])), sighted: sighted,
                    flow: headers?.flow.description ?? "no IP header"))
                return true
            }
        } catch {
            return .failure(omitted("cannot be read now (\(error))"))
        }
        guard second.sha256 == sha256 else {
            return .failure(omitted("its SHA-256 changed while it was read (now \(second.sha256), recorded \(sha256))"))
        }
        var notes: [String] = []
        if let damage = first.damage {
            notes.append("\(path): \(damage) (as at ingest); packets past that point cannot be extracted")
        }
        let missing = frames.subtracting(found)
        if !missing.isEmpty {
            notes.append("\(path): sighted packet(s) \(missing.sorted().prefix(10).map(String.init).joined(separator: ", ")) not found in the file")
        }
        return .success((packets, notes, sightedFlows))
    }

    /// Reads every record of a capture; returns the damage (if any) and the SHA-256 of
    /// the whole file as read.
    static func read(_ path: String, _ body: (CaptureRecord) -> Bool) throws -> (damage: String?, sha256: String) {
        let file = try InputFile(path: path)
        let reader = try CaptureRecordReader(file: file)
        let damage = reader.forEachPacket(body)
        return (damage, file.sha256Hex)
    }

    /// The pcap file name of each link type present.
    static func fileNames(linkTypes: [Int32]) -> [Int32: String] {
        let distinct = Set(linkTypes)
        if distinct.count <= 1 { return Dictionary(uniqueKeysWithValues: distinct.map { ($0, singleFile) }) }
        return Dictionary(uniqueKeysWithValues: distinct.map { type in
            let name = CaptureRecordReader.name(ofLinkType: type).lowercased()
                .map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
            return (type, "evidence-\(name).pcap")
        })
    }

    static func write(_ packets: [Packet], into output: inout Output) {
        output.packetCount = packets.count
        let names = fileNames(linkTypes: packets.map(\.linkType))
        var index: [UInt8] = []
        SightingsCSV.line(indexColumns, into: &index)
        for (linkType, name) in names.sorted(by: { $0.value < $1.value }) {
            let selected = packets.filter { $0.linkType == linkType }
            guard let bytes = dump(selected, linkType: linkType) else {
                output.notes.append("\(name): libpcap could not write the extract for link type \(linkType)")
                continue
            }
            output.files.append((name, bytes))
            for (number, packet) in selected.enumerated() {
                SightingsCSV.line([
                    name, String(number + 1), packet.sourcePath, packet.sourceSHA256, String(packet.frame),
                    packet.time.iso8601Nanoseconds, String(packet.bytes.count), String(packet.originalLength),
                    BagIt.sha256(packet.bytes), packet.sighted ? "yes" : "no", packet.flow,
                ], into: &index)
            }
        }
        output.files.append((indexFile, index))
    }

    /// The packets as a pcap file, written by libpcap into memory (`open_memstream`).
    static func dump(_ packets: [Packet], linkType: Int32) -> [UInt8]? {
        let nano = packets.contains { $0.time.nanoseconds % 1000 != 0 }
        let longest = packets.map(\.bytes.count).max() ?? 0
        let precision = UInt32(nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO)
        guard let dead = pcap_open_dead_with_tstamp_precision(linkType, max(snapshotLength, Int32(clamping: longest)), precision)
        else { return nil }
        defer { pcap_close(dead) }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return nil }
        guard let dumper = pcap_dump_fopen(dead, stream) else {
            fclose(stream)
            free(buffer)
            return nil
        }
        for packet in packets {
            var header = pcap_pkthdr()
            let (seconds, fraction) = packet.time.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
            let (wholeSeconds, nanoseconds) = fraction < 0 ? (seconds - 1, fraction + 1_000_000_000) : (seconds, fraction)
            header.ts.tv_sec = Int(wholeSeconds)
            header.ts.tv_usec = Int(nano ? nanoseconds : nanoseconds / 1000)
            header.caplen = UInt32(packet.bytes.count)
            header.len = packet.originalLength
            packet.bytes.withUnsafeBufferPointer { bytes in
                // pcap_dump takes the dumper as u_char*, as libpcap's callbacks do.
                pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, bytes.baseAddress)
            }
        }
        pcap_dump_close(dumper)  // flushes and closes the memory stream
        defer { free(buffer) }
        guard let buffer else { return nil }
        return Array(UnsafeRawBufferPointer(start: buffer, count: size))
    }
}

extension Timestamp {
    /// UTC ISO 8601 always with nine fraction digits (`2024-03-01T12:00:00.250000000Z`):
    /// one fixed form, so that the index compares as text.
    var iso8601Nanoseconds: String {
        let text = iso8601
        let fraction = ((nanoseconds % 1_000_000_000) + 1_000_000_000) % 1_000_000_000
        let digits = String(fraction)
        let padded = String(repeating: "0", count: 9 - digits.count) + digits
        let whole = text.prefix(19)  // YYYY-MM-DDTHH:MM:SS
        return "\(whole).\(padded)Z"
    }
}
