// Cairn's own pcapng reader (draft-ietf-opsawg-pcapng). libpcap stops at the second
// interface of a file whose interfaces differ in link type or snapshot length, and
// refuses a file without interfaces; tshark reads both. This reader reads every
// section (in its own byte order), every interface (its own link type, snapshot
// length, if_tsresol and if_tsoffset), Enhanced, Simple and obsolete Packet Blocks,
// and counts Custom Blocks as frames the way tshark 4.0 numbers them. Every other
// block is skipped by its length.
//
// It streams through the hashing `InputFile` with one owned buffer that grows only to
// the largest block seen (at most `maxBlockLength`), so memory does not depend on the
// file's size; every field is read from the buffer's span, bounds-checked, and a
// packet is lent to the caller as a span of it.

import ByteParsing
import Observations

/// One interface of the current section (an Interface Description Block).
struct PcapNGInterface {
    /// The LINKTYPE_ value as written in the file.
    var linkType: Int32
    /// 0 means "no limit".
    var snapLength: UInt32
    /// if_tsresol: 10^-exponent (or 2^-exponent when `binary`) seconds per unit.
    var binary = false
    var exponent: UInt8 = 6
    /// if_tsoffset: seconds added to every timestamp.
    var offsetSeconds: Int64 = 0

    /// The 64-bit timestamp of a packet block in this interface's units, as UTC.
    func time(_ units: UInt64) -> Timestamp {
        let seconds: UInt64
        let nanoseconds: UInt64
        if binary {
            let shift = UInt64(exponent)
            seconds = units >> shift
            let fraction = units & ((1 << shift) &- 1)
            // fraction < 2^shift, so fraction * 10^9 >> shift < 10^9: the high word of
            // the full product shifted back fits.
            let product = fraction.multipliedFullWidth(by: 1_000_000_000)
            nanoseconds = shift == 0 ? 0 : (product.high << (64 - shift)) | (product.low >> shift)
        } else {
            let divisor = PcapNGInterface.powersOfTen[Int(exponent)]
            seconds = units / divisor
            let fraction = units % divisor
            nanoseconds = exponent <= 9
                ? fraction &* PcapNGInterface.powersOfTen[9 - Int(exponent)]
                : fraction / PcapNGInterface.powersOfTen[Int(exponent) - 9]
        }
        return Timestamp(
            seconds: Int64(truncatingIfNeeded: seconds) &+ offsetSeconds, nanoseconds: Int64(nanoseconds))
    }

    /// 10^0 … 10^19, the powers of ten that fit in 64 bits.
    static let powersOfTen: [UInt64] = (0...19).map { power in (0..<power).reduce(1) { value, _ in value * 10 } }
}

/// What the pcapng reader finds, one record at a time.
private enum PcapNGRecord {
    /// A packet: where its bytes lie in the reader's buffer (until the next record is
    /// read), and its interface.
    case packet(interface: Int, bytes: Range<Int>, originalLength: UInt32, time: Timestamp)
    /// A Custom Block (types 0x00000BAD, 0x40000BAD): tshark shows it as a frame, so it
    /// takes a frame number; there is nothing to decode.
    case custom
    /// The end of the file, cleanly at a block boundary.
    case end
    /// The file is damaged here (with the byte offset); nothing after it is read.
    case damage(String)
}

/// Reads pcapng blocks from an `InputFile`. Not thread-safe: one reader owns it.
final class PcapNGReader {
    /// A block larger than this is damage: tshark's own limit for a packet is 256 KiB,
    /// so 16 MiB leaves room for odd but real blocks while bounding memory.
    static let maxBlockLength = 16 << 20
    /// Interfaces kept per section: EPB interface ids are 32-bit, but each IDB costs
    /// memory; 65,536 is far past any real capture (PB ids are 16-bit).
    static let maxInterfaces = 65_536
    /// The buffer's starting size: large reads keep the syscall count low.
    static let initialBufferSize = 1 << 20

    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    /// The byte-order magic as read in little-endian order.
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    private let file: InputFile
    /// Unread bytes are `buffer[start...]`; it is filled up to `bufferSize` bytes.
    private var buffer: [UInt8] = []
    private var bufferSize = PcapNGReader.initialBufferSize
    private var start = 0
    /// File offset of `buffer[0]`.
    private var bufferOffset: UInt64 = 0
    private var endOfFile = false
    /// The first read error, if any.
    private(set) var readError: InputFileError?
    private var bigEndian = false
    private var sawSection = false
    /// Set until `readFirstSection` has read the first block: `next()` stops after it.
    private var openingSection = false
    /// The current section's interfaces.
    private(set) var interfaces: [PcapNGInterface] = []
    /// Frames read so far: packets and Custom Blocks, as tshark numbers them.
    private(set) var frames: UInt64 = 0
    var anomalies = AnomalyCounts()
    /// The file offset just past the last block accepted whole (framing and contents):
    /// where a damaged block starts when reading stops, the file's size at a clean end.
    private(set) var consumedOffset: UInt64 = 0

