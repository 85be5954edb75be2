import ByteParsing
import CPcap
import Observations
#if canImport(Glibc)
import Glibc
#endif

/// Reads one capture file (pcap or pcapng) and hands every observation to the caller.
///
/// pcap files are read by Cairn's own record reader (`Pcap.swift`: libpcap judges the
/// file header, the records are parsed in place from the `InputFile`'s buffers, as
/// libpcap would read them), so the file is read once and its SHA-256 covers exactly
/// the bytes decoded. pcapng files are read by Cairn's own reader (`PcapNG.swift`),
/// through the same `InputFile`: libpcap stops at the second interface of a file whose interfaces
/// differ in link type or snapshot length and refuses one without interfaces, where
/// tshark reads them. A BPF filter on a pcapng is compiled once per link type and
/// applied per packet with `pcap_offline_filter`.
///
/// Packet numbers are tshark's frame numbers: in a pcapng, a Custom Block is a frame
/// (tshark 4.0 shows each as one) and takes a number, though it is not a packet
/// (`ReadSummary.packets` does not count it; `frames` does). Not thread-safe: one
/// reader task owns it.
///
/// `@safe`: the compiled filter is private, made in `init` and freed in `deinit`.
@safe public final class CaptureReader {
    /// How often `read` reports progress, in packets.
    public static let progressInterval: UInt64 = 16_384

    /// The link type as `pcap_datalink` reports it (a DLT_ value; for pcapng, the
    /// first interface's, -1 when the file describes none).
    public let linkType: Int32
    /// libpcap's name for `linkType` (`EN10MB`, `RAW`…), or `unknown`.
    public let linkTypeName: String
    /// Whether packets of this link type are decoded (otherwise only counted: a link
    /// type Cairn does not decode, or one that carries no IP).
    public var decodesLinkType: Bool { link != nil && link != .noIP }
    /// Frames numbered so far: packets plus (pcapng) Custom Blocks; after `read`, the
    /// number of frames tshark shows for the file.
    public private(set) var frames: UInt64 = 0

    private let file: InputFile
    /// The reader of a pcap file (nil for pcapng).
    private let pcap: PcapReader?
    /// The filter compiled for a pcap file.
    private let program: UnsafeMutablePointer<bpf_program>?
    private let pcapng: PcapNGReader?
    private let filters: FilterPrograms?
    private let link: LinkLayer?
    private var decoder: PacketDecoder
    private var finished: ReadSummary?

