import ByteParsing
import CIsal

/// Streams the decompressed bytes of a gzip file (any number of members) in chunks with
/// ISA-L's `isal_inflate`, about twice as fast as zlib's `inflate` on log text (see
/// docs/performance.md and Benchmarks/c/inflate_floor.c).
///
/// The same contract as `GzipInflater` (the zlib reference), message for message: every
/// member is read, zero padding between members is skipped, and a truncated member,
/// trailing garbage or a bad checksum ends the stream with a damage message naming the
/// compressed byte offset, after every byte decoded before it has been handed out.
/// ISA-L parses the gzip header and checks the trailer itself (`crc_flag = ISAL_GZIP`);
/// after a member ends, the bytes it left unread are the next member's.
///
/// The `inflate_state` (about 40 KiB) and both buffers are allocated once, here, and
/// freed in `deinit`; the state is at a fixed heap address for the inflater's life.
/// `@safe`: the state and the buffers are private and lent to ISA-L only inside
/// `next(into:)`; what leaves the class as a pointer (`GzipInflater.Output.bytes`,
/// `next(into:)`'s output) is unsafe by its type.
@safe final class IsalInflater {
    private let file: InputFile
    private let state: UnsafeMutablePointer<inflate_state>
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    /// Bytes ISA-L had buffered past a member's end, fed again before `resumeNext`.
    private let carry: UnsafeMutableRawBufferPointer
    /// The rest of the read buffer, set aside while `carry` is being fed.
    private var resumeNext: UnsafeMutablePointer<UInt8>?
    private var resumeCount: UInt32 = 0
    private var endOfFile = false
    /// Set when a member's trailer was read: the next non-zero byte starts a new member.
    private var betweenMembers = false
    /// 1-based number of the member being inflated.
    private(set) var member = 1
    /// Whether `member` has begun and its trailer (CRC-32, length) has not been checked
    /// yet: the bytes it produced so far are unverified.
    var isInsideMember: Bool { !betweenMembers }
    /// Compressed offset at which the current member started.
    private var memberStart: UInt64 = 0
    /// Decompressed bytes of the current member so far.
    private var memberOutput: UInt64 = 0
    /// The first four bytes of the current member (magic, method, flags) as they go in,
    /// checked as zlib checks them so that both paths reject the same headers alike.
    private var memberHead: UInt32 = 0
    private var memberHeadCount = 0
    /// The last eight compressed bytes before the current read buffer, oldest first from
    /// the high byte: with the buffer they give back a trailer ISA-L has consumed.
    private var history: UInt64 = 0
    /// Bytes in the read buffer from the last read.
    private var lastReadCount = 0
    private var finished = false
    /// An error found in the same call that produced bytes: the bytes go out first.
    private var deferredDamage: String?

    /// `chunkSize` is the size of both the compressed read buffer and the decompressed
    /// output chunk; tests make it tiny to exercise every boundary. ISA-L counts in
    /// `UInt32`, so sizes above 1 GiB are taken as 1 GiB.
    init(file: InputFile, chunkSize: Int) {
        self.file = file
        let size = min(max(1, chunkSize), 1 << 30)
        // Safe: allocated once here, freed only in deinit, never handed out to keep.
        unsafe input = .allocate(byteCount: size, alignment: 16)
        unsafe output = .allocate(byteCount: size, alignment: 16)
        unsafe carry = .allocate(byteCount: MemoryLayout<UInt64>.size, alignment: 8)
        unsafe state = .allocate(capacity: 1)
        // Zeroed first: on corrupt deflate data ISA-L copies "history" it never wrote from
        // its state (a bad back-reference), which would otherwise be whatever the
        // allocation held, different from run to run.
        // Safe: the count is the allocation's own size.
        unsafe UnsafeMutableRawPointer(state).initializeMemory(
            as: UInt8.self, repeating: 0, count: MemoryLayout<inflate_state>.size)
        // Safe: isal_inflate_init sets every field that isal_inflate reads before use;
        // the memory is only bound here, not read.
        unsafe isal_inflate_init(state)
        unsafe state.pointee.crc_flag = UInt32(ISAL_GZIP)
        // Never a null next_in, even before the first read (ISA-L may memcpy from it).
        // Safe: input is allocated for the inflater's life, and avail_in is 0.
        unsafe state.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        unsafe state.pointee.avail_in = 0
    }

