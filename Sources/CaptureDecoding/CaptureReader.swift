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
/// Raw memory in the capture readers is confined to this file: libpcap's calls (the
/// pcap header's handle, compiled filters and link-type names). The record readers
/// parse spans lent by `InputFile.withNextWindow` or of their own buffers.
public final class CaptureReader {
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
    private let filter: CompiledFilter?
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
        // Safe: a handle of this call's own, closed on return.
        guard let handle = unsafe pcap_open_dead(DLT_EN10MB, 65_535) else { return "libpcap could not start" }
        defer { unsafe pcap_close(handle) }
        if case .failure(let problem) = unsafe CompiledFilter.compile(filter, handle: handle) { return problem.description }
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
            self.filter = nil
            self.pcapng = reader
            self.filters = filters
            self.linkType = first ?? -1
            self.linkTypeName = first.map(CaptureReader.name(ofLinkType:)) ?? "none"
            self.link = first.flatMap { LinkLayer(dataLinkType: $0) }
            return
        }

        let reader = try PcapReader(file: file, prefix: prefix)
        var compiled: CompiledFilter? = nil
        if let filter {
            // Compiled for this file's link type and snapshot length, as libpcap would.
            switch reader.libpcap.compile(filter) {
            case .success(let program): compiled = program
            case .failure(let problem):
                throw CaptureError(path: file.path, message: "filter \"\(filter)\" does not compile: \(problem)")
            }
        }
        self.pcap = reader
        self.filter = compiled
        self.pcapng = nil
        self.filters = nil
        self.linkType = reader.linkType
        self.linkTypeName = CaptureReader.name(ofLinkType: reader.linkType)
        self.link = LinkLayer(dataLinkType: reader.linkType)
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
        libpcapName(ofLinkType: linkType) ?? "unknown"
    }

    /// libpcap's name for a DLT_ value (`EN10MB`, `RAW`…); nil when it has none.
    static func libpcapName(ofLinkType linkType: Int32) -> String? {
        // Safe: libpcap's name is a static C string (or nil), copied at once.
        unsafe pcap_datalink_val_to_name(linkType).map { unsafe String(cString: $0) }
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
        let filter = self.filter
        let link = self.link
        let ending = reader.read { record in
            summary.packets += 1
            if let filter, !filter.passes(record.bytes, header: CaptureReader.filterHeader(record)) {
                summary.packetsFiltered += 1
            } else {
                CaptureReader.decode(record, link: link, decoder: &decoder, into: &summary, observe: observe)
            }
            if summary.packets % CaptureReader.progressInterval == 0 {
                summary.bytesConsumed = reader.consumedOffset
                report(summary, decoder: decoder, progress)
            }
            return true
        }
        if case .damage(let reason) = ending {
            summary.damage = "reading stopped at packet \(summary.packets + 1) (\(summary.packets) read): \(reason)"
        }
    }

    /// Decodes a packet that passed the filter and counts it in its bucket; a link type
    /// Cairn does not decode (`link` nil) makes it undecodable.
    @inline(__always)
    private static func decode(
        _ record: CaptureRecord, link: LinkLayer?, decoder: inout PacketDecoder, into summary: inout ReadSummary,
        observe: (Observation) -> Void
    ) {
        guard let link else {
            summary.anomalies.record(.linkUnsupported)
            summary.packetsUndecodable += 1
            return
        }
        let anomaliesBefore = decoder.anomalies.total
        decoder.decode(
            packet: record.bytes, link: link, locator: .packet(record.frame), time: record.time,
            wireLength: record.originalLength, observe: observe)
        summary.countDecoded(anomalous: decoder.anomalies.total != anomaliesBefore)
    }

    /// A pcap record's header as libpcap hands it to a filter (the file was opened with
    /// nanosecond precision, so the fraction is in nanoseconds).
    private static func filterHeader(_ record: CaptureRecord) -> pcap_pkthdr {
        var header = pcap_pkthdr()
        header.len = record.originalLength
        header.ts.tv_sec = Int(record.time.nanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(record.time.nanoseconds % 1_000_000_000)
        return header
    }

    private func readPcapNG(
        _ reader: PcapNGReader, decoder: inout PacketDecoder, into summary: inout ReadSummary,
        observe: (Observation) -> Void, progress: (ReadSummary) -> Void
    ) {
        // `frames` (a class property) is written once at the end, not per packet.
        defer { frames = reader.frames }
        let filters = self.filters
        // Link types already noted as not decoded or carrying no IP: a handful per file at most.
        var noted: Set<Int32> = []
        let ending = reader.read { record in
            summary.packets += 1
            let linkType = record.linkType
            if filters?.matches(linkType: linkType, packet: record.bytes, originalLength: record.originalLength,
                                time: record.time) ?? true {
                let link = LinkLayer(dataLinkType: linkType)
                if let note = CaptureReader.note(link: link, linkType: linkType), noted.insert(linkType).inserted {
                    summary.notes.append(note)
                }
                CaptureReader.decode(record, link: link, decoder: &decoder, into: &summary, observe: observe)
            } else {
                summary.packetsFiltered += 1
            }
            if summary.packets % CaptureReader.progressInterval == 0 {
                var snapshot = summary
                snapshot.anomalies.merge(reader.anomalies)
                report(snapshot, decoder: decoder, progress)
            }
            return true
        }
        if case .damage(let reason) = ending {
            summary.damage = "reading stopped after frame \(reader.frames) (\(summary.packets) packets read): \(reason)"
        }
    }

    private func report(_ summary: ReadSummary, decoder: PacketDecoder, _ progress: (ReadSummary) -> Void) {
        var snapshot = summary
        snapshot.anomalies.merge(decoder.anomalies.byKind)
        snapshot.bytes = file.bytesRead
        progress(snapshot)
    }

}