    /// Checks that `filter` compiles, before any file is read, so that a typo in a
    /// filter is one usage error rather than a failure of every capture. It is compiled
    /// for Ethernet; a capture of another link type compiles it again when it is opened.
    /// Returns libpcap's reason when it does not compile.
    public static func filterProblem(_ filter: String) -> String? {
        // Safe: a handle of this call's own, closed on return; libpcap reads the filter
        // text and fills `program` during each call; its error message is copied at once.
        guard let handle = unsafe pcap_open_dead(DLT_EN10MB, 65_535) else { return "libpcap could not start" }
        defer { unsafe pcap_close(handle) }
        var program = unsafe bpf_program()
        guard unsafe pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            return unsafe pcap_geterr(handle).map { unsafe String(cString: $0) } ?? "unknown error"
        }
        unsafe pcap_freecode(&program)
        return nil
    }

    /// The magic number of a pcapng Section Header Block (the same in both byte orders).
    static let pcapngMagic: [UInt8] = [0x0A, 0x0D, 0x0D, 0x0A]

    /// - Parameters:
    ///   - file: the opened input; the reader reads it through (hashing as it goes)
    ///     and drains it at the end so `file.sha256Hex` covers the whole file.
    ///   - filter: a BPF expression applied per packet with `pcap_offline_filter`, so
    ///     packet numbers stay those of the file.
    /// - Throws: `CaptureError` when the file cannot be opened as a capture at all or
    ///   the filter does not compile.
    public convenience init(file: InputFile, filter: String?) throws(CaptureError) {
        try self.init(file: file, filter: filter, options: DecodingOptions())
    }

    /// The first four bytes of `file` (fewer when it is shorter), which say pcapng or
    /// not; the caller hands them on to whichever reader follows, so the file is still
    /// read (and hashed) once.
    static func firstFourBytes(of file: InputFile) throws(CaptureError) -> [UInt8] {
        var head: [UInt8] = []
        do throws(InputFileError) {
            try file.read(upTo: 4, appendingTo: &head)
        } catch {
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: read error: \(error.reason)")
        }
        return head
    }

    /// As `init(file:filter:)`, with the bounds of the reassembly state (flow table,
    /// stream buffers, fragment buffers) given by `options`.
    public init(file: InputFile, filter: String?, options: DecodingOptions) throws(CaptureError) {
        self.decoder = PacketDecoder(options: options)
        // The first four bytes say pcapng or not; they are handed on to whichever
        // reader follows, so the file is still read (and hashed) once.
        let prefix = try CaptureReader.firstFourBytes(of: file)
        self.file = file
        if prefix == CaptureReader.pcapngMagic {
            let reader = PcapNGReader(file: file, prefix: prefix)
            if let problem = reader.readFirstSection() {
                throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(problem)")
            }
            let first = reader.peekFirstLinkType().map(CaptureReader.dataLinkType)
            var filters: FilterPrograms? = nil
            if let filter {
                let programs = FilterPrograms(filter: filter)
                if let problem = programs.problem(linkType: first ?? DLT_EN10MB) {
                    throw CaptureError(path: file.path, message: "filter \"\(filter)\" does not compile: \(problem)")
                }
                filters = programs
            }
            self.pcap = nil
            // Safe: no program (filters are compiled per link type for pcapng).
            unsafe self.program = nil
            self.pcapng = reader
            self.filters = filters
            self.linkType = first ?? -1
            self.linkTypeName = first.map(CaptureReader.name(ofLinkType:)) ?? "none"
            self.link = first.flatMap { LinkLayer(dataLinkType: $0) }
            return
        }

        let reader = try PcapReader(file: file, prefix: prefix)
        var program: UnsafeMutablePointer<bpf_program>? = nil
        if let filter {
            // Compiled for this file's link type and snapshot length, as libpcap would.
            // Safe: one program at a fixed address, freed here on failure or in deinit;
            // the reader's handle is alive; libpcap's message is copied at once.
            let compiled = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
            unsafe compiled.initialize(to: bpf_program())
            guard unsafe pcap_compile(reader.handle, compiled, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                let reason = unsafe pcap_geterr(reader.handle).map { unsafe String(cString: $0) } ?? "unknown error"
                unsafe compiled.deallocate()
                throw CaptureError(path: file.path, message: "filter \"\(filter)\" does not compile: \(reason)")
            }
            unsafe program = compiled
        }
        self.pcap = reader
        unsafe self.program = program
        self.pcapng = nil
        self.filters = nil
        self.linkType = reader.linkType
        self.linkTypeName = CaptureReader.name(ofLinkType: reader.linkType)
        self.link = LinkLayer(dataLinkType: reader.linkType)
    }

    deinit {
        // Safe: the program compiled in init, used by no one after the reader.
        if let program = unsafe program {
            unsafe pcap_freecode(program)
            unsafe program.deallocate()
        }
    }

    /// libpcap's DLT_ value for a pcapng LINKTYPE_ value: they are equal except for a
    /// few, of which only LINKTYPE_RAW (101, DLT_RAW 12 on Linux) is decoded here.
    static func dataLinkType(_ linkType: Int32) -> Int32 {
        linkType == 101 ? 12 : linkType
    }

    /// What a source's notes say of its link type: that it is not decoded (its packets
    /// are undecodable, `link.unsupported`), or that it carries no IP (its packets count
    /// as decoded: there is nothing in them to inspect, as in an ARP frame); nil for a
    /// decoded link type.
    static func note(link: LinkLayer?, linkType: Int32) -> String? {
        switch link {
        case nil:
            "link type \(linkType) (\(name(ofLinkType: linkType))) is not decoded; packets counted but not inspected"
        case .noIP:
            "link type \(linkType) (\(name(ofLinkType: linkType))) carries no IP; packets counted as decoded, "
                + "with nothing to inspect"
        default:
            nil
        }
    }

    static func name(ofLinkType linkType: Int32) -> String {
        // Safe: libpcap's name is a static C string (or nil), copied at once.
        unsafe pcap_datalink_val_to_name(linkType).map { unsafe String(cString: $0) } ?? "unknown"
    }

    /// Reads every packet. `observe` gets each observation (borrowed: valid during the
    /// call only); `progress` is called every `progressInterval` packets with the
    /// summary so far. A truncated or corrupt file ends the read with `damage` set;
    /// what came before is kept. The file is read once: a second call returns the
    /// first call's summary.
    public func read(observe: (Observation) -> Void, progress: (ReadSummary) -> Void) -> ReadSummary {
        if let finished { return finished }
        var summary = ReadSummary()
        if let pcapng {
            // The decoder is handed over `inout` for the whole read: one exclusivity check,
            // not several per packet as for each access to the class's property.
            readPcapNG(pcapng, decoder: &decoder, into: &summary, observe: observe, progress: progress)
            summary.anomalies.merge(pcapng.anomalies)
            summary.bytesConsumed = pcapng.consumedOffset
        } else if let pcap {
            summary.notes += pcap.notes
            if let note = CaptureReader.note(link: link, linkType: linkType) { summary.notes.append(note) }
            readPackets(pcap, decoder: &decoder, into: &summary, observe: observe, progress: progress)
            summary.bytesConsumed = pcap.consumedOffset
        }
        // Streams and datagrams still open at the end: parsed as far as they go.
        decoder.finish(observe: observe)
        do {
            try file.drain()
        } catch {
            if summary.damage == nil { summary.damage = "reading the rest of the file: \(error.reason)" }
        }
        summary.anomalies.merge(decoder.anomalies.byKind)
        summary.bytes = file.bytesRead
        // What the hash covers is the file; what lies past the last whole record is unread.
        summary.bytesUnread = file.bytesRead >= summary.bytesConsumed ? file.bytesRead - summary.bytesConsumed : 0
        finished = summary
        return summary
    }

    private func readPackets(
        _ reader: PcapReader, decoder: inout PacketDecoder, into summary: inout ReadSummary,
        observe: (Observation) -> Void, progress: (ReadSummary) -> Void
    ) {
        // `frames` (a class property) is written once at the end, not per packet.
        defer { frames = summary.packets }
        while true {
            // Safe (the record's bytes, to the end of this pass of the loop): borrowed from
            // the reader, valid until its next `next()`, and handed on for one call each.
            let data: UnsafeRawBufferPointer
            let originalLength: UInt32
            let time: Timestamp
            switch reader.next() {
            case .end:
                return
            case .damage(let reason):
                summary.damage = "reading stopped at packet \(summary.packets + 1) (\(summary.packets) read): \(reason)"
                return
            case .packet(let bytes, let length, let stamp):
                unsafe data = bytes
                originalLength = length
                time = stamp
            }
            summary.packets += 1
            if let program = unsafe program,
               unsafe !CaptureReader.passes(program, data: data, originalLength: originalLength, time: time) {
                summary.packetsFiltered += 1
            } else if let link {
                let anomaliesBefore = decoder.anomalies.total
                unsafe decoder.decode(
                    record: data, link: link, locator: .packet(summary.packets), time: time,
                    wireLength: originalLength, observe: observe)
                summary.countDecoded(anomalous: decoder.anomalies.total != anomaliesBefore)
            } else {
                summary.anomalies.record(.linkUnsupported)
                summary.packetsUndecodable += 1
            }
            if summary.packets % CaptureReader.progressInterval == 0 {
                summary.bytesConsumed = reader.consumedOffset
                report(summary, decoder: decoder, progress)
            }
        }
    }

    /// Whether a packet passes a compiled BPF filter (`pcap_offline_filter`, with the
    /// record's lengths as libpcap would hand them).
    static func passes(
        _ program: UnsafeMutablePointer<bpf_program>, data: UnsafeRawBufferPointer, originalLength: UInt32,
        time: Timestamp
    ) -> Bool {
        // Safe: the program is compiled; BPF reads at most `header.caplen` (= `data.count`)
        // bytes of the packet, during the call.
        guard let base = data.baseAddress else {
            // An empty record: BPF reads nothing of it but its lengths.
            var empty: UInt8 = 0
            var header = pcap_pkthdr()
            header.len = originalLength
            return unsafe pcap_offline_filter(program, &header, &empty) != 0
        }
        var header = pcap_pkthdr()
        header.caplen = UInt32(data.count)
        header.len = originalLength
        header.ts.tv_sec = Int(time.nanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(time.nanoseconds % 1_000_000_000)
        return unsafe pcap_offline_filter(program, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
    }

    private func readPcapNG(
        _ reader: PcapNGReader, decoder: inout PacketDecoder, into summary: inout ReadSummary,
        observe: (Observation) -> Void, progress: (ReadSummary) -> Void
    ) {
        // Frames are counted in a local, written back to the class's property at the end.
        var frames = self.frames
        defer { self.frames = frames }
        // Link types already noted as not decoded or carrying no IP: a handful per file at most.
        var noted: Set<Int32> = []
        while true {
            switch reader.next() {
            case .end:
                return
            case .damage(let reason):
                summary.damage = "reading stopped after frame \(frames) (\(summary.packets) packets read): \(reason)"
                return
            case .custom:
                frames += 1
            case .packet(let interface, let data, let originalLength, let time):
                // Safe (`data`, in this case): borrowed from the reader, valid until its
                // next `next()`, and handed on for one call each.
                frames += 1
                summary.packets += 1
                let linkType = CaptureReader.dataLinkType(reader.interfaces[interface].linkType)
                if unsafe filters?.matches(linkType: linkType, data: data, originalLength: originalLength, time: time) ?? true {
                    let link = LinkLayer(dataLinkType: linkType)
                    if let note = CaptureReader.note(link: link, linkType: linkType), noted.insert(linkType).inserted {
                        summary.notes.append(note)
                    }
                    if let link {
                        let anomaliesBefore = decoder.anomalies.total
                        unsafe decoder.decode(
                            record: data, link: link, locator: .packet(frames), time: time,
                            wireLength: UInt32(clamping: originalLength), observe: observe)
                        summary.countDecoded(anomalous: decoder.anomalies.total != anomaliesBefore)
                    } else {
                        summary.anomalies.record(.linkUnsupported)
                        summary.packetsUndecodable += 1
                    }
                } else {
                    summary.packetsFiltered += 1
                }
                if summary.packets % CaptureReader.progressInterval == 0 {
                    var snapshot = summary
                    snapshot.anomalies.merge(reader.anomalies)
                    report(snapshot, decoder: decoder, progress)
                }
            }
        }
    }

    private func report(_ summary: ReadSummary, decoder: PacketDecoder, _ progress: (ReadSummary) -> Void) {
        var snapshot = summary
        snapshot.anomalies.merge(decoder.anomalies.byKind)
        snapshot.bytes = file.bytesRead
        progress(snapshot)
    }

    private static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "unknown libpcap error" : String(decoding: bytes, as: UTF8.self)
    }
}

