import ByteParsing
import Crypto
import Foundation
import Observations
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Compiled rule sets kept on disk, so that a run whose rules have not changed skips
/// parsing and compiling them: a file per (rules, executable) in a cache directory,
/// read back in one read and copied into the arrays the tables use.
///
/// The key is a SHA-256 over the format version, the running executable's SHA-256 (any
/// rebuild invalidates every entry), the public suffix list's bytes, the rule files
/// found (and which are allow lists, and the errors of finding and reading them) and
/// `RuleSet.digest` of their contents. Computing it reads and hashes every rule file,
/// as loading does, but parses nothing.
///
/// File layout: a 64-byte header (magic, format version, key, payload length, payload
/// checksum) then the payload (`CacheWriter`): the rule set's small parts field by
/// field, then the indicator list's and the tables' arrays as raw bytes, each after its
/// count. Every count is checked against the bytes left and every position the tables
/// can return against the number of indicators: a truncated, corrupted or stale file is
/// a miss (rebuilt and rewritten), never a crash.
///
/// Written to a temporary file in the directory and renamed into place, so that a
/// concurrent run sees the old file, the new one or none, never half of one. At most
/// `maximumEntries` files are kept, the least recently used (by modification time,
/// touched on every hit) removed first.
public enum CompiledRuleCache {
    /// What happened to the cache in one `RuleSet.loadCompiled`.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        /// No cache directory: loaded and compiled as `load` and `compile` do.
        case disabled
        /// Rule files smaller than `minimumRuleBytes` in all: loaded and compiled, which
        /// is faster than keying and reading a cache entry.
        case notNeeded
        /// Read from `file`: nothing parsed or compiled.
        case hit(file: String)
        /// Loaded, compiled and written to `file`. `rejected` says why the entry already
        /// there was not used (truncated, corrupted…); nil when there was none.
        case written(file: String, rejected: String?)
        /// Loaded and compiled, but not written (the directory cannot be written, the
        /// rule files changed while they were read…): the run goes on without a cache.
        case notWritten(reason: String)

        /// One line for a run's report.
        public var description: String {
            switch self {
            case .disabled: "compiled rules: no cache"
            case .notNeeded: "compiled rules: too few to need the cache"
            case .hit(let file): "compiled rules: read from the cache (\(file))"
            case .written(let file, nil): "compiled rules: compiled and cached (\(file))"
            case .written(let file, let rejected?):
                "compiled rules: compiled and cached again (\(file)); the cached copy was not usable: \(rejected)"
            case .notWritten(let reason): "compiled rules: compiled, not cached: \(reason)"
            }
        }

