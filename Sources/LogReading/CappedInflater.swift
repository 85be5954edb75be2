/// A gzip decoder (ISA-L or zlib) with the decompression-bomb guard on top: hands out
/// decompressed chunks until `limit` bytes, then the limit as damage.
///
/// Used by one thread at a time: the reading thread, or the inflating thread of an
/// `InflatedChunkRing` between its start and its join (the reader then touches it only
/// after the join, for `consumedOffset`). Both paths call the same `next(into:)`, so the
/// chunks, the damage and its offsets are the same whichever thread inflates.
final class CappedInflater {
    /// One of the two gzip decoders; a switch per chunk, not per line.
    enum Decompressor {
        case isal(IsalInflater)
        case zlib(GzipInflater)
    }

    private let decompressor: Decompressor
    /// `LogReadingOptions.maximumDecompressedBytes`.
    let limit: UInt64
    /// Decompressed bytes handed out so far.
    private var decompressedBytes: UInt64 = 0
    /// Set when the guard cut the last chunk: the next chunk is this damage.
    private var limitDamage: String?
    /// The member of the last chunk handed out, and how many of its bytes were.
    private(set) var lastChunkMember = 0
    private var handedOutOfMember: UInt64 = 0

    init(_ decompressor: Decompressor, limit: UInt64) {
        self.decompressor = decompressor
        self.limit = limit
    }

    /// See `GzipInflater.consumedOffset`.
    var consumedOffset: UInt64 {
        switch decompressor {
        case .isal(let inflater): inflater.consumedOffset
        case .zlib(let inflater): inflater.consumedOffset
        }
    }

    private var position: (compressedOffset: UInt64, member: Int) {
        switch decompressor {
        case .isal(let inflater): (inflater.compressedOffset, inflater.member)
        case .zlib(let inflater): (inflater.compressedOffset, inflater.member)
        }
    }

    /// Whether bytes handed out belong to a member whose trailer was never checked:
    /// reading stopped inside the member of the last chunk (on damage, a truncation or
    /// the limit). False after a clean end, and after damage past a member's end
    /// (trailing garbage), as that member was verified.
    var handedOutUnverifiedBytes: Bool {
        let (member, inside) = switch decompressor {
        case .isal(let inflater): (inflater.member, inflater.isInsideMember)
        case .zlib(let inflater): (inflater.member, inflater.isInsideMember)
        }
        return inside && member == lastChunkMember && handedOutOfMember > 0
    }

    /// The next chunk, written into `output` when given (its first bytes) or into the
    /// decoder's own buffer; the clean end; or damage (the decoder's, or the limit's).
    func next(into output: UnsafeMutableRawBufferPointer? = nil) -> GzipInflater.Output {
        if let limitDamage { return .damage(limitDamage) }
        let produced: GzipInflater.Output
        // Safe: the caller's output (valid for its count during the call) is passed on as
        // is; the decoder writes at most output.count bytes, from its start.
        switch decompressor {
        case .isal(let inflater): produced = unsafe output.map { unsafe inflater.next(into: $0) } ?? inflater.next()
        case .zlib(let inflater): produced = unsafe output.map { unsafe inflater.next(into: $0) } ?? inflater.next()
        }
        guard case .bytes(let bytes) = produced else { return produced }
        let room = limit - min(limit, decompressedBytes)
        // A chunk never spans two members: each decoder stops at a member's end.
        let member = position.member
        if member != lastChunkMember {
            lastChunkMember = member
            handedOutOfMember = 0
        }
        guard UInt64(bytes.count) > room else {
            decompressedBytes += UInt64(bytes.count)
            handedOutOfMember += UInt64(bytes.count)
            // Safe: the decoder's chunk, valid until its next call, handed on as is.
            return unsafe .bytes(bytes)
        }
        // The bomb guard: hand out what fits, then stop.
        let position = position
        let message = "decompressed size limit of \(limit) bytes reached at compressed byte "
            + "\(position.compressedOffset) (member \(position.member)); the rest of the file was not read"
        decompressedBytes = limit
        if room == 0 { return .damage(message) }
        handedOutOfMember += room
        limitDamage = message
        // Safe: room < bytes.count, so the cut chunk lies inside the decoder's.
        return unsafe .bytes(UnsafeRawBufferPointer(rebasing: bytes[0..<Int(room)]))
    }
}
