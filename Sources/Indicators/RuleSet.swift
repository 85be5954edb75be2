import ByteParsing
import Concurrency
import Crypto
import Observations

/// The indicators of a set of rule files, with the errors and warnings found while
/// reading them.
public struct RuleSet: Sendable {
    /// Every valid indicator, in file order (files sorted by path). An indicator's
    /// position in this array is its index in `IndicatorTable` lookups. The same
    /// canonical (type, value, subdomain matching) appears once: where it was first found.
    ///
    /// A compact store (`IndicatorList`): reading an element builds the `Indicator`
    /// on demand; read the ones that matched, not all of them.
    public var indicators: IndicatorList
    /// Every bad line or unreadable file: the things that make `cairn ingest` and
    /// `cairn rules check` exit non-zero.
    public var errors: [RuleError]
    /// Lines skipped or details ignored on purpose (feed conventions Cairn does not use
    /// yet); never a reason to fail.
    public var warnings: [RuleWarning] = []
    /// The rule files read, sorted.
    public var files: [String]
    /// SHA-256 (lower-case hex) over the rule files' paths and contents, in order:
    /// recorded with each run so a result can be tied to the exact rules. For each file
    /// read: its path, a NUL, its byte length in decimal, a NUL, its bytes.
    public var digest: String
    /// Per file (in `files` order): what it was read as and what it yielded.
    public var fileSummaries: [RuleFileSummary] = []
    /// The allow entries: every entry of a rule file under a directory named `allow`
    /// and of every MISP warning list, in file order. `IndicatorMatch.suppressedBy` and
    /// `Explanation.allowEntries` index this array. Not deduplicated.
    public var allowEntries: [AllowEntry] = []
    /// For each indicator listed more than once (same type and canonical value, in any
    /// files): every place it was listed, the reported one first. Keyed by index into
    /// `indicators`; indicators listed once are absent. The metadata of the listings is
    /// merged into the indicator (see `merge` and docs/rules.md).
    public var origins: [Int: [IndicatorOrigin]] = [:]

    /// A rule set built from indicators already in hand (tests, other formats).
    public init(indicators: [Indicator], errors: [RuleError] = [], files: [String] = [], digest: String = "") {
        self.init(list: IndicatorList(indicators), errors: errors, files: files, digest: digest)
    }

    /// A rule set built from an indicator list already in hand.
    public init(list: IndicatorList, errors: [RuleError] = [], files: [String] = [], digest: String = "") {
        self.indicators = list
        self.errors = errors
        self.files = files
        self.digest = digest
    }

    /// Reads rule files; directories are walked recursively (hidden files and `*.md`
    /// skipped; a file named directly is read whatever its name). Each file's format is
    /// detected from its content (`RuleFormat`). Files are read in bytewise path order,
    /// lines in order; a bad line is an error and is skipped, the rest of its file still
    /// loads; an unreadable file is an error with line 0. Domains are checked against
    /// the system's public suffix list (`PublicSuffixList.system`); when it is absent,
    /// one warning says so. Never throws: problems are in `errors` and `warnings`.
    public static func load(paths: [String]) -> RuleSet {
        load(paths: paths, publicSuffixListPath: PublicSuffixList.defaultPath)
    }

