// Cairn's own reader of classic pcap files (libpcap's savefile format), so that packet
// records are parsed in place from the `InputFile`'s own windows, lent as spans
// (`withNextWindow`): libpcap read them through a stdio stream, copying every packet
// twice (into the stream's buffer, then into its packet buffer) and paying stdio's
// locking per `fread`. Only a record that straddles two windows is copied, into an
// owned buffer. No raw memory here: libpcap's side is `PcapHeaderHandle`
// (CaptureReader.swift).
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
import Observations

/// How a record reader's `read(_:)` ended.
enum RecordsEnd {
    /// The end of the file, cleanly at a record boundary.
    case end
    /// The caller's `body` returned false.
    case stopped
    /// The file is damaged (or unreadable) here, in the reader's words; nothing after it
    /// is read.
    case damage(String)
}

/// Reads the records of a classic pcap file from an `InputFile`. Not thread-safe: one
/// reader owns it, and reads it once.
final class PcapReader {
    /// Size of the file header.
    static let fileHeaderLength = 24

    /// The link type, as libpcap's `pcap_datalink` reports it (a DLT_ value).
    let linkType: Int32
    /// The snapshot length, as libpcap's `pcap_snapshot` reports it.
    let snapshot: Int
    /// libpcap's handle on the file header (it reads nothing more): for compiling
    /// filters with this file's link type and snapshot length.
    let libpcap: PcapHeaderHandle
    /// What was unusual in the file header and how it was read (for the source's notes).
    let notes: [String]
    /// The file offset just past the last record read whole: the file header's end
    /// before the first record, the file's size at a clean end.
    private(set) var consumedOffset: UInt64
    /// Packets handed out so far (a pcap's frames are its packets).
    private(set) var packets: UInt64 = 0

    private let file: InputFile
    /// Whether the file's fields are big-endian (its magic says).
    private let bigEndian: Bool
    private let nanoseconds: Bool
    private let recordHeaderLength: Int
    private let lengthOrder: LengthOrder
    /// libpcap's `max_snaplen_for_dlt`: a larger caplen is damage.
    private let maximumCaptureLength: UInt32

    /// A record that straddles two windows, put together: its header and kept bytes
    /// (grows to the largest such record, at most a record header plus the snapshot
    /// length). `skipped` counts the bytes of it passed over past the snapshot length.
    private var staging: [UInt8] = []
    private var skipped = 0
    private var assembling = false
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
        switch PcapHeaderHandle.open(header) {
        case .success(let opened): libpcap = opened
        case .failure(let problem):
            throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(problem)")
        }
        // libpcap accepted it: a known magic and a whole header.
        let magic = header.span.uint32LittleEndian(at: 0) ?? 0
        switch magic {
        case 0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34: bigEndian = false
        default: bigEndian = true
        }
        let nativeMagic = bigEndian ? magic.byteSwapped : magic
        nanoseconds = nativeMagic == 0xA1B2_3C4D
        recordHeaderLength = nativeMagic == 0xA1B2_CD34 ? 24 : 16
        // The file's own version (libpcap was handed 2.4 for one it does not read).
        let (major, minor) = reading.version
        switch (major, minor) {
        case (2, 0..<3), (543, 0): lengthOrder = .exchanged
        case (2, 3): lengthOrder = .exchangedWhenCaplenIsLarger
        default: lengthOrder = .normal
        }
        linkType = libpcap.linkType
        snapshot = max(libpcap.snapshot, 0)
        maximumCaptureLength = PcapReader.maximumCaptureLength(linkType: linkType)
        consumedOffset = UInt64(PcapReader.fileHeaderLength)
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
        let major = header.uint16(at: 4, bigEndian: bigEndian) ?? 0
        let minor = header.uint16(at: 6, bigEndian: bigEndian) ?? 0
        let linkField = header.uint32(at: 20, bigEndian: bigEndian) ?? 0
        return (bigEndian, major, minor, linkField)
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

    /// Hands every packet record to `body`, in file order, until `body` returns false,
    /// the file ends or a record is damaged, and says which. A record's bytes are lent
    /// for the call: in place in the file's window when they lie within one, else put
    /// together in `staging`.
    func read(_ body: (CaptureRecord) -> Bool) -> RecordsEnd {
        while true {
            let outcome: RecordsEnd?
            do throws(InputFileError) {
                outcome = try file.withNextWindow { window in
                    window.isEmpty ? endOfFile() : readRecords(in: window, body)
                }
            } catch {
                readError = error
                return endOfFile()
            }
            if let outcome { return outcome }
        }
    }

    // MARK: records

    /// The fields of a record header that frame it.
    private struct RecordHeader {
        var seconds: UInt32
        var fraction: UInt32
        var captured: UInt32
        var original: UInt32
    }

    /// How much of a record the bytes at its start hold.
    private enum Framing {
        /// Fewer than this many bytes: the header, or the header and the kept bytes.
        case needs(Int)
        /// The header and the `kept` bytes that follow it (`length` bytes in all in the
        /// file: a caplen past the snapshot length is cut to it, the rest skipped).
        case record(RecordHeader, kept: Int, length: Int)
        /// The record cannot be read, in libpcap's words.
        case damage(String)
    }

