import Testing
@testable import ByteParsing

/// The 16-bytes-at-once classifier (SSE2 on x86-64, portable `SIMD16` arithmetic
/// elsewhere and here) against its scalar twin: every byte value in every lane, blocks
/// of the bytes logs are made of, and blocks read at an offset of a longer span.
@Suite struct ByteClassesTests {
    /// A well-mixed byte for lane `lane` of block `block`: the blocks need varied
    /// neighbours, and the same ones on every run.
    private static func mixed(_ block: Int, _ lane: Int) -> UInt64 {
        var value = UInt64(truncatingIfNeeded: block &* 16 &+ lane) &+ 0x9E37_79B9_7F4A_7C15
        value = (value ^ value >> 30) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ value >> 27) &* 0x94D0_49BB_1331_11EB
        return value ^ value >> 31
    }

    /// Calls `check` on 16-byte blocks, one for every value in every lane (the other
    /// lanes mixed), with a description of which (`lane 3 byte 200`).
    private func everyByteInEveryLane(_ check: ([UInt8], String) -> Void) {
        for lane in 0..<16 {
            for value in 0...255 {
                var block = (0..<16).map { UInt8(truncatingIfNeeded: Self.mixed(lane * 256 + value, $0)) }
                block[lane] = UInt8(value)
                check(block, "lane \(lane) byte \(value)")
            }
        }
    }

    /// Every way of classifying `block` at once, and the scalar twin's answer.
    private func classes(_ block: [UInt8]) -> (simd: [ByteClasses.Masks], scalar: ByteClasses.Masks) {
        let simd = [ByteClasses.masks(block.span, at: 0), ByteClasses.portableMasks(block.span, at: 0)]
        return (simd, ByteClasses.scalarMasks(block.span))
    }

    @Test func masksAgreeWithTheirScalarTwinForEveryByteInEveryLane() {
        everyByteInEveryLane { block, which in
            let (simd, scalar) = classes(block)
            #expect(simd.allSatisfy { $0 == scalar }, "\(which)")
        }
    }

    @Test func masksAgreeWithTheirScalarTwinOnLogLikeBlocks() {
        let alphabet = Array("aZ09.-_@: /=[]\"\t\u{0}\u{7F}".utf8) + [0x80, 0xC3, 0xFF]
        for index in 0..<20_000 {
            let block = (0..<16).map { alphabet[Int(Self.mixed(index, $0) % UInt64(alphabet.count))] }
            let (simd, scalar) = classes(block)
            #expect(simd.allSatisfy { $0 == scalar }, "\(block)")
        }
    }

    @Test func letterAndDigitKindsAgreeWithTheirScalarTwin() {
        everyByteInEveryLane { block, which in
            let scalar = ByteClasses.scalarKinds(block.span)
            let simd = [ByteClasses.kinds(block.span, at: 0), ByteClasses.portableKinds(block.span, at: 0)]
            #expect(simd.allSatisfy { $0 == scalar }, "\(which)")
        }
    }

    @Test func ipv6RunClassesAgreeWithTheirScalarTwin() {
        everyByteInEveryLane { block, which in
            let scalar = ByteClasses.scalarRunMasks(block.span)
            let simd = [ByteClasses.runMasks(block.span, at: 0), ByteClasses.portableRunMasks(block.span, at: 0)]
            #expect(simd.allSatisfy { $0 == scalar }, "\(which)")
        }
    }

    /// A block read at `offset` of a longer span classifies `bytes[offset..<offset + 16]`,
    /// up to the last block that fits.
    @Test func blocksAtAnOffsetClassifyTheirOwnBytes() {
        let text = Array("from 192.0.2.1 port 22 user@example.com fe80::1:443 ok".utf8)
        for offset in 0...(text.count - ByteClasses.blockSize) {
            let block = Array(text[offset..<(offset + ByteClasses.blockSize)])
            let atOffset = [
                ByteClasses.masks(text.span, at: offset), ByteClasses.portableMasks(text.span, at: offset),
            ]
            let kinds = ByteClasses.kinds(text.span, at: offset)
            let runs = ByteClasses.runMasks(text.span, at: offset)
            let expected = (ByteClasses.scalarMasks(block.span), ByteClasses.scalarKinds(block.span))
            let expectedRuns = ByteClasses.scalarRunMasks(block.span)
            #expect(atOffset.allSatisfy { $0 == expected.0 }, "offset \(offset)")
            #expect(kinds == expected.1, "offset \(offset)")
            #expect(runs == expectedRuns, "offset \(offset)")
        }
    }
}
