// Raw packet records of a capture, for the evidence extract: every frame with its
// number (as tshark numbers frames), link type, timestamp, lengths and bytes, read
// through the hashing `InputFile` so that the bytes handed out are the bytes hashed.
// pcap and pcapng go through the same readers as `CaptureReader` (`Pcap.swift`,
// `PcapNG.swift`), so frame numbers agree with the sighting locators.

import ByteParsing
import CPcap
import Observations
#if canImport(Glibc)
import Glibc
#endif

/// One packet record of a capture file, borrowed: `data` is valid during the call
/// that hands it out only. `@safe`: `bytes` reads it as a span tied to the record; a
/// use of `data` itself is marked where it is used.
@safe public struct CaptureRecord {
    /// 1-based frame number as tshark numbers frames (pcapng Custom Blocks count).
    public var frame: UInt64
    /// The link type as a libpcap DLT_ value (what `pcap_open_dead` takes).
    public var linkType: Int32
    /// The packet's timestamp, UTC, to the nanosecond.
    public var time: Timestamp
    /// The packet's length on the wire (≥ `data.count` in a well-formed file).
    public var originalLength: UInt32
    /// The captured bytes.
    public var data: UnsafeRawBufferPointer

    /// The captured bytes as a span that cannot outlive the record.
    public var bytes: Span<UInt8> {
        @_lifetime(borrow self) get {
            // Safe: `data` is valid during the call that hands the record out, and the span
            // is tied to the record, which lives no longer than that call.
            let span = unsafe Span<UInt8>(_unsafeBytes: data)
            return unsafe _overrideLifetime(span, borrowing: self)
        }
    }
}

/// Reads the packet records of one capture file (pcap or pcapng), front to back, once.
/// Not thread-safe: one task owns it.
public final class CaptureRecordReader {
    private let file: InputFile
    private let pcap: PcapReader?
    private let pcapng: PcapNGReader?
    private var consumed = false

    /// Opens `file` (already opened, not yet read) as a capture.
    /// - Throws: `CaptureError` when it is neither a readable pcap nor pcapng.
    public init(file: InputFile) throws(CaptureError) {
        self.file = file
        let prefix = try CaptureReader.firstFourBytes(of: file)
        if prefix == CaptureReader.pcapngMagic {
            let reader = PcapNGReader(file: file, prefix: prefix)
            if let problem = reader.readFirstSection() {
                throw CaptureError(path: file.path, message: "cannot open as a pcap or pcapng capture: \(problem)")
            }
            pcapng = reader
            pcap = nil
            return
        }
        pcap = try PcapReader(file: file, prefix: prefix)
        pcapng = nil
    }

    /// Hands every packet record to `body`, in file order, until `body` returns false or
    /// the file ends; then reads the rest of the file so that `file.sha256Hex` covers it
    /// all. Returns why reading stopped early (damage, a read error), or nil.
    /// A second call hands out nothing.
    public func forEachPacket(_ body: (CaptureRecord) -> Bool) -> String? {
        guard !consumed else { return nil }
        consumed = true
        var damage: String? = nil
        if let pcapng {
            var frame: UInt64 = 0
            loop: while true {
                switch pcapng.next() {
                case .end: break loop
                case .damage(let reason):
                    damage = "reading stopped after frame \(frame): \(reason)"
                    break loop
                case .custom: frame += 1
                case .packet(let interface, let data, let originalLength, let time):
                    frame += 1
                    let linkType = CaptureReader.dataLinkType(pcapng.interfaces[interface].linkType)
                    // Safe: the reader's bytes stay valid until its next `next()`, after
                    // `body` returns; the record handed to `body` does not outlive the call.
                    let record = unsafe CaptureRecord(frame: frame, linkType: linkType, time: time,
                                                      originalLength: originalLength, data: data)
                    if !body(record) { break loop }
                }
            }
        } else if let pcap {
            var frame: UInt64 = 0
            loop: while true {
                switch pcap.next() {
                case .end: break loop
                case .damage(let reason):
                    damage = "reading stopped after frame \(frame): \(reason)"
                    break loop
                case .packet(let data, let originalLength, let time):
                    frame += 1
                    // Safe: as for pcapng above.
                    let record = unsafe CaptureRecord(frame: frame, linkType: pcap.linkType, time: time,
                                                      originalLength: originalLength, data: data)
                    if !body(record) { break loop }
                }
            }
        }
        do {
            try file.drain()
        } catch {
            if damage == nil { damage = "reading the rest of the file: \(error.reason)" }
        }
        return damage
    }

    /// libpcap's name for a DLT_ value (`EN10MB`, `RAW`…), or `DLT<n>`.
    public static func name(ofLinkType linkType: Int32) -> String {
        // Safe: libpcap's name is a static C string (or nil), copied at once.
        unsafe pcap_datalink_val_to_name(linkType).map { unsafe String(cString: $0) } ?? "DLT\(linkType)"
    }
}