    /// - Parameter prefix: bytes already read from `file` (to detect its kind); they
    ///   are the start of the file.
    init(file: InputFile, prefix: [UInt8]) {
        self.file = file
        bufferSize = max(PcapNGReader.initialBufferSize, prefix.count)
        buffer.reserveCapacity(bufferSize)
        buffer += prefix
    }

    /// Reads the first block, which must be a valid Section Header Block; returns why
    /// not, or nil. Called once, before `read(_:)`.
    func readFirstSection() -> String? {
        guard ensure(4), load32(at: start, bigEndian: false) == PcapNGReader.sectionHeaderType else {
            return readError.map { "read error: \($0.reason)" } ?? "not a pcapng file"
        }
        openingSection = true
        defer { openingSection = false }
        switch next() {
        case .damage(let reason): return reason
        default: return sawSection ? nil : "no section header"
        }
    }

    /// The link type of the first interface described in the buffered part of the file
    /// (without consuming anything), for `CaptureReader.linkType`; nil when none is.
    func peekFirstLinkType() -> Int32? {
        if let first = interfaces.first { return first.linkType }
        // What fits is filled; a short file just stops early.
        _ = ensure(bufferSize)
        var offset = start
        var big = bigEndian
        while buffer.count - offset >= 12 {
            let type = load32(at: offset, bigEndian: big)
            if type == PcapNGReader.sectionHeaderType {
                guard let order = byteOrder(at: offset + 8) else { return nil }
                big = order
            }
            let length = Int(load32(at: offset + 4, bigEndian: big))
            guard length >= 12, length % 4 == 0, length <= buffer.count - offset else { return nil }
            if type == 1, length >= 20 { return Int32(load16(at: offset + 8, bigEndian: big)) }
            offset += length
        }
        return nil
    }

    /// Hands every packet to `body`, in file order, until `body` returns false, the file
    /// ends or a block is damaged, and says which. A packet's bytes are lent for the call.
    func read(_ body: (CaptureRecord) -> Bool) -> RecordsEnd {
        while true {
            switch next() {
            case .end: return .end
            case .damage(let reason): return .damage(reason)
            case .custom: frames += 1
            case .packet(let interface, let bytes, let originalLength, let time):
                frames += 1
                let linkType = CaptureReader.dataLinkType(interfaces[interface].linkType)
                // A second reference for the call: `buffer` changes only in the next
                // `next()`, after this one is released.
                let held = buffer
                let record = CaptureRecord(
                    frame: frames, linkType: linkType, time: time, originalLength: originalLength,
                    bytes: held.span.extracting(bytes))
                if !body(record) { return .stopped }
            }
        }
    }

