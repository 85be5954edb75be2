import CGuardedMapping
import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An input file opened for one sequential pass, with its SHA-256 computed from the
/// very bytes that are read, so that a 50 GB capture is read once.
///
/// The hashing runs on a second thread so that it costs the reader no time: the file
/// is handed out in windows of `ringSlotSize` bytes, and each window the caller has
/// been given in full goes to a hashing thread, which updates the SHA-256 in file
/// order. A regular file is memory-mapped, and its windows are slices of the mapping:
/// `withNextWindow` lends them as spans (and `borrow(upTo:)` as pointers) without any
/// copy. Where a file cannot be mapped (or
/// `memoryMapped` is false), each window is one `read(2)` into a small ring of
/// buffers (`ringSlotCount` × `ringSlotSize`). The reader waits only when every
/// buffer of the ring is still waiting to be hashed; `sha256Hex` waits for the hasher
/// to catch up. The digest covers exactly the bytes handed out (`bytesRead`), in the
/// order handed out, whatever was read ahead. A file that fits in one buffer is hashed
/// inline, without a thread; the thread of a larger file ends when the file is released.
/// The concurrent part is confined to `HashingRing.swift`, which explains why it is safe.
///
/// A mapped file is read as it was when opened: up to `size`, even if it grows. If it
/// shrinks while mapped, or its device fails, the pages it no longer backs read as
/// zeros instead of killing the process (`CGuardedMapping`); each window's pages are
/// touched before the window is handed out, so such a failure is thrown as an
/// `InputFileError` before the bytes are used, and one that strikes a window already
/// handed out is thrown by the next call.
///
/// Not thread-safe: one reader owns it. `@safe`: the mapping's address and the ring's
/// slots are private; every use is marked below with why it stays in bounds.
@safe public final class InputFile {
    /// The path as given.
    public let path: String
    /// Size in bytes when it was opened.
    public let size: UInt64
    /// Bytes read so far (handed out by the reads, or skipped by `drain()`).
    public private(set) var bytesRead: UInt64 = 0
    private let descriptor: Int32
    private var closed = false
    /// The file's mapping (`CGuardedMapping`'s registration number and address), or nil
    /// when it is read with `read(2)`.
    private let mapping: (registration: Int32, base: UnsafeRawPointer)?
    /// Offset in the file of the current window, and of the end of the windows let go
    /// of (mapped files only).
    private var windowStart = 0
    private var releasedEnd = 0
    /// Hashed windows are let go of in runs of this many bytes: each `madvise` makes
    /// the kernel flush the other cores' TLBs, which costs more than the pages do.
    static let releaseRun = 32 << 20

    /// Size of one ring buffer: one `read(2)` each, and one hand-over to the hashing
    /// thread each. 1 MiB makes both costs negligible next to hashing the bytes
    /// (about 0.5 ms per MiB) while the whole ring stays within a few MiB per open file.
    public static let ringSlotSize = 1 << 20
    /// Buffers in the ring: enough for the hasher to lag a few buffers behind a reader
    /// that is momentarily faster, without the reader waiting.
    public static let ringSlotCount = 4

    private let slotSize: Int
    private let slotCount: Int
    /// Created on the first read.
    private var ring: HashingRing?
    /// Ring sequence number of the current slot (its index is `sequence % slotCount`).
    private var sequence = 0
    /// Bytes in the current slot, handed out of it, and queued for hashing from it.
    private var slotFilled = 0
    private var slotConsumed = 0
    private var slotSubmitted = 0
    /// Set while `withNextWindow` lends a window: reading then is a programming error.
    private var lending = false

    /// Opens `path` read-only. Throws `InputFileError` naming the path and the reason.
    public convenience init(path: String) throws(InputFileError) {
        try self.init(path: path, ringSlotSize: InputFile.ringSlotSize, ringSlotCount: InputFile.ringSlotCount)
    }

    /// Opens `path` read-only with windows of `ringSlotSize` bytes, `ringSlotCount` of
    /// which may wait for the hasher (tests use small ones to cross many window
    /// boundaries). Both are clamped to sane minimums (1 byte, 2 windows). With
    /// `memoryMapped` false the file is read with `read(2)` even if it could be mapped.
    public init(path: String, ringSlotSize: Int, ringSlotCount: Int, memoryMapped: Bool = true) throws(InputFileError) {
        self.path = path
        self.slotSize = max(1, ringSlotSize)
        self.slotCount = max(2, ringSlotCount)
        // Safe: `open` reads the path's C string, alive for the call.
        let descriptor = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InputFileError(path: path, reason: InputFile.describeErrno()) }
        var status = stat()
        // Safe: `fstat` fills the local struct, alive for the call.
        guard unsafe fstat(descriptor, &status) == 0 else {
            let reason = InputFile.describeErrno()
            close(descriptor)
            throw InputFileError(path: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw InputFileError(path: path, reason: "not a regular file")
        }
        self.descriptor = descriptor
        self.size = UInt64(status.st_size)
        var base: UnsafeRawPointer?
        // Safe: `cairn_guarded_map` sets the local `base` to a mapping of `st_size` bytes,
        // kept until `cairn_guarded_unmap` in deinit.
        let registration = memoryMapped ? unsafe cairn_guarded_map(descriptor, Int(status.st_size), &base) : -1
        if registration >= 0, let base = unsafe base {
            unsafe mapping = (registration, base)
        } else {
            unsafe mapping = nil
        }
    }

