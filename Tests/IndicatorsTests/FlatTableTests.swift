import Observations
import Testing
@testable import Indicators
import TestSupport

/// The flattened interval tables, the fixed-width digest table and the plain-list fast
/// path, each checked against a naive model.
@Suite struct FlatTableTests {
    /// Random nested and overlapping-by-containment IPv4 networks (all prefix lengths,
    /// duplicates, /0 and /32 at the ends of the space) agree with a naive scan.
    @Test func randomNestedIPv4NetworksAgreeWithANaiveScan() {
        var random = SplitMix64(seed: 0xF1A7)
        var entries: [(key: UInt32, prefix: Int, index: UInt32)] = []
        for index in 0..<3_000 {
            let prefix = Int(random.next() % 33)
            // Cluster the networks in a few /12s so that they nest often.
            let address = UInt32(truncatingIfNeeded: random.next() % 4) << 28 | UInt32(truncatingIfNeeded: random.next()) >> 12
            entries.append((address, prefix, UInt32(index)))
        }
        entries.append((0xFFFF_FFFF, 32, 3_000))
        entries.append((0, 32, 3_001))
        entries.append((0xFFFF_FFFF, 31, 3_002))
        let table = IPNetworkTable<UInt32>(entries)
        func naive(_ address: UInt32) -> UInt32? {
            var best: (prefix: Int, index: UInt32)? = nil
            for entry in entries where address.masked(prefix: entry.prefix) == entry.key.masked(prefix: entry.prefix) {
                if let current = best, current.prefix > entry.prefix || (current.prefix == entry.prefix && current.index < entry.index) {
                    continue
                }
                best = (entry.prefix, entry.index)
            }
            return best?.index
        }
        var mismatches = 0
        var probes: [UInt32] = [0, 1, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x1000_0000, 0x0FFF_FFFF]
        for _ in 0..<3_000 {
            let base = entries[Int(random.next() % UInt64(entries.count))]
            let last = base.key.lastAddress(prefix: base.prefix)
            probes += [UInt32(truncatingIfNeeded: random.next()), base.key.masked(prefix: base.prefix), last, last &+ 1,
                       base.key.masked(prefix: base.prefix) &- 1]
        }
        for address in probes where table.lookup(address) != naive(address) { mismatches += 1 }
        #expect(mismatches == 0)
        #expect(table.intervalCount <= 2 * table.count + 1)
    }

    /// The same for IPv6, with prefixes on both sides of /64 and ranges sharing high halves.
    @Test func randomNestedIPv6NetworksAgreeWithANaiveScan() {
        var random = SplitMix64(seed: 0x6666)
        var entries: [(key: IPv6Key, prefix: Int, index: UInt32)] = []
        for index in 0..<2_000 {
            let prefix = [0, 16, 32, 48, 56, 63, 64, 65, 72, 96, 120, 127, 128][Int(random.next() % 13)]
            let high = 0x2001_0db8_0000_0000 | (random.next() % 4) << 24 | random.next() % 3
            let low = random.next() % 2 == 0 ? random.next() % 5 : random.next()
            entries.append((IPv6Key(high: high, low: low), prefix, UInt32(index)))
        }
        entries.append((IPv6Key(high: UInt64.max, low: UInt64.max), 128, 2_000))
        let table = IPNetworkTable<IPv6Key>(entries)
        func naive(_ address: IPv6Key) -> UInt32? {
            var best: (prefix: Int, index: UInt32)? = nil
            for entry in entries where address.masked(prefix: entry.prefix) == entry.key.masked(prefix: entry.prefix) {
                if let current = best, current.prefix > entry.prefix || (current.prefix == entry.prefix && current.index < entry.index) {
                    continue
                }
                best = (entry.prefix, entry.index)
            }
            return best?.index
        }
        var probes: [IPv6Key] = [IPv6Key(high: 0, low: 0), IPv6Key(high: UInt64.max, low: UInt64.max)]
        for _ in 0..<3_000 {
            let base = entries[Int(random.next() % UInt64(entries.count))]
            let first = base.key.masked(prefix: base.prefix)
            let last = base.key.lastAddress(prefix: base.prefix)
            probes += [first, last, last.successor ?? last, IPv6Key(high: first.high, low: first.low &- 1),
                       IPv6Key(high: base.key.high, low: random.next())]
        }
        var mismatches = 0
        for address in probes where table.lookup(address) != naive(address) { mismatches += 1 }
        #expect(mismatches == 0)
    }