extension ReadSummary {
    /// Counts a packet of a decoded link type in its bucket.
    fileprivate mutating func countDecoded(anomalous: Bool) {
        if anomalous { packetsAnomalous += 1 } else { packetsDecoded += 1 }
    }
}

/// A BPF filter compiled once per link type (`pcap_open_dead` with that link type), for
/// files whose interfaces differ in link type.
final class FilterPrograms {
    let filter: String
    /// Compiled programs by DLT_ value; nil where the filter does not compile for it.
    private var programs: [Int32: CompiledFilter?] = [:]
    private(set) var problems: [Int32: String] = [:]

    init(filter: String) { self.filter = filter }

    /// Why the filter does not compile for `linkType`, or nil.
    func problem(linkType: Int32) -> String? {
        _ = program(linkType)
        return problems[linkType]
    }

    /// Whether the packet passes the filter; a link type the filter does not compile
    /// for passes nothing (as libpcap would refuse the file).
    func matches(linkType: Int32, packet: Span<UInt8>, originalLength: UInt32, time: Timestamp) -> Bool {
        guard let program = program(linkType) else { return false }
        var header = pcap_pkthdr()
        header.len = max(originalLength, UInt32(packet.count))
        header.ts.tv_sec = Int(time.nanoseconds / 1_000_000_000)
        header.ts.tv_usec = Int(time.nanoseconds % 1_000_000_000 / 1_000)
        return program.passes(packet, header: header)
    }

    private func program(_ linkType: Int32) -> CompiledFilter? {
        if let cached = programs[linkType] { return cached }
        var compiled: CompiledFilter? = nil
        // Safe: a handle of this call's own, closed before it returns.
        if let handle = unsafe pcap_open_dead(linkType, 262_144) {
            switch unsafe CompiledFilter.compile(filter, handle: handle) {
            case .success(let program): compiled = program
            case .failure(let problem): problems[linkType] = problem.description
            }
            unsafe pcap_close(handle)
        } else {
            problems[linkType] = "libpcap could not start for link type \(linkType)"
        }
        programs[linkType] = compiled
        return compiled
    }
}

/// One BPF filter compiled by libpcap, applied per packet with `pcap_offline_filter`.
/// `@safe`: the program is private, at an address that does not move, compiled in
/// `compile` and freed in `deinit`.
@safe final class CompiledFilter {
    private let program: UnsafeMutablePointer<bpf_program>

    private init(program: UnsafeMutablePointer<bpf_program>) {
        unsafe self.program = program
    }

    deinit {
        // Safe: the program compiled in `compile`, used by no one after this filter.
        unsafe pcap_freecode(program)
        unsafe program.deallocate()
    }

    /// Compiles `filter` with `handle`'s link type and snapshot length; libpcap's reason
    /// when it does not compile.
    static func compile(_ filter: String, handle: OpaquePointer) -> Result<CompiledFilter, LibpcapProblem> {
        // Safe (to the end): one program at a fixed address, freed here on failure or by
        // the filter's deinit; the caller's handle is alive for the call; libpcap's message
        // is copied at once.
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        unsafe program.initialize(to: bpf_program())
        guard unsafe pcap_compile(handle, program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            let reason = unsafe pcap_geterr(handle).map { unsafe String(cString: $0) } ?? "unknown error"
            unsafe program.deallocate()
            return .failure(LibpcapProblem(reason))
        }
        return unsafe .success(CompiledFilter(program: program))
    }