    /// `load(paths:)` with the public suffix list read from `publicSuffixListPath`.
    public static func load(paths: [String], publicSuffixListPath: String) -> RuleSet {
        var warnings: [RuleWarning] = []
        let suffixes: PublicSuffixList
        if publicSuffixListPath == PublicSuffixList.defaultPath, let system = PublicSuffixList.system {
            suffixes = system
        } else if publicSuffixListPath != PublicSuffixList.defaultPath, let list = PublicSuffixList.read(path: publicSuffixListPath) {
            suffixes = list
        } else {
            suffixes = .empty
            warnings.append(RuleWarning(
                file: publicSuffixListPath, line: 0,
                message: "public suffix list not found (install the publicsuffix package): "
                    + "domain indicators are not checked against it, only single labels are refused"))
        }
        let (candidates, allowFiles, walkErrors) = RuleFiles.collect(paths)
        var errors = walkErrors
        var files: [String] = []
        var summaries: [RuleFileSummary] = []
        var indicators = IndicatorList()
        var allowEntries: [AllowEntry] = []
        var seen = IndicatorIndex()
        var origins: [Int: [IndicatorOrigin]] = [:]
        // Each file is read and parsed on a thread of its own while the one before it
        // is merged here; the digest is fed in the files' order, as `RuleFiles.scan` does.
        let reading = ReadAhead<ReadFile>(name: "cairn-rules") { send in
            var hasher = SHA256()
            for path in candidates {
                var parsed = ParsedFile()
                var detected = RuleFormat.plainList
                let streamed = RuleFiles.stream(path, digest: &hasher) { format, bytes, linesBefore in
                    detected = format
                    let part = format.parse(bytes, path: path, suffixes: suffixes, linesBefore: linesBefore)
                    parsed.format = part.format
                    if parsed.indicators.isEmpty { parsed.indicators = part.indicators } else { parsed.indicators += part.indicators }
                    parsed.allowEntries += part.allowEntries
                    parsed.errors += part.errors
                    parsed.warnings += part.warnings
                }
                let file = ReadFile(path: path, parsed: parsed, detected: detected, streamed: streamed, digest: hasher)
                guard send(file) else { return }
            }
        }
        var hasher = SHA256()
        while let file = reading.next() {
            let path = file.path
            var parsed = file.parsed
            let detected = file.detected
            hasher = file.digest
            switch file.streamed {
            case .success(let tooLong) where !tooLong.isEmpty:
                // Lines dropped by the reader, among the parser's errors in line order.
                parsed.errors = (tooLong + parsed.errors).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
            case .success: break
            case .failure(let error):
                errors.append(error)
                continue
            }
            files.append(path)
            let format = parsed.format ?? detected
            // Every indicator of a file under `allow/` is an allow entry instead.
            let isAllowList = allowFiles.contains(path) || format == .mispWarningList
            if allowFiles.contains(path) {
                parsed.allowEntries += parsed.indicators.map { AllowEntry($0) }
                parsed.indicators = []
            }
            var summary = RuleFileSummary(
                path: path, format: format, errors: parsed.errors.count, warnings: parsed.warnings.count)
            summary.isAllowList = isAllowList
            summary.allowEntries = parsed.allowEntries.count
            allowEntries += parsed.allowEntries
            let candidates = parsed.indicators
            let detailsOffset = indicators.adoptDetails(of: candidates)
            var countsByType = [Int](repeating: 0, count: IndicatorType.byOrdinal.count)
            indicators.reserveCapacity(indicators.count + candidates.count)
            seen.reserve(indicators.count + candidates.count)
            var hashes = IndicatorIndex.Batch()
            for candidate in candidates.indices {
                countsByType[Int(candidates.type(at: candidate).ordinal)] += 1
                if candidate % IndicatorIndex.Batch.size == 0 {
                    hashes = seen.prepare(candidates, from: candidate)
                }
                if let position = seen.firstPosition(
                    of: candidate, hash: hashes[candidate % IndicatorIndex.Batch.size], in: candidates,
                    newPosition: indicators.count, list: indicators)
                {
                    // Rare: only duplicates build `Indicator` values.
                    let indicator = candidates[candidate]
                    summary.duplicates += 1
                    var first = indicators[position]
                    if origins[position] == nil {
                        origins[position] = [IndicatorOrigin(ruleFile: first.ruleFile, line: first.line, source: first.source)]
                    }
                    origins[position, default: []].append(
                        IndicatorOrigin(ruleFile: indicator.ruleFile, line: indicator.line, source: indicator.source))
                    let conflict = RuleSet.merge(indicator, into: &first)
                    indicators.setDetails(at: position, IndicatorDetails(first))
                    if let conflict {
                        parsed.warnings.append(conflict)
                        summary.conflicts += 1
                        summary.warnings += 1
                    }
                } else {
                    indicators.appendEntry(from: candidates, at: candidate, detailsOffset: detailsOffset)
                }
            }
            for (ordinal, count) in countsByType.enumerated() where count > 0 {
                summary.indicatorsByType[IndicatorType.byOrdinal[ordinal]] = count
            }
            errors += parsed.errors
            warnings += parsed.warnings
            summaries.append(summary)
        }
        let digest = Hex.string(hasher.finalize())
        var rules = RuleSet(list: indicators, errors: errors, files: files, digest: digest)
        rules.warnings = warnings
        rules.fileSummaries = summaries
        rules.allowEntries = allowEntries
        rules.origins = origins
        return rules
    }