    @Test(arguments: [
        ("0123456789abcdef", true), ("ABCDEFab", true), ("0123456g", false), ("/0123456", false),
        (":0123456", false), ("@abcdefa", false), ("`abcdefa", false), ("gabcdefa", false), ("\u{7F}1234567", false),
    ])
    func hexDecodingValidatesEveryCharacter(text: String, valid: Bool) {
        let bytes = Array(text.utf8)
        let decoded = bytes.span.uint64LittleEndian(at: 0).flatMap(DigestTable.decode8)
        #expect((decoded != nil) == valid)
        if valid, bytes.count == 16 {
            // "01234567" decodes to the bytes 01 23 45 67, first byte lowest.
            #expect(decoded == 0x6745_2301)
        }
    }

    /// Random digests of every length: each is found (in either case), a one-character
    /// change or a non-hex character misses.
    @Test func randomDigestsAreFoundAndNeighboursMiss() {
        var random = SplitMix64(seed: 0xD16E)
        let hex = Array("0123456789abcdef".utf8)
        var entries: [(bytes: [UInt8], index: UInt32)] = []
        for index in 0..<3_000 {
            let length = [32, 40, 64][index % 3]
            entries.append(((0..<length).map { _ in hex[Int(random.next() % 16)] }, UInt32(index)))
        }
        let table = DigestTable(entries)
        #expect(table.count == 3_000)
        var failures = 0
        for entry in entries {
            let upper = entry.bytes.map { $0 >= 0x61 ? $0 - 0x20 : $0 }
            var changed = entry.bytes
            changed[Int(random.next() % UInt64(changed.count))] ^= 0x01  // 0↔1, a↔`, ...
            var nonHex = entry.bytes
            nonHex[Int(random.next() % UInt64(nonHex.count))] = UInt8(ascii: "g")
            if entry.bytes.withSpan({ table.lookup($0) }) != entry.index { failures += 1 }
            if upper.withSpan({ table.lookup($0) }) != entry.index { failures += 1 }
            if changed.withSpan({ table.lookup($0) }) != nil { failures += 1 }
            if nonHex.withSpan({ table.lookup($0) }) != nil { failures += 1 }
            if Array(entry.bytes.dropLast()).withSpan({ table.lookup($0) }) != nil { failures += 1 }
        }
        #expect(failures == 0)
    }

    /// Networks given out of index order (the compare sort) and in index order (the
    /// radix sort) give the same table, duplicates included (the smallest index wins).
    @Test func networksInAnyOrderGiveTheSameTable() {
        var random = SplitMix64(seed: 0x5047)
        var entries: [(key: UInt32, prefix: Int, index: UInt32)] = []
        for index in 0..<2_000 {
            let prefix = [8, 16, 24, 32, 20][Int(random.next() % 5)]
            entries.append((UInt32(truncatingIfNeeded: random.next() % 8) << 24 | UInt32(truncatingIfNeeded: random.next()) >> 8,
                            prefix, UInt32(index)))
        }
        entries += entries.prefix(50).map { ($0.key, $0.prefix, $0.index + 10_000) }
        let inOrder = IPNetworkTable<UInt32>(entries)
        let shuffled = IPNetworkTable<UInt32>(entries.reversed())
        #expect(inOrder.count == shuffled.count && inOrder.intervalCount == shuffled.intervalCount)
        var differences = 0
        for entry in entries {
            for address in [entry.key, entry.key &+ 1, entry.key.lastAddress(prefix: entry.prefix)]
            where inOrder.allMatches(address) != shuffled.allMatches(address) {
                differences += 1
            }
        }
        #expect(differences == 0)
        #expect(inOrder.lookup(entries[0].key.masked(prefix: entries[0].prefix)) != nil)
    }

