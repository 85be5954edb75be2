import Observations
import Testing
@testable import LogReading

// The SIMD word classifier against its scalar twin.

@Test func simdWordExtentAgreesWithTheScalarTwin() {
    var generator = SplitMix(state: 11)
    // Word bytes, dots and separators, with a few bytes around the class edges.
    let alphabet = Array("aZz09.-_ .:@/\t\"=[]{}AG`~\u{7F}".utf8) + [0x00, 0x2F, 0x3A, 0x40, 0x5B, 0x60, 0x7B, 0x80, 0xFF]
    for round in 0..<2000 {
        let length = 16 + Int(generator.next() % 48)
        // Runs of word bytes of random lengths, so word ends fall on every lane.
        var bytes: [UInt8] = []
        while bytes.count < length {
            let run = Int(generator.next() % 20)
            for _ in 0..<run { bytes.append(Array("abcXYZ019.-_".utf8)[Int(generator.next() % 12)]) }
            bytes.append(alphabet[Int(generator.next() % UInt64(alphabet.count))])
        }
        bytes.withUnsafeBytes { text in
            for start in 0..<(text.count - 15) {
                let scalar = TextScanner.wordExtentScalar(text, from: start, end: text.count)
                if let simd = TextScanner.wordExtentSIMD(text, from: start, end: text.count) {
                    #expect(simd == scalar, "round \(round) start \(start)")
                } else {
                    // Nil only when the word runs past the 16 bytes looked at.
                    #expect(scalar.end - start >= 16, "round \(round) start \(start)")
                }
            }
        }
    }
}

@Test func simdWordExtentEdgeCases() {
    let cases: [(String, Int, Bool)] = [
        (" abcdefghijklmnop", 0, false), ("abcdefghijklmno ", 15, false), ("a.b cdefghijklmnop", 3, true),
        ("abc defghijklmnop.", 3, false), ("0123456789abcdef", 16, false), ("-_-_-_-_-_-_-_-.x", 16, false),
    ]
    for (text, expectedLength, expectedDot) in cases {
        Array(text.utf8).withUnsafeBytes { bytes in
            let scalar = TextScanner.wordExtentScalar(bytes, from: 0, end: bytes.count)
            let simd = TextScanner.wordExtentSIMD(bytes, from: 0, end: bytes.count)
            if expectedLength < 16 {
                #expect(simd?.end == expectedLength, "\(text)")
                #expect(simd?.hasDot == expectedDot, "\(text)")
            } else {
                #expect(simd == nil, "\(text)")
            }
            #expect(scalar.end >= min(expectedLength, 16), "\(text)")
        }
    }
}

@Test func skippedWordsChangeNoObservation() {
    // Words without dots are skipped unless 32+ long; digests and e-mail/URL starts stay.
    let line = Array("user admin@example.com via http://x.example.org/a id d41d8cd98f00b204e9800998ecf8427e fe80::1 ok".utf8)
    var found: [TextObservable] = []
    line.withUnsafeBytes { text in TextScanner.scan(text, in: 0..<text.count) { found.append($0) } }
    let kinds = found.map { observable -> String in
        switch observable {
        case .email: "email"
        case .url: "url"
        case .domain: "domain"
        case .hexDigest: "hash"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        }
    }
    #expect(kinds == ["email", "domain", "url", "domain", "hash", "ipv6"])
}
