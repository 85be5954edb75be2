import Foundation
import ByteParsing
import Observations
import TestSupport
import Testing
@testable import Indicators

@Suite struct CompiledRuleCacheTests {
    /// `AllowAndMatchTests.tree()` (validity windows, an allow directory, MISP warning
    /// lists of every kind) plus every indicator type, duplicates with and without
    /// conflicting metadata (origins, a conflict warning), bad lines (errors) and a
    /// port-specific line (a warning).
    static func tree() throws -> String {
        let root = try AllowAndMatchTests.tree()
        let extra: [String: String] = [
            "Rules/all.txt": """
                192.0.2.1
                198.51.100.0/24
                2001:db8:1::/48
                2001:db8:2::7
                =exact.example
                subs.example
                d41d8cd98f00b204e9800998ecf8427e
                da39a3ee5e6b4b0d3255bfef95601890afd80709
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                https://bad.example/path?q=1
                bad.example/other
                mallory@mail.example
                t13d1516h2_8daaf6152771_02713d6af862
                not valid!
                1.2.3.4:80
                evil.example

                """,
            "Rules/more.csv": """
                indicator,type,severity,source
                192.0.2.1,ipv4,critical,feed-b
                subs.example,domain,low,feed-c
                0123456789abcdef0123456789abcdef,ja3,high,sslbl
                256.1.1.1,ipv4,high,feed-d
                evil.example,domain,low,feed-e

                """,
        ]
        for (relative, text) in extra {
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + relative))
        }
        return root
    }

    /// Observed texts for `IndicatorTable.explain`: hits of every kind, misses, parent
    /// domains, nested ranges, allow entries, a mapped IPv6 address.
    static let probes = [
        "192.0.2.1", "192.0.2.2", "198.51.100.77", "198.51.101.1", "10.1.2.3", "10.1.3.3", "10.9.9.9", "11.0.0.1",
        "2001:db8:1::5", "2001:db8:2::7", "2001:db8:3::1", "::ffff:10.1.2.3",
        "exact.example", "www.exact.example", "a.b.subs.example", "subs.example.", "notsubs.example",
        "WWW.cdn.evil.example", "x.cdn.evil.example", "a.ok.evil.example", "tracker-evil.example", "Tracker.evil.example",
        "d41d8cd98f00b204e9800998ecf8427e", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856",
        "44d88612fea8a8f36de82e1278abb02f", "0123456789abcdef0123456789abcdef",
        "https://BAD.example/path?q=1", "http://bad.example/other", "https://bad.example/path?q=2",
        "Mallory@Mail.Example", "eve@mail.example", "t13d1516h2_8daaf6152771_02713d6af862", "3:abc:def", "aaa",
    ]

    static let times: [Timestamp?] = [nil, day(2026, 1, 15), day(2026, 2, 15), day(2026, 4, 1)]

    /// Every field of the rule sets equal, and every probe explained alike at every time.
    static func expectSame(_ cached: (RuleSet, IndicatorTable), _ fresh: RuleSet, sourceLocation: SourceLocation = #_sourceLocation) {
        let (rules, table) = cached
        #expect(rules.indicators == fresh.indicators, sourceLocation: sourceLocation)
        #expect(rules.errors == fresh.errors, sourceLocation: sourceLocation)
        #expect(rules.warnings == fresh.warnings, sourceLocation: sourceLocation)
        #expect(rules.files == fresh.files, sourceLocation: sourceLocation)
        #expect(rules.digest == fresh.digest, sourceLocation: sourceLocation)
        #expect(rules.fileSummaries == fresh.fileSummaries, sourceLocation: sourceLocation)
        #expect(rules.allowEntries == fresh.allowEntries, sourceLocation: sourceLocation)
        #expect(rules.origins == fresh.origins, sourceLocation: sourceLocation)
        #expect(rules == fresh, sourceLocation: sourceLocation)
        let compiled = fresh.compile()
        #expect(table.indicatorTypes == compiled.indicatorTypes, sourceLocation: sourceLocation)
        for probe in probes {
            for time in times {
                #expect(table.explain(probe, at: time) == compiled.explain(probe, at: time),
                        "\(probe) at \(String(describing: time))", sourceLocation: sourceLocation)
            }
        }
    }

    static func cacheFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".cairn-rules") }.sorted().map { directory + "/" + $0 }
    }

    @Test func aHitRebuildsTheSameRulesAndTable() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = root + "/cache"
        let fresh = RuleSet.load(paths: [root + "/Rules"])
        // The tree exercises what it claims to.
        #expect(!fresh.errors.isEmpty && !fresh.warnings.isEmpty && !fresh.origins.isEmpty && !fresh.allowEntries.isEmpty)
        #expect(Set(fresh.indicators.map(\.type)) == Set(IndicatorType.allCases))

        let first = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: cache, minimumRuleBytes: 0)
        guard case .written(let file, nil) = first.cache else {
            Issue.record("expected a written cache, got \(first.cache)")
            return
        }
        #expect(Self.cacheFiles(cache) == [file])
        Self.expectSame((first.rules, first.table), fresh)
        // Owner only: an entry holds every indicator of the rule files.
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: cache)[.posixPermissions] as? Int == 0o700)

        let second = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: cache, minimumRuleBytes: 0)
        #expect(second.cache == .hit(file: file))
        #expect(second.timing.keying > 0 && second.timing.total >= second.timing.keying)
        Self.expectSame((second.rules, second.table), fresh)
        // Errors still reported on a hit.
        #expect(second.rules.errors.map(\.description).contains { $0.contains("not valid!") })

        // No directory: no cache, the same result.
        let uncached = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: nil)
        #expect(uncached.cache == .disabled)
        Self.expectSame((uncached.rules, uncached.table), fresh)

        // Rule files under the threshold (the default is 4 MiB): parsed, no cache read or written.
        let small = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: root + "/small-cache")
        #expect(small.cache == .notNeeded)
        #expect(!FileManager.default.fileExists(atPath: root + "/small-cache"))
        Self.expectSame((small.rules, small.table), fresh)
    }

    /// The size that decides whether the cache is worth it is the files' own, also
    /// when a rule directory holds symbolic links to them (as the benchmarks' do).
    @Test func ruleBytesCountTheFilesLinksPointTo() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/Rules", withIntermediateDirectories: true)
        let text = String(repeating: "192.0.2.1\n", count: 1000)
        try text.write(toFile: root + "/list.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/Rules/list.txt", withDestinationPath: root + "/list.txt")
        #expect(RuleFiles.scan([root + "/Rules"]).bytes == text.utf8.count)
        let cached = RuleSet.loadCompiled(
            paths: [root + "/Rules"], cacheDirectory: root + "/cache", minimumRuleBytes: text.utf8.count)
        guard case .written = cached.cache else {
            Issue.record("expected a written cache, got \(cached.cache)")
            return
        }
    }

    @Test func changingOneByteOfARuleFileIsAMiss() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = root + "/cache"
        let paths = [root + "/Rules"]
        guard case .written = RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0).cache else {
            Issue.record("not written")
            return
        }
        // 192.0.2.1 → 192.0.2.9: same length, same size.
        let file = root + "/Rules/all.txt"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let index = try #require(bytes.firstIndex(of: UInt8(ascii: "1")).map { $0 + 8 })
        #expect(bytes[index] == UInt8(ascii: "1"))
        bytes[index] = UInt8(ascii: "9")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let changed = RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0)
        guard case .written(_, nil) = changed.cache else {
            Issue.record("expected a miss, got \(changed.cache)")
            return
        }
        Self.expectSame((changed.rules, changed.table), RuleSet.load(paths: paths))
        #expect(changed.table.explain("192.0.2.9", at: nil).first?.match != nil)
        #expect(Self.cacheFiles(cache).count == 2)
        // An allow list named directly (not under a directory argument) is another key too.
        let asAllow = RuleSet.loadCompiled(paths: [root + "/Rules/allow/ours.txt"], cacheDirectory: cache, minimumRuleBytes: 0)
        #expect(!asAllow.cache.isHit)
    }

    /// A damaged entry: (what to do to the file's bytes, words its rejection names).
    static let damages: [(name: String, damage: @Sendable ([UInt8]) -> [UInt8], reason: String)] = [
        ("truncated in the payload", { Array($0.prefix($0.count - 100)) }, "truncated"),
        ("truncated in the header", { Array($0.prefix(20)) }, "truncated"),
        ("empty", { _ in [] }, "truncated"),
        ("a flipped payload byte", { var b = $0; b[b.count / 2] ^= 0x01; return b }, "checksum"),
        ("a flipped last byte", { var b = $0; b[b.count - 1] ^= 0x80; return b }, "checksum"),
        ("a flipped key byte", { var b = $0; b[20] ^= 0x01; return b }, "other rules"),
        ("a flipped magic byte", { var b = $0; b[0] ^= 0x01; return b }, "not a compiled rule cache"),
        ("bytes appended", { $0 + [0, 0, 0, 0] }, "truncated"),
    ]

    @Test(arguments: damages.indices)
    func aDamagedEntryIsRebuiltNeverTrusted(_ which: Int) throws {
        let (name, damage, reason) = Self.damages[which]
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = root + "/cache"
        let paths = [root + "/Rules"]
        guard case .written(let file, nil) = RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0).cache else {
            Issue.record("not written")
            return
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        try Data(damage(bytes)).write(to: URL(fileURLWithPath: file))
        let again = RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0)
        guard case .written(file, let rejected?) = again.cache else {
            Issue.record("\(name): expected a rebuild, got \(again.cache)")
            return
        }
        #expect(rejected.contains(reason), "\(name): \(rejected)")
        Self.expectSame((again.rules, again.table), RuleSet.load(paths: paths))
        // Rewritten whole (same size; not the same bytes: dictionaries are written in
        // their own order): the next run hits.
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)).count == bytes.count)
        #expect(RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0).cache == .hit(file: file))
    }

    /// The cache file is read from a mapping, or with read(2) when it cannot be mapped:
    /// both give the same rules and table, and refuse a damaged file for the same reason.
    @Test(arguments: [-1] + Array(damages.indices))
    func mappedOrReadTheFileGivesTheSame(_ which: Int) throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        guard case .written(let file, nil) = RuleSet.loadCompiled(
            paths: [root + "/Rules"], cacheDirectory: root + "/cache", minimumRuleBytes: 0).cache
        else {
            Issue.record("not written")
            return
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        // The header: magic (8 bytes), format version (8), then the key (32).
        let key = Array(bytes[16..<48])
        if which >= 0 { try Data(Self.damages[which].damage(bytes)).write(to: URL(fileURLWithPath: file)) }
        switch (CompiledRuleCache.read(file, key: key), CompiledRuleCache.read(file, key: key, mapped: false)) {
        case (.found(let rules, let table), .found(let readRules, let readTable)):
            #expect(which == -1)
            let fresh = RuleSet.load(paths: [root + "/Rules"])
            Self.expectSame((rules, table), fresh)
            Self.expectSame((readRules, readTable), fresh)
        case (.unusable(let reason), .unusable(let readReason)):
            #expect(which >= 0)
            #expect(reason == readReason)
        case (let mapped, let read):
            Issue.record("mapped: \(mapped); read: \(read)")
        }
    }

    /// A payload that passes the checksum but lies (a position past the indicators, a
    /// count past the end) is refused by the structural checks, not trusted.
    @Test func aConsistentButLyingPayloadIsRefused() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/Rules"])
        let table = rules.compile()
        var writer = CacheWriter()
        CompiledRuleCache.encodePayload(rules, table, into: &writer)
        let good = writer.bytes
        // Prefixes and changed bytes at many offsets (densely in the small parts at the
        // start): never a trap, and what is accepted returns only real positions.
        var refused = 0
        let offsets = Array(stride(from: 0, to: min(good.count, 1500), by: 29))
            + Array(stride(from: 0, to: good.count, by: max(1, good.count / 20)))
        for cut in offsets {
            for variant in 0..<3 {
                var bytes = variant == 0 ? Array(good.prefix(cut)) : good
                if variant == 1 { bytes[cut] = 0xFF }
                if variant == 2 { bytes[cut] &+= 1 }
                let decoded: (RuleSet, IndicatorTable)? = {
                    var reader = CacheReader(bytes.span)
                    guard let result = try? CompiledRuleCache.decodePayload(&reader), reader.remaining == 0 else { return nil }
                    return result
                }()
                // The same bytes in a mapped file, where the indicator list stays.
                let mapped = try Self.decodeMapped(bytes, in: root)
                #expect((mapped == nil) == (decoded == nil), "offset \(cut), variant \(variant)")
                if let mapped {
                    // Every indicator of an accepted list reads without a trap, as the copied one.
                    #expect(Array(mapped.0.indicators) == Array(decoded?.0.indicators ?? []))
                }
                if let decoded {
                    // Accepted: every position it can return must be a real one.
                    for probe in Self.probes {
                        for explanation in decoded.1.explain(probe, at: nil) {
                            #expect(explanation.indicators.allSatisfy { $0.index < decoded.0.indicators.count })
                            #expect(explanation.allowEntries.allSatisfy { $0.index < decoded.0.allowEntries.count })
                        }
                    }
                } else {
                    refused += 1
                }
            }
        }
        #expect(refused > 0)
    }

    /// `payload` decoded from a file mapped as the cache is, with the indicator list
    /// left in the mapping; nil when refused.
    static func decodeMapped(_ payload: [UInt8], in directory: String) throws -> (RuleSet, IndicatorTable)? {
        let path = directory + "/payload-" + UUID().uuidString
        try Data(payload).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = WholeFile.withBytes(path: path) { bytes, residency -> (RuleSet, IndicatorTable)? in
            #expect(residency.file != nil || payload.isEmpty)
            var reader = CacheReader(bytes, file: residency.file)
            guard let result = try? CompiledRuleCache.decodePayload(&reader), reader.remaining == 0 else { return nil }
            return result
        }
        switch result {
        case .success(let decoded): return decoded
        case .failure(let failure):
            // An empty file has nothing to map or read.
            #expect(payload.isEmpty, "\(failure)")
            return nil
        }
    }

    /// A list read in the mapped cache file outlives the file's name (an entry the
    /// cache removes, as its least recently used), and changing it changes a copy: the
    /// same changes to it and to the parsed list give equal lists. Written to a cache
    /// again, it reads back the same.
    @Test func aListInTheMappedFileOutlivesItAndChangesACopy() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fresh = RuleSet.load(paths: [root + "/Rules"])
        _ = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: root + "/cache", minimumRuleBytes: 0)
        let hit = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: root + "/cache", minimumRuleBytes: 0)
        guard case .hit(let file) = hit.cache else {
            Issue.record("expected a hit, got \(hit.cache)")
            return
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        try FileManager.default.removeItem(atPath: file)
        #expect(hit.rules.indicators == fresh.indicators)

        var changed = hit.rules.indicators
        var expected = fresh.indicators
        let extra = Indicator(type: .domain, value: "added.example", ruleFile: "extra.txt", line: 9)
        var replaced = expected[2]
        replaced.value = "replaced.example"
        replaced.line = 42
        changed.append(extra)
        expected.append(extra)
        changed[2] = replaced
        expected[2] = replaced
        #expect(changed == expected)
        #expect(hit.rules.indicators == fresh.indicators)

        // Written from the mapped list, read back the same.
        let key = Array(before[16..<48])
        let rewritten = CompiledRuleCache.write(hit.rules, hit.table, key: key, directory: root + "/again")
        guard case .success(let again) = rewritten, case .found(let rules, let table) = CompiledRuleCache.read(again, key: key)
        else {
            Issue.record("not written and read back: \(rewritten)")
            return
        }
        Self.expectSame((rules, table), fresh)
    }

    /// A cache file cut short after it was loaded: the indicators read from it since
    /// cannot be trusted, and the list says so (the ingest then stops with an error).
    @Test func aListWhoseFileIsCutShortSaysItFailedToRead() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: root + "/cache", minimumRuleBytes: 0)
        let hit = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: root + "/cache", minimumRuleBytes: 0)
        guard case .hit(let file) = hit.cache else {
            Issue.record("expected a hit, got \(hit.cache)")
            return
        }
        _ = hit.rules.indicators[0]
        #expect(!hit.rules.indicators.failedToRead)
        #expect(truncate(file, 0) == 0)
        _ = hit.rules.indicators[0]
        #expect(hit.rules.indicators.failedToRead)
    }

    @Test func anUnwritableDirectoryIsNotAnErrorOfTheRun() throws {
        let root = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A regular file where the directory should be: neither root nor anyone can write in it.
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/blocker"))
        let result = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: root + "/blocker/cache", minimumRuleBytes: 0)
        guard case .notWritten(let reason) = result.cache else {
            Issue.record("expected notWritten, got \(result.cache)")
            return
        }
        #expect(reason.contains("cannot create"))
        Self.expectSame((result.rules, result.table), RuleSet.load(paths: [root + "/Rules"]))
    }

    @Test func keepsTheFourMostRecentlyUsedEntries() throws {
        let root = try makeTree(["Rules/a.txt": Array("192.0.2.1\n".utf8)])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = root + "/cache"
        var files: [String] = []
        for round in 0..<6 {
            try Data("192.0.2.\(round + 1)\n".utf8).write(to: URL(fileURLWithPath: root + "/Rules/a.txt"))
            guard case .written(let file, _) = RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: cache, minimumRuleBytes: 0).cache else {
                Issue.record("round \(round): not written")
                return
            }
            files.append(file)
            // Distinct modification times even on coarse file systems.
            var times = [timespec(tv_sec: 1_700_000_000 + round * 10, tv_nsec: 0),
                         timespec(tv_sec: 1_700_000_000 + round * 10, tv_nsec: 0)]
            utimensat(AT_FDCWD, file, &times, 0)
            if round == 1 {
                // Round 0's entry used again (a hit touches it): it outlives rounds 1 and 2.
                try Data("192.0.2.1\n".utf8).write(to: URL(fileURLWithPath: root + "/Rules/a.txt"))
                #expect(RuleSet.loadCompiled(paths: [root + "/Rules"], cacheDirectory: cache, minimumRuleBytes: 0).cache == .hit(file: files[0]))
            }
        }
        #expect(Self.cacheFiles(cache) == [files[0], files[3], files[4], files[5]].sorted())
    }

    @Test(.enabled(if: corpusPresent, "../shared/corpus is absent")) func theRealFeedsRoundTrip() throws {
        let corpus = corpusIndicators
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        // A few feeds of each kind (a few seconds in a debug build): addresses, ranges,
        // domains, and MISP warning lists of hostnames, CIDRs and strings (allow entries).
        let lists = corpus + "/misp-warninglists/lists/"
        let paths = [corpus + "/ipsum/levels/3.txt", corpus + "/maltrail/trails/static/suspicious",
                     corpus + "/maltrail/trails/static/mass_scanner_cidr.txt", lists + "empty-hashes", lists + "google",
                     lists + "rfc1918", lists + "sinkholes", lists + "dynamic-dns", lists + "common-ioc-false-positive"]
        let fresh = RuleSet.load(paths: paths)
        #expect(fresh.indicators.count > 10_000 && fresh.allowEntries.count > 1_000)
        guard case .written = RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0).cache else {
            Issue.record("not written")
            return
        }
        let hit = RuleSet.loadCompiled(paths: paths, cacheDirectory: cache, minimumRuleBytes: 0)
        #expect(hit.cache.isHit)
        #expect(hit.rules == fresh)
        let compiled = fresh.compile()
        // Every 97th indicator's own value, and a miss next to it.
        for position in stride(from: 0, to: fresh.indicators.count, by: 97) {
            let value = fresh.indicators[position].value
            for text in [value, "x" + value] {
                #expect(hit.table.explain(text, at: nil) == compiled.explain(text, at: nil), "\(text)")
            }
        }
    }

    @Test func theChecksumIsTheSameSummedInChunks() {
        var random = SystemRandomNumberGenerator()
        for count in [0, 31, 32, 33, 1000, 4096, 4097, 100_003] {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            let whole = CacheChecksum.of(bytes.span)
            for chunk in [32, 64, 4096] {
                var told: [Range<Int>] = []
                #expect(CacheChecksum.of(bytes.span, chunk: chunk) { told.append($0) } == whole)
                // The chunks told of follow each other from the start, over every whole 32 bytes.
                #expect(told.first?.lowerBound ?? 0 == 0)
                #expect(zip(told, told.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(told.last?.upperBound ?? 0 == count - count % 32)
            }
        }
    }

    /// A 64-bit little-endian ELF file with one PT_NOTE segment aligned to `alignment`
    /// (4, or 8 as `.note.gnu.property` is) holding an `NT_GNU_BUILD_ID` note of `id`,
    /// after a note of another kind; notes are padded to the segment's alignment.
    static func elf(buildID id: [UInt8], alignment: Int = 4) -> [UInt8] {
        func le(_ value: Int, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        func padded(_ bytes: [UInt8]) -> [UInt8] {
            bytes + [UInt8](repeating: 0, count: (alignment - bytes.count % alignment) % alignment)
        }
        let other = le(4, 4) + le(4, 4) + le(1, 4) + padded(Array("ABI\0".utf8)) + padded([0, 0, 0, 0])
        let notes = other + le(4, 4) + le(id.count, 4) + le(3, 4) + padded(Array("GNU\0".utf8)) + padded(id)
        var header = [0x7F] + Array("ELF".utf8) + [2, 1, 1] + [UInt8](repeating: 0, count: 9)
        header += le(2, 2) + le(62, 2) + le(1, 4) + le(0, 8) + le(64, 8) + le(0, 8) + le(0, 4)
        header += le(64, 2) + le(56, 2) + le(1, 2) + le(0, 2) + le(0, 2) + le(0, 2)
        let program = le(4, 4) + le(4, 4) + le(120, 8) + le(0, 8) + le(0, 8) + le(notes.count, 8)
            + le(notes.count, 8) + le(alignment, 8)
        return header + program + notes
    }

    @Test(arguments: [4, 8]) func theBuildIDIsReadFromTheELFNotes(alignment: Int) {
        let id: [UInt8] = (1...20).map { UInt8($0) }
        let file = Self.elf(buildID: id, alignment: alignment)
        #expect(CompiledRuleCache.buildID(ofELF: file.span) == id)
        // Cut anywhere, or not an ELF file at all, there is none (and no crash).
        for length in 0..<file.count { #expect(CompiledRuleCache.buildID(ofELF: Array(file.prefix(length)).span) == nil) }
        #expect(CompiledRuleCache.buildID(ofELF: Array("#!/bin/sh\necho\n".utf8).span) == nil)
    }

    static let readelf = ["/usr/bin/readelf", "/bin/readelf"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: readelf != nil, "readelf is absent")) func theRunningExecutableIsKnownByTheBuildIDReadelfShows() throws {
        // readelf reading /proc/self/exe would read itself: it is given this process's file.
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let readelf = try #require(Self.readelf)
        let text = try #require(ExternalCommand.run(readelf, ["-n", executable])).output
        let shown = try #require(text.split(separator: "\n").first { $0.contains("Build ID:") })
            .split(separator: " ").last.map(String.init)
        #expect(CompiledRuleCache.executableDigest == "build-id " + (shown ?? "none"))
    }
}
