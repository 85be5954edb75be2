#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Classifies 16 bytes of a span at once for the log text scanner: which are word bytes
/// (`[A-Za-z0-9._-]`, `isWordByte`) and which are the bytes that can make a word
/// interesting (`.` inside it, `@` or `:` after it); and, one byte at a time, the byte
/// classes the scanner's scalar code shares.
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
///
/// Each block read checks once that its 16 bytes lie inside the span (a violation is a
/// caller's bug and traps); the 16-byte load itself is the one raw read.
public enum ByteClasses {
    /// The bytes classified at once: one SSE2/NEON register.
    public static let blockSize = 16

    /// Bit `i` set when byte `i` is a word byte, and when it is `.`, `@` or `:`.
    public struct Masks: Equatable, Sendable {
        /// Lanes holding a word byte.
        public var word: UInt16
        /// Lanes holding `.`, `@` or `:`.
        public var special: UInt16

        /// Masks with the given lanes set.
        @inlinable
        public init(word: UInt16, special: UInt16) {
            self.word = word
            self.special = special
        }
    }

    /// Bit `i` set when byte `i` is an ASCII letter, and when it is an ASCII digit.
    public struct Kinds: Equatable, Sendable {
        /// Lanes holding an ASCII letter.
        public var letter: UInt16
        /// Lanes holding an ASCII digit.
        public var digit: UInt16

        /// Kinds with the given lanes set.
        @inlinable
        public init(letter: UInt16, digit: UInt16) {
            self.letter = letter
            self.digit = digit
        }

        /// The kinds with lane `lanes` in lane 0 (lanes past the end are neither).
        @inlinable @inline(__always)
        public func shifted(by lanes: Int) -> Kinds { Kinds(letter: letter >> lanes, digit: digit >> lanes) }
    }

    /// Bit `i` set when byte `i` may go on an IPv6 run (`[0-9A-Za-z:.]`, `isIPv6RunByte`),
    /// when it is `:`, and when it is a letter that is no hex digit (`g`-`z`, `G`-`Z`).
    public struct RunMasks: Equatable, Sendable {
        /// Lanes holding `[0-9A-Za-z:.]`.
        public var run: UInt16
        /// Lanes holding `:`.
        public var colon: UInt16
        /// Lanes holding a letter that is no hex digit.
        public var nonHexLetter: UInt16

        /// Masks with the given lanes set.
        @inlinable
        public init(run: UInt16, colon: UInt16, nonHexLetter: UInt16) {
            self.run = run
            self.colon = colon
            self.nonHexLetter = nonHexLetter
        }
    }

    /// The masks of the 16 bytes `bytes[offset..<offset + 16]`, which must lie inside `bytes`.
    @inlinable @inline(__always)
    public static func masks(_ bytes: Span<UInt8>, at offset: Int) -> Masks {
        #if arch(x86_64)
        SSE2ByteClasses.masks(SSE2ByteClasses.load(bytes, at: offset))
        #else
        portableMasks(bytes, at: offset)
        #endif
    }

    /// The kinds of the 16 bytes `bytes[offset..<offset + 16]`, which must lie inside
    /// `bytes`. Computed only for blocks holding a dotted word (`masks` is enough to skip
    /// the others).
    @inlinable @inline(__always)
    public static func kinds(_ bytes: Span<UInt8>, at offset: Int) -> Kinds {
        #if arch(x86_64)
        SSE2ByteClasses.kinds(SSE2ByteClasses.load(bytes, at: offset))
        #else
        portableKinds(bytes, at: offset)
        #endif
    }

    /// `masks` and `kinds` of the same 16 bytes, read once.
    @inlinable @inline(__always)
    public static func masksAndKinds(_ bytes: Span<UInt8>, at offset: Int) -> (masks: Masks, kinds: Kinds) {
        #if arch(x86_64)
        let block = SSE2ByteClasses.load(bytes, at: offset)
        return (SSE2ByteClasses.masks(block), SSE2ByteClasses.kinds(block))
        #else
        (portableMasks(bytes, at: offset), portableKinds(bytes, at: offset))
        #endif
    }