    /// One rule file as it was read and parsed, and the digest of the files up to it.
    struct ReadFile: Sendable {
        var path: String
        var parsed: ParsedFile
        var detected: RuleFormat
        var streamed: Result<[RuleError], RuleError>
        var digest: SHA256
    }

    /// Merges a later listing of the same indicator into the first (see docs/rules.md,
    /// "Duplicates and conflicts"): the strictest TLP, the highest severity and
    /// confidence, the union of tags, the widest validity window (an open bound wins);
    /// source and description stay the first's unless it has none (every origin is kept
    /// in `RuleSet.origins`). Returns a warning, at the later listing, when severity, confidence,
    /// TLP or validity disagreed.
    static func merge(_ later: Indicator, into first: inout Indicator) -> RuleWarning? {
        var differences: [String] = []
        func describe<T>(_ name: String, _ a: T?, _ b: T?) {
            if let a, let b, "\(a)" != "\(b)" { differences.append("\(name) \(a) there, \(b) here") }
        }
        describe("severity", first.severity, later.severity)
        describe("confidence", first.confidence, later.confidence)
        describe("TLP", first.tlp, later.tlp)
        if first.validFrom != later.validFrom || first.validUntil != later.validUntil {
            differences.append("validity \(window(first)) there, \(window(later)) here")
        }
        let severities = Metadata.severities
        if let severity = later.severity,
           first.severity.map({ (severities.firstIndex(of: $0) ?? 0) < (severities.firstIndex(of: severity) ?? 0) }) ?? true
        {
            first.severity = severity
        }
        if let confidence = later.confidence, confidence > (first.confidence ?? -1) { first.confidence = confidence }
        first.tlp = MISPAttribute.strictestTLP(first.tlp, later.tlp)
        for tag in later.tags where !first.tags.contains(tag) { first.tags.append(tag) }
        if first.source == nil { first.source = later.source }
        if first.description == nil { first.description = later.description }
        first.validFrom = first.validFrom.flatMap { from in later.validFrom.map { min(from, $0) } }
        first.validUntil = first.validUntil.flatMap { until in later.validUntil.map { max(until, $0) } }
        guard !differences.isEmpty else { return nil }
        let merged = [
            first.severity.map { "severity \($0)" }, first.confidence.map { "confidence \($0)" },
            first.tlp.map { "TLP \($0)" }, "validity \(window(first))",
        ].compactMap { $0 }.joined(separator: ", ")
        return RuleWarning(
            file: later.ruleFile, line: later.line,
            message: "\(later.value) is also listed at \(first.ruleFile):\(first.line) with different metadata ("
                + differences.joined(separator: "; ") + "); merged as one indicator: " + merged)
    }

    static func window(_ indicator: Indicator) -> String {
        let from = indicator.validFrom?.iso8601 ?? "open"
        let until = indicator.validUntil?.iso8601 ?? "open"
        return from == "open" && until == "open" ? "unbounded" : "\(from)..\(until)"
    }

    /// Builds the lookup tables, once per run; shared read-only by all readers:
    /// the indicators' tables, the allow entries' tables (for `IndicatorTable.match`) and
    /// the validity windows. O(n log n) in the number of indicators and allow entries.
    /// Indicators whose value does not parse for their type (only possible for hand-built
    /// rule sets) are left out.
    public func compile() -> IndicatorTable {
        IndicatorTable(indicators: indicators, allowEntries: allowEntries)
    }
}

