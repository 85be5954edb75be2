import ByteParsing
import CPcap
import Observations
#if canImport(Glibc)
import Glibc
#endif

/// Reads one capture file (pcap or pcapng) through libpcap and hands every
/// observation to the caller.
///
/// libpcap reads the file through the `InputFile` (see `CookieStream.swift`), so the
/// file is read once and its SHA-256 covers exactly the bytes decoded. Not
/// thread-safe: one reader task owns it.
public final class CaptureReader {
    /// How often `read` reports progress, in packets.
    public static let progressInterval: UInt64 = 16_384

    /// The link type as `pcap_datalink` reports it (a DLT_ value; for pcapng, the
    /// first interface's).
    public let linkType: Int32
    /// libpcap's name for `linkType` (`EN10MB`, `RAW`…), or `unknown`.
    public let linkTypeName: String
    /// Whether packets of this link type are decoded (otherwise only counted).
    public var decodesLinkType: Bool { link != nil }

    private let file: InputFile
    private let source: CookieSource
    private var handle: OpaquePointer?
    private let program: UnsafeMutablePointer<bpf_program>?
    private let link: LinkLayer?
    private var decoder = PacketDecoder()
    private var finished: ReadSummary?

    /// - Parameters:
    ///   - file: the opened input; the reader reads it through (hashing as it goes)
    ///     and drains it at the end so `file.sha256Hex` covers the whole file.
    ///   - filter: a BPF expression applied per packet with `pcap_offline_filter`, so
    ///     packet numbers stay those of the file.
    /// - Throws: `CaptureError` when the file cannot be opened as a capture at all or
    ///   the filter does not compile.
    /// Checks that `filter` compiles, before any file is read, so that a typo in a
    /// filter is one usage error rather than a failure of every capture. It is compiled
    /// for Ethernet; a capture of another link type compiles it again when it is opened.
    /// Returns libpcap's reason when it does not compile.
    public static func filterProblem(_ filter: String) -> String? {
        guard let handle = pcap_open_dead(DLT_EN10MB, 65_535) else { return "libpcap could not start" }
        defer { pcap_close(handle) }
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            return pcap_geterr(handle).map { String(cString: $0) } ?? "unknown error"
        }
        pcap_freecode(&program)
        return nil
    }

    public init(file: InputFile, filter: String?) throws(CaptureError) {
        let source = CookieSource(file: file)
        let stream: UnsafeMutablePointer<FILE>
        switch openCookieStream(source) {
        case .success(let opened): stream = opened
        case .failure(let error):
            throw CaptureError(path: file.path, message: "cannot hand the file to libpcap: \(error.message)")
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        let opened = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            pcap_fopen_offline_with_tstamp_precision(stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer.baseAddress)
        }
        guard let handle = opened else {
            // libpcap leaves the stream to its caller when it fails to open it.
            fclose(stream)
            let reason = source.error.map { "read error: \($0.reason)" } ?? CaptureReader.text(errorBuffer)
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(reason)")
        }
        var program: UnsafeMutablePointer<bpf_program>? = nil
        if let filter {
            let compiled = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
            compiled.initialize(to: bpf_program())
            guard pcap_compile(handle, compiled, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                let reason = pcap_geterr(handle).map { String(cString: $0) } ?? "unknown error"
                compiled.deallocate()
                pcap_close(handle)
                throw CaptureError(path: file.path, message: "filter \"\(filter)\" does not compile: \(reason)")
            }
            program = compiled
        }
        let linkType = pcap_datalink(handle)
        self.file = file
        self.source = source
        self.handle = handle
        self.program = program
        self.linkType = linkType
        self.linkTypeName = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "unknown"
        self.link = LinkLayer(dataLinkType: linkType)
    }

    deinit {
        if let handle { pcap_close(handle) }
        if let program {
            pcap_freecode(program)
            program.deallocate()
        }
    }

    /// Reads every packet. `observe` gets each observation (borrowed: valid during the
    /// call only); `progress` is called every `progressInterval` packets with the
    /// summary so far. A truncated or corrupt file ends the read with `damage` set;
    /// what came before is kept. The file is read once: a second call returns the
    /// first call's summary.
    public func read(observe: (Observation) -> Void, progress: (ReadSummary) -> Void) -> ReadSummary {
        if let finished { return finished }
        var summary = ReadSummary()
        if link == nil {
            summary.notes.append(
                "link type \(linkType) (\(linkTypeName)) is not decoded; packets counted but not inspected")
        }
        if let handle {
            readPackets(handle, into: &summary, observe: observe, progress: progress)
            // Closes the stream too, which drops its reference to `source`.
            pcap_close(handle)
            self.handle = nil
        }
        do {
            try file.drain()
        } catch {
            if summary.damage == nil { summary.damage = "reading the rest of the file: \(error.reason)" }
        }
        summary.anomalies.merge(decoder.anomalies)
        summary.bytes = file.bytesRead
        finished = summary
        return summary
    }

    private func readPackets(
        _ handle: OpaquePointer, into summary: inout ReadSummary,
        observe: (Observation) -> Void, progress: (ReadSummary) -> Void
    ) {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == -2 { return }  // PCAP_ERROR_BREAK: end of file
            guard status == 1, let header, let data else {
                let reason = source.error.map { "read error: \($0.reason)" }
                    ?? pcap_geterr(handle).map { String(cString: $0) } ?? "unknown libpcap error"
                summary.damage = "reading stopped at packet \(summary.packets + 1) (\(summary.packets) read): \(reason)"
                return
            }
            summary.packets += 1
            if program.map({ pcap_offline_filter($0, header, data) != 0 }) ?? true {
                if let link {
                    // libpcap guarantees `caplen` bytes at `data` until the next pcap_next_ex.
                    let bytes = UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen))
                    // With PCAP_TSTAMP_PRECISION_NANO, `tv_usec` holds nanoseconds.
                    let time = Timestamp(
                        seconds: Int64(header.pointee.ts.tv_sec), nanoseconds: Int64(header.pointee.ts.tv_usec))
                    decoder.decode(
                        packet: bytes, link: link, locator: .packet(summary.packets), time: time, observe: observe)
                } else {
                    summary.anomalies.record("link.unsupported")
                }
            }
            if summary.packets % CaptureReader.progressInterval == 0 {
                var snapshot = summary
                snapshot.anomalies.merge(decoder.anomalies)
                snapshot.bytes = file.bytesRead
                progress(snapshot)
            }
        }
    }

    private static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "unknown libpcap error" : String(decoding: bytes, as: UTF8.self)
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