    /// The IPv6 run classes of the 16 bytes `bytes[offset..<offset + 16]`, which must lie
    /// inside `bytes`.
    @inlinable @inline(__always)
    public static func runMasks(_ bytes: Span<UInt8>, at offset: Int) -> RunMasks {
        #if arch(x86_64)
        SSE2ByteClasses.runMasks(SSE2ByteClasses.load(bytes, at: offset))
        #else
        portableRunMasks(bytes, at: offset)
        #endif
    }

    /// Traps unless `bytes[offset..<offset + 16]` lies inside `bytes`: the one bounds check
    /// of a block read.
    @inlinable @inline(__always)
    static func checkBlock(_ bytes: Span<UInt8>, at offset: Int) {
        precondition(offset >= 0 && offset <= bytes.count &- blockSize, "16-byte block outside the span")
    }

    /// The 16 bytes at `offset` in one vector.
    @inlinable @inline(__always)
    static func load(_ bytes: Span<UInt8>, at offset: Int) -> SIMD16<UInt8> {
        checkBlock(bytes, at: offset)
        // Safe: `checkBlock` keeps the 16 bytes inside the span, `loadUnaligned` has no
        // alignment need, and the pointer does not leave the closure.
        return unsafe bytes.withUnsafeBytes { unsafe $0.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self) }
    }

    /// `masks` in portable `SIMD16` arithmetic.
    @inlinable @inline(__always)
    static func portableMasks(_ bytes: Span<UInt8>, at offset: Int) -> Masks {
        let bytes = load(bytes, at: offset)
        let letter = inRange(bytes | SIMD16(repeating: 0x20), UInt8(ascii: "a"), 26)
        let digit = inRange(bytes, UInt8(ascii: "0"), 10)
        let dot = inRange(bytes, UInt8(ascii: "."), 1)
        let word = letter | digit | dot | inRange(bytes, UInt8(ascii: "-"), 1) | inRange(bytes, UInt8(ascii: "_"), 1)
        let special = dot | inRange(bytes, UInt8(ascii: "@"), 1) | inRange(bytes, UInt8(ascii: ":"), 1)
        return Masks(word: highBits(word), special: highBits(special))
    }

    /// `kinds` in portable `SIMD16` arithmetic.
    @inlinable @inline(__always)
    static func portableKinds(_ bytes: Span<UInt8>, at offset: Int) -> Kinds {
        let bytes = load(bytes, at: offset)
        let letter = inRange(bytes | SIMD16(repeating: 0x20), UInt8(ascii: "a"), 26)
        let digit = inRange(bytes, UInt8(ascii: "0"), 10)
        return Kinds(letter: highBits(letter), digit: highBits(digit))
    }

    /// `runMasks` in portable `SIMD16` arithmetic.
    @inlinable @inline(__always)
    static func portableRunMasks(_ bytes: Span<UInt8>, at offset: Int) -> RunMasks {
        let bytes = load(bytes, at: offset)
        let folded = bytes | SIMD16(repeating: 0x20)
        let letter = inRange(folded, UInt8(ascii: "a"), 26)
        let colon = inRange(bytes, UInt8(ascii: ":"), 1)
        let run = letter | inRange(bytes, UInt8(ascii: "0"), 10) | colon | inRange(bytes, UInt8(ascii: "."), 1)
        return RunMasks(
            run: highBits(run), colon: highBits(colon), nonHexLetter: highBits(inRange(folded, UInt8(ascii: "g"), 20)))
    }

    /// The scalar twin of `masks`, over the first 16 bytes of `bytes` (lanes past its end
    /// are neither).
    public static func scalarMasks(_ bytes: Span<UInt8>) -> Masks {
        var masks = Masks(word: 0, special: 0)
        for lane in 0..<min(blockSize, bytes.count) {
            let byte = bytes[lane]
            if isWordByte(byte) { masks.word |= 1 << lane }
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "@") || byte == UInt8(ascii: ":") {
                masks.special |= 1 << lane
            }
        }
        return masks
    }

    /// The scalar twin of `kinds`.
    public static func scalarKinds(_ bytes: Span<UInt8>) -> Kinds {
        var kinds = Kinds(letter: 0, digit: 0)
        for lane in 0..<min(blockSize, bytes.count) {
            if isLetter(bytes[lane]) { kinds.letter |= 1 << lane }
            if isDigit(bytes[lane]) { kinds.digit |= 1 << lane }
        }
        return kinds
    }

    /// The scalar twin of `runMasks`.
    public static func scalarRunMasks(_ bytes: Span<UInt8>) -> RunMasks {
        var masks = RunMasks(run: 0, colon: 0, nonHexLetter: 0)
        for lane in 0..<min(blockSize, bytes.count) {
            let byte = bytes[lane]
            if isIPv6RunByte(byte) { masks.run |= 1 << lane }
            if byte == UInt8(ascii: ":") { masks.colon |= 1 << lane }
            if isLetter(byte), !isHexDigit(byte) { masks.nonHexLetter |= 1 << lane }
        }
        return masks
    }

    /// A word byte of the scanner: `[A-Za-z0-9._-]`.
    @inlinable @inline(__always)
    public static func isWordByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }

    /// A byte of a run the IPv6 pass looks at: `[0-9A-Za-z:.]`.
    @inlinable @inline(__always)
    public static func isIPv6RunByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
    }

    /// An ASCII letter or digit.
    @inlinable @inline(__always)
    public static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) }

    /// An ASCII digit.
    @inlinable @inline(__always)
    public static func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

    /// An ASCII letter, either case.
    @inlinable @inline(__always)
    public static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 97 < 26 }

    /// A hex digit, either case.
    @inlinable @inline(__always)
    public static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || (byte | 0x20) &- 97 < 6 }

    /// Lanes whose high bit is set where `low <= byte < low + count` (`count` at most
    /// 128). With `t = byte - low` (wrapping), `(t & 0x7F) + (0x80 - count)` carries into
    /// the high bit exactly when the low seven bits reach `count`, and `| t` adds the
    /// case where `t` is 128 or more; the complement is "below `count`".
    @inlinable @inline(__always)
    static func inRange(_ bytes: SIMD16<UInt8>, _ low: UInt8, _ count: UInt8) -> SIMD16<UInt8> {
        let offset = bytes &- SIMD16(repeating: low)
        return ~(((offset & SIMD16(repeating: 0x7F)) &+ SIMD16(repeating: 0x80 &- count)) | offset)
    }

    /// The high bits of the 16 lanes as an integer, lane 0 in bit 0: per half, the
    /// multiplication moves the high bit of byte `k` to bit `56 + k` without carries
    /// (each byte contributes a single bit at a distinct position). Lane 0 is the low
    /// byte of the first half: every platform Swift runs on is little-endian.
    @inlinable @inline(__always)
    static func highBits(_ lanes: SIMD16<UInt8>) -> UInt16 {
        // Safe: both types are 16 bytes of plain integers, so every bit pattern is valid.
        let halves = unsafe unsafeBitCast(lanes, to: SIMD2<UInt64>.self)
        let gather: UInt64 = 0x0002_0408_1020_4081
        let low = ((halves[0] & 0x8080_8080_8080_8080) &* gather) >> 56
        let high = ((halves[1] & 0x8080_8080_8080_8080) &* gather) >> 56
        return UInt16(truncatingIfNeeded: low) | UInt16(truncatingIfNeeded: high) << 8
    }
}