/// What one rule file was read as and what it yielded (for `cairn rules check`).
public struct RuleFileSummary: Sendable, Hashable {
    public var path: String
    public var format: RuleFormat
    /// Indicators read, by type (duplicates included).
    public var indicatorsByType: [IndicatorType: Int] = [:]
    /// Indicators already read earlier in this file or an earlier one.
    public var duplicates = 0
    /// Lines (or entries) refused: each is one error.
    public var errors: Int
    /// Lines skipped or details ignored: each is one warning (conflicts included).
    public var warnings: Int
    /// Whether the file is an allow list (under `allow/`, or a MISP warning list).
    public var isAllowList = false
    /// The allow entries the file yielded (allow lists only).
    public var allowEntries = 0
    /// Duplicates whose metadata disagreed with the first listing (each also a warning).
    public var conflicts = 0

    /// All indicators read from the file (duplicates included).
    public var indicatorCount: Int { indicatorsByType.values.reduce(0, +) }
}

/// Positions of indicators by identity (type, canonical value bytes, subdomain
/// matching), for removing duplicates while loading: an open-addressing table of
/// 8-byte slots (a 32-bit hash tag and a 32-bit position + 1), at most three quarters
/// full (for 10 M indicators 128 MiB; at most half full it took 256 MiB, the largest
/// allocation of the load after the list), compared against the list's bytes on a
/// tag match. Nothing is allocated per
/// indicator and no `Indicator` value is built.
struct IndicatorIndex {
    /// Hash tag << 32 | (position + 1); 0: empty.
    private var slots: [UInt64] = []
    private var count = 0
    /// Where `prepare` leaves the sum of the slots it read.
    private var sink: UInt64 = 0

    /// The position in `list` of an indicator with the identity of `candidates`'s at
    /// `candidate`, if one was recorded; else records `newPosition` (where the caller
    /// appends it to `list`) and returns nil.
    mutating func firstPosition(
        of candidate: Int, in candidates: IndicatorList, newPosition: Int, list: IndicatorList
    ) -> Int? {
        firstPosition(of: candidate, hash: candidates.identityHash(at: candidate), in: candidates,
                      newPosition: newPosition, list: list)
    }

    /// Hashes of up to `size` consecutive candidates, kept inline (no allocation).
    struct Batch {
        static let size = 16
        var hashes = InlineArray<16, UInt64>(repeating: 0)

        subscript(index: Int) -> UInt64 {
            get { hashes[index] }
            set { hashes[index] = newValue }
        }
    }

    /// The hashes of the next `Batch.size` candidates from `first` on, having read
    /// their home slots: the reads do not depend on one another, so the processor
    /// overlaps their cache misses instead of waiting for each in turn (the table of
    /// millions of slots is far larger than the cache).
    mutating func prepare(_ candidates: IndicatorList, from first: Int) -> Batch {
        var batch = Batch()
        let end = min(candidates.count, first + Batch.size)
        guard !slots.isEmpty else { return batch }
        let mask = slots.count - 1
        var touched: UInt64 = 0
        for candidate in first..<end {
            let hash = candidates.identityHash(at: candidate)
            batch[candidate - first] = hash
            touched &+= slots[IndicatorIndex.home(tag: hash >> 32) & mask]
        }
        // Keeps the reads from being optimised away.
        sink = touched
        return batch
    }

    /// Makes room for `total` indicators, so that loading does not grow the table.
    mutating func reserve(_ total: Int) {
        var capacity = max(1024, slots.count)
        while (total + 1) * 4 > capacity * 3 { capacity *= 2 }
        if capacity > slots.count { grow(to: capacity) }
    }

