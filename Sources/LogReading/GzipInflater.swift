import ByteParsing
import CZlib

/// Streams the decompressed bytes of a gzip file (any number of members) in chunks.
///
/// This is the one place in LogReading that touches zlib and raw memory. The
/// `z_stream` lives at a fixed heap address for the inflater's whole life (zlib keeps a
/// pointer back to it in its internal state, so it must never move), and both buffers
/// are allocated once, here, and freed in `deinit`.
final class GzipInflater {
    /// What one call to `next()` produced.
    enum Output {
        /// Decompressed bytes, valid until the next call.
        case bytes(UnsafeRawBufferPointer)
        /// Every member was read and the file ended cleanly.
        case end
        /// The stream is truncated or corrupt; the message names the compressed offset.
        case damage(String)
    }

    private let file: InputFile
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private var initialised = false
    private var endOfFile = false
    /// Set after `Z_STREAM_END`: the next non-zero byte starts a new member.
    private var betweenMembers = false
    /// 1-based number of the member being inflated.
    private(set) var member = 1
    /// Whether `member` has begun and its trailer (CRC-32, length) has not been checked
    /// yet: the bytes it produced so far are unverified.
    var isInsideMember: Bool { !betweenMembers }
    /// Compressed offset at which the current member started.
    private var memberStart: UInt64 = 0
    private var finished = false
    /// An error found in the same inflate call that produced bytes: the bytes go out
    /// first, the error on the next call, so that no decompressed text is lost.
    private var deferredDamage: String?

    /// `chunkSize` is the size of both the compressed read buffer and the decompressed
    /// output chunk; tests make it tiny to exercise every boundary.
    init(file: InputFile, chunkSize: Int) {
        self.file = file
        let size = max(1, chunkSize)
        input = .allocate(byteCount: size, alignment: 16)
        output = .allocate(byteCount: size, alignment: 16)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Safe: next_in is nil with avail_in 0, which inflateInit2_ accepts. 16 + MAX_WBITS
        // asks for gzip framing only, so bytes after a member that are not a gzip header
        // are reported as a data error rather than taken for a zlib stream.
        let status = inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        initialised = status == Z_OK
    }

    deinit {
        if initialised { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
        output.deallocate()
    }

    /// The compressed byte offset the damage message names (where the error was found;
    /// the start of trailing garbage), once the stream has stopped on damage. Both
    /// inflaters name the same offset for the same damage.
    private(set) var damageOffset: UInt64?

    /// The compressed bytes taken apart (`ReadSummary.bytesConsumed`): up to the offset
    /// a damage names, otherwise `compressedOffset` (the whole file at a clean end).
    var consumedOffset: UInt64 { damageOffset ?? compressedOffset }

    /// Compressed bytes handed to zlib so far (the file offset of the next unread byte).
    var compressedOffset: UInt64 {
        file.bytesRead - UInt64(stream.pointee.avail_in)
    }

    /// zlib's message for the last error, or a description of the status code.
    private func zlibMessage(_ status: Int32) -> String {
        if let message = stream.pointee.msg { return String(cString: message) }
        return "zlib status \(status)"
    }

    /// Reads the next compressed chunk when zlib has consumed the previous one.
    /// Returns a damage message when the read itself fails.
    private func refillIfEmpty() -> String? {
        guard stream.pointee.avail_in == 0, !endOfFile else { return nil }
        do {
            let count = try file.read(into: input)
            if count == 0 {
                endOfFile = true
            } else {
                // Safe: count <= input.count, and input outlives the stream's use of it.
                stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(count)
            }
            return nil
        } catch {
            endOfFile = true
            damageOffset = file.bytesRead
            return "read error at compressed byte \(file.bytesRead): \(error)"
        }
    }

    /// The next chunk of decompressed bytes, the clean end, or why the stream stopped.
    func next() -> Output { next(into: output) }

    /// As `next()`, writing the decompressed bytes into `output` (from its start) instead
    /// of the inflater's own buffer: the inflating thread writes straight into a slot of
    /// `InflatedChunkRing`. zlib keeps its window itself, so `output` may differ per call.
    /// Bytes handed out are `output`'s first bytes, valid while `output` is.
    func next(into output: UnsafeMutableRawBufferPointer) -> Output {
        if finished { return .end }
        if let deferredDamage { return stop(deferredDamage) }
        guard initialised else {
            finished = true
            return .damage("zlib could not be initialised (version \(String(cString: zlibVersion())))")
        }
        while true {
            if let failure = refillIfEmpty() { return stop(failure) }
            if betweenMembers {
                // Skip zero padding (tape blocks, preallocated files) after a member.
                // Safe: avail_in > 0 means next_in points at that many unread bytes of input.
                while stream.pointee.avail_in > 0, let next = stream.pointee.next_in, next.pointee == 0 {
                    stream.pointee.next_in = next + 1
                    stream.pointee.avail_in -= 1
                }
                if stream.pointee.avail_in == 0 {
                    if endOfFile {
                        finished = true
                        return .end
                    }
                    continue
                }
                // More non-zero input: it must be the next member's header.
                guard inflateReset(stream) == Z_OK else { return stop("zlib could not be reset after member \(member)") }
                betweenMembers = false
                member += 1
                memberStart = compressedOffset
            }
            // Safe: output is allocated for output.count bytes and zlib writes at most avail_out.
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = output.count - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK, Z_STREAM_END:
                if status == Z_STREAM_END { betweenMembers = true }
                if produced > 0 { return .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
            case Z_BUF_ERROR:
                // No progress was possible: zlib needs input that the file does not have.
                if produced > 0 { return .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
                if stream.pointee.avail_in == 0 && endOfFile {
                    damageOffset = compressedOffset
                    return stop("gzip stream truncated at compressed byte \(compressedOffset) (member \(member))")
                }
                if stream.pointee.avail_in > 0 {
                    damageOffset = compressedOffset
                    return stop("gzip stream stalled at compressed byte \(compressedOffset) (member \(member))")
                }
            default:
                let message = zlibMessage(status)
                let damage: String
                if member > 1 && stream.pointee.total_out == 0 {
                    damageOffset = memberStart
                    damage = "trailing garbage after gzip member \(member - 1) at compressed byte \(memberStart): \(message)"
                } else {
                    damageOffset = compressedOffset
                    damage = "gzip data error at compressed byte \(compressedOffset) (member \(member)): \(message)"
                }
                if produced > 0 {
                    deferredDamage = damage
                    return .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
                }
                return stop(damage)
            }
        }
    }

    private func stop(_ message: String) -> Output {
        finished = true
        return .damage(message)
    }
}
