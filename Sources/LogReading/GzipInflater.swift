import ByteParsing
import SystemZlib

/// Streams the decompressed bytes of a gzip file (any number of members) in chunks.
///
/// The `z_stream` lives at a fixed heap address for the inflater's whole life (zlib
/// keeps a pointer back to it in its internal state, so it must never move), and both
/// buffers are allocated once, here, and freed in `deinit`. `@safe`: the stream and the
/// buffers are private and lent to zlib only inside `next(into:)`; what leaves the class
/// as a pointer (`Output.bytes`, `next(into:)`'s output) is unsafe by its type.
@safe final class GzipInflater {
    /// What one call to `next()` produced. `@safe`: the enum only carries the chunk's
    /// pointer; reading through it is unsafe at each use, where its lifetime is known.
    @safe enum Output {
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
        // Safe: allocated once here, freed only in deinit, never handed out to keep.
        unsafe input = .allocate(byteCount: size, alignment: 16)
        unsafe output = .allocate(byteCount: size, alignment: 16)
        unsafe stream = .allocate(capacity: 1)
        unsafe stream.initialize(to: z_stream())
        // Safe: next_in is nil with avail_in 0, which inflateInit2_ accepts. 16 + MAX_WBITS
        // asks for gzip framing only, so bytes after a member that are not a gzip header
        // are reported as a data error rather than taken for a zlib stream.
        let status = unsafe inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        initialised = status == Z_OK
    }

    deinit {
        // Safe: allocated and initialised in init; nothing else holds them any more.
        if initialised { unsafe inflateEnd(stream) }
        unsafe stream.deinitialize(count: 1)
        unsafe stream.deallocate()
        unsafe input.deallocate()
        unsafe output.deallocate()
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
        // Safe: the stream is allocated and initialised for the inflater's life.
        file.bytesRead - UInt64(unsafe stream.pointee.avail_in)
    }

    /// zlib's message for the last error, or a description of the status code.
    private func zlibMessage(_ status: Int32) -> String {
        // Safe: zlib's msg is nil or a static NUL-terminated string; it is copied at once.
        if let message = unsafe stream.pointee.msg { return unsafe String(cString: message) }
        return "zlib status \(status)"
    }

    /// Reads the next compressed chunk when zlib has consumed the previous one.
    /// Returns a damage message when the read itself fails.
    private func refillIfEmpty() -> String? {
        // Safe: the stream is allocated and initialised for the inflater's life.
        guard unsafe stream.pointee.avail_in == 0, !endOfFile else { return nil }
        do {
            // Safe: the read writes at most input.count bytes into the inflater's own buffer.
            let count = try unsafe file.read(into: input)
            if count == 0 {
                endOfFile = true
            } else {
                // Safe: count <= input.count, and input outlives the stream's use of it.
                unsafe stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                unsafe stream.pointee.avail_in = uInt(count)
            }
            return nil
        } catch {
            endOfFile = true
            damageOffset = file.bytesRead
            return "read error at compressed byte \(file.bytesRead): \(error)"
        }
    }

    /// The next chunk of decompressed bytes, the clean end, or why the stream stopped.
    func next() -> Output {
        // Safe: the inflater's own output buffer, allocated for its life.
        unsafe next(into: output)
    }

    /// As `next()`, writing the decompressed bytes into `output` (from its start) instead
    /// of the inflater's own buffer: the inflating thread writes straight into a slot of
    /// `InflatedChunkRing`. zlib keeps its window itself, so `output` may differ per call.
    /// Bytes handed out are `output`'s first bytes, valid while `output` is.
    func next(into output: UnsafeMutableRawBufferPointer) -> Output {
        if finished { return .end }
        if let deferredDamage { return stop(deferredDamage) }
        guard initialised else {
            finished = true
            // Safe: zlibVersion returns a static NUL-terminated string; it is copied at once.
            return .damage("zlib could not be initialised (version \(unsafe String(cString: zlibVersion())))")
        }
        while true {
            if let failure = refillIfEmpty() { return stop(failure) }
            if betweenMembers {
                // Skip zero padding (tape blocks, preallocated files) after a member.
                // Safe: avail_in > 0 means next_in points at that many unread bytes of input.
                while unsafe stream.pointee.avail_in > 0, let next = unsafe stream.pointee.next_in,
                      unsafe next.pointee == 0
                {
                    unsafe stream.pointee.next_in = next + 1
                    unsafe stream.pointee.avail_in -= 1
                }
                // Safe: the stream is allocated and initialised for the inflater's life.
                if unsafe stream.pointee.avail_in == 0 {
                    if endOfFile {
                        finished = true
                        return .end
                    }
                    continue
                }
                // More non-zero input: it must be the next member's header.
                // Safe: the stream was initialised by inflateInit2_ (`initialised`).
                guard unsafe inflateReset(stream) == Z_OK else { return stop("zlib could not be reset after member \(member)") }
                betweenMembers = false
                member += 1
                memberStart = compressedOffset
            }
            // Safe: output is allocated for output.count bytes and zlib writes at most avail_out;
            // next_out is set anew before every call, so a stale output is never written.
            unsafe stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            unsafe stream.pointee.avail_out = uInt(output.count)
            let status = unsafe inflate(stream, Z_NO_FLUSH)
            let produced = unsafe output.count - Int(stream.pointee.avail_out)
            // Safe (the cases below): the stream lives as long as the inflater, and a chunk
            // handed out is output's first `produced` bytes, those zlib wrote.
            switch status {
            case Z_OK, Z_STREAM_END:
                if status == Z_STREAM_END { betweenMembers = true }
                if produced > 0 { return unsafe .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
            case Z_BUF_ERROR:
                // No progress was possible: zlib needs input that the file does not have.
                if produced > 0 { return unsafe .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
                if unsafe stream.pointee.avail_in == 0 && endOfFile {
                    damageOffset = compressedOffset
                    return stop("gzip stream truncated at compressed byte \(compressedOffset) (member \(member))")
                }
                if unsafe stream.pointee.avail_in > 0 {
                    damageOffset = compressedOffset
                    return stop("gzip stream stalled at compressed byte \(compressedOffset) (member \(member))")
                }
            default:
                let message = zlibMessage(status)
                let damage: String
                if unsafe member > 1 && stream.pointee.total_out == 0 {
                    damageOffset = memberStart
                    damage = "trailing garbage after gzip member \(member - 1) at compressed byte \(memberStart): \(message)"
                } else {
                    damageOffset = compressedOffset
                    damage = "gzip data error at compressed byte \(compressedOffset) (member \(member)): \(message)"
                }
                if produced > 0 {
                    deferredDamage = damage
                    return unsafe .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
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
