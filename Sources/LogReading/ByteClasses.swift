/// Classifies 16 bytes at once for the text scanner: which are word bytes
/// (`[A-Za-z0-9._-]`, see `TextScanner.isWordByte`) and which are the bytes that can make
/// a word interesting (`.` inside it, `@` or `:` after it).
///
/// Written with `SIMD16<UInt8>` arithmetic only (add, subtract, and, or, not), which
/// Swift 6.3 compiles to SSE2/NEON vector instructions; its comparisons (`.<`, `.==`)
/// and `pointwiseMin` compile to lane-by-lane loops through the stack and are avoided.
/// A lane's high bit carries its answer; `highBits` gathers the 16 high bits into an
/// integer with two multiplications. `scalarMasks` is the byte-at-a-time twin the
/// tests compare it with.
enum ByteClasses {
    /// The bytes classified at once: one SSE2/NEON register.
    static let blockSize = 16

    /// Bit `i` set when byte `i` is a word byte, and when it is `.`, `@` or `:`.
    struct Masks: Equatable {
        var word: UInt16
        var special: UInt16
    }

    /// The masks of the 16 bytes at `pointer`, which must all be readable.
    @inline(__always)
    static func masks(_ pointer: UnsafeRawPointer) -> Masks {
        let bytes = pointer.loadUnaligned(as: SIMD16<UInt8>.self)
        let letter = inRange(bytes | SIMD16(repeating: 0x20), UInt8(ascii: "a"), 26)
        let digit = inRange(bytes, UInt8(ascii: "0"), 10)
        let dot = inRange(bytes, UInt8(ascii: "."), 1)
        let word = letter | digit | dot | inRange(bytes, UInt8(ascii: "-"), 1) | inRange(bytes, UInt8(ascii: "_"), 1)
        let special = dot | inRange(bytes, UInt8(ascii: "@"), 1) | inRange(bytes, UInt8(ascii: ":"), 1)
        return Masks(word: highBits(word), special: highBits(special))
    }

    /// Bit `i` set when byte `i` is an ASCII letter, and when it is an ASCII digit.
    struct Kinds: Equatable {
        var letter: UInt16
        var digit: UInt16
    }

    /// The kinds of the 16 bytes at `pointer`, which must all be readable. Computed only
    /// for blocks holding a dotted word (`masks` is enough to skip the others).
    @inline(__always)
    static func kinds(_ pointer: UnsafeRawPointer) -> Kinds {
        let bytes = pointer.loadUnaligned(as: SIMD16<UInt8>.self)
        let letter = inRange(bytes | SIMD16(repeating: 0x20), UInt8(ascii: "a"), 26)
        let digit = inRange(bytes, UInt8(ascii: "0"), 10)
        return Kinds(letter: highBits(letter), digit: highBits(digit))
    }

    /// The scalar twin of `kinds`.
    static func scalarKinds(_ bytes: UnsafeRawBufferPointer) -> Kinds {
        var kinds = Kinds(letter: 0, digit: 0)
        for lane in 0..<min(16, bytes.count) {
            if TextScanner.isLetter(bytes[lane]) { kinds.letter |= 1 << lane }
            if TextScanner.isDigit(bytes[lane]) { kinds.digit |= 1 << lane }
        }
        return kinds
    }

    /// The scalar twin of `masks`.
    static func scalarMasks(_ bytes: UnsafeRawBufferPointer) -> Masks {
        var masks = Masks(word: 0, special: 0)
        for lane in 0..<min(16, bytes.count) {
            let byte = bytes[lane]
            if TextScanner.isWordByte(byte) { masks.word |= 1 << lane }
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "@") || byte == UInt8(ascii: ":") {
                masks.special |= 1 << lane
            }
        }
        return masks
    }

    /// Lanes whose high bit is set where `low <= byte < low + count` (`count` at most
    /// 128). With `t = byte - low` (wrapping), `(t & 0x7F) + (0x80 - count)` carries into
    /// the high bit exactly when the low seven bits reach `count`, and `| t` adds the
    /// case where `t` is 128 or more; the complement is "below `count`".
    @inline(__always)
    static func inRange(_ bytes: SIMD16<UInt8>, _ low: UInt8, _ count: UInt8) -> SIMD16<UInt8> {
        let offset = bytes &- SIMD16(repeating: low)
        return ~(((offset & SIMD16(repeating: 0x7F)) &+ SIMD16(repeating: 0x80 &- count)) | offset)
    }

    /// The high bits of the 16 lanes as an integer, lane 0 in bit 0: per half, the
    /// multiplication moves the high bit of byte `k` to bit `56 + k` without carries
    /// (each byte contributes a single bit at a distinct position). Lane 0 is the low
    /// byte of the first half: every platform Swift runs on is little-endian.
    @inline(__always)
    static func highBits(_ lanes: SIMD16<UInt8>) -> UInt16 {
        let halves = unsafeBitCast(lanes, to: SIMD2<UInt64>.self)
        let gather: UInt64 = 0x0002_0408_1020_4081
        let low = ((halves[0] & 0x8080_8080_8080_8080) &* gather) >> 56
        let high = ((halves[1] & 0x8080_8080_8080_8080) &* gather) >> 56
        return UInt16(truncatingIfNeeded: low) | UInt16(truncatingIfNeeded: high) << 8
    }
}