    /// `firstPosition` with the candidate's `identityHash` given.
    mutating func firstPosition(
        of candidate: Int, hash: UInt64, in candidates: IndicatorList, newPosition: Int, list: IndicatorList
    ) -> Int? {
        if (count + 1) * 4 > slots.count * 3 { grow(to: max(1024, slots.count * 2)) }
        let tag = hash >> 32
        let mask = slots.count - 1
        var slot = IndicatorIndex.home(tag: tag) & mask
        while slots[slot] != 0 {
            let entry = slots[slot]
            if entry >> 32 == tag {
                let position = Int(entry & 0xFFFF_FFFF) - 1
                if list.sameIdentity(at: position, as: candidates, at: candidate) { return position }
            }
            slot = (slot + 1) & mask
        }
        // Four billion indicators would not fit in memory; were there more, the rest
        // would simply not be deduplicated.
        guard newPosition + 1 < 1 << 32 else { return nil }
        slots[slot] = tag << 32 | UInt64(newPosition + 1)
        count += 1
        return nil
    }

    /// Rebuilds the table with `capacity` slots (a power of two); an entry's slot is found again from its tag (the slot is the
    /// tag's low bits), so the values need not be hashed again.
    private mutating func grow(to capacity: Int) {
        var newSlots = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for entry in slots where entry != 0 {
            var target = IndicatorIndex.home(tag: entry >> 32) & mask
            while newSlots[target] != 0 { target = (target + 1) & mask }
            newSlots[target] = entry
        }
        slots = newSlots
    }

    @inline(__always)
    static func home(tag: UInt64) -> Int { Int(truncatingIfNeeded: tag) }
}

/// The key form of a URL shared by indicators and observations:
/// `scheme://host[:port]/path?query` with scheme and authority in lower case, the
/// fragment dropped and a missing path made `/`; or the same without `scheme://`.
/// A lookup reads the key in place (`key`), never copying the URL.
enum URLKey {
    /// Where a URL's parts are: the authority starts after `scheme://` (or at 0), the
    /// path (or query) at `pathStart`, and the fragment (or the end) at `end`. When the
    /// path is missing, the key has a `/` before `pathStart`'s byte.
    struct Parts {
        var authority: Int
        var pathStart: Int
        var end: Int
        var insertsSlash: Bool
    }

    /// The parts of `bytes`.
    static func parts(_ bytes: Span<UInt8>) -> Parts {
        var authority = 0
        // A scheme is letters, digits, `+`, `-`, `.` then `://`; look a short way only.
        var index = 0
        while index < bytes.count, index < 32 {
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") {
                if index > 0, index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "/"),
                   bytes[index + 2] == UInt8(ascii: "/")
                {
                    authority = index + 3
                }
                break
            }
            let isSchemeByte = ValueSyntax.isLetter(byte) || ValueSyntax.isDigit(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            if !isSchemeByte { break }
            index += 1
        }
        var end = bytes.count
        var pathStart = end
        var position = authority
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "#") {
                end = position
                if pathStart > end { pathStart = end }
                break
            }
            if pathStart == bytes.count, byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") { pathStart = position }
            position += 1
        }
        pathStart = min(pathStart, end)
        let insertsSlash = pathStart == end || bytes[pathStart] == UInt8(ascii: "?")
        return Parts(authority: authority, pathStart: pathStart, end: end, insertsSlash: insertsSlash)
    }

    /// The key of `bytes` (whose `parts` are `parts`) as a table key, with its scheme or
    /// without it (from the authority on).
    @_lifetime(copy bytes)
    static func key(_ bytes: Span<UInt8>, _ parts: Parts, withScheme: Bool) -> ByteStringTable.Key {
        ByteStringTable.Key(bytes, from: withScheme ? 0 : parts.authority, foldedEnd: parts.pathStart, to: parts.end,
                            insertsSlash: parts.insertsSlash)
    }

    /// The key of a URL as an array (for compiling; lookups use `key`).
    static func normalised(_ url: Span<UInt8>) -> [UInt8] {
        let parts = parts(url)
        var key: [UInt8] = []
        key.reserveCapacity(parts.end + 1)
        for index in 0..<parts.pathStart { key.append(ByteStringTable.lowercased(url[index])) }
        if parts.insertsSlash { key.append(UInt8(ascii: "/")) }
        key.append(span: url.extracting(parts.pathStart..<parts.end))
        return key
    }
}

extension RuleSet: Equatable {}