extension ReadSummary {
    /// Counts a packet of a decoded link type in its bucket.
    fileprivate mutating func countDecoded(anomalous: Bool) {
        if anomalous { packetsAnomalous += 1 } else { packetsDecoded += 1 }
    }
}

/// A BPF filter compiled once per link type (`pcap_open_dead` with that link type), for
/// files whose interfaces differ in link type. `@safe`: the programs are private, compiled
/// in `program(_:)` and freed in `deinit`.
@safe final class FilterPrograms {
    let filter: String
    /// Compiled programs by DLT_ value; nil where the filter does not compile for it.
    // Safe: empty to start with; see `program(_:)` and deinit for what goes in.
    private var programs: [Int32: UnsafeMutablePointer<bpf_program>?] = unsafe [:]
    private(set) var problems: [Int32: String] = [:]

    init(filter: String) { self.filter = filter }

    deinit {
        // Safe: each program was compiled and allocated once, and is used by no one after
        // the filter set.
        for unsafe case let program? in unsafe programs.values {
            unsafe pcap_freecode(program)
            unsafe program.deallocate()
        }
    }

    /// Why the filter does not compile for `linkType`, or nil.
    func problem(linkType: Int32) -> String? {
        _ = unsafe program(linkType)
        return problems[linkType]
    }

