// Raw packet records of a capture, for the evidence extract: every frame with its
// number (as tshark numbers frames), link type, timestamp, lengths and bytes, read
// through the hashing `InputFile` so that the bytes handed out are the bytes hashed.
// pcap and pcapng go through the same readers as `CaptureReader` (`Pcap.swift`,
// `PcapNG.swift`), so frame numbers agree with the sighting locators.

import ByteParsing
import Observations

/// One packet record of a capture file, borrowed: its bytes are lent for the call that
/// hands it out, and being non-escapable it cannot outlive that call.
public struct CaptureRecord: ~Escapable {
    /// 1-based frame number as tshark numbers frames (pcapng Custom Blocks count).
    public var frame: UInt64
    /// The link type as a libpcap DLT_ value (what `pcap_open_dead` takes).
    public var linkType: Int32
    /// The packet's timestamp, UTC, to the nanosecond.
    public var time: Timestamp
    /// The packet's length on the wire (≥ `bytes.count` in a well-formed file).
    public var originalLength: UInt32
    /// The captured bytes.
    public var bytes: Span<UInt8>

    @_lifetime(copy bytes)
    public init(frame: UInt64, linkType: Int32, time: Timestamp, originalLength: UInt32, bytes: Span<UInt8>) {
        self.frame = frame
        self.linkType = linkType
        self.time = time
        self.originalLength = originalLength
        self.bytes = bytes
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
        if let pcapng, case .damage(let reason) = pcapng.read(body) {
            damage = "reading stopped after frame \(pcapng.frames): \(reason)"
        } else if let pcap, case .damage(let reason) = pcap.read(body) {
            damage = "reading stopped after frame \(pcap.packets): \(reason)"
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
        CaptureReader.libpcapName(ofLinkType: linkType) ?? "DLT\(linkType)"
    }
}