#if arch(x86_64)
/// `ByteClasses.masks`, `kinds` and `runMasks` with SSE2 (part of every x86-64
/// processor): a byte is in `low...low + count - 1` when `min(byte - low, count - 1) ==
/// byte - low` (unsigned, wrapping), single bytes by equality, and `pmovmskb` gathers
/// the lanes.
@usableFromInline
enum SSE2ByteClasses {
    /// The 16 bytes at `offset` in one register.
    @inlinable @inline(__always)
    static func load(_ bytes: Span<UInt8>, at offset: Int) -> __m128i {
        ByteClasses.checkBlock(bytes, at: offset)
        // Safe: `checkBlock` keeps the 16 bytes inside the span; `loadu` has no alignment
        // need, __m128i is a plain vector of integers, so the bytes may be viewed as one,
        // and the pointer does not leave the closure.
        return unsafe bytes.withUnsafeBytes { buffer in
            unsafe _mm_loadu_si128((buffer.baseAddress.unsafelyUnwrapped + offset).assumingMemoryBound(to: __m128i.self))
        }
    }

    @inlinable @inline(__always)
    static func byte(_ value: UInt8) -> __m128i { _mm_set1_epi8(CChar(bitPattern: value)) }

    /// Lanes set to all ones where `low <= byte < low + count`.
    @inlinable @inline(__always)
    static func inRange(_ bytes: __m128i, _ low: UInt8, _ count: UInt8) -> __m128i {
        let offset = _mm_sub_epi8(bytes, byte(low))
        return _mm_cmpeq_epi8(_mm_min_epu8(offset, byte(count - 1)), offset)
    }