    /// A string table built from one shared buffer (as `compile()` builds it): strings
    /// lower-cased on the way in, the first of duplicates kept (entries after a
    /// duplicate still found, the count distinct), an over-long string left out.
    @Test(arguments: [
        (["Evil.Example", "a.evil.example", "evil.example", "B.example", "b.EXAMPLE", "c.example"],
         ["evil.example": UInt32(0), "a.evil.example": 1, "b.example": 3, "c.example": 5, "d.example": nil], 4),
        (["x.test", "x.test", "x.test"], ["x.test": 0, "y.test": nil], 1),
        (["", "z.test"], ["": 0, "z.test": 1], 2),
    ] as [([String], [String: UInt32?], Int)])
    func stringTableFromOneBufferKeepsTheFirstOfDuplicates(
        values: [String], expected: [String: UInt32?], count: Int
    ) {
        var builder = ByteStringTable.Builder()
        for (index, value) in values.enumerated() {
            builder.append(Array(value.utf8), index: UInt32(index), lowercase: true)
        }
        builder.append([UInt8](repeating: 0x61, count: ByteStringTable.maximumLength + 1), index: 99)
        let table = ByteStringTable(builder)
        #expect(table.count == count)
        for (text, index) in expected {
            #expect(Array(text.utf8).withSpan { table.lookup($0) } == index, "\(text)")
            #expect(Array(text.uppercased().utf8).withSpan { table.lookup($0) } == index, "\(text) upper case")
        }
    }

