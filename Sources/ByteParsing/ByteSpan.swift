import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads of borrowed bytes that every decoder shares: big-endian integers, searches,
/// literal comparisons and owned copies. Each is bounds-checked and returns nil on short
/// input; none traps on an offset or length that came from the input.
extension Span where Element == UInt8 {
    /// The byte at `offset`; nil when out of range.
    @inlinable public func uint8(at offset: Int) -> UInt8? {
        offset >= 0 && offset < count ? self[offset] : nil
    }

    /// The big-endian (network order) 16-bit value at `offset`; nil when out of range.
    @inlinable public func uint16(at offset: Int) -> UInt16? {
        guard offset >= 0, offset <= count - 2 else { return nil }
        return UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// The big-endian 32-bit value at `offset`; nil when out of range.
    @inlinable public func uint32(at offset: Int) -> UInt32? {
        guard offset >= 0, offset <= count - 4 else { return nil }
        return UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    /// The big-endian 64-bit value at `offset`; nil when out of range.
    @inlinable public func uint64(at offset: Int) -> UInt64? {
        guard let high = uint32(at: offset), let low = uint32(at: offset + 4) else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    /// The little-endian 16-bit value at `offset`; nil when out of range.
    @inlinable public func uint16LittleEndian(at offset: Int) -> UInt16? {
        guard offset >= 0, offset <= count - 2 else { return nil }
        return UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    /// The little-endian 32-bit value at `offset`; nil when out of range.
    @inlinable public func uint32LittleEndian(at offset: Int) -> UInt32? {
        guard offset >= 0, offset <= count - 4 else { return nil }
        return UInt32(self[offset]) | UInt32(self[offset + 1]) << 8
            | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }

    /// The 16-bit value at `offset` in the given byte order (a capture file's, say);
    /// nil when out of range.
    @inlinable public func uint16(at offset: Int, bigEndian: Bool) -> UInt16? {
        bigEndian ? uint16(at: offset) : uint16LittleEndian(at: offset)
    }

    /// The 32-bit value at `offset` in the given byte order; nil when out of range.
    @inlinable public func uint32(at offset: Int, bigEndian: Bool) -> UInt32? {
        bigEndian ? uint32(at: offset) : uint32LittleEndian(at: offset)
    }

    /// The bytes in `range`, clamped to the span (an empty span when they do not meet).
    @inlinable @_lifetime(copy self)
    public func clamped(_ range: Range<Int>) -> Span<UInt8> {
        let lower = Swift.min(Swift.max(range.lowerBound, 0), count)
        let upper = Swift.min(Swift.max(range.upperBound, lower), count)
        return extracting(lower..<upper)
    }

    /// The first `maxLength` bytes (all of them when there are fewer).
    @inlinable @_lifetime(copy self)
    public func prefix(_ maxLength: Int) -> Span<UInt8> { clamped(0..<maxLength) }

    /// The bytes from `offset` on (none when `offset` is past the end).
    @inlinable @_lifetime(copy self)
    public func suffix(from offset: Int) -> Span<UInt8> { clamped(offset..<count) }

    /// The offset of the first `byte` in `start..<end` (clamped to the span); nil when
    /// there is none. memchr: the search runs at memory speed on long bodies.
    @inlinable public func firstIndex(of byte: UInt8, from start: Int = 0, to end: Int? = nil) -> Int? {
        let lower = Swift.max(start, 0)
        let upper = Swift.min(end ?? count, count)
        guard lower < upper else { return nil }
        // Safe: `lower..<upper` lies within the span, so memchr reads only its bytes, and
        // the pointer does not leave the closure.
        return unsafe withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress,
                  let found = unsafe memchr(base + lower, Int32(byte), upper - lower)
            else { return nil }
            return unsafe UnsafeRawPointer(found) - UnsafeRawPointer(base)
        }
    }

    /// Whether `needle` occurs in the span: memchr (vectorised in the C library) finds
    /// each candidate first byte, then the rest is compared. An empty needle is not
    /// looked for (false).
    @inlinable public func contains(_ needle: Span<UInt8>) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        let first = needle[0]
        let lastStart = count - needle.count
        var offset = 0
        while let hit = firstIndex(of: first, from: offset, to: lastStart + 1) {
            if extracting(hit..<(hit + needle.count)).elementsEqual(needle) { return true }
            offset = hit + 1
        }
        return false
    }

    /// Whether the span starts with `prefix`'s bytes. With `foldCase`, ASCII letters of
    /// the span are lower-cased first, and `prefix` must be lower-case.
    @inlinable public func hasPrefix(_ prefix: StaticString, foldCase: Bool = false) -> Bool {
        hasPrefix(prefix, at: 0, foldCase: foldCase)
    }

    /// Whether `prefix`'s bytes appear at `offset` (see `hasPrefix(_:foldCase:)`).
    @inlinable public func hasPrefix(_ prefix: StaticString, at offset: Int, foldCase: Bool = false) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard offset >= 0, offset <= count - length else { return false }
        // Safe: a StaticString's `utf8Start` points to `utf8CodeUnitCount` bytes of static
        // storage that live as long as the program.
        let literal = unsafe UnsafeBufferPointer(start: prefix.utf8Start, count: length)
        for index in 0..<length {
            var byte = self[offset + index]
            if foldCase, byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if unsafe byte != literal[index] { return false }
        }
        return true
    }

    /// Whether the span holds exactly the bytes of `other`.
    @inlinable public func elementsEqual(_ other: Span<UInt8>) -> Bool {
        guard count == other.count else { return false }
        for index in 0..<count where self[index] != other[index] { return false }
        return true
    }

    /// Whether the span holds exactly `bytes`.
    @inlinable public func elementsEqual(_ bytes: [UInt8]) -> Bool { elementsEqual(bytes.span) }

    /// Spaces and horizontal tabs removed from both ends.
    @inlinable @_lifetime(copy self)
    public func trimmingSpacesAndTabs() -> Span<UInt8> { extracting(trimmingSpacesAndTabs(0..<count)) }

    /// `range` (which must lie within the span) less the spaces and horizontal tabs at
    /// either end.
    @inlinable public func trimmingSpacesAndTabs(_ range: Range<Int>) -> Range<Int> {
        var start = range.lowerBound
        var end = range.upperBound
        while start < end, self[start] == 0x20 || self[start] == 0x09 { start += 1 }
        while end > start, self[end - 1] == 0x20 || self[end - 1] == 0x09 { end -= 1 }
        return start..<end
    }

    /// An owned copy of the bytes.
    public var array: [UInt8] {
        var copy: [UInt8] = []
        copy.append(span: self)
        return copy
    }

    /// The bytes as UTF-8 text (invalid sequences become U+FFFD), owned.
    public var string: String {
        // Safe: the buffer is the span's own memory and does not leave the closure.
        unsafe withUnsafeBufferPointer { unsafe String(decoding: $0, as: UTF8.self) }
    }
}

extension Array where Element == UInt8 {
    /// Appends a copy of `span`'s bytes (one copy, no per-byte growth).
    @inlinable public mutating func append(span: Span<UInt8>) {
        // Safe: the source buffer is the span's own memory, valid in the closure.
        unsafe span.withUnsafeBufferPointer { unsafe append(contentsOf: $0) }
    }