    deinit {
        // Safe: allocated in init; nothing else holds them any more.
        unsafe state.deallocate()
        unsafe input.deallocate()
        unsafe output.deallocate()
        unsafe carry.deallocate()
    }

    /// The compressed byte offset the damage message names (where the error was found;
    /// the start of trailing garbage), once the stream has stopped on damage. Both
    /// inflaters name the same offset for the same damage.
    private(set) var damageOffset: UInt64?

    /// The compressed bytes taken apart (`ReadSummary.bytesConsumed`): up to the offset
    /// a damage names, otherwise `compressedOffset` (the whole file at a clean end).
    var consumedOffset: UInt64 { damageOffset ?? compressedOffset }

    /// The file offset of the next compressed byte ISA-L has not consumed: bytes handed
    /// to it, less those still unread and whole bytes still held in its bit buffer.
    var compressedOffset: UInt64 {
        // Safe: the state is allocated and initialised for the inflater's life.
        let held = unsafe UInt64(state.pointee.avail_in) + UInt64(max(0, state.pointee.read_in_length) / 8)
            + UInt64(resumeCount)
        return file.bytesRead >= held ? file.bytesRead - held : 0
    }

    /// Reads the next compressed chunk when ISA-L has consumed the previous one.
    private func refillIfEmpty() -> String? {
        // Safe: the state is allocated and initialised for the inflater's life.
        guard unsafe state.pointee.avail_in == 0 else { return nil }
        if resumeCount > 0 {
            // Safe: resumeNext points at resumeCount unread bytes of input, which is not
            // read into again until they are consumed (avail_in is 0 before every read).
            unsafe state.pointee.next_in = resumeNext
            unsafe state.pointee.avail_in = resumeCount
            resumeCount = 0
            return nil
        }
        guard !endOfFile else { return nil }
        // The whole buffer has been consumed (avail_in is 0 and nothing is set aside).
        // Safe: lastReadCount <= input.count.
        for index in max(0, lastReadCount - 8)..<lastReadCount { history = unsafe history << 8 | UInt64(input[index]) }
        lastReadCount = 0
        do {
            // Safe: the read writes at most input.count bytes into the inflater's own buffer.
            let count = try unsafe file.read(into: input)
            lastReadCount = count
            if count == 0 {
                endOfFile = true
            } else {
                // Safe: count <= input.count, and input outlives the state's use of it.
                unsafe state.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
                unsafe state.pointee.avail_in = UInt32(count)
            }
            return nil
        } catch {
            endOfFile = true
            damageOffset = file.bytesRead
            return "read error at compressed byte \(file.bytesRead): \(error)"
        }
    }

    /// zlib's words for ISA-L's error codes, so that both paths report alike.
    static func message(_ status: Int32) -> String {
        switch status {
        case ISAL_INVALID_BLOCK: "invalid block type"
        case ISAL_INVALID_SYMBOL: "invalid literal/length or distance code"
        case ISAL_INVALID_LOOKBACK: "invalid distance too far back"
        case ISAL_INVALID_WRAPPER: "incorrect header check"
        case ISAL_UNSUPPORTED_METHOD: "unknown compression method"
        case ISAL_INCORRECT_CHECKSUM: "incorrect data check"
        case ISAL_NEED_DICT: "needs a preset dictionary"
        default: "isal_inflate status \(status)"
        }
    }

    /// The next chunk of decompressed bytes, the clean end, or why the stream stopped.
    func next() -> GzipInflater.Output {
        // Safe: the inflater's own output buffer, allocated for its life.
        unsafe next(into: output)
    }