    deinit {
        // Joins the hashing thread (if any): no thread outlives its file, and none
        // reads the mapping once it is unmapped.
        ring?.stop()
        if let mapping = unsafe mapping { unsafe cairn_guarded_unmap(mapping.registration) }
        if !closed { close(descriptor) }
    }

    /// Reads up to `buffer.count` bytes into `buffer`, hashing them; returns the count
    /// read, 0 at the end of the file. Like `read(2)` on a regular file, it fills the
    /// buffer unless the file ends (or a read error follows some bytes: those are
    /// returned, and the error is thrown by the next call).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputFileError) -> Int {
        precondition(!lending, "InputFile: read while a window is lent")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var copied = 0
        while copied < buffer.count {
            if slotConsumed == slotFilled {
                do throws(InputFileError) {
                    try advance()
                } catch {
                    if copied > 0 { break }
                    throw error
                }
                if slotFilled == 0 { break }
            }
            let count = min(buffer.count - copied, slotFilled - slotConsumed)
            // Safe: `currentSlot` holds `slotFilled` bytes; `count` fits in both ranges.
            unsafe (base + copied).copyMemory(from: currentSlot() + slotConsumed, byteCount: count)
            slotConsumed += count
            copied += count
        }
        bytesRead += UInt64(copied)
        return copied
    }

    /// Hands out the next bytes of the file without copying them: up to `maxCount`
    /// bytes (at least one unless the file has ended; never past the end of one ring
    /// buffer), borrowed straight from the ring and hashed like bytes `read(into:)`
    /// copies out. Empty at the end of the file. The bytes stay valid until the next
    /// call of `borrow`, `read(into:)` or `drain()` on this file (the ring reuses a
    /// buffer only after the reader has moved past it and its hashing is done).
    public func borrow(upTo maxCount: Int) throws(InputFileError) -> UnsafeRawBufferPointer {
        precondition(!lending, "InputFile: read while a window is lent")
        // Safe (both empty returns): a buffer of no bytes points at nothing.
        guard maxCount > 0 else { return unsafe UnsafeRawBufferPointer(start: nil, count: 0) }
        if slotConsumed == slotFilled {
            try advance()
            if slotFilled == 0 { return unsafe UnsafeRawBufferPointer(start: nil, count: 0) }
        }
        let count = min(maxCount, slotFilled - slotConsumed)
        // Safe: `currentSlot` holds `slotFilled` bytes and `slotConsumed + count <= slotFilled`.
        let bytes = unsafe UnsafeRawBufferPointer(start: currentSlot() + slotConsumed, count: count)
        slotConsumed += count
        bytesRead += UInt64(count)
        return unsafe bytes
    }

    /// Lends the next bytes of the file to `body` as a span, without copying them: the
    /// bytes `borrow(upTo:)` would hand out (up to `maxCount`, at least one unless the
    /// file has ended, never past the end of one window), hashed the same way; empty at
    /// the end of the file. The span cannot outlive `body`, and while `body` runs the
    /// file refuses to be read (a read would let the ring reuse the buffer lent): this
    /// is how a reader parses records in place without touching raw memory.
    public func withNextWindow<Result>(
        upTo maxCount: Int = .max, _ body: (Span<UInt8>) -> Result
    ) throws(InputFileError) -> Result {
        // Safe: the window's bytes stay valid until the next read of the file, which
        // `lending` rules out while `body` runs; the span cannot leave `body`.
        let window = unsafe try borrow(upTo: maxCount)
        lending = true
        defer { lending = false }
        return unsafe body(Span(_unsafeBytes: window))
    }

    /// Reads (and hashes, as every read does) until `bytes` holds `count` bytes or the
    /// file ends, appending to `bytes`: an owned copy, for a reader that keeps bytes past
    /// the next read. What was read before a read error stays appended.
    public func read(upTo count: Int, appendingTo bytes: inout [UInt8]) throws(InputFileError) {
        while bytes.count < count {
            let got = try withNextWindow(upTo: count - bytes.count) { window in
                bytes.append(span: window)
                return window.count
            }
            if got == 0 { return }
        }
    }

    /// Reads the rest of the file (without handing it out) so that the digest covers
    /// every byte, e.g. after a reader stopped early at a damaged record. No copy: the
    /// ring's buffers go straight to the hasher.
    public func drain() throws(InputFileError) {
        precondition(!lending, "InputFile: read while a window is lent")
        while true {
            if slotConsumed == slotFilled {
                try advance()
                if slotFilled == 0 { return }
            }
            bytesRead += UInt64(slotFilled - slotConsumed)
            slotConsumed = slotFilled
        }
    }

    /// The SHA-256 of every byte read so far, lower-case hex. Call after `drain()` for
    /// the digest of the whole file. Waits for the hashing thread to catch up.
    public var sha256Hex: String {
        guard let ring else { return Hex.string(SHA256().finalize()) }
        submitConsumed(releases: false)
        return Hex.string(ring.digest())
    }

    /// Reads the first `count` bytes of a file without hashing, for detecting its kind.
    public static func prefix(of path: String, count: Int) throws(InputFileError) -> [UInt8] {
        // Safe: `open` reads the path's C string, alive for the call.
        let descriptor = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InputFileError(path: path, reason: describeErrno()) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        // Safe: `pread` writes at most `count` bytes, the array's size.
        let got = unsafe bytes.withUnsafeMutableBytes { unsafe pread(descriptor, $0.baseAddress, count, 0) }
        guard got >= 0 else { throw InputFileError(path: path, reason: describeErrno()) }
        return Array(bytes[0..<got])
    }

    static func describeErrno() -> String { SystemError.describe() }

    // MARK: The ring (reader side; see HashingRing.swift)

    private func currentSlot() -> UnsafeRawPointer {
        // Safe: `windowStart` is inside the mapping (it moves by the windows' sizes, which
        // end at the file's size).
        if let mapping = unsafe mapping { return unsafe mapping.base + windowStart }
        guard let ring else { preconditionFailure("InputFile: slot used before the first read") }
        // Safe: the ring's slot of `sequence` is the reader's until it is submitted.
        return unsafe UnsafeRawPointer(ring.slot(sequence))
    }

    /// Queues the bytes of the current slot handed out but not yet queued.
    private func submitConsumed(releases: Bool) {
        guard let ring, slotConsumed > slotSubmitted || releases else { return }
        // Safe: the bytes handed out of the current slot and not yet queued lie inside it.
        let bytes = unsafe UnsafeRawBufferPointer(start: currentSlot() + slotSubmitted, count: slotConsumed - slotSubmitted)
        unsafe ring.submit(bytes, sequence: sequence, releases: releases)
        slotSubmitted = slotConsumed
    }

    /// Called when the current slot is used up: queues it for hashing, moves to the
    /// next slot (waiting until the hasher is done with it) and fills it: the next
    /// window of the mapping, or one `read(2)`. Afterwards `slotFilled == 0` means the
    /// end of the file; the slot is then kept, so that a later call tries again in the
    /// same slot.
    private func advance() throws(InputFileError) {
        let ring: HashingRing
        if let existing = self.ring {
            ring = existing
        } else {
            ring = HashingRing(slotSize: slotSize, slotCount: slotCount)
            self.ring = ring
        }
        // Safe (the mapping's uses below): only whether there is one and its registration
        // number are read; the ring's slot goes to read(2) with its size.
        if slotFilled > 0 {
            submitConsumed(releases: true)
            sequence += 1
            if unsafe mapping != nil { windowStart += slotFilled }
            slotFilled = 0
            slotConsumed = 0
            slotSubmitted = 0
            ring.waitUntilWritable(sequence)
        }
        if let mapping = unsafe mapping {
            try unsafe nextWindow(of: mapping.registration)
            return
        }
        let slot = unsafe ring.slot(sequence)
        while true {
            // Safe: the slot holds `slotSize` bytes and is the reader's until submitted.
            let count = unsafe Glibc.read(descriptor, slot, slotSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw InputFileError(path: path, reason: InputFile.describeErrno())
            }
            slotFilled = count
            return
        }
    }
}

