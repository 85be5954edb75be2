// Cairn's own reader of classic pcap files (libpcap's savefile format), so that packet
// records are parsed in place from the `InputFile`'s own buffers: libpcap read them
// through a stdio stream, copying every packet twice (into the stream's buffer, then
// into its packet buffer) and paying stdio's locking per `fread`.
//
// libpcap still judges the file header: the (at most 24) header bytes are handed to
// `pcap_fopen_offline` through `fmemopen`, so a file libpcap refuses is refused with
// libpcap's own words, and the link type (LINKTYPE_ mapped to DLT_) and snapshot length
// are libpcap's. The handle is kept for compiling a BPF filter.
//
// Where libpcap and tshark (wiretap) disagree on a header, tshark's verdict is taken,
// so that every capture tshark reads is read (`HeaderReading`): libpcap 1.10 reads
// versions 2.0–2.4 and 543.0 only, wiretap any major version from 2 on, so libpcap is
// handed a copy of the header saying 2.4 (the version changes nothing but the record
// length order, decided here from the real one); wiretap refuses a link-type field with
// its reserved bits (0x03FF0000) set, which libpcap would take as an unknown link type,
// so Cairn refuses it too. Both are said in the source's notes or error.
//
// The records are then read as libpcap 1.10's `pcap_next_packet` (sf-pcap.c) reads
// them, with the same outcome and the same messages:
// - both byte orders, microsecond and nanosecond magic (microseconds are scaled to
//   nanoseconds, as with PCAP_TSTAMP_PRECISION_NANO), the Kuznetzov magic (24-byte
//   record headers), caplen and len exchanged in versions before 2.3 and in DG/UX 543.0,
//   and exchanged when caplen > len in version 2.3;
// - a record whose caplen passes the link type's sane maximum (256 KiB for most) ends
//   the read; one whose caplen passes only the file's snapshot length is cut to the
//   snapshot length, its other bytes skipped;
// - a record header or packet cut short by the end of the file ends the read as damage.
// Not reproduced: libpcap's byte swapping of a few link-layer pseudo-headers (USB,
// NFLOG, pflog) in files of the other byte order. USB and pflog are not decoded;
// NFLOG's decoder takes its attributes in either byte order (NFLOG.swift).

import ByteParsing
import CGuardedMapping
import CPcap
import Observations
#if canImport(Glibc)
import Glibc
#endif

/// What the pcap reader hands out, one record at a time. `@safe`: a packet's `data` is a
/// borrowed pointer, and each use of it is marked where it is used.
@safe enum PcapRecord {
    /// A packet: `data` is borrowed until the next call of `next()`.
    case packet(data: UnsafeRawBufferPointer, originalLength: UInt32, time: Timestamp)
    /// The end of the file, cleanly at a record boundary.
    case end
    /// The file is damaged (or unreadable) here, in libpcap's words; nothing after it is read.
    case damage(String)
}

/// Reads the records of a classic pcap file from an `InputFile`. Not thread-safe: one
/// reader owns it.
///
/// `@safe`: its buffers are private; `chunk` is borrowed from `file` (which the reader
/// owns) and replaced only by `refill`, `staging` and `headerBytes` are allocated here
/// and freed in `deinit`; what `next()` hands out is valid until the next call.
@safe final class PcapReader {
    /// Size of the file header.
    static let fileHeaderLength = 24

    /// The link type, as libpcap's `pcap_datalink` reports it (a DLT_ value).
    let linkType: Int32
    /// The snapshot length, as libpcap's `pcap_snapshot` reports it.
    let snapshot: Int
    /// The libpcap handle that judged the file header (reads nothing more): for
    /// compiling filters with this file's link type and snapshot length.
    let handle: OpaquePointer
    /// What was unusual in the file header and how it was read (for the source's notes).
    let notes: [String]
    /// The file offset just past the last record read whole: the file header's end
    /// before the first record, the file's size at a clean end.
    private(set) var consumedOffset: UInt64

    private let file: InputFile
    private let swapped: Bool
    private let nanoseconds: Bool
    private let recordHeaderLength: Int
    private let lengthOrder: LengthOrder
    /// libpcap's `max_snaplen_for_dlt`: a larger caplen is damage.
    private let maximumCaptureLength: UInt32
    /// The header bytes `handle` reads (it must outlive the handle).
    private let headerBytes: UnsafeMutableRawBufferPointer

    // Safe (both buffers' starting values): empty, no memory behind them.
    /// Borrowed from `file`; unread bytes are `chunk[position...]`.
    private var chunk = unsafe UnsafeRawBufferPointer(start: nil, count: 0)
    private var position = 0
    /// Where a record that straddles two borrowed chunks is put together; grows to the
    /// largest such record (at most the snapshot length plus a record header).
    private var staging = unsafe UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var readError: InputFileError?

