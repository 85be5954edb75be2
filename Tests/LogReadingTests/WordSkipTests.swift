import Observations
import Testing
@testable import LogReading

// Words without a dot and shorter than a digest are skipped without a second look.

@Test(arguments: [
    ("abc def", 0, 3, false), ("a.b cd", 0, 3, true), ("x-y_z.", 0, 6, true), (" abc", 0, 0, false),
    ("abc", 1, 3, false), ("ab@c.d", 0, 2, false), ("ab:c", 0, 2, false),
])
func wordExtents(text: String, start: Int, end: Int, hasDot: Bool) {
    let bytes = Array(text.utf8)
    let extent = TextScanner.wordExtent(bytes.span, from: start, end: bytes.count)
    #expect(extent.end == end, "\(text)")
    #expect(extent.hasDot == hasDot, "\(text)")
}

@Test func skippedWordsChangeNoObservation() {
    // Words without dots are skipped unless 32+ long; digests and e-mail/URL starts stay.
    let line = Array("user admin@example.com via http://x.example.org/a id d41d8cd98f00b204e9800998ecf8427e fe80::1 ok".utf8)
    var found: [TextObservable] = []
    TextScanner.scan(line.span, in: 0..<line.count) { found.append($0) }
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