extension InputFile {
    /// `advance()` for a mapped file: lets go of the windows the hasher has finished
    /// with (so that the mapping's resident pages stay within a few runs), then makes
    /// the next one current, its pages touched first so that a file that has shrunk,
    /// or a device error, is an error here rather than zeros handed out.
    private func nextWindow(of registration: Int32) throws(InputFileError) {
        // Windows are `slotSize` long but the last; the hasher is done with every one
        // up to `slotCount` windows back once `waitUntilWritable(sequence)` has returned.
        let hashedEnd = (sequence - slotCount + 1) * slotSize
        if hashedEnd - releasedEnd >= InputFile.releaseRun {
            cairn_guarded_release(registration, releasedEnd, hashedEnd - releasedEnd)
            releasedEnd = hashedEnd
        }
        let count = min(slotSize, Int(size) - windowStart)
        if cairn_guarded_touch(registration, windowStart, count) != 0 {
            throw InputFileError(
                path: path,
                reason: "the file shrank, or its device failed, while it was being read (bus error on its mapping)")
        }
        slotFilled = count
    }
}

extension Span where Element == UInt8 {
    /// Asks the CPU to start loading the bytes at `offset` and the cache line after them,
    /// so that a reader of `InputFile`'s windows can have the next record on its way
    /// while the current one is decoded. Reads nothing; an offset outside the span is
    /// ignored.
    @inlinable public func prefetch(at offset: Int) {
        guard offset >= 0, offset < count else { return }
        // Safe: the address lies within the span, and a prefetch neither reads nor faults
        // (not even for the second line, which may lie past the span).
        unsafe withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { unsafe cairn_prefetch(base + offset) }
        }
    }
}

/// Why an input file could not be opened or read.
public struct InputFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
