import Observations
import Testing
@testable import Indicators
import TestSupport

/// The presence filters in front of the tables: their false-positive rate and size, and
/// that no key in a table is ever filtered out (IPv4 and IPv6 networks of every prefix).
@Suite struct PresenceFilterTests {
    /// The string table's hash of `bytes`, as lookups compute it.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        let table = ByteStringTable([])
        return bytes.withUnsafeBytes { table.hash($0, from: 0, to: $0.count) }
    }

    /// Random lower-case names of 6 to 20 letters ending in `.com`.
    static func names(_ count: Int, seed: UInt64) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            (0..<(6 + Int(random.next() % 15))).map { _ in UInt8(ascii: "a") + UInt8(random.next() % 26) }
                + Array(".com".utf8)
        }
    }

    /// The filter over 200,000 string hashes keeps every one of them, rejects all but
    /// about 5% of 200,000 others (the old one-bit filter at 16 bits per key: 5.8%), and
    /// takes 7 bits per key.
    @Test func stringFilterFalsePositiveRateAndSize() {
        let keys = Self.names(200_000, seed: 1).map(Self.hash)
        var filter = PresenceBits(count: keys.count)
        for key in keys { filter.insert(key) }
        #expect(keys.allSatisfy { filter.mayContain($0) })
        #expect(filter.memoryBytes <= keys.count * PresenceBits.bitsPerKey / 8 + 64)
        let others = Self.names(200_000, seed: 2).map(Self.hash)
        let passed = others.filter { filter.mayContain($0) }.count
        let rate = Double(passed) / Double(others.count)
        print("presence filter: \(passed) of \(others.count) absent keys passed (\(rate * 100)%), \(filter.memoryBytes) bytes")
        #expect(rate < 0.055, "false positives \(rate)")
        #expect(rate > 0.03, "a rate this low suggests the keys are not random: \(rate)")
    }

    /// For the issue's set (1 M domains), the domain filter is under 1 MiB (it was 2 MiB).
    @Test func aMillionKeysTakeUnderOneMebibyte() {
        let filter = PresenceBits(count: 1_000_000)
        #expect(filter.wordCount * 8 == 875_000 && filter.memoryBytes < 880_000)
        #expect(PresenceBits(count: 1).wordCount == 1)
        #expect(PresenceBits(count: 0).wordCount == 1)
        #expect(PresenceBits().mayContain(12345))
        #expect(!PresenceBits(count: 0).mayContain(12345))
        #expect(PresenceBits(count: 1 << 30).wordCount == PresenceBits.maximumWords)
        #expect(PresenceBits(count: 1 << 30, maximumBytes: 1 << 21).wordCount == 1 << 18)
    }

    /// The word and bit choices spread keys evenly: no word of a full filter is empty and
    /// none is all ones.
    @Test func keysSpreadOverTheWords() {
        let keys = Self.names(20_000, seed: 3).map(Self.hash)
        var filter = PresenceBits(count: keys.count)
        for key in keys { filter.insert(key) }
        var counts = [Int](repeating: 0, count: filter.wordCount)
        for key in keys { counts[PresenceBits.word(key, wordCount: filter.wordCount)] += 1 }
        // 7 bits per key: 9.1 keys per word on average.
        #expect(counts.max() ?? 0 < 30)
        #expect(counts.filter { $0 == 0 }.count < filter.wordCount / 100)
    }

    /// Random IPv4 networks of every prefix: every address inside each one passes the
    /// filters and the table finds a network that contains it.
    @Test(arguments: [0...32, 17...32, 24...32])
    func everyAddressInsideAnIPv4NetworkIsFound(_ prefixes: ClosedRange<Int>) {
        var random = SplitMix64(seed: UInt64(prefixes.lowerBound) &* 77 &+ 5)
        var entries: [(key: UInt32, prefix: Int, index: UInt32)] = []
        for index in 0..<5_000 {
            let prefix = prefixes.lowerBound + Int(random.next() % UInt64(prefixes.count))
            // Few /0–/8s: they would cover everything.
            let widened = prefix < 8 && random.next() % 8 != 0 ? prefix + 8 : prefix
            entries.append((UInt32(truncatingIfNeeded: random.next()).masked(prefix: widened), widened, UInt32(index)))
        }
        let table = IPNetworkTable<UInt32>(entries)
        var misses = 0
        for entry in entries {
            let last = entry.key.lastAddress(prefix: entry.prefix)
            let span = UInt64(last - entry.key) + 1
            var inside = [entry.key, last]
            for _ in 0..<6 { inside.append(entry.key &+ UInt32(truncatingIfNeeded: random.next() % span)) }
            for address in inside {
                let passes = table.coveredBlocks.contains(address.top16)
                    || table.blocks.mayContain(PresenceBits.hash(address.top24))
                guard passes, table.wideBlocks.contains(address.top16), let found = table.lookup(address) else {
                    misses += 1
                    continue
                }
                let network = entries[Int(found)]
                if address.masked(prefix: network.prefix) != network.key { misses += 1 }
            }
        }
        #expect(misses == 0)
    }

    /// The same for IPv6 (/0 to /128).
    @Test func everyAddressInsideAnIPv6NetworkIsFound() {
        var random = SplitMix64(seed: 0x1F6)
        var entries: [(key: IPv6Key, prefix: Int, index: UInt32)] = []
        for index in 0..<5_000 {
            var prefix = Int(random.next() % 129)
            if prefix < 8, random.next() % 8 != 0 { prefix += 8 }
            let key = IPv6Key(high: random.next(), low: random.next()).masked(prefix: prefix)
            entries.append((key, prefix, UInt32(index)))
        }
        let table = IPNetworkTable<IPv6Key>(entries)
        var misses = 0
        for entry in entries {
            let last = entry.key.lastAddress(prefix: entry.prefix)
            var inside = [entry.key, last]
            for _ in 0..<6 {
                // A random address: the network's bits, then random host bits.
                let noise = IPv6Key(high: random.next(), low: random.next())
                let hostMask = IPv6Key(high: last.high ^ entry.key.high, low: last.low ^ entry.key.low)
                inside.append(IPv6Key(high: entry.key.high | noise.high & hostMask.high, low: entry.key.low | noise.low & hostMask.low))
            }
            for address in inside {
                let passes = table.coveredBlocks.contains(address.top16)
                    || table.blocks.mayContain(PresenceBits.hash(address.top24))
                guard passes, table.wideBlocks.contains(address.top16), let found = table.lookup(address) else {
                    misses += 1
                    continue
                }
                let network = entries[Int(found)]
                if address.masked(prefix: network.prefix) != network.key { misses += 1 }
            }
        }
        #expect(misses == 0)
    }

    /// 200,000 random /32s: the block filter holds one key per distinct /24 (8 bits each,
    /// against the 2 MiB direct bitmap before) and lets through about 3.7% of the addresses
    /// in blocks that hold no network; wide networks do not enlarge it.
    @Test func theBlockFilterIsSizedByBlocksAndRejectsEmptyBlocks() {
        var random = SplitMix64(seed: 24)
        var entries: [(key: UInt32, prefix: Int, index: UInt32)] = []
        var occupied = Set<Int>()
        for index in 0..<200_000 {
            let address = UInt32(truncatingIfNeeded: random.next())
            entries.append((address, 32, UInt32(index)))
            occupied.insert(address.top24)
        }
        // A /8, a /16 and a /0: through `coveredBlocks`, not one key per /24.
        entries.append((0x0A00_0000, 8, 200_000))
        entries.append((0xC0A8_0000, 16, 200_001))
        let table = IPNetworkTable<UInt32>(entries)
        #expect(table.blocks.wordCount == (occupied.count * IPNetworkTable<UInt32>.blockBitsPerKey + 63) / 64)
        #expect(table.lookup(0x0A12_3456) == 200_000 && table.lookup(0xC0A8_FFFF) == 200_001)
        var probes = 0
        var passed = 0
        while probes < 200_000 {
            let address = UInt32(truncatingIfNeeded: random.next())
            let top8 = address >> 24
            guard !occupied.contains(address.top24), top8 != 0x0A, address >> 16 != 0xC0A8 else { continue }
            probes += 1
            if table.blocks.mayContain(PresenceBits.hash(address.top24)) { passed += 1 }
        }
        let rate = Double(passed) / Double(probes)
        print("block filter: \(passed) of \(probes) addresses in empty /24s passed (\(rate * 100)%), \(table.blocks.memoryBytes) bytes")
        #expect(rate < 0.045, "false positives \(rate)")
        let everything = IPNetworkTable<UInt32>(entries + [(0, 0, 200_002)])
        #expect(everything.blocks.wordCount == table.blocks.wordCount)
        #expect(everything.lookup(0x0102_0304) != nil)
    }

    /// Decodes what `write` encoded, or nil when the decoder rejects it.
    static func decoded<T>(_ bytes: [UInt8], _ read: (inout CacheReader) throws(CacheFileError) -> T) -> T? {
        bytes.withUnsafeBytes { raw -> T? in
            var reader = CacheReader(raw)
            do { return try read(&reader) } catch { return nil }
        }
    }

    /// Filters survive the cache encoding; a damaged size is rejected.
    @Test func encodedFiltersRoundTripAndDamagedSizesAreRejected() {
        var filter = PresenceBits(count: 1_000)
        let keys = Self.names(1_000, seed: 9).map(Self.hash)
        for key in keys { filter.insert(key) }
        var writer = CacheWriter()
        filter.encode(into: &writer)
        let bytes = writer.bytes
        let decoded = Self.decoded(bytes) { reader throws(CacheFileError) in try PresenceBits(decoding: &reader) }
        #expect(decoded?.wordCount == filter.wordCount && keys.allSatisfy { decoded?.mayContain($0) == true })
        // The stated word count (the first 8 bytes) one more, one less, huge and negative.
        for stated in [filter.wordCount + 1, filter.wordCount - 1, PresenceBits.maximumWords + 1, -1] {
            var damaged = bytes
            let field = (0..<8).map { UInt8(truncatingIfNeeded: Int64(stated) >> (8 * $0)) }
            damaged.replaceSubrange(0..<8, with: field)
            #expect(Self.decoded(damaged) { reader throws(CacheFileError) in try PresenceBits(decoding: &reader) } == nil,
                    "stated \(stated)")
        }
        // A /16 bitmap of the wrong size.
        var blockWriter = CacheWriter()
        BlockBits(bits: 1 << 15).encode(into: &blockWriter)
        #expect(Self.decoded(blockWriter.bytes) { reader throws(CacheFileError) in
            try BlockBits(decoding: &reader, bits: 1 << 16)
        } == nil)
    }

    /// A network table survives the cache encoding with its filters: the same answers.
    @Test func anEncodedNetworkTableAnswersTheSame() {
        var random = SplitMix64(seed: 77)
        let entries: [(key: UInt32, prefix: Int, index: UInt32)] = (0..<2_000).map {
            (UInt32(truncatingIfNeeded: random.next()), [8, 16, 20, 24, 28, 32][Int(random.next() % 6)], UInt32($0))
        }
        let table = IPNetworkTable<UInt32>(entries)
        var writer = CacheWriter()
        table.encode(into: &writer)
        guard let decoded = Self.decoded(writer.bytes, { reader throws(CacheFileError) in
            try IPNetworkTable<UInt32>(decoding: &reader, limit: entries.count)
        }) else {
            Issue.record("the encoded table was rejected")
            return
        }
        var differ = 0
        for entry in entries {
            for address in [entry.key, entry.key ^ 0x55, UInt32(truncatingIfNeeded: random.next())]
            where table.lookup(address) != decoded.lookup(address) {
                differ += 1
            }
        }
        #expect(differ == 0)
        #expect(decoded.blocks.wordCount == table.blocks.wordCount)
    }
}