    /// Digests gathered from text of either case decode to the same keys; other lengths
    /// and non-hex text are left out; the first of duplicates wins.
    @Test func digestBuilderReadsEitherCaseAndKeepsTheFirst() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E"
        let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        var builder = DigestTable.Builder()
        for (index, text) in [md5, sha1, md5.lowercased(), "deadbeef", String(repeating: "g", count: 32)].enumerated() {
            builder.append(Array(text.utf8).span, index: UInt32(index))
        }
        let table = DigestTable(builder)
        #expect(table.count == 2)
        #expect(Array(md5.lowercased().utf8).withSpan { table.lookup($0) } == 0)
        #expect(Array(sha1.uppercased().utf8).withSpan { table.lookup($0) } == 1)
        #expect(Array("deadbeef".utf8).withSpan { table.lookup($0) } == nil)
    }

    /// The compiled tables of a rule set find upper-case domain and digest indicators
    /// and domains written with `*.`, `=` or a trailing dot, each under its position.
    @Test func compiledTablesFindIndicatorsWrittenInAnyForm() {
        let values: [(IndicatorType, String, Bool)] = [
            (.domain, "Evil.Example", true), (.domain, "*.wild.example", true), (.domain, "=exact.example", false),
            (.domain, "dot.example.", true), (.sha256, String(repeating: "AB", count: 32), true),
            (.ipv4, "192.0.2.7", true), (.cidr, "198.51.100.0/24", true), (.cidr, "2001:db8::/32", true),
        ]
        var list = IndicatorList()
        for (line, (type, value, subdomains)) in values.enumerated() {
            var indicator = Indicator(type: type, value: value, ruleFile: "t.txt", line: line + 1)
            indicator.matchesSubdomains = subdomains
            list.append(indicator)
        }
        let table = RuleSet(list: list).compile()
        let probes: [(OwnedValue, Int?)] = [
            (.domain("x.evil.example"), 0), (.domain("a.wild.example"), 1), (.domain("exact.example"), 2),
            (.domain("sub.exact.example"), nil), (.domain("w.dot.example"), 3),
            (.hexDigest(String(repeating: "ab", count: 32)), 4), (.ipv4(IPv4Address(0xC000_0207)), 5),
            (.ipv4(IPv4Address(0xC633_6409)), 6),
        ]
        for (value, expected) in probes {
            #expect(value.withObservedValue { table.lookup($0) } == expected, "\(value)")
        }
        #expect(table.counts.ipv4 == 2 && table.counts.ipv6 == 1 && table.counts.domains == 4 && table.counts.digests == 1)
    }

    /// A list large enough that its address tables are built on a second thread: every
    /// address, range and domain is found under its own position, as in a small list.
    @Test func aLargeListsAddressTablesBuiltBesideTheRestFindEveryIndicator() throws {
        let count = LookupTables.listSizeForAThread + 1_000
        var list = IndicatorList()
        for position in 0..<count {
            let (type, value): (IndicatorType, String) = switch position % 4 {
            case 0: (.ipv4, IPv4Address(0x0A00_0000 | UInt32(position)).description)
            case 1: (.cidr, "\(IPv4Address(0x6400_0000 | UInt32(position) << 8))/24")
            case 2: (.ipv6, "2001:db8::\(String(position >> 16, radix: 16)):\(String(position & 0xFFFF, radix: 16))")
            default: (.domain, "host\(position).example")
            }
            list.append(Indicator(type: type, value: value, ruleFile: "big.txt", line: position + 1))
        }
        let table = RuleSet(list: list).compile()
        #expect(table.counts.ipv4 == count / 2 && table.counts.ipv6 == count / 4 && table.counts.domains == count / 4)
        for position in stride(from: 0, to: count, by: 997) {
            let address = try #require(IPv6Address(
                "2001:db8::\(String(position >> 16, radix: 16)):\(String(position & 0xFFFF, radix: 16))"))
            let probe: OwnedValue = switch position % 4 {
            case 0: .ipv4(IPv4Address(0x0A00_0000 | UInt32(position)))
            case 1: .ipv4(IPv4Address(0x6400_0000 | UInt32(position) << 8 | 0x7F))
            case 2: .ipv6(address)
            default: .domain("www.host\(position).example")
            }
            #expect(probe.withObservedValue { table.lookup($0) } == position, "\(probe)")
        }
    }

    /// The byte-level fast path of plain lists gives exactly what the general path gives,
    /// and declines what it cannot decide.
    @Test(arguments: [
        "192.0.2.1", "10.0.0.1", "300.1.1.1", "1.2.3", "01.2.3.4", "evil.example", "a.b-c_d.example", "com", "co.uk",
        "github.io", "evil.123", "evil..com", ".evil.com", "evil.com.", "-x.example",
        String(repeating: "a", count: 64) + ".example", "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709", String(repeating: "ab", count: 32), "deadbeef", "12345678901234567890123456789012",
        "Evil.Example", "evil.example # c", "evil.example;c",
        "10.0.0.0/8", "10.1.2.3/24", "192.0.2.0/33", "1.2.3.4/08", "1.2.3.4/", "1.2.3.4/0", "300.1.1.0/24",
        "1.2.3.0/24/5", "1.2.3.0/024", "1.2.3/24", "/24", "1.2.3.4//24", "255.255.255.255/32",
        "2001:db8::1", "2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "::", "::1", "1::", ":::", "1:::2",
        "2001:db8::/32", "2001:db8::1/32", "2001:db8::/129", "2001:db8::/0", "2001:db8::/", "2001:db8::/032",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1::2::3", "12345::1",
        ":1::", "1:", ":1", "fe80::1%eth0", "::ffff:192.0.2.1", "1.2.3.4:443", "282e:d048:4a06::/48", "2001:db8::1/24/3",
    ])
    func fastPathAgreesWithTheGeneralPath(line: String) {
        let bytes = ArraySlice(Array(line.utf8))
        let general = PlainListParser.parseLine(bytes, suffixes: testSuffixes)
        if let fast = PlainListParser.fastValue(bytes, suffixes: testSuffixes) {
            #expect(general == .indicator(fast, description: nil))
        } else if case .indicator(let parsed, nil) = general {
            // Declining is allowed only for what the fast path does not cover (and for
            // values that carry a warning: private-section public suffixes).
            #expect(parsed.value != line || line.contains(where: \.isUppercase) || parsed.note != nil,
                    "\(line) should take the fast path")
        }
    }
}

extension Array where Element == UInt8 {
    /// `body`'s result for the array's bytes as a span (an escapable result for `#expect`).
    func withSpan<Result>(_ body: (Span<UInt8>) -> Result) -> Result { body(span) }
}