        /// Whether the rules came from the cache.
        public var isHit: Bool {
            if case .hit = self { return true }
            return false
        }
    }

    /// Where the time of `RuleSet.loadCompiled` went, in seconds.
    public struct Timing: Sendable, Hashable {
        /// Finding and hashing the rule files, the executable and the public suffix list
        /// (zero without a cache directory).
        public var keying: Double = 0
        /// Everything: keying, then reading the cache file or loading and compiling (and
        /// writing the cache file).
        public var total: Double = 0
    }

    /// Changes whenever the payload's layout or the meaning of a field does.
    static let formatVersion: UInt32 = 1
    /// The first 8 bytes of every cache file.
    static let magic: UInt64 = 0x3153_4552_4E52_4941  // "AIRNRES1" little-endian; any fixed value would do
    static let headerLength = 64
    /// Entries kept in a directory: enough for a few rule sets (or builds) used in
    /// turn, few enough that the directory does not grow to gigabytes.
    public static let maximumEntries = 4
    /// Rule files smaller than this in all are parsed and compiled, not cached: keying
    /// alone (hashing the executable) takes about as long as parsing this much, and
    /// the tables of even a few indicators fill a file of megabytes (fixed-size
    /// filters).
    public static let minimumRuleBytes = 4 << 20
    /// The suffix of cache files (the rest of the name is the key in hex).
    static let fileSuffix = ".cairn-rules"
    static let temporaryPrefix = ".partial-"
    /// A temporary file older than this was left by a run that died while writing.
    static let staleTemporarySeconds: Double = 3600

    // MARK: The key

    /// What identifies the running executable, computed once per process: its GNU build
    /// ID (a digest of its contents the linker writes into a note, read in a few pages)
    /// where it has one, else the SHA-256 of its bytes (hashing the 117 MB release build
    /// took 0.08 s of every start); nil when it cannot be read (then nothing is cached).
    static let executableDigest: String? = {
        #if os(Linux)
        let path = "/proc/self/exe"
        #else
        guard let path = Bundle.main.executablePath else { return nil }
        #endif
        if case .success(let id?) = WholeFile.withBytes(path: path, { buildID(ofELF: $0) }) {
            return "build-id " + Hex.string(id)
        }
        return fileDigest(path)
    }()

    /// The `NT_GNU_BUILD_ID` note of a 64-bit little-endian ELF file, nil when it has none
    /// (or is not such a file).
    static func buildID(ofELF file: Span<UInt8>) -> [UInt8]? {
        /// An offset or size: nil past 2^52, which no file here reaches (and sums stay in range).
        func uint64(_ offset: Int) -> Int? {
            guard let value = file.uint64LittleEndian(at: offset), value < 1 << 52 else { return nil }
            return Int(value)
        }
        guard file.hasPrefix("\u{7F}ELF"), file.uint8(at: 4) == 2, file.uint8(at: 5) == 1,
              let headers = uint64(32), let size = file.uint16LittleEndian(at: 54),
              let count = file.uint16LittleEndian(at: 56)
        else { return nil }
        for index in 0..<Int(count) {
            let header = headers + index * Int(size)
            guard file.uint32LittleEndian(at: header) == 4,  // PT_NOTE
                  let offset = uint64(header + 8), let length = uint64(header + 32)
            else { continue }
            // Notes are padded to 4 bytes, or to 8 in a segment aligned to 8.
            let padding = uint64(header + 48) == 8 ? 7 : 3
            var note = offset
            let end = offset + length
            while note + 12 <= end,
                  let nameSize = file.uint32LittleEndian(at: note).map(Int.init),
                  let descriptionSize = file.uint32LittleEndian(at: note + 4).map(Int.init),
                  let type = file.uint32LittleEndian(at: note + 8)
            {
                let name = note + 12
                let description = name + (nameSize + padding) & ~padding
                let next = description + (descriptionSize + padding) & ~padding
                guard next <= end, next <= file.count else { break }
                if type == 3, nameSize == 4, file.hasPrefix("GNU\0", at: name), descriptionSize >= 8 {
                    return file.extracting(description..<description + descriptionSize).array
                }
                note = next
            }
        }
        return nil
    }

    /// The SHA-256 of a file's bytes, read as every input is (`InputFile`); nil when it
    /// cannot be read.
    static func fileDigest(_ path: String) -> String? {
        guard let file = try? InputFile(path: path), (try? file.drain()) != nil else { return nil }
        return file.sha256Hex
    }

    /// The key of a rule set: everything `RuleSet.load` reads that decides its result.
    static func key(scan: RuleFiles.Scan, executable: String, publicSuffixListPath: String) -> [UInt8] {
        var hasher = SHA256()
        func add(_ text: String) {
            hasher.update(data: Array(String(text.utf8.count).utf8) + [0] + Array(text.utf8))
        }
        add("cairn compiled rules \(formatVersion)")
        add(executable)
        add(publicSuffixListPath)
        if let suffixes = fileDigest(publicSuffixListPath) {
            add("suffixes")
            add(suffixes)
        } else {
            add("no suffixes")
        }
        add(String(scan.files.count))
        for file in scan.files {
            add(file)
            add(scan.allow.contains(file) ? "allow" : "rules")
        }
        for error in scan.walkErrors + scan.readErrors { add(error.description) }
        add(scan.digest)
        return Array(hasher.finalize())
    }

    // MARK: Reading

    enum ReadResult {
        case absent
        case unusable(String)
        case found(RuleSet, IndicatorTable)
    }

    /// The rule set and table in the cache file at `path`, if it holds them for `key`.
    /// `mapped` false reads it with read(2), as when it cannot be mapped (for tests).
    /// Mapped, the file is decoded straight from the page cache: no buffer of its size
    /// to fill with a copy first (a quarter of the load of 2 M indicators); the pages
    /// read are let go of as the checksum and the decoding pass them, so that the file
    /// and the tables decoded from it are not both in memory at once (the peak of an
    /// ingest with the bench's 3.1 M indicators was the 275 MB file plus the tables);
    /// and the indicator list is not decoded at all but left in the file, checked here
    /// and read from it as indicators are sighted (`IndicatorList`'s mapped columns):
    /// an entry is written whole under a temporary name and renamed, never changed in
    /// place, so the bytes checked here stay the bytes read later.
    static func read(_ path: String, key: [UInt8], mapped: Bool = true) -> ReadResult {
        switch WholeFile.withBytes(path: path, mapped: mapped, { decoded($0, key: key, residency: $1) }) {
        case .success(let result): return result
        case .failure(.missing): return .absent
        case .failure(.unreadable(let reason)): return .unusable(reason)
        }
    }

    private static func decoded(_ file: Span<UInt8>, key: [UInt8], residency: WholeFile.Residency) -> ReadResult {
        guard file.count >= headerLength else {
            return .unusable("truncated: \(file.count) bytes, shorter than the header")
        }
        do throws(CacheFileError) {
            let (rules, table) = try decode(file, key: key, mapped: residency.file)
            // The list's checks read its columns again after they were let go of.
            residency.release(0..<file.count)
            return .found(rules, table)
        } catch {
            return .unusable(error.reason)
        }
    }

    /// Checks the header (magic, version, key, length, checksum) and decodes the payload.
    /// With `mapped`, the file `file` lies in, the pages of the payload are let go of as
    /// the checksum and the decoding pass them, and the indicator list is left in it
    /// (see `read`).
    static func decode(
        _ file: Span<UInt8>, key: [UInt8], mapped: MappedFile? = nil
    ) throws(CacheFileError) -> (RuleSet, IndicatorTable) {
        var header = CacheReader(file)
        guard try header.uint64() == magic else { throw CacheFileError("not a compiled rule cache file") }
        let version = try header.uint64()
        guard version == UInt64(formatVersion) else { throw CacheFileError("format version \(version), expected \(formatVersion)") }
        guard try header.bytes(32).elementsEqual(key) else { throw CacheFileError("written for other rules or another build") }
        let length = try header.uint64()
        let checksum = try header.uint64()
        guard length == UInt64(file.count - headerLength) else {
            throw CacheFileError(
                "truncated or extended: the header says \(length) payload bytes, the file has \(file.count - headerLength)")
        }
        let payload = file.extracting(headerLength...)
        let summed = CacheChecksum.of(payload) { mapped?.release(($0.lowerBound + headerLength)..<($0.upperBound + headerLength)) }
        guard summed == checksum else { throw CacheFileError("checksum mismatch (corrupted)") }
        var reader = CacheReader(payload, file: mapped, fileOffset: headerLength)
        let result = try decodePayload(&reader)
        guard reader.remaining == 0 else { throw CacheFileError("\(reader.remaining) bytes after the payload") }
        return result
    }

    static func encodePayload(_ rules: RuleSet, _ table: IndicatorTable, into writer: inout CacheWriter) {
        writer.sequence(rules.errors) { $0.ruleError($1) }
        writer.sequence(rules.warnings) { $0.ruleWarning($1) }
        writer.sequence(rules.files) { $0.string($1) }
        writer.string(rules.digest)
        writer.sequence(rules.fileSummaries) { $0.fileSummary($1) }
        writer.sequence(rules.allowEntries) { $0.allowEntry($1) }
        writer.sequence(rules.origins) {
            $0.int($1.key)
            $0.sequence($1.value) { $0.origin($1) }
        }
        rules.indicators.encode(into: &writer)
        table.encode(into: &writer)
    }

    static func decodePayload(_ reader: inout CacheReader) throws(CacheFileError) -> (RuleSet, IndicatorTable) {
        let errors = try reader.array { r throws(CacheFileError) in try r.ruleError() }
        let warnings = try reader.array { r throws(CacheFileError) in try r.ruleWarning() }
        let files = try reader.array { r throws(CacheFileError) in try r.string() }
        let digest = try reader.string()
        let summaries = try reader.array { r throws(CacheFileError) in try r.fileSummary() }
        let allowEntries = try reader.array { r throws(CacheFileError) in try r.allowEntry() }
        var origins: [Int: [IndicatorOrigin]] = [:]
        for _ in 0..<(try reader.count()) {
            let position = try reader.int()
            origins[position] = try reader.array { r throws(CacheFileError) in try r.origin() }
        }
        let list = try IndicatorList(decoding: &reader)
        guard origins.keys.allSatisfy({ (0..<list.count).contains($0) }) else { throw CacheFileError("origins: bad position") }
        let table = try IndicatorTable(decoding: &reader, indicators: list.count, allowEntries: allowEntries.count)
        var rules = RuleSet(list: list, errors: errors, files: files, digest: digest)
        rules.warnings = warnings
        rules.fileSummaries = summaries
        rules.allowEntries = allowEntries
        rules.origins = origins
        return (rules, table)
    }

    // MARK: Writing

    /// Writes `rules` and `table` under `key` in `directory` (created if need be), then
    /// removes the least recently used entries beyond `maximumEntries`. Returns the
    /// file written, or why nothing was.
    static func write(_ rules: RuleSet, _ table: IndicatorTable, key: [UInt8], directory: String) -> Result<String, CacheFileError> {
        do {
            // Owner only, as the case database: rule files may hold indicators shared
            // under TLP:AMBER or RED, and an entry holds every one of them.
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return .failure(CacheFileError("cannot create \(directory): \((error as NSError).localizedDescription)"))
        }
        let estimate = table.tables.memoryBytes + table.allow.memoryBytes + rules.indicators.count * 24
            + rules.indicators.textCount + (1 << 20)
        var writer = CacheWriter(reservingCapacity: estimate)
        encodePayload(rules, table, into: &writer)
        var header = CacheWriter(reservingCapacity: headerLength)
        header.uint64(magic)
        header.uint64(UInt64(formatVersion))
        header.bytes += key
        header.uint64(UInt64(writer.bytes.count))
        header.uint64(CacheChecksum.of(writer.bytes.span))
        let path = directory + "/" + Hex.string(key) + fileSuffix
        let temporary = directory + "/" + temporaryPrefix + String(getpid()) + "-"
            + String(UInt64.random(in: 0...UInt64.max), radix: 16) + fileSuffix
        // Safe: the path is passed as a NUL-terminated copy valid for the call.
        let descriptor = unsafe open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            return .failure(CacheFileError("cannot write in \(directory): \(SystemError.describe())"))
        }
        var failure: String? = nil
        for part in [header.bytes, writer.bytes] where failure == nil {
            if let code = DescriptorWriting.writeAll(part.span, to: descriptor) {
                failure = "cannot write \(temporary): \(SystemError.describe(code))"
            }
        }
        if close(descriptor) != 0, failure == nil { failure = "cannot write \(temporary): \(SystemError.describe())" }
        // Safe: both paths are passed as NUL-terminated copies valid for the call.
        if failure == nil, unsafe rename(temporary, path) != 0 {
            failure = "cannot rename \(temporary) to \(path): \(SystemError.describe())"
        }
        if let failure {
            // Safe: the path is passed as a NUL-terminated copy valid for the call.
            unsafe unlink(temporary)
            return .failure(CacheFileError(failure))
        }
        prune(directory, keeping: path)
        return .success(path)
    }

    /// Removes the entries beyond `maximumEntries`, least recently used first (never
    /// `keeping`), and temporary files left by runs that died while writing.
    static func prune(_ directory: String, keeping: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var entries: [(path: String, modified: Double)] = []
        let now = Date().timeIntervalSince1970
        for name in names where name.hasSuffix(fileSuffix) {
            let path = directory + "/" + name
            var status = stat()
            // Safe: the path is a NUL-terminated copy valid for the call; stat fills the one struct given.
            guard unsafe stat(path, &status) == 0 else { continue }
            let modified = Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1e9
            if name.hasPrefix(temporaryPrefix) {
                // Safe: the path is passed as a NUL-terminated copy valid for the call.
                if now - modified > staleTemporarySeconds { unsafe unlink(path) }
            } else if path != keeping {
                entries.append((path, modified))
            }
        }
        entries.sort { $0.modified > $1.modified }
        // Safe: each path is passed as a NUL-terminated copy valid for the call.
        for entry in entries.dropFirst(maximumEntries - 1) { unsafe unlink(entry.path) }
    }

    /// Marks a file as just used (its modification time, which `prune` orders by).
    static func touch(_ path: String) {
        // Safe: the path is a NUL-terminated copy valid for the call; no times (nil) means now.
        _ = unsafe utimensat(AT_FDCWD, path, nil, 0)
    }
}