    /// Writes `span`'s bytes over `self[offset..<offset + span.count]`, which must lie
    /// within the array (checked: a write past the end traps, as any array write does).
    @inlinable public mutating func overwrite(at offset: Int, with span: Span<UInt8>) {
        precondition(offset >= 0 && offset <= count - span.count, "overwrite out of range")
        // Safe: the precondition keeps the target range inside the array's buffer, and
        // both pointers are used only inside their closures.
        unsafe withUnsafeMutableBufferPointer { target in
            unsafe span.withUnsafeBufferPointer { source in
                _ = unsafe UnsafeMutableBufferPointer(rebasing: target[offset..<(offset + source.count)])
                    .update(fromContentsOf: source)
            }
        }
    }
}

extension HashFunction {
    /// Adds `span`'s bytes to the digest.
    @inlinable public mutating func update(span: Span<UInt8>) {
        // Safe: the pointer is the span's own memory and is only read during the call.
        unsafe span.withUnsafeBytes { unsafe update(bufferPointer: $0) }
    }
}

extension StaticString {
    /// Calls `body` with the literal's UTF-8 bytes, borrowed for the call.
    @inlinable public func withUTF8Span<Result>(_ body: (Span<UInt8>) -> Result) -> Result {
        // Safe: the buffer is the literal's static storage (or a stack copy of a scalar
        // literal), and the span made from it cannot leave the non-escaping closure.
        withUTF8Buffer { buffer in body(unsafe buffer.span) }
    }
}

// MARK: Words and plain values

extension Span where Element == UInt8 {
    /// The little-endian 64-bit value at `offset`; nil when out of range. One unaligned
    /// load (the hex digest decoder and the rule cache's checksum read words at a time).
    @inlinable public func uint64LittleEndian(at offset: Int) -> UInt64? {
        guard offset >= 0, offset <= count - 8 else { return nil }
        // Safe: the guard keeps the eight bytes read inside the span, and the pointer
        // does not leave the closure.
        return unsafe withUnsafeBytes { unsafe UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }

    /// The bytes as an array of plain values in the host's byte order (what
    /// `[UInt8].append(bytesOf:)` wrote); nil unless the byte count is a whole number of
    /// values. Any bytes make valid values of a `BitwiseCopyable` type: whether they are
    /// the right ones is the caller's to check.
    public func values<T: BitwiseCopyable>(of type: T.Type) -> [T]? {
        let stride = MemoryLayout<T>.stride
        guard stride > 0, count % stride == 0 else { return nil }
        let valueCount = count / stride
        // Safe: the target holds `valueCount * stride` bytes, exactly the span's count,
        // and both pointers are used only inside their closures.
        return unsafe [T](unsafeUninitializedCapacity: valueCount) { target, initialized in
            unsafe withUnsafeBytes { source in
                if let base = target.baseAddress, let from = source.baseAddress, valueCount > 0 {
                    unsafe UnsafeMutableRawPointer(base).copyMemory(from: from, byteCount: valueCount * stride)
                }
            }
            initialized = valueCount
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends the bytes of plain values as they lie in memory (the host's byte order).
    public mutating func append<T: BitwiseCopyable>(bytesOf values: Span<T>) {
        // Safe: the source is the span's own memory, read only during the call.
        unsafe values.withUnsafeBytes { unsafe append(contentsOf: $0) }
    }
}