    /// The next packet or custom block. A packet's bytes stay in the buffer until the
    /// next call. Inlined into `read(_:)` (measured: the pcapng read is 5% faster).
    @inline(__always)
    private func next() -> PcapNGRecord {
        while true {
            let blockOffset = bufferOffset + UInt64(start)
            guard ensure(8) else {
                if let readError { return .damage("read error at byte offset \(blockOffset): \(readError.reason)") }
                if buffer.count == start { return sawSection ? .end : .damage("empty file") }
                return .damage("truncated block header at byte offset \(blockOffset) (\(buffer.count - start) bytes left)")
            }
            let type = load32(at: start, bigEndian: bigEndian)
            if type == PcapNGReader.sectionHeaderType {
                guard ensure(12) else {
                    return .damage("truncated section header at byte offset \(blockOffset)")
                }
                guard let order = byteOrder(at: start + 8) else {
                    return .damage("section header at byte offset \(blockOffset) has no valid byte-order magic")
                }
                bigEndian = order
            } else if !sawSection {
                return .damage("the file does not start with a section header block")
            }
            let length = Int(load32(at: start + 4, bigEndian: bigEndian))
            guard length >= 12, length % 4 == 0 else {
                return .damage("block at byte offset \(blockOffset) has an invalid total length \(length)")
            }
            guard length <= PcapNGReader.maxBlockLength else {
                return .damage("block at byte offset \(blockOffset) is \(length) bytes, over the "
                               + "\(PcapNGReader.maxBlockLength >> 20) MiB limit")
            }
            guard ensure(length) else {
                if let readError { return .damage("read error at byte offset \(blockOffset): \(readError.reason)") }
                return .damage("truncated block at byte offset \(blockOffset): \(length) bytes announced, "
                               + "\(buffer.count - start) left")
            }
            let trailer = Int(load32(at: start + length - 4, bigEndian: bigEndian))
            guard trailer == length else {
                return .damage("block at byte offset \(blockOffset): total length \(length) in the header "
                               + "but \(trailer) in the trailer")
            }
            let body = start + 8
            let bodyLength = length - 12
            start += length
            let accepted = blockOffset + UInt64(length)
            switch type {
            case PcapNGReader.sectionHeaderType:
                if let problem = readSection(body: body, length: bodyLength, offset: blockOffset) {
                    return .damage(problem)
                }
                consumedOffset = accepted
                if openingSection {
                    openingSection = false
                    return .end
                }
            case 1:
                if let problem = readInterface(body: body, length: bodyLength, offset: blockOffset) {
                    return .damage(problem)
                }
                consumedOffset = accepted
            case 6, 2:  // Enhanced Packet Block; obsolete Packet Block
                guard bodyLength >= 20 else {
                    return .damage("packet block at byte offset \(blockOffset) is too short (\(length) bytes)")
                }
                let id = type == 6
                    ? Int(load32(at: body, bigEndian: bigEndian)) : Int(load16(at: body, bigEndian: bigEndian))
                guard id < interfaces.count else {
                    return .damage("packet block at byte offset \(blockOffset) names interface \(id), but the "
                                   + "section has \(interfaces.count)")
                }
                let units = UInt64(load32(at: body + 4, bigEndian: bigEndian)) << 32
                    | UInt64(load32(at: body + 8, bigEndian: bigEndian))
                let captured = Int(load32(at: body + 12, bigEndian: bigEndian))
                let original = load32(at: body + 16, bigEndian: bigEndian)
                guard captured <= bodyLength - 20 else {
                    return .damage("packet block at byte offset \(blockOffset) claims \(captured) captured bytes "
                                   + "in a \(length)-byte block")
                }
                consumedOffset = accepted
                return .packet(
                    interface: id, bytes: (body + 20)..<(body + 20 + captured),
                    originalLength: original, time: interfaces[id].time(units))
            case 3:  // Simple Packet Block: interface 0, no timestamp
                guard bodyLength >= 4 else {
                    return .damage("simple packet block at byte offset \(blockOffset) is too short")
                }
                guard let interface = interfaces.first else {
                    return .damage("simple packet block at byte offset \(blockOffset) before any interface")
                }
                let original = load32(at: body, bigEndian: bigEndian)
                var captured = min(Int(original), bodyLength - 4)
                if interface.snapLength != 0 { captured = min(captured, Int(interface.snapLength)) }
                consumedOffset = accepted
                return .packet(
                    interface: 0, bytes: (body + 4)..<(body + 4 + captured),
                    originalLength: original, time: Timestamp(nanoseconds: 0))
            case 0x0000_0BAD, 0x4000_0BAD:
                consumedOffset = accepted
                return .custom
            default:
                consumedOffset = accepted
                continue  // NRB, ISB, DSB, systemd journal, unknown: skipped by length
            }
        }
    }

    // MARK: blocks

    private func readSection(body: Int, length: Int, offset: UInt64) -> String? {
        guard length >= 12 else { return "section header at byte offset \(offset) is too short" }
        let major = load16(at: body + 4, bigEndian: bigEndian)
        let minor = load16(at: body + 6, bigEndian: bigEndian)
        guard major == 1 else {
            return "unsupported pcapng version \(major).\(minor) in the section header at byte offset \(offset)"
        }
        sawSection = true
        interfaces.removeAll(keepingCapacity: true)
        return nil
    }

