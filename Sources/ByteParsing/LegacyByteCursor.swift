/// The pointer-based cursor being replaced by `ByteCursor` (a `Span` view); deleted once
/// no decoder uses it.
///
/// `read…` consumes, `peek…`/`get…` do not. Every read is bounds-checked and returns
/// nil on short input, never traps on a length that came from the input. The cursor
/// borrows its buffer: it must not outlive the closure that lent the bytes.
public struct LegacyByteCursor {
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    @inlinable public var offset: Int { position }
    @usableFromInline var position: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.position = min(max(offset, 0), bytes.count)
    }

    /// Bytes left to read.
    @inlinable public var remaining: Int { bytes.count - offset }

    @inlinable public var isAtEnd: Bool { offset >= bytes.count }

    /// Advances by `count` bytes; false (and no move) when fewer remain.
    @inlinable public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        position += count
        return true
    }

    /// Moves to an absolute offset within the buffer; false when out of range.
    @inlinable public mutating func moveTo(_ absolute: Int) -> Bool {
        guard absolute >= 0, absolute <= bytes.count else { return false }
        position = absolute
        return true
    }

    @inlinable public func getUInt8(at absolute: Int) -> UInt8? {
        guard absolute >= 0, absolute < bytes.count else { return nil }
        return bytes[absolute]
    }

    /// Big-endian (network order) 16-bit value at an absolute offset.
    @inlinable public func getUInt16(at absolute: Int) -> UInt16? {
        guard absolute >= 0, absolute <= bytes.count - 2 else { return nil }
        return UInt16(bytes[absolute]) << 8 | UInt16(bytes[absolute + 1])
    }

    /// Big-endian (network order) 32-bit value at an absolute offset.
    @inlinable public func getUInt32(at absolute: Int) -> UInt32? {
        guard absolute >= 0, absolute <= bytes.count - 4 else { return nil }
        return UInt32(bytes[absolute]) << 24 | UInt32(bytes[absolute + 1]) << 16
            | UInt32(bytes[absolute + 2]) << 8 | UInt32(bytes[absolute + 3])
    }

    @inlinable public func peekUInt8() -> UInt8? { getUInt8(at: offset) }
    @inlinable public func peekUInt16() -> UInt16? { getUInt16(at: offset) }
    @inlinable public func peekUInt32() -> UInt32? { getUInt32(at: offset) }

    @inlinable public mutating func readUInt8() -> UInt8? {
        guard let value = getUInt8(at: offset) else { return nil }
        position += 1
        return value
    }

    @inlinable public mutating func readUInt16() -> UInt16? {
        guard let value = getUInt16(at: offset) else { return nil }
        position += 2
        return value
    }

    @inlinable public mutating func readUInt32() -> UInt32? {
        guard let value = getUInt32(at: offset) else { return nil }
        position += 4
        return value
    }

    /// A borrowed slice of `count` bytes at an absolute offset; nil when out of range.
    @inlinable public func getBytes(at absolute: Int, count: Int) -> UnsafeRawBufferPointer? {
        guard absolute >= 0, count >= 0, absolute <= bytes.count - count else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[absolute..<(absolute + count)])
    }

    /// Reads a borrowed slice of `count` bytes.
    @inlinable public mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard let slice = getBytes(at: offset, count: count) else { return nil }
        position += count
        return slice
    }

    /// The unread rest of the buffer, borrowed.
    @inlinable public var rest: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }
}