    /// How a file orders a record's caplen and len (libpcap's `lengths_swapped`).
    private enum LengthOrder {
        case normal, exchanged, exchangedWhenCaplenIsLarger
    }

    /// Reads and checks the file header. - Parameter prefix: bytes already read from
    /// `file` (to detect its kind); they are the start of the file.
    /// - Throws: `CaptureError` with libpcap's reason when libpcap refuses the header.
    init(file: InputFile, prefix: [UInt8]) throws(CaptureError) {
        self.file = file
        var header = Array(prefix.prefix(PcapReader.fileHeaderLength))
        do throws(InputFileError) {
            try file.read(upTo: PcapReader.fileHeaderLength, appendingTo: &header)
        } catch {
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: read error: \(error.reason)")
        }
        let reading = PcapReader.readHeaderAsTsharkDoes(&header)
        if let refusal = reading.refusal {
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(refusal)")
        }
        notes = reading.notes
        let handle: OpaquePointer
        // Safe: the handle and the header copy its stream reads pass to the reader, which
        // closes the one before it frees the other (deinit).
        switch unsafe PcapReader.openWithLibpcap(header) {
        case .success(let opened):
            unsafe handle = opened.handle
            unsafe headerBytes = opened.bytes
        case .failure(let reason):
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(reason)")
        }
        // libpcap accepted it: a known magic and a whole header. The magic in the
        // machine's order, as the record fields are loaded (`load32`).
        let magic = UInt32(littleEndian: header.span.uint32LittleEndian(at: 0) ?? 0)
        let nativeMagic: UInt32
        switch magic {
        case 0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34: nativeMagic = magic
        default: nativeMagic = magic.byteSwapped
        }
        swapped = nativeMagic != magic
        nanoseconds = nativeMagic == 0xA1B2_3C4D
        recordHeaderLength = nativeMagic == 0xA1B2_CD34 ? 24 : 16
        // The file's own version (libpcap was handed 2.4 for one it does not read).
        let (major, minor) = reading.version
        switch (major, minor) {
        case (2, 0..<3), (543, 0): lengthOrder = .exchanged
        case (2, 3): lengthOrder = .exchangedWhenCaplenIsLarger
        default: lengthOrder = .normal
        }
        unsafe self.handle = handle
        // Safe: the handle libpcap just opened, closed only in deinit.
        linkType = unsafe pcap_datalink(handle)
        snapshot = Int(max(unsafe pcap_snapshot(handle), 0))
        maximumCaptureLength = PcapReader.maximumCaptureLength(linkType: linkType)
        consumedOffset = UInt64(PcapReader.fileHeaderLength)
    }

    deinit {
        // Closes the memory stream too; then its bytes can go.
        // Safe: the handle and both buffers are this reader's own, and nothing uses them
        // after the reader (records are borrowed only until the next call).
        unsafe pcap_close(handle)
        unsafe headerBytes.deallocate()
        unsafe staging.deallocate()
    }

    /// How a file header is read where libpcap and tshark disagree: the version the file
    /// says, notes on what was unusual, or why it is refused.
    struct HeaderReading {
        var version: (major: UInt16, minor: UInt16) = (2, 4)
        var notes: [String] = []
        var refusal: String? = nil
    }

    /// Makes `header` (Cairn's copy of the file header) one libpcap reads the way tshark
    /// reads the file: a version from 2 on that libpcap refuses is written as 2.4. Says
    /// what the header held that was unusual, and refuses a link-type field whose
    /// reserved bits are set, in wiretap's words. A header too short or with an unknown
    /// magic is left for libpcap to refuse.
    static func readHeaderAsTsharkDoes(_ header: inout [UInt8]) -> HeaderReading {
        var reading = HeaderReading()
        guard let (bigEndian, major, minor, linkField) = headerFields(header.span) else { return reading }
        reading.version = (major, minor)
        let linkText = "0x" + String(linkField, radix: 16).leftPadded(to: 8)
        if major >= 2, !(major == 2 && minor <= 4), !(major == 543 && minor == 0) {
            // libpcap's versions are 2.0–2.4 (and DG/UX's 543.0); wiretap takes any from 2
            // on, with 2.4's record layout. Both fields are written in the file's order.
            header.replaceSubrange(4..<8, with: bigEndian ? [0, 2, 0, 4] : [2, 0, 4, 0])
            reading.notes.append("pcap version \(major).\(minor) is not one libpcap reads (2.0 to 2.4); "
                                 + "read as 2.4, as tshark reads it")
        }
        if linkField & 0x03FF_0000 != 0 {
            reading.refusal = "network type reserved field not zero (0x"
                + String(linkField & 0x03FF_0000, radix: 16).leftPadded(to: 8) + "), as tshark refuses it"
        } else if linkField & 0xFC00_0000 != 0 {
            // The FCS length bits (and the bit saying they are valid): libpcap and tshark
            // read the link type from the low bits. An FCS is not stripped: the IP
            // lengths bound what is decoded.
            reading.notes.append("the link-type field \(linkText) has FCS-length bits set; read as link type "
                                 + "\(linkField & 0xFFFF), frame check sequences left in place")
        }
        return reading
    }