    /// Whether `packet` passes, with the wire length and time in `header` (its `caplen`
    /// is set here, to the packet's length).
    func passes(_ packet: Span<UInt8>, header: pcap_pkthdr) -> Bool {
        var header = header
        header.caplen = UInt32(packet.count)
        // Safe: the program is compiled; BPF reads at most `caplen` bytes of the packet
        // (none of an empty one, handed a local byte's address), during the call.
        return unsafe packet.withUnsafeBufferPointer { buffer in
            var empty: UInt8 = 0
            guard let base = buffer.baseAddress else { return unsafe pcap_offline_filter(program, &header, &empty) != 0 }
            return unsafe pcap_offline_filter(program, &header, base) != 0
        }
    }
}

/// libpcap's handle on a pcap file header (`Pcap.swift`): libpcap judges the header, and
/// the handle, which reads nothing more, compiles filters for the file's link type and
/// snapshot length. `@safe`: the handle and the copy of the header its memory stream
/// reads are private, made in `open` and freed in `deinit`, the stream first.
@safe final class PcapHeaderHandle {
    /// The link type, as `pcap_datalink` reports it (a DLT_ value).
    let linkType: Int32
    /// The snapshot length, as `pcap_snapshot` reports it.
    let snapshot: Int
    private let handle: OpaquePointer
    /// The header bytes `handle` reads (they must outlive the handle).
    private let bytes: UnsafeMutableRawBufferPointer

    private init(handle: OpaquePointer, bytes: UnsafeMutableRawBufferPointer) {
        unsafe self.handle = handle
        unsafe self.bytes = bytes
        // Safe: the handle libpcap just opened, closed only in deinit.
        linkType = unsafe pcap_datalink(handle)
        snapshot = Int(unsafe pcap_snapshot(handle))
    }

    deinit {
        // Closes the memory stream too; then its bytes can go.
        // Safe: the handle and the bytes are this object's own, used by no one after it.
        unsafe pcap_close(handle)
        unsafe bytes.deallocate()
    }

    /// Compiles `filter` for this file; libpcap's reason when it does not compile.
    func compile(_ filter: String) -> Result<CompiledFilter, LibpcapProblem> {
        // Safe: the handle is alive as long as this object.
        unsafe CompiledFilter.compile(filter, handle: handle)
    }

    /// libpcap's verdict on a file header: its handle when it accepts it, its reason
    /// when it does not.
    static func open(_ header: [UInt8]) -> Result<PcapHeaderHandle, LibpcapProblem> {
        guard header.count >= 4 else {
            // libpcap's words for a file too short to hold a magic number.
            return .failure(LibpcapProblem("truncated dump file; tried to read 4 file header bytes, only got \(header.count)"))
        }
        // Safe (to the end): `bytes` is a copy of the header at an address that does not
        // move, freed here on failure or by the handle's deinit after `pcap_close`, so it
        // outlives the stream, which only reads it (mode "r"); libpcap writes at most
        // PCAP_ERRBUF_SIZE bytes of message into `errorBuffer`, during the call.
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: header.count, alignment: 8)
        unsafe header.withUnsafeBytes { unsafe bytes.copyMemory(from: $0) }
        guard let base = bytes.baseAddress, let stream = unsafe fmemopen(base, bytes.count, "r") else {
            unsafe bytes.deallocate()
            return .failure(LibpcapProblem("fmemopen failed: \(SystemError.describe())"))
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        let opened = unsafe errorBuffer.withUnsafeMutableBufferPointer { buffer in
            unsafe pcap_fopen_offline_with_tstamp_precision(stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer.baseAddress)
        }
        guard let opened = unsafe opened else {
            // libpcap leaves the stream to its caller when it fails to open it.
            unsafe fclose(stream)
            unsafe bytes.deallocate()
            let message = errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return .failure(LibpcapProblem(message.isEmpty ? "unknown libpcap error" : String(decoding: message, as: UTF8.self)))
        }
        return unsafe .success(PcapHeaderHandle(handle: opened, bytes: bytes))
    }
}

/// Why libpcap refused a pcap file header or a filter, in its words.
struct LibpcapProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
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
