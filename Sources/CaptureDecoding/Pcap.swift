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

/// What the pcap reader hands out, one record at a time.
enum PcapRecord {
    /// A packet: `data` is borrowed until the next call of `next()`.
    case packet(data: UnsafeRawBufferPointer, originalLength: UInt32, time: Timestamp)
    /// The end of the file, cleanly at a record boundary.
    case end
    /// The file is damaged (or unreadable) here, in libpcap's words; nothing after it is read.
    case damage(String)
}

/// Reads the records of a classic pcap file from an `InputFile`. Not thread-safe: one
/// reader owns it.
final class PcapReader {
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

    /// Borrowed from `file`; unread bytes are `chunk[position...]`.
    private var chunk = UnsafeRawBufferPointer(start: nil, count: 0)
    private var position = 0
    /// Where a record that straddles two borrowed chunks is put together; grows to the
    /// largest such record (at most the snapshot length plus a record header).
    private var staging = UnsafeMutableRawBufferPointer(start: nil, count: 0)
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
        let headerBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: PcapReader.fileHeaderLength, alignment: 8)
        var got = min(prefix.count, PcapReader.fileHeaderLength)
        prefix.withUnsafeBytes { bytes in
            UnsafeMutableRawBufferPointer(rebasing: headerBytes[0..<got])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<got]))
        }
        do throws(InputFileError) {
            while got < PcapReader.fileHeaderLength {
                let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: headerBytes[got...]))
                if count == 0 { break }
                got += count
            }
        } catch {
            headerBytes.deallocate()
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: read error: \(error.reason)")
        }
        let reading = PcapReader.readHeaderAsTsharkDoes(UnsafeMutableRawBufferPointer(rebasing: headerBytes[0..<got]))
        if let refusal = reading.refusal {
            headerBytes.deallocate()
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(refusal)")
        }
        notes = reading.notes
        let header = UnsafeRawBufferPointer(rebasing: headerBytes[0..<got])
        let handle: OpaquePointer
        switch PcapReader.openWithLibpcap(header) {
        case .success(let opened): handle = opened
        case .failure(let reason):
            headerBytes.deallocate()
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(reason)")
        }
        self.headerBytes = headerBytes
        // libpcap accepted it: a known magic and a whole header.
        let magic = header.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
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
        self.handle = handle
        linkType = pcap_datalink(handle)
        snapshot = Int(max(pcap_snapshot(handle), 0))
        maximumCaptureLength = PcapReader.maximumCaptureLength(linkType: linkType)
        consumedOffset = UInt64(PcapReader.fileHeaderLength)
    }

    deinit {
        // Closes the memory stream too; then its bytes can go.
        pcap_close(handle)
        headerBytes.deallocate()
        staging.deallocate()
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
    static func readHeaderAsTsharkDoes(_ header: UnsafeMutableRawBufferPointer) -> HeaderReading {
        var reading = HeaderReading()
        guard header.count >= fileHeaderLength else { return reading }
        let magic = header.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        let swapped: Bool
        switch magic {
        case 0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34: swapped = false
        case 0xD4C3_B2A1, 0x4D3C_B2A1, 0x34CD_B2A1: swapped = true
        default: return reading
        }
        func field16(_ offset: Int) -> UInt16 {
            let value = header.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            return swapped ? value.byteSwapped : value
        }
        let major = field16(4)
        let minor = field16(6)
        reading.version = (major, minor)
        let rawLinkType = header.loadUnaligned(fromByteOffset: 20, as: UInt32.self)
        let linkField = swapped ? rawLinkType.byteSwapped : rawLinkType
        let linkText = "0x" + String(linkField, radix: 16).leftPadded(to: 8)
        if major >= 2, !(major == 2 && minor <= 4), !(major == 543 && minor == 0) {
            // libpcap's versions are 2.0–2.4 (and DG/UX's 543.0); wiretap takes any from 2
            // on, with 2.4's record layout. Both fields are written in the file's order.
            let two: UInt16 = swapped ? UInt16(2).byteSwapped : 2
            let four: UInt16 = swapped ? UInt16(4).byteSwapped : 4
            header.storeBytes(of: two, toByteOffset: 4, as: UInt16.self)
            header.storeBytes(of: four, toByteOffset: 6, as: UInt16.self)
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

    /// libpcap's verdict on a file header (and its handle when it accepts it).
    private static func openWithLibpcap(_ header: UnsafeRawBufferPointer) -> Result<OpaquePointer, PcapHeaderProblem> {
        guard let base = header.baseAddress, header.count >= 4 else {
            // libpcap's words for a file too short to hold a magic number.
            return .failure(PcapHeaderProblem("truncated dump file; tried to read 4 file header bytes, only got \(header.count)"))
        }
        // Safe: the stream only reads (mode "r"); `header` outlives it (see `headerBytes`).
        guard let stream = fmemopen(UnsafeMutableRawPointer(mutating: base), header.count, "r") else {
            return .failure(PcapHeaderProblem("fmemopen failed: \(SystemError.describe())"))
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        let opened = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            pcap_fopen_offline_with_tstamp_precision(stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer.baseAddress)
        }
        guard let opened else {
            // libpcap leaves the stream to its caller when it fails to open it.
            fclose(stream)
            let bytes = errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return .failure(PcapHeaderProblem(bytes.isEmpty ? "unknown libpcap error" : String(decoding: bytes, as: UTF8.self)))
        }
        return .success(opened)
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
        let head = take(recordHeaderLength)
        guard head.count == recordHeaderLength else {
            if let readError { return .damage("read error: \(readError.reason)") }
            if head.isEmpty { return .end }
            return .damage("truncated dump file; tried to read \(recordHeaderLength) header bytes, only got \(head.count)")
        }
        let seconds = load32(head, 0)
        let fraction = load32(head, 4)
        var captured = load32(head, 8)
        var original = load32(head, 12)
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
            data = gather(snapshot)
            guard data.count == snapshot else { return shortData(wanted: snapshot, got: data.count) }
            let skipped = skip(Int(captured) - snapshot)
            guard skipped == Int(captured) - snapshot else {
                return shortData(wanted: Int(captured), got: snapshot + skipped)
            }
        } else {
            data = take(Int(captured))
            guard data.count == Int(captured) else { return shortData(wanted: Int(captured), got: data.count) }
        }
        consumedOffset += UInt64(recordHeaderLength) + UInt64(captured)
        if position < chunk.count, let base = chunk.baseAddress { cairn_prefetch(base + position) }
        return .packet(data: data, originalLength: original, time: time)
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
        guard chunk.count - position >= count else { return gather(count) }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: chunk[position..<(position + count)])
    }

    /// `count` bytes copied into `staging`, from the current chunk and the next ones.
    private func gather(_ count: Int) -> UnsafeRawBufferPointer {
        if staging.count < count {
            staging.deallocate()
            staging = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 64 * 1024), alignment: 16)
        }
        var got = 0
        while true {
            let piece = min(count - got, chunk.count - position)
            if piece > 0 {
                UnsafeMutableRawBufferPointer(rebasing: staging[got..<(got + piece)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[position..<(position + piece)]))
                got += piece
                position += piece
            }
            if got == count || !refill() { break }
        }
        return UnsafeRawBufferPointer(rebasing: staging[0..<got])
    }

    /// Skips `count` bytes; returns how many there were.
    private func skip(_ count: Int) -> Int {
        var skipped = 0
        while true {
            let piece = min(count - skipped, chunk.count - position)
            skipped += piece
            position += piece
            if skipped == count || !refill() { return skipped }
        }
    }

    /// Borrows the next chunk of the file; false at its end or on a read error.
    private func refill() -> Bool {
        guard readError == nil else { return false }
        do throws(InputFileError) {
            chunk = try file.borrow(upTo: Int.max)
        } catch {
            readError = error
            chunk = UnsafeRawBufferPointer(start: nil, count: 0)
        }
        position = 0
        return !chunk.isEmpty
    }

    @inline(__always)
    private func load32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
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
