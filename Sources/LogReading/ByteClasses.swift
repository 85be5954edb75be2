#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

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
///
/// On x86-64 the same classes come from SSE2 intrinsics (`SSE2ByteClasses`): byte
/// compares and `pmovmskb` take about a third of the instructions of the portable
/// arithmetic, and the scanner classifies every block of every line. The tests check
/// both against the scalar twin.
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
        #if arch(x86_64)
        SSE2ByteClasses.masks(pointer)
        #else
        portableMasks(pointer)
        #endif
    }

    /// `masks` in portable `SIMD16` arithmetic.
    @inline(__always)
    static func portableMasks(_ pointer: UnsafeRawPointer) -> Masks {
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

        /// The kinds with lane `lanes` in lane 0 (lanes past the end are neither).
        @inline(__always)
        func shifted(by lanes: Int) -> Kinds { Kinds(letter: letter >> lanes, digit: digit >> lanes) }
    }

    /// The kinds of the 16 bytes at `pointer`, which must all be readable. Computed only
    /// for blocks holding a dotted word (`masks` is enough to skip the others).
    @inline(__always)
    static func kinds(_ pointer: UnsafeRawPointer) -> Kinds {
        #if arch(x86_64)
        SSE2ByteClasses.kinds(pointer)
        #else
        portableKinds(pointer)
        #endif
    }

    /// `kinds` in portable `SIMD16` arithmetic.
    @inline(__always)
    static func portableKinds(_ pointer: UnsafeRawPointer) -> Kinds {
        let bytes = pointer.loadUnaligned(as: SIMD16<UInt8>.self)
        let letter = inRange(bytes | SIMD16(repeating: 0x20), UInt8(ascii: "a"), 26)
        let digit = inRange(bytes, UInt8(ascii: "0"), 10)
        return Kinds(letter: highBits(letter), digit: highBits(digit))
    }

    /// Bit `i` set when byte `i` may go on an IPv6 run (`[0-9A-Za-z:.]`, see
    /// `TextScanner.isIPv6RunByte`), when it is `:`, and when it is a letter that is no
    /// hex digit (`g`-`z`, `G`-`Z`).
    struct RunMasks: Equatable {
        var run: UInt16
        var colon: UInt16
        var nonHexLetter: UInt16
    }

    /// The IPv6 run classes of the 16 bytes at `pointer`, which must all be readable.
    @inline(__always)
    static func runMasks(_ pointer: UnsafeRawPointer) -> RunMasks {
        #if arch(x86_64)
        SSE2ByteClasses.runMasks(pointer)
        #else
        portableRunMasks(pointer)
        #endif
    }

    /// `runMasks` in portable `SIMD16` arithmetic.
    @inline(__always)
    static func portableRunMasks(_ pointer: UnsafeRawPointer) -> RunMasks {
        let bytes = pointer.loadUnaligned(as: SIMD16<UInt8>.self)
        let folded = bytes | SIMD16(repeating: 0x20)
        let letter = inRange(folded, UInt8(ascii: "a"), 26)
        let colon = inRange(bytes, UInt8(ascii: ":"), 1)
        let run = letter | inRange(bytes, UInt8(ascii: "0"), 10) | colon | inRange(bytes, UInt8(ascii: "."), 1)
        return RunMasks(
            run: highBits(run), colon: highBits(colon), nonHexLetter: highBits(inRange(folded, UInt8(ascii: "g"), 20)))
    }

    /// The scalar twin of `runMasks`.
    static func scalarRunMasks(_ bytes: UnsafeRawBufferPointer) -> RunMasks {
        var masks = RunMasks(run: 0, colon: 0, nonHexLetter: 0)
        for lane in 0..<min(16, bytes.count) {
            let byte = bytes[lane]
            if TextScanner.isIPv6RunByte(byte) { masks.run |= 1 << lane }
            if byte == UInt8(ascii: ":") { masks.colon |= 1 << lane }
            if TextScanner.isLetter(byte), !TextScanner.hexValue(byte) { masks.nonHexLetter |= 1 << lane }
        }
        return masks
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

#if arch(x86_64)
/// `ByteClasses.masks` and `kinds` with SSE2 (part of every x86-64 processor): a
/// byte is in `low...low + count - 1` when `min(byte - low, count - 1) == byte - low`
/// (unsigned, wrapping), single bytes by equality, and `pmovmskb` gathers the lanes.
enum SSE2ByteClasses {
    /// The 16 bytes at `pointer` in one register.
    @inline(__always)
    static func load(_ pointer: UnsafeRawPointer) -> __m128i {
        // Safe: the caller guarantees 16 readable bytes; `loadu` has no alignment need,
        // and __m128i is a plain vector of integers, so the bytes may be viewed as one.
        _mm_loadu_si128(pointer.assumingMemoryBound(to: __m128i.self))
    }

    @inline(__always)
    static func byte(_ value: UInt8) -> __m128i { _mm_set1_epi8(CChar(bitPattern: value)) }

    /// Lanes set to all ones where `low <= byte < low + count`.
    @inline(__always)
    static func inRange(_ bytes: __m128i, _ low: UInt8, _ count: UInt8) -> __m128i {
        let offset = _mm_sub_epi8(bytes, byte(low))
        return _mm_cmpeq_epi8(_mm_min_epu8(offset, byte(count - 1)), offset)
    }

    @inline(__always)
    static func equal(_ bytes: __m128i, _ value: UInt8) -> __m128i { _mm_cmpeq_epi8(bytes, byte(value)) }

    /// The lanes' high bits, lane 0 in bit 0.
    @inline(__always)
    static func bits(_ lanes: __m128i) -> UInt16 { UInt16(truncatingIfNeeded: _mm_movemask_epi8(lanes)) }

    @inline(__always)
    static func letters(_ bytes: __m128i) -> __m128i { inRange(_mm_or_si128(bytes, byte(0x20)), UInt8(ascii: "a"), 26) }

    @inline(__always)
    static func digits(_ bytes: __m128i) -> __m128i { inRange(bytes, UInt8(ascii: "0"), 10) }

    @inline(__always)
    static func masks(_ pointer: UnsafeRawPointer) -> ByteClasses.Masks {
        let bytes = load(pointer)
        let dot = equal(bytes, UInt8(ascii: "."))
        let joiner = _mm_or_si128(equal(bytes, UInt8(ascii: "-")), equal(bytes, UInt8(ascii: "_")))
        let word = _mm_or_si128(_mm_or_si128(letters(bytes), digits(bytes)), _mm_or_si128(dot, joiner))
        let special = _mm_or_si128(dot, _mm_or_si128(equal(bytes, UInt8(ascii: "@")), equal(bytes, UInt8(ascii: ":"))))
        return ByteClasses.Masks(word: bits(word), special: bits(special))
    }

    @inline(__always)
    static func kinds(_ pointer: UnsafeRawPointer) -> ByteClasses.Kinds {
        let bytes = load(pointer)
        return ByteClasses.Kinds(letter: bits(letters(bytes)), digit: bits(digits(bytes)))
    }

    @inline(__always)
    static func runMasks(_ pointer: UnsafeRawPointer) -> ByteClasses.RunMasks {
        let bytes = load(pointer)
        let folded = _mm_or_si128(bytes, byte(0x20))
        let letter = inRange(folded, UInt8(ascii: "a"), 26)
        let colon = equal(bytes, UInt8(ascii: ":"))
        let run = _mm_or_si128(_mm_or_si128(letter, digits(bytes)), _mm_or_si128(colon, equal(bytes, UInt8(ascii: "."))))
        return ByteClasses.RunMasks(
            run: bits(run), colon: bits(colon), nonHexLetter: bits(inRange(folded, UInt8(ascii: "g"), 20)))
    }
}
#endif
