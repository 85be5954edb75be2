/// A forward cursor over borrowed bytes: the one vocabulary for reading input.
///
/// `read…` consumes, `peek…`/`get…` do not. Every read is bounds-checked and returns
/// nil on short input, never traps on a length that came from the input. The cursor
/// is a `Span`'s view: it is non-escapable, so the compiler proves it does not
/// outlive the bytes it reads, and so are the spans it hands out.
public struct ByteCursor: ~Escapable {
    /// The bytes read, all of them (offsets are relative to their start).
    public let bytes: Span<UInt8>
    /// Offset of the next byte to read.
    @inlinable public var offset: Int { position }
    @usableFromInline var position: Int

    /// A cursor at `offset` (clamped to the bytes) of `bytes`.
    @inlinable @_lifetime(copy bytes)
    public init(_ bytes: Span<UInt8>, offset: Int = 0) {
        self.bytes = bytes
        self.position = min(max(offset, 0), bytes.count)
    }

    /// Bytes left to read.
    @inlinable public var remaining: Int { bytes.count - position }

    /// Whether every byte has been read.
    @inlinable public var isAtEnd: Bool { position >= bytes.count }

    /// Advances by `count` bytes; false (and no move) when fewer remain.
    @inlinable public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        position += count
        return true
    }

    /// Moves to an absolute offset within the bytes; false when out of range.
    @inlinable public mutating func moveTo(_ absolute: Int) -> Bool {
        guard absolute >= 0, absolute <= bytes.count else { return false }
        position = absolute
        return true
    }

    /// The byte at an absolute offset; nil when out of range.
    @inlinable public func getUInt8(at absolute: Int) -> UInt8? { bytes.uint8(at: absolute) }

    /// Big-endian (network order) 16-bit value at an absolute offset.
    @inlinable public func getUInt16(at absolute: Int) -> UInt16? { bytes.uint16(at: absolute) }

    /// Big-endian (network order) 32-bit value at an absolute offset.
    @inlinable public func getUInt32(at absolute: Int) -> UInt32? { bytes.uint32(at: absolute) }

    /// The next byte, not consumed.
    @inlinable public func peekUInt8() -> UInt8? { getUInt8(at: position) }
    /// The next big-endian 16-bit value, not consumed.
    @inlinable public func peekUInt16() -> UInt16? { getUInt16(at: position) }
    /// The next big-endian 32-bit value, not consumed.
    @inlinable public func peekUInt32() -> UInt32? { getUInt32(at: position) }

    /// Reads one byte.
    @inlinable public mutating func readUInt8() -> UInt8? {
        guard let value = getUInt8(at: position) else { return nil }
        position += 1
        return value
    }

    /// Reads a big-endian 16-bit value.
    @inlinable public mutating func readUInt16() -> UInt16? {
        guard let value = getUInt16(at: position) else { return nil }
        position += 2
        return value
    }

    /// Reads a big-endian 32-bit value.
    @inlinable public mutating func readUInt32() -> UInt32? {
        guard let value = getUInt32(at: position) else { return nil }
        position += 4
        return value
    }

    /// The `count` bytes at an absolute offset, borrowed; nil when out of range.
    @inlinable @_lifetime(copy self)
    public func getBytes(at absolute: Int, count: Int) -> Span<UInt8>? {
        guard absolute >= 0, count >= 0, absolute <= bytes.count - count else { return nil }
        return bytes.extracting(absolute..<(absolute + count))
    }

    /// Reads `count` bytes, borrowed; nil (and no move) when fewer remain.
    @inlinable @_lifetime(copy self)
    public mutating func readBytes(_ count: Int) -> Span<UInt8>? {
        guard count >= 0, count <= remaining else { return nil }
        let slice = bytes.extracting(position..<(position + count))
        position += count
        return slice
    }

    /// Where the unread rest of the bytes is: `offset..<bytes.count`.
    @inlinable public var restRange: Range<Int> { position..<bytes.count }

    /// The unread rest of the bytes, borrowed.
    @inlinable public var rest: Span<UInt8> {
        @_lifetime(copy self) get { bytes.extracting(position...) }
    }
}
