import Foundation
import Observations
import Testing
@testable import LogReading

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The slow, obviously-correct reference: cut the line at every byte that cannot be
/// part of an address (anything but hex digits, `.` and `:`), drop `.` at the ends of
/// each piece and a lone `:` (one not part of `::`), and let the C library's
/// `inet_pton` decide. A piece `a.b.c.d:port` is tried without its port too.
enum ReferenceExtractor {
    static func addresses(in line: String) -> [String] {
        var found: [String] = []
        let pieces = line.split { !($0.isHexDigit || $0 == "." || $0 == ":") }
        for piece in pieces {
            var token = String(piece).trimmingCharacters(in: CharacterSet(charactersIn: "."))
            if token.hasSuffix(":"), !token.hasSuffix("::") { token.removeLast() }
            if token.hasPrefix(":"), !token.hasPrefix("::") { token.removeFirst() }
            if let text = parse(token) {
                found.append(text)
            } else if let colon = token.lastIndex(of: ":"), token.filter({ $0 == ":" }).count == 1,
                      let text = parse(String(token[..<colon])), !text.contains(":")
            {
                found.append(text)
            }
        }
        return found
    }

    /// The address in Cairn's text form, or nil when `inet_pton` takes neither form.
    static func parse(_ token: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, token, &v4) == 1 {
            return IPv4Address(UInt32(bigEndian: v4.s_addr)).description
        }
        var v6 = in6_addr()
        if token.contains(":"), inet_pton(AF_INET6, token, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return IPv6Address(high: high, low: low).description
        }
        return nil
    }
}

/// Why Cairn and the reference may disagree on an address of a line. Each case names
/// a test on the line that must hold for the difference to count as explained.
///
/// | difference | who is right | example (corpus) |
/// | --- | --- | --- |
/// | `headerHost`: the reference sees the header's host field | Cairn: the header host is the line's host (`HostReference`), not an observation | `… 10.120.127.1 firewall,info …` (mikrotik) |
/// | `unspecified`: the reference takes `::` | Cairn: `::` is the unspecified address, never an indicator; in these logs it is C++'s scope operator or "listening on ::" | `AppleCamIn::systemWakeCall`, `listening on :: port 22` |
/// | `identifierFragment`: the reference takes `e::ca`, `face::`, `e2::` cut out of a C++ name | Cairn: an address does not touch letters | `CCFile::captureLogRun`, `en0::IO80211Interface` |
/// | `quadInHostName`: the reference takes the dotted quad at the start or inside a DNS name | Cairn: `62.99.164.82.sh.interxion.inode.at` is a name (reported as a domain), not an address | ftpd `connection from … (host129.206.196.21.maximumasp.com)` |
/// | `mappedIPv4`: Cairn also reports the IPv4 address inside `::ffff:a.b.c.d` | Cairn, on purpose: IPv4 indicators must match an IPv4-mapped address | sshd `from ::ffff:66.38.192.238` |
/// | `afterInterface`: Cairn finds an address after `en0:` | Cairn: the reference's pieces `0:10.105.163.202` and `0:2607:f140:…` are neither an address nor address:port | macOS configd `v4(en0:10.105.163.202)`, `v6(en0:2607:f140:6000:8:c6b3:1ff:fecd:467f)` |
enum Difference: String, CaseIterable {
    case headerHost, unspecified, identifierFragment, quadInHostName, mappedIPv4, afterInterface

    /// The explanation that fits `value` on `line`, found only by the reference
    /// (`referenceOnly`) or only by Cairn.
    static func explain(_ value: String, on line: String, referenceOnly: Bool) -> Difference? {
        let fields = line.split(separator: " ")
        if referenceOnly {
            if fields.count > 1, fields[1] == value { return .headerHost }
            if value == "::" { return .unspecified }
            if value.contains(":"), occurrences(of: value, in: line).contains(where: { touchesLetter($0, in: line) }) {
                return .identifierFragment
            }
            if !value.contains(":"), occurrences(of: value, in: line).contains(where: { insideName($0, in: line) }) {
                return .quadInHostName
            }
        } else {
            if !value.contains(":"), line.contains("::ffff:" + value) { return .mappedIPv4 }
            if occurrences(of: value, in: line).contains(where: { afterInterface($0, in: line) }) {
                return .afterInterface
            }
        }
        return nil
    }