    /// As `next()`, writing the decompressed bytes into `output` (from its start; at most
    /// 1 GiB of it) instead of the inflater's own buffer: the inflating thread writes
    /// straight into a slot of `InflatedChunkRing`. ISA-L keeps the history it needs for
    /// back-references in its own state (`tmp_out_buffer`), never in the caller's output,
    /// so `output` may differ per call. Bytes handed out are `output`'s first bytes.
    func next(into output: UnsafeMutableRawBufferPointer) -> GzipInflater.Output {
        // Safe: a prefix of the caller's buffer, valid during the call.
        let output = unsafe UnsafeMutableRawBufferPointer(rebasing: output[0..<min(output.count, 1 << 30)])
        if finished { return .end }
        if let deferredDamage { return stop(deferredDamage) }
        while true {
            if let failure = refillIfEmpty() { return stop(failure) }
            if betweenMembers {
                // Skip zero padding (tape blocks, preallocated files) after a member.
                // Safe: avail_in > 0 means next_in points at that many unread bytes of input.
                while unsafe state.pointee.avail_in > 0, let next = unsafe state.pointee.next_in,
                      unsafe next.pointee == 0
                {
                    unsafe state.pointee.next_in = next + 1
                    unsafe state.pointee.avail_in -= 1
                }
                // Safe: the state is allocated and initialised for the inflater's life.
                if unsafe state.pointee.avail_in == 0 {
                    if endOfFile && resumeCount == 0 {
                        finished = true
                        return .end
                    }
                    continue
                }
                // More non-zero input: it must be the next member's header. The reset keeps
                // next_in/avail_in, so the unread bytes carry over.
                // Safe: the state was set up by isal_inflate_init in init.
                unsafe isal_inflate_reset(state)
                unsafe state.pointee.crc_flag = UInt32(ISAL_GZIP)
                betweenMembers = false
                member += 1
                memberStart = compressedOffset
                memberOutput = 0
                memberHead = 0
                memberHeadCount = 0
            }
            if memberHeadCount < 4, let damage = checkMemberHead() { return stop(damage) }
            // Safe: the state is allocated and initialised for the inflater's life.
            let inputBefore = unsafe state.pointee.avail_in
            let bitsBefore = unsafe state.pointee.read_in_length
            let blockBefore = unsafe state.pointee.block_state
            // Safe: output is valid for output.count bytes during this call, and ISA-L writes
            // at most avail_out there; next_out is set anew before every call, so a stale
            // output is never written.
            unsafe state.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
            unsafe state.pointee.avail_out = UInt32(output.count)
            let status = unsafe isal_inflate(state)
            let produced = unsafe output.count - Int(state.pointee.avail_out)
            memberOutput += UInt64(produced)
            if status == ISAL_DECOMP_OK || status == ISAL_END_INPUT {
                if unsafe state.pointee.block_state == ISAL_BLOCK_FINISH {
                    betweenMembers = true
                    // Whole bytes left in the bit buffer after the trailer belong to the
                    // next member; ISA-L leaves them there, so hand them back.
                    giveBackBufferedBytes()
                }
                // Safe: produced <= output.count, the bytes ISA-L wrote.
                if produced > 0 { return unsafe .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
                if betweenMembers { continue }
                if unsafe state.pointee.avail_in == 0 {
                    if endOfFile && resumeCount == 0 {
                        damageOffset = file.bytesRead
                        return stop("gzip stream truncated at compressed byte \(file.bytesRead) (member \(member))")
                    }
                    continue
                }
                if unsafe state.pointee.avail_in == inputBefore, unsafe state.pointee.read_in_length == bitsBefore,
                   unsafe state.pointee.block_state == blockBefore
                {
                    damageOffset = compressedOffset
                    return stop("gzip stream stalled at compressed byte \(compressedOffset) (member \(member))")
                }
                continue
            }
            var message = IsalInflater.message(status)
            var offset = compressedOffset
            if status == ISAL_INCORRECT_CHECKSUM {
                if unsafe state.pointee.wrapper_flag == 0 {
                    message = "header crc mismatch"
                } else if let trailer = consumedTrailer() {
                    // zlib checks the CRC (and stops after its four bytes) before ISIZE.
                    if unsafe UInt32(truncatingIfNeeded: trailer) != state.pointee.crc {
                        offset -= 4
                    } else {
                        message = "incorrect length check"
                    }
                }
            } else if status == ISAL_INVALID_WRAPPER {
                offset = memberStart + 2
            } else if status == ISAL_UNSUPPORTED_METHOD {
                message = "unknown compression method"
                offset = memberStart + 4
            }
            let damage = describe(message, at: offset)
            if produced > 0 {
                deferredDamage = damage
                // Safe: produced <= output.count, the bytes ISA-L wrote.
                return unsafe .bytes(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
            }
            return stop(damage)
        }
    }

    /// A damage message as zlib's path words it: an error before any output of a second
    /// or later member is trailing garbage after the member before.
    private func describe(_ message: String, at offset: UInt64) -> String {
        if member > 1 && memberOutput == 0 {
            damageOffset = memberStart
            return "trailing garbage after gzip member \(member - 1) at compressed byte \(memberStart): \(message)"
        }
        damageOffset = offset
        return "gzip data error at compressed byte \(offset) (member \(member)): \(message)"
    }

    /// The file offset of the byte at next_in.
    private var nextInOffset: UInt64 {
        // Safe: the state is allocated and initialised for the inflater's life.
        let held = unsafe UInt64(state.pointee.avail_in) + UInt64(resumeCount)
        return file.bytesRead >= held ? file.bytesRead - held : 0
    }

    /// Collects the member's first four bytes as they become visible and rejects them as
    /// zlib would: a wrong magic after two bytes, an unknown method or reserved flag bits
    /// after four (ISA-L ignores the latter), each at zlib's offset.
    private func checkMemberHead() -> String? {
        // Safe: the state is allocated and initialised for the inflater's life.
        guard let next = unsafe state.pointee.next_in else { return nil }
        let position = nextInOffset
        let available = unsafe UInt64(state.pointee.avail_in)
        while memberHeadCount < 4 {
            let wanted = memberStart + UInt64(memberHeadCount)
            guard wanted >= position, wanted < position + available else { break }
            // Safe: wanted - position < avail_in, so the byte is inside the unread input.
            memberHead |= unsafe UInt32(next[Int(wanted - position)]) << (8 * UInt32(memberHeadCount))
            memberHeadCount += 1
        }
        if memberHeadCount >= 2, memberHead & 0xFFFF != 0x8B1F {
            return describe("incorrect header check", at: memberStart + 2)
        }
        if memberHeadCount >= 4 {
            if (memberHead >> 16) & 0xFF != 8 { return describe("unknown compression method", at: memberStart + 4) }
            if (memberHead >> 24) & 0xE0 != 0 { return describe("unknown header flags set", at: memberStart + 4) }
        }
        return nil
    }

    /// The eight trailer bytes just consumed (CRC-32 in the low half, ISIZE in the high),
    /// from the read buffer and, for the part before it, `history`.
    private func consumedTrailer() -> UInt64? {
        // Safe: the state and input are allocated for the inflater's life; next_in is
        // only compared with the input buffer's bounds before it is used as an offset.
        guard resumeCount == 0, let next = unsafe state.pointee.next_in,
              let base = unsafe input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return nil }
        // next_in may point at the end of `carry` in a corner case: then give up.
        guard unsafe next >= base, unsafe next <= base + lastReadCount else { return nil }
        let used = unsafe base.distance(to: next)
        // The 8 bytes before next_in, oldest first: history's tail, then the buffer's.
        let fromBuffer = min(8, used)
        var trailer: UInt64 = 0
        for index in 0..<8 {
            let back = 8 - index  // how many bytes before next_in
            let byte: UInt8
            if back <= fromBuffer {
                // Safe: used - back >= 0 and < used <= input.count.
                byte = unsafe base[used - back]
            } else {
                byte = UInt8(truncatingIfNeeded: history >> (8 * UInt64(back - fromBuffer - 1)))
            }
            trailer |= UInt64(byte) << (8 * UInt64(index))
        }
        return trailer
    }

    /// Hands whole bytes left in ISA-L's bit buffer after a member's trailer back as
    /// input: they are the start of whatever follows (the next member, padding or
    /// garbage). They may have come from an earlier read, so they go to `carry` and are
    /// fed before the rest of the current buffer, which `refillIfEmpty` then resumes.
    private func giveBackBufferedBytes() {
        // Safe (the state's fields here): allocated and initialised for the inflater's life.
        let bits = max(0, Int(unsafe state.pointee.read_in_length))
        let count = min(bits / 8, unsafe carry.count)
        defer {
            unsafe state.pointee.read_in = 0
            unsafe state.pointee.read_in_length = 0
        }
        guard count > 0, resumeCount == 0 else { return }
        // The next unread bit is bit 0 of read_in; a partial byte (none after a trailer,
        // which is byte-aligned) is dropped.
        var buffered = unsafe state.pointee.read_in >> UInt64(bits % 8)
        // Safe: count <= carry.count.
        for index in 0..<count {
            unsafe carry[index] = UInt8(truncatingIfNeeded: buffered)
            buffered >>= 8
        }
        // Safe: the unread rest of the input is set aside (its buffer is not read into
        // before it is consumed) while ISA-L reads the count bytes just put in carry.
        unsafe resumeNext = state.pointee.next_in
        unsafe resumeCount = state.pointee.avail_in
        unsafe state.pointee.next_in = carry.baseAddress?.assumingMemoryBound(to: UInt8.self)
        unsafe state.pointee.avail_in = UInt32(count)
    }

    private func stop(_ message: String) -> GzipInflater.Output {
        finished = true
        return .damage(message)
    }
}