    /// How the record at the start of `bytes` is framed, checked as libpcap checks it.
    @inline(__always)
    private func frame(_ bytes: Span<UInt8>) -> Framing {
        guard bytes.count >= recordHeaderLength else { return .needs(recordHeaderLength) }
        var header = RecordHeader(
            seconds: field(bytes, 0), fraction: field(bytes, 4), captured: field(bytes, 8), original: field(bytes, 12))
        switch lengthOrder {
        case .normal: break
        case .exchangedWhenCaplenIsLarger where header.captured <= header.original: break
        case .exchanged, .exchangedWhenCaplenIsLarger: swap(&header.captured, &header.original)
        }
        let captured = header.captured
        if captured > maximumCaptureLength {
            return .damage(captured > UInt32(snapshot)
                ? "invalid packet capture length \(captured), bigger than snaplen of \(snapshot)"
                : "invalid packet capture length \(captured), bigger than maximum of \(maximumCaptureLength)")
        }
        let kept = min(Int(captured), snapshot)
        guard bytes.count >= recordHeaderLength + kept else { return .needs(recordHeaderLength + kept) }
        return .record(header, kept: kept, length: recordHeaderLength + Int(captured))
    }

    /// Hands out the records of one window; nil when the window is used up (a record
    /// begun in it is left in `staging`), else why reading ends.
    private func readRecords(in window: Span<UInt8>, _ body: (CaptureRecord) -> Bool) -> RecordsEnd? {
        var offset = 0
        if assembling {
            if let outcome = assemble(from: window, at: &offset, body) { return outcome }
            if assembling { return nil }
        }
        while offset < window.count {
            let rest = window.extracting(offset...)
            switch frame(rest) {
            case .damage(let reason):
                return .damage(reason)
            case .record(let header, let kept, let length) where length <= rest.count:
                offset += length
                consumedOffset += UInt64(length)
                window.prefetch(at: offset)
                let data = rest.extracting(recordHeaderLength..<(recordHeaderLength + kept))
                if !body(record(header, data)) { return .stopped }
            case .record, .needs:
                staging.removeAll(keepingCapacity: true)
                skipped = 0
                assembling = true
                if let outcome = assemble(from: window, at: &offset, body) { return outcome }
            }
        }
        return nil
    }

    /// Adds to the record being put together in `staging` from `window` at `offset`, and
    /// hands it out when it is whole. Nil when it is handed out (`assembling` is then
    /// false) or the window is used up; else why reading ends.
    private func assemble(from window: Span<UInt8>, at offset: inout Int, _ body: (CaptureRecord) -> Bool) -> RecordsEnd? {
        while true {
            switch frame(staging.span) {
            case .damage(let reason):
                return .damage(reason)
            case .needs(let count):
                let piece = min(count - staging.count, window.count - offset)
                staging.append(span: window.extracting(offset..<(offset + piece)))
                offset += piece
                if staging.count < count { return nil }
            case .record(let header, let kept, let length):
                // The bytes past the snapshot length are passed over, not kept.
                let piece = min(length - staging.count - skipped, window.count - offset)
                skipped += piece
                offset += piece
                if staging.count + skipped < length { return nil }
                assembling = false
                consumedOffset += UInt64(length)
                // A second reference for the call: `staging` changes only when the next
                // record is put together, after this one is released.
                let staged = staging
                let data = staged.span.extracting(recordHeaderLength..<(recordHeaderLength + kept))
                return body(record(header, data)) ? nil : .stopped
            }
        }
    }

    /// How reading ends at the end of the file (or a read error): cleanly between records,
    /// or in the middle of one, in libpcap's words.
    private func endOfFile() -> RecordsEnd {
        if let readError { return .damage("read error: \(readError.reason)") }
        guard assembling else { return .end }
        let got = staging.count - recordHeaderLength
        switch frame(staging.span) {
        case .damage(let reason):
            return .damage(reason)
        case .needs where got < 0:
            return .damage("truncated dump file; tried to read \(recordHeaderLength) header bytes, only got \(staging.count)")
        case .needs(let count):
            return .damage("truncated dump file; tried to read \(count - recordHeaderLength) captured bytes, only got \(got)")
        case .record(_, _, let length):
            return .damage("truncated dump file; tried to read \(length - recordHeaderLength) captured bytes, "
                           + "only got \(got + skipped)")
        }
    }

    /// The record handed out: its header's time and lengths, and its kept bytes.
    @inline(__always) @_lifetime(copy data)
    private func record(_ header: RecordHeader, _ data: Span<UInt8>) -> CaptureRecord {
        packets += 1
        // libpcap's record header fields are signed 32-bit, widened with their sign.
        let time = Timestamp(
            seconds: Int64(Int32(bitPattern: header.seconds)),
            nanoseconds: Int64(Int32(bitPattern: header.fraction)) &* (nanoseconds ? 1 : 1000))
        return CaptureRecord(
            frame: packets, linkType: linkType, time: time, originalLength: header.original, bytes: data)
    }

    /// A record header field, in the file's byte order; the caller has checked that
    /// `bytes` holds `offset + 4`.
    @inline(__always)
    private func field(_ bytes: Span<UInt8>, _ offset: Int) -> UInt32 {
        bytes.uint32(at: offset, bigEndian: bigEndian) ?? 0
    }
}

extension String {
    /// The string with zeros in front, to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