    static func occurrences(of value: String, in line: String) -> [Range<String.Index>] {
        var found: [Range<String.Index>] = []
        var start = line.startIndex
        while let range = line.range(of: value, range: start..<line.endIndex) {
            found.append(range)
            start = line.index(after: range.lowerBound)
        }
        return found
    }

    static func touchesLetter(_ range: Range<String.Index>, in line: String) -> Bool {
        let before = range.lowerBound > line.startIndex ? line[line.index(before: range.lowerBound)] : " "
        let after = range.upperBound < line.endIndex ? line[range.upperBound] : " "
        return before.isLetter || after.isLetter
    }

    /// The quad is followed by `.letter`, or preceded by a letter ("host129.…").
    static func insideName(_ range: Range<String.Index>, in line: String) -> Bool {
        let before = range.lowerBound > line.startIndex ? line[line.index(before: range.lowerBound)] : " "
        let rest = line[range.upperBound...]
        return before.isLetter || (rest.first == "." && rest.dropFirst().first?.isLetter == true)
    }

    /// The quad is preceded by `name:` (an interface, "en0:").
    static func afterInterface(_ range: Range<String.Index>, in line: String) -> Bool {
        let head = line[..<range.lowerBound]
        return head.last == ":" && head.dropLast().last.map { $0.isLetter || $0.isNumber } == true
    }
}

/// How many values of each kind of difference the corpus has; a change in the scanner
/// or in the corpus shows here.
let expectedDifferences: [Difference: Int] = [
    .headerHost: 3, .unspecified: 326, .identifierFragment: 223, .quadInHostName: 56, .mappedIPv4: 17, .afterInterface: 8,
]

@Test(.enabled(if: Fixture.corpusPresent, "../shared/corpus is absent")) func corpusAddressesAgreeWithTheReference() throws {
    let directory = Fixture.corpus
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        .filter { !$0.hasSuffix(".gz") && $0 != "expected" }
    #expect(names.count >= 25)
    var counts: [Difference: Int] = [:]
    var agreed = 0
    var unexplained: [String] = []
    for name in names {
        let path = directory.appendingPathComponent(name).path
        let (seen, _) = try Fixture.observe(path: path, compressed: false)
        var ours: [UInt64: [String]] = [:]
        for observation in seen where [.logIP, .logSource, .logDestination].contains(observation.field) {
            ours[observation.line, default: []].append(observation.value.description)
        }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var number: UInt64 = 0
        for lineBytes in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = String(decoding: lineBytes, as: UTF8.self)
            let reference = ReferenceExtractor.addresses(in: line)
            var onlyOurs = ours[number] ?? []
            var onlyReference: [String] = []
            for value in reference {
                if let index = onlyOurs.firstIndex(of: value) {
                    onlyOurs.remove(at: index)
                    agreed += 1
                } else {
                    onlyReference.append(value)
                }
            }
            for (values, referenceOnly) in [(onlyReference, true), (onlyOurs, false)] {
                for value in values {
                    if let difference = Difference.explain(value, on: line, referenceOnly: referenceOnly) {
                        counts[difference, default: 0] += 1
                    } else {
                        unexplained.append(
                            "\(name):\(number) \(referenceOnly ? "reference" : "Cairn") only: \(value) | \(line.prefix(200))")
                    }
                }
            }
        }
    }
    #expect(unexplained.isEmpty, "\(unexplained.count) unexplained:\n\(unexplained.prefix(30).joined(separator: "\n"))")
    #expect(agreed > 3000, "addresses both found: \(agreed)")
    for difference in Difference.allCases {
        #expect(counts[difference, default: 0] == expectedDifferences[difference], "\(difference)")
    }
    print("reference comparison: \(agreed) addresses agree; differences \(counts.map { "\($0.key)=\($0.value)" }.sorted())")
}
