import ByteParsing

/// Where a log's bytes come from, chunk by chunk: the plain file's windows (lent by
/// `InputFile` without a copy), or the gzip inflater (capped at the decompressed-size
/// limit), inflating on a thread of its own into a ring of chunks when one is wanted.
/// The inflaters' chunks are buffers of the C libraries and of the ring, so this is
/// LogReading's one door to them: each is lent to the reader as a span for one call
/// (`next`).
///
/// Not thread-safe: one reader owns it. `@safe`: every raw buffer is private, and each
/// use below is marked with why it stays in bounds.
@safe final class LogChunks {
    /// How a read ends.
    enum Ending {
        case end
        /// Damage or the limit; the message names where.
        case damage(String)
    }

    private let file: InputFile
    private let inflater: CappedInflater?
    /// The chunks of the inflating thread (gzip with `inflatesOnSecondThread` only).
    let ring: InflatedChunkRing?
    /// Whether chunks are taken from `ring` (its thread runs).
    private var readsFromRing = false
    /// The most bytes of plain text lent at a time.
    private let plainChunkSize: Int

    init(file: InputFile, compressed: Bool, options: LogReadingOptions, chunkSize: Int) {
        self.file = file
        plainChunkSize = chunkSize
        if compressed {
            let decompressor: CappedInflater.Decompressor = switch options.inflater {
            case .isal: .isal(IsalInflater(file: file, chunkSize: chunkSize))
            case .zlib: .zlib(GzipInflater(file: file, chunkSize: chunkSize))
            }
            inflater = CappedInflater(decompressor, limit: options.maximumDecompressedBytes)
            ring = options.inflatesOnSecondThread ? InflatedChunkRing(slotSize: chunkSize) : nil
        } else {
            inflater = nil
            ring = nil
        }
    }

    /// Where taking the input apart stopped: for gzip, the inflater's compressed offset;
    /// nil for plain text (every byte read was taken).
    var consumedOffset: UInt64? { inflater?.consumedOffset }

    /// Whether bytes of a gzip member whose CRC-32 was never checked were handed out.
    var handedOutUnverifiedBytes: Bool { inflater?.handedOutUnverifiedBytes == true }

    /// With `ring`, starts the thread that inflates into it (the reader falls back to
    /// inflating itself if no thread can be made).
    func start() {
        guard let ring, let inflater else { return }
        // Safe: the ring calls the closure on its thread with a slot it owns until the
        // closure returns (see InflatedChunkRing).
        readsFromRing = unsafe ring.start { slot in
            // Safe: the ring lends the producer `slot` until it returns; the inflater
            // writes at most `slot.count` bytes into it.
            switch unsafe inflater.next(into: slot) {
            case .bytes(let bytes):
                let count = min(bytes.count, slot.count)
                // The decoders write at the start of the slot they are given; copy if not.
                // Safe: both buffers hold at least `count` bytes.
                if unsafe bytes.baseAddress != UnsafeRawPointer(slot.baseAddress), let source = bytes.baseAddress,
                   let target = slot.baseAddress
                {
                    unsafe target.copyMemory(from: source, byteCount: count)
                }
                return .bytes(count, member: inflater.lastChunkMember)
            case .end: return .end
            case .damage(let message): return .damage(message)
            }
        }
    }

    /// Ends and joins the inflating thread, if one runs. Idempotent.
    func stop() {
        guard readsFromRing else { return }
        ring?.stop()
        readsFromRing = false
    }

    /// Lends the next chunk to `body` with the gzip member it came from (0 for plain
    /// text); returns nil when it did, or how the input ended.
    func next(_ body: (Span<UInt8>, _ member: Int) -> Void) -> Ending? {
        if readsFromRing, let ring { return lend(ring.next(), member: ring.memberOfLastChunk, to: body) }
        // Safe: without an output buffer the inflater writes into its own.
        if let inflater { return lend(unsafe inflater.next(), member: inflater.lastChunkMember, to: body) }
        do {
            let count = try file.withNextWindow(upTo: plainChunkSize) { window in
                if !window.isEmpty { body(window, 0) }
                return window.count
            }
            return count == 0 ? .end : nil
        } catch {
            return .damage("read error at byte \(file.bytesRead): \(error)")
        }
    }

    /// Hands an inflater's or the ring's output on.
    private func lend(_ output: GzipInflater.Output, member: Int, to body: (Span<UInt8>, Int) -> Void) -> Ending? {
        switch output {
        case .bytes(let bytes):
            // Safe: the chunk stays as it is until the next call of the inflater or the
            // ring, after `body` returns; the span does not outlive `body`.
            body(unsafe Span<UInt8>(_unsafeBytes: bytes), member)
            return nil
        case .end: return .end
        case .damage(let message): return .damage(message)
        }
    }
}