    /// Whether the packet passes the filter; a link type the filter does not compile
    /// for passes nothing (as libpcap would refuse the file).
    func matches(linkType: Int32, data: UnsafeRawBufferPointer, originalLength: UInt32, time: Timestamp) -> Bool {
        // Safe: the program is compiled; BPF reads at most `header.caplen` (= `data.count`)
        // bytes of the packet, during the call.
        guard let program = unsafe program(linkType), let base = data.baseAddress else { return false }
        var header = pcap_pkthdr()
        header.caplen = UInt32(data.count)
        header.len = max(originalLength, UInt32(data.count))
        header.ts.tv_sec = Int(time.nanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(time.nanoseconds % 1_000_000_000 / 1_000)
        return unsafe pcap_offline_filter(program, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
    }

    private func program(_ linkType: Int32) -> UnsafeMutablePointer<bpf_program>? {
        if let cached = unsafe programs[linkType] { return unsafe cached }
        // Safe (to the end): a handle of this call's own, closed before it returns; one
        // program at a fixed address, kept in `programs` (freed in deinit) or freed here;
        // libpcap's message is copied at once.
        var compiled: UnsafeMutablePointer<bpf_program>? = nil
        if let handle = unsafe pcap_open_dead(linkType, 262_144) {
            let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
            unsafe program.initialize(to: bpf_program())
            if unsafe pcap_compile(handle, program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 {
                unsafe compiled = program
            } else {
                problems[linkType] = unsafe pcap_geterr(handle).map { unsafe String(cString: $0) } ?? "unknown error"
                unsafe program.deallocate()
            }
            unsafe pcap_close(handle)
        } else {
            problems[linkType] = "libpcap could not start for link type \(linkType)"
        }
        unsafe programs[linkType] = compiled
        return unsafe compiled
    }
}

/// A capture that cannot be read at all, or a filter that does not compile.
public struct CaptureError: Error, Sendable, CustomStringConvertible {
    /// The capture file's path as given.
    public var path: String
    /// What was attempted and libpcap's reason.
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

extension InputFile {
    /// Reads (and hashes, as every read does) until `bytes` holds `count` bytes or the
    /// file ends: the start of a file, to tell its kind and judge its header.
    func read(upTo count: Int, appendingTo bytes: inout [UInt8]) throws(InputFileError) {
        while bytes.count < count {
            // Safe: the borrowed bytes stay valid until the next call on the file, and are
            // copied before it.
            let piece = unsafe try borrow(upTo: count - bytes.count)
            if unsafe piece.isEmpty { return }
            unsafe bytes.append(contentsOf: piece)
        }
    }
}

extension PacketDecoder {
    /// Decodes a record as the record readers hand it out: a pointer into the input
    /// file's buffers, valid until the next record is read.
    mutating func decode(
        record data: UnsafeRawBufferPointer, link: LinkLayer, locator: Locator, time: Timestamp, wireLength: UInt32,
        observe: (Observation) -> Void
    ) {
        // Safe: the span covers exactly the record's bytes, which stay valid until the
        // reader's next call, after this one returns; the span does not leave the call.
        let packet = unsafe Span<UInt8>(_unsafeBytes: data)
        decode(packet: packet, link: link, locator: locator, time: time, wireLength: wireLength, observe: observe)
    }
}
