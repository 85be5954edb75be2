import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading

/// Reads `path` with a `prefetch` callback: the observations, in order, and the values
/// `prefetch` was given, in order.
private func observeWithPrefetch(path: String, compressed: Bool) throws -> (seen: [Seen], prefetched: [OwnedValue]) {
    let file = try InputFile(path: path)
    let reader = LogReader(file: file, compressed: compressed, options: LogReadingOptions(year: 2024))
    var seen: [Seen] = []
    var prefetched: [OwnedValue] = []
    _ = reader.read(observe: { seen.append(Seen($0)) }, prefetch: { prefetched.append($0.owned) }, progress: { _ in })
    return (seen, prefetched)
}

/// Holding a text line's observations to its end (for the prefetch) must change
/// nothing a caller sees: the same observations, hosts (the side a `log.src`/`log.dst`
/// is attributed to) and member paths, in the same order; and every value is
/// prefetched exactly once, before it is observed.
@Test func prefetchingChangesNoObservationOfTheCorpus() throws {
    guard let directory = Fixture.corpusDirectory() else { return }
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    var compared = 0
    var observations = 0
    for name in names where !name.hasPrefix(".") {
        let path = directory.appendingPathComponent(name).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            continue
        }
        let compressed = name.hasSuffix(".gz")
        let (plain, _) = try Fixture.observe(path: path, compressed: compressed)
        let (seen, prefetched) = try observeWithPrefetch(path: path, compressed: compressed)
        #expect(seen == plain, "\(name)")
        #expect(prefetched == plain.map(\.value), "\(name)")
        compared += 1
        observations += plain.count
    }
    #expect(compared >= 40)
    #expect(observations > 10_000)
}

/// Crafted lines: text lines with and without a source or destination (the host of a
/// `log.src` address is the line's destination, named later in the line), and JSON
/// lines, whose values are held only from a source or destination on, as without a
/// prefetch (their member paths are copied to a bounded buffer).
@Test func prefetchingKeepsRolesAndMemberPaths() throws {
    let text = """
        Mar  1 10:00:00 fw kernel: IN=eth0 SRC=203.0.113.7 DST=10.0.0.5 LEN=60 evil.example.com
        Mar  1 10:00:01 mx postfix/smtpd[1]: connect from mail.example.org[198.51.100.9]
        Mar  1 10:00:02 web nginx: {"src_ip":"192.0.2.1","dest_ip":"192.0.2.2","http":{"hostname":"a.example.net"}}
        Mar  1 10:00:03 web nginx: {"http":{"hostname":"b.example.net"},"dest_ip":"192.0.2.3","url":"http://c.example.com/x"}

        """
    let path = try Fixture.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (plain, _) = try Fixture.observe(path: path, compressed: false)
    let (seen, prefetched) = try observeWithPrefetch(path: path, compressed: false)
    #expect(seen == plain)
    #expect(prefetched == plain.map(\.value))
    let source = try #require(seen.first { $0.field == .logSource })
    #expect(source.host == "10.0.0.5")
    #expect(seen.contains { $0.member == "http.hostname" && $0.value == .domain("b.example.net") })
    #expect(plain.count >= 10)
}