extension RuleSet {
    /// `load(paths:)` then `compile()`, through the compiled rule cache in
    /// `cacheDirectory` (`CompiledRuleCache`): on a hit, the rule set and the table are
    /// read from the cache file (every field equal to what loading gives, errors and
    /// warnings included) without parsing a rule file; on a miss they are loaded,
    /// compiled and written there. With `cacheDirectory` nil, no cache; rule files
    /// under `minimumRuleBytes` in all are loaded and compiled (`.notNeeded`). A cache that
    /// cannot be read or written is never an error of the run: `cache` says what
    /// happened. Keying costs a read and a SHA-256 of every rule file and of the
    /// executable (tens of milliseconds).
    public static func loadCompiled(
        paths: [String], cacheDirectory: String?, minimumRuleBytes: Int = CompiledRuleCache.minimumRuleBytes
    ) -> (rules: RuleSet, table: IndicatorTable, cache: CompiledRuleCache.Outcome, timing: CompiledRuleCache.Timing) {
        loadCompiled(
            paths: paths, cacheDirectory: cacheDirectory, publicSuffixListPath: PublicSuffixList.defaultPath,
            minimumRuleBytes: minimumRuleBytes)
    }

    /// `loadCompiled(paths:cacheDirectory:)` with the public suffix list read from
    /// `publicSuffixListPath` (as `load(paths:publicSuffixListPath:)`).
    public static func loadCompiled(
        paths: [String], cacheDirectory: String?, publicSuffixListPath: String,
        minimumRuleBytes: Int = CompiledRuleCache.minimumRuleBytes
    ) -> (rules: RuleSet, table: IndicatorTable, cache: CompiledRuleCache.Outcome, timing: CompiledRuleCache.Timing) {
        let start = ContinuousClock.now
        var timing = CompiledRuleCache.Timing()
        func seconds() -> Double { (ContinuousClock.now - start).inSeconds }
        /// Loaded and compiled without the cache, for `outcome`'s reason.
        func uncached(_ outcome: CompiledRuleCache.Outcome)
            -> (RuleSet, IndicatorTable, CompiledRuleCache.Outcome, CompiledRuleCache.Timing)
        {
            let rules = load(paths: paths, publicSuffixListPath: publicSuffixListPath)
            let table = rules.compile()
            timing.total = seconds()
            return (rules, table, outcome, timing)
        }
        guard let directory = cacheDirectory else { return uncached(.disabled) }
        let scan = RuleFiles.scan(paths)
        guard scan.bytes >= minimumRuleBytes else { return uncached(.notNeeded) }
        guard let executable = CompiledRuleCache.executableDigest else {
            return uncached(.notWritten(reason: "the running executable cannot be read to key the cache"))
        }
        let key = CompiledRuleCache.key(scan: scan, executable: executable, publicSuffixListPath: publicSuffixListPath)
        timing.keying = seconds()
        let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let path = trimmed + "/" + Hex.string(key) + CompiledRuleCache.fileSuffix
        var rejected: String? = nil
        switch CompiledRuleCache.read(path, key: key) {
        case .found(let rules, let table) where rules.digest == scan.digest:
            CompiledRuleCache.touch(path)
            timing.total = seconds()
            return (rules, table, .hit(file: path), timing)
        case .found:
            rejected = "its rules digest is not the rule files'"
        case .unusable(let reason):
            rejected = reason
        case .absent:
            break
        }
        let rules = load(paths: paths, publicSuffixListPath: publicSuffixListPath)
        let table = rules.compile()
        let outcome: CompiledRuleCache.Outcome
        if rules.digest != scan.digest {
            // The files changed between keying and loading: the key would describe other rules.
            outcome = .notWritten(reason: "the rule files changed while they were read")
        } else {
            switch CompiledRuleCache.write(rules, table, key: key, directory: trimmed) {
            case .success(let file): outcome = .written(file: file, rejected: rejected)
            case .failure(let error):
                outcome = .notWritten(reason: error.reason + (rejected.map { "; the cached copy was not usable: \($0)" } ?? ""))
            }
        }
        timing.total = seconds()
        return (rules, table, outcome, timing)
    }
}