    @inlinable @inline(__always)
    static func equal(_ bytes: __m128i, _ value: UInt8) -> __m128i { _mm_cmpeq_epi8(bytes, byte(value)) }

    /// The lanes' high bits, lane 0 in bit 0.
    @inlinable @inline(__always)
    static func bits(_ lanes: __m128i) -> UInt16 { UInt16(truncatingIfNeeded: _mm_movemask_epi8(lanes)) }

    @inlinable @inline(__always)
    static func letters(_ bytes: __m128i) -> __m128i { inRange(_mm_or_si128(bytes, byte(0x20)), UInt8(ascii: "a"), 26) }

    @inlinable @inline(__always)
    static func digits(_ bytes: __m128i) -> __m128i { inRange(bytes, UInt8(ascii: "0"), 10) }

    @inlinable @inline(__always)
    static func masks(_ bytes: __m128i) -> ByteClasses.Masks {
        let dot = equal(bytes, UInt8(ascii: "."))
        let joiner = _mm_or_si128(equal(bytes, UInt8(ascii: "-")), equal(bytes, UInt8(ascii: "_")))
        let word = _mm_or_si128(_mm_or_si128(letters(bytes), digits(bytes)), _mm_or_si128(dot, joiner))
        let special = _mm_or_si128(dot, _mm_or_si128(equal(bytes, UInt8(ascii: "@")), equal(bytes, UInt8(ascii: ":"))))
        return ByteClasses.Masks(word: bits(word), special: bits(special))
    }

    @inlinable @inline(__always)
    static func kinds(_ bytes: __m128i) -> ByteClasses.Kinds {
        ByteClasses.Kinds(letter: bits(letters(bytes)), digit: bits(digits(bytes)))
    }

    @inlinable @inline(__always)
    static func runMasks(_ bytes: __m128i) -> ByteClasses.RunMasks {
        let folded = _mm_or_si128(bytes, byte(0x20))
        let letter = inRange(folded, UInt8(ascii: "a"), 26)
        let colon = equal(bytes, UInt8(ascii: ":"))
        let run = _mm_or_si128(_mm_or_si128(letter, digits(bytes)), _mm_or_si128(colon, equal(bytes, UInt8(ascii: "."))))
        return ByteClasses.RunMasks(
            run: bits(run), colon: bits(colon), nonHexLetter: bits(inRange(folded, UInt8(ascii: "g"), 20)))
    }
}
#endif