    /// A whole file header's byte order (from its magic), version and link-type field;
    /// nil when the header is short or its magic unknown.
    private static func headerFields(
        _ header: Span<UInt8>
    ) -> (bigEndian: Bool, major: UInt16, minor: UInt16, linkField: UInt32)? {
        guard header.count >= fileHeaderLength, let magic = header.uint32LittleEndian(at: 0) else { return nil }
        let bigEndian: Bool
        switch magic {
        case 0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34: bigEndian = false
        case 0xD4C3_B2A1, 0x4D3C_B2A1, 0x34CD_B2A1: bigEndian = true
        default: return nil
        }
        // The offsets lie within the header, checked above.
        let major = (bigEndian ? header.uint16(at: 4) : header.uint16LittleEndian(at: 4)) ?? 0
        let minor = (bigEndian ? header.uint16(at: 6) : header.uint16LittleEndian(at: 6)) ?? 0
        let linkField = (bigEndian ? header.uint32(at: 20) : header.uint32LittleEndian(at: 20)) ?? 0
        return (bigEndian, major, minor, linkField)
    }

    /// libpcap's verdict on a file header, and when it accepts it, its handle and the copy
    /// of the header the handle's memory stream reads (to be freed after the handle).
    private static func openWithLibpcap(
        _ header: [UInt8]
    ) -> Result<(handle: OpaquePointer, bytes: UnsafeMutableRawBufferPointer), PcapHeaderProblem> {
        guard header.count >= 4 else {
            // libpcap's words for a file too short to hold a magic number.
            return unsafe .failure(PcapHeaderProblem("truncated dump file; tried to read 4 file header bytes, only got \(header.count)"))
        }
        // Safe (to the end): `bytes` is a copy of the header at an address that does not
        // move, freed here on failure or by the reader after `pcap_close`, so it outlives
        // the stream, which only reads it (mode "r"); libpcap writes at most
        // PCAP_ERRBUF_SIZE bytes of message into `errorBuffer`, during the call.
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: header.count, alignment: 8)
        unsafe header.withUnsafeBytes { unsafe bytes.copyMemory(from: $0) }
        guard let base = bytes.baseAddress, let stream = unsafe fmemopen(base, bytes.count, "r") else {
            unsafe bytes.deallocate()
            return unsafe .failure(PcapHeaderProblem("fmemopen failed: \(SystemError.describe())"))
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
            return unsafe .failure(PcapHeaderProblem(message.isEmpty ? "unknown libpcap error" : String(decoding: message, as: UTF8.self)))
        }
        return unsafe .success((opened, bytes))
    }

    /// libpcap's `max_snaplen_for_dlt`: the largest packet it considers sane.
    static func maximumCaptureLength(linkType: Int32) -> UInt32 {
        switch linkType {
        case 231: 128 << 20  // DLT_DBUS: D-Bus messages up to 128 MiB
        case 279: 8 << 20  // DLT_EBHSCR
        case 249: 1 << 20  // DLT_USBPCAP
        default: 262_144  // MAXIMUM_SNAPLEN
        }
    }

    /// The next packet record. Its bytes are borrowed until the next call.
    func next() -> PcapRecord {
        // Safe (the record's bytes, here to the end): `take` and `gather` hand out bytes of
        // the current chunk or of `staging`, valid until the next call of `next()`; the
        // loads are at offsets below `recordHeaderLength`, which `head` holds.
        let head = unsafe take(recordHeaderLength)
        guard head.count == recordHeaderLength else {
            if let readError { return .damage("read error: \(readError.reason)") }
            if unsafe head.isEmpty { return .end }
            return .damage("truncated dump file; tried to read \(recordHeaderLength) header bytes, only got \(head.count)")
        }
        let seconds = unsafe load32(head, 0)
        let fraction = unsafe load32(head, 4)
        var captured = unsafe load32(head, 8)
        var original = unsafe load32(head, 12)
        switch lengthOrder {
        case .normal: break
        case .exchangedWhenCaplenIsLarger where captured <= original: break
        case .exchanged, .exchangedWhenCaplenIsLarger: swap(&captured, &original)
        }
        // libpcap's record header fields are signed 32-bit, widened with their sign.
        let time = Timestamp(
            seconds: Int64(Int32(bitPattern: seconds)),
            nanoseconds: Int64(Int32(bitPattern: fraction)) &* (nanoseconds ? 1 : 1000))
        if captured > maximumCaptureLength {
            return .damage(captured > UInt32(snapshot)
                ? "invalid packet capture length \(captured), bigger than snaplen of \(snapshot)"
                : "invalid packet capture length \(captured), bigger than maximum of \(maximumCaptureLength)")
        }
        let data: UnsafeRawBufferPointer
        if Int(captured) > snapshot {
            // Kept: the first `snapshot` bytes (copied, as skipping may move on to the
            // next borrowed chunk); the rest is skipped.
            unsafe data = gather(snapshot)
            guard data.count == snapshot else { return shortData(wanted: snapshot, got: data.count) }
            let skipped = skip(Int(captured) - snapshot)
            guard skipped == Int(captured) - snapshot else {
                return shortData(wanted: Int(captured), got: snapshot + skipped)
            }
        } else {
            unsafe data = take(Int(captured))
            guard data.count == Int(captured) else { return shortData(wanted: Int(captured), got: data.count) }
        }
        consumedOffset += UInt64(recordHeaderLength) + UInt64(captured)
        // Safe: `position` lies inside the chunk; a prefetch reads nothing.
        if unsafe position < chunk.count, let base = unsafe chunk.baseAddress { unsafe cairn_prefetch(base + position) }
        return unsafe .packet(data: data, originalLength: original, time: time)
    }

    private func shortData(wanted: Int, got: Int) -> PcapRecord {
        if let readError { return .damage("read error: \(readError.reason)") }
        return .damage("truncated dump file; tried to read \(wanted) captured bytes, only got \(got)")
    }

    // MARK: bytes

    /// `count` bytes of the file, in place when the current chunk holds them all, else
    /// put together in `staging`; fewer only at the end of the file or a read error.
    @inline(__always)
    private func take(_ count: Int) -> UnsafeRawBufferPointer {
        guard unsafe chunk.count - position >= count else { return unsafe gather(count) }
        defer { position += count }
        // Safe: `position + count` is within the chunk, checked above.
        return unsafe UnsafeRawBufferPointer(rebasing: chunk[position..<(position + count)])
    }

    /// `count` bytes copied into `staging`, from the current chunk and the next ones.
    private func gather(_ count: Int) -> UnsafeRawBufferPointer {
        // Safe (to the end): `staging` is the reader's own, replaced only here (nothing
        // handed out from it is used past the next call); it holds at least `count` bytes,
        // and `got + piece <= count` and `position + piece <= chunk.count`.
        if unsafe staging.count < count {
            unsafe staging.deallocate()
            unsafe staging = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 64 * 1024), alignment: 16)
        }
        var got = 0
        while true {
            let piece = unsafe min(count - got, chunk.count - position)
            if piece > 0 {
                unsafe UnsafeMutableRawBufferPointer(rebasing: staging[got..<(got + piece)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[position..<(position + piece)]))
                got += piece
                position += piece
            }
            if got == count || !refill() { break }
        }
        return unsafe UnsafeRawBufferPointer(rebasing: staging[0..<got])
    }

    /// Skips `count` bytes; returns how many there were.
    private func skip(_ count: Int) -> Int {
        var skipped = 0
        while true {
            // Safe: only the chunk's size is read.
            let piece = unsafe min(count - skipped, chunk.count - position)
            skipped += piece
            position += piece
            if skipped == count || !refill() { return skipped }
        }
    }

    /// Borrows the next chunk of the file; false at its end or on a read error.
    private func refill() -> Bool {
        guard readError == nil else { return false }
        // Safe: the borrowed bytes stay valid until the next call on `file`, which only
        // this reader makes, here; what was handed out of the old chunk is used no longer.
        do throws(InputFileError) {
            unsafe chunk = try file.borrow(upTo: Int.max)
        } catch {
            readError = error
            unsafe chunk = UnsafeRawBufferPointer(start: nil, count: 0)
        }
        position = 0
        return unsafe !chunk.isEmpty
    }

    /// A record header field; the caller has checked that `bytes` holds `offset + 4`.
    @inline(__always)
    private func load32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        let value = unsafe bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return swapped ? value.byteSwapped : value
    }
}

/// Why libpcap refused a pcap file header, in its words.
struct PcapHeaderProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// The string with zeros in front, to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