    private func readInterface(body: Int, length: Int, offset: UInt64) -> String? {
        guard length >= 8 else { return "interface description at byte offset \(offset) is too short" }
        guard interfaces.count < PcapNGReader.maxInterfaces else {
            return "more than \(PcapNGReader.maxInterfaces) interfaces in one section at byte offset \(offset)"
        }
        var interface = PcapNGInterface(
            linkType: Int32(load16(at: body, bigEndian: bigEndian)), snapLength: load32(at: body + 4, bigEndian: bigEndian))
        // Options: code, length, value padded to 4 bytes; opt_endofopt (0) ends them.
        var position = body + 8
        let limit = body + length
        while limit - position >= 4 {
            let code = load16(at: position, bigEndian: bigEndian)
            let valueLength = Int(load16(at: position + 2, bigEndian: bigEndian))
            let value = position + 4
            if code == 0 { break }
            guard valueLength <= limit - value else {
                anomalies.record(.pcapngBadOption)
                break
            }
            switch (code, valueLength) {
            case (9, 1):  // if_tsresol
                let raw = buffer[value]  // `value + 1 <= limit`, within the block, checked above
                let exponent = raw & 0x7F
                if raw & 0x80 != 0, exponent <= 63 {
                    interface.binary = true
                    interface.exponent = exponent
                } else if raw & 0x80 == 0, exponent <= 19 {
                    interface.exponent = exponent
                } else {
                    anomalies.record(.pcapngBadTsresol)
                }
            case (14, 8):  // if_tsoffset
                let first = UInt64(load32(at: value, bigEndian: bigEndian))
                let second = UInt64(load32(at: value + 4, bigEndian: bigEndian))
                interface.offsetSeconds = Int64(bitPattern: bigEndian ? first << 32 | second : second << 32 | first)
            default:
                break
            }
            position = value + (valueLength + 3) & ~3
        }
        interfaces.append(interface)
        return nil
    }

    // MARK: bytes

    /// `true` when the byte-order magic at `offset` is big-endian, `false` when
    /// little-endian, nil when it is neither.
    private func byteOrder(at offset: Int) -> Bool? {
        switch load32(at: offset, bigEndian: false) {
        case PcapNGReader.byteOrderMagic: false
        case PcapNGReader.byteOrderMagic.byteSwapped: true
        default: nil
        }
    }

    // Callers have checked that the buffer holds `offset + 4` (through `ensure` and the
    // block length): the span's own check never fails.
    private func load32(at offset: Int, bigEndian big: Bool) -> UInt32 {
        PcapNGReader.load32(buffer, at: offset, bigEndian: big)
    }

    // Callers have checked that the buffer holds `offset + 2`.
    private func load16(at offset: Int, bigEndian big: Bool) -> UInt16 {
        PcapNGReader.load16(buffer, at: offset, bigEndian: big)
    }

    // The buffer is passed in: a span of a class's stored array cannot outlive the access
    // that reads the property.
    private static func load32(_ bytes: [UInt8], at offset: Int, bigEndian big: Bool) -> UInt32 {
        bytes.span.uint32(at: offset, bigEndian: big) ?? 0
    }

    private static func load16(_ bytes: [UInt8], at offset: Int, bigEndian big: Bool) -> UInt16 {
        bytes.span.uint16(at: offset, bigEndian: big) ?? 0
    }

    /// Makes at least `count` unread bytes available (moving them to the front and
    /// growing the buffer up to `maxBlockLength` when needed); false at the end of the
    /// file or on a read error.
    private func ensure(_ count: Int) -> Bool {
        if buffer.count - start >= count { return true }
        if start + count > bufferSize {
            if count > bufferSize {
                bufferSize = min(max(count, bufferSize * 2), PcapNGReader.maxBlockLength)
                buffer.reserveCapacity(bufferSize)
            }
            bufferOffset += UInt64(start)
            buffer.removeSubrange(0..<start)
            start = 0
        }
        while buffer.count - start < count, !endOfFile, readError == nil {
            do throws(InputFileError) {
                try file.read(upTo: bufferSize, appendingTo: &buffer)
                if buffer.count < bufferSize { endOfFile = true }
            } catch {
                readError = error
            }
        }
        return buffer.count - start >= count
    }
}
