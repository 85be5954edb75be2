import Foundation

/// The Mozilla public suffix list (<https://publicsuffix.org>), loaded once and shared:
/// which names are suffixes under which anyone can register (`com`, `co.uk`,
/// `*.kawasaki.jp` except `city.kawasaki.jp`, and in the private section `github.io`).
///
/// Rules are kept in one open-addressing hash table keyed by the whole suffix, hashed
/// from its last byte to its first so that the suffixes of a name (`uk`, `co.uk`,
/// `example.co.uk`) are hashed in one right-to-left pass. Every suffix of a rule is in
/// the table (as an inner node when it is not itself a rule), so a lookup stops at the
/// first suffix that no rule ends with. Lookups fold ASCII case, compare the bytes on a
/// hash hit (no false positives), and allocate nothing: O(length of the name).
///
/// Internationalised rules (`рф`, `公司.cn`) are stored in their ASCII form
/// (`xn--p1ai`, `xn--55qx5d.cn`), which is how names appear on the wire and in logs.
public final class PublicSuffixList: Sendable {
    /// Which section of the list a rule comes from.
    public enum Section: Sendable {
        /// Only the ICANN section: suffixes operated by registries (`com`, `co.uk`).
        case icann
        /// Both sections: also suffixes that companies offer to their users (`github.io`).
        case all
    }

    /// The list Debian's `publicsuffix` package installs.
    public static let debianPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    /// The system's list, loaded on first use from `debianPath`; nil when the file is
    /// absent or unreadable (callers then fall back to a syntactic rule).
    public static let system: PublicSuffixList? = try? PublicSuffixList.load(path: debianPath)

    /// Why a list could not be loaded.
    public struct LoadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot load the public suffix list \(path): \(reason)" }
    }

    // Flags of a table entry.
    static let normalICANN: UInt8 = 1
    static let normalPrivate: UInt8 = 2
    static let wildcardICANN: UInt8 = 4
    static let wildcardPrivate: UInt8 = 8
    static let exceptionICANN: UInt8 = 16
    static let exceptionPrivate: UInt8 = 32
    /// A single label that is the last label of an ICANN rule: a delegated top-level domain.
    static let topLevelICANN: UInt8 = 64
    /// A top-level domain that ends an ICANN rule of two or more labels (`co.uk`, `*.ck`,
    /// `!city.kawasaki.jp`), so that a longer name under it may be an ICANN suffix.
    static let deeperICANNRules: UInt8 = 128

    /// What the ICANN section says of a name's last label (see `topLevelDomainRules`).
    public enum TopLevelDomainRules: Sendable, Equatable {
        /// Not a delegated top-level domain (`php`, `6`).
        case notDelegated
        /// A top-level domain with no longer ICANN rule under it (`com`, `de`): a name of
        /// two or more labels under it is never an ICANN public suffix.
        case delegatedAlone
        /// A top-level domain some longer ICANN rules end with (`uk` for `co.uk`).
        case delegatedWithDeeperRules
    }

    struct Entry: Sendable {
        var hash: UInt64
        var offset: UInt32
        var length: UInt16
        var flags: UInt8
    }

    /// Lower-case key bytes, entries point into it.
    private let keys: [UInt8]
    /// Open addressing, linear probing; a power of two long; `length == 0` is empty.
    private let table: [Entry]
    private let mask: Int
    /// One bit per entry, chosen by bits of its hash that `find` does not use for the
    /// slot: a lookup of a suffix no rule ends with (most names looked up, such as
    /// `example.se`) reads a bit of these 16 KiB, which stay in cache, instead of a slot
    /// of the table (half a megabyte and more), which mostly does not.
    private let presence: [UInt64]
    /// Bits in `presence`: with some 10 000 entries, about one lookup in thirteen of an
    /// absent suffix still reaches the table.
    static let presenceBits = 1 << 17
    /// Rules read (ICANN and private), for reports and tests.
    public let ruleCount: Int
    /// Whether every ICANN top-level domain of the list holds an ASCII letter (true of
    /// the real list: `com`, `xn--p1ai`). Scanners use it to rule out a name whose last
    /// label has no letter (`10.0.0.1`, `libc.so.6`) without a lookup.
    public let everyTopLevelDomainHasALetter: Bool

    /// The longest name looked up; longer input is not a domain name (RFC 1035).
    static let maximumNameLength = 253

    /// Parses the list's text format: one rule per line, `//` comments, `*.` wildcards,
    /// `!` exceptions, sections between `===BEGIN ICANN DOMAINS===` and
    /// `===BEGIN PRIVATE DOMAINS===` markers (rules before any marker count as ICANN).
    public init(text: some Collection<UInt8>) {
        var builder = Builder()
        var privateSection = false
        var count = 0
        for rawLine in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            let line = Array(rawLine)
            if line.starts(with: Array("//".utf8)) {
                let comment = String(decoding: line, as: UTF8.self)
                if comment.contains("===BEGIN PRIVATE DOMAINS===") { privateSection = true }
                if comment.contains("===BEGIN ICANN DOMAINS===") { privateSection = false }
                continue
            }
            // The rule is the line's first whitespace-delimited word.
            let word = line.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") }
            guard !word.isEmpty else { continue }
            var rule = String(decoding: word, as: UTF8.self)
            var kind = 0  // 0 normal, 1 wildcard, 2 exception
            if rule.hasPrefix("!") {
                kind = 2
                rule.removeFirst()
            } else if rule.hasPrefix("*.") {
                kind = 1
                rule.removeFirst(2)
            }
            guard let ascii = Punycode.asciiName(rule), !ascii.isEmpty else { continue }
            let flag: UInt8 =
                switch (kind, privateSection) {
                case (0, false): Self.normalICANN
                case (0, true): Self.normalPrivate
                case (1, false): Self.wildcardICANN
                case (1, true): Self.wildcardPrivate
                case (2, false): Self.exceptionICANN
                default: Self.exceptionPrivate
                }
            builder.add(ascii, flag: flag, topLevel: !privateSection)
            if !privateSection, ascii.contains(UInt8(ascii: ".")) {
                // The rule's last label: longer ICANN rules end with it.
                builder.markDeeperRules(under: ascii.split(separator: UInt8(ascii: ".")).last ?? [])
            }
            count += 1
        }
        (keys, table) = builder.finish()
        mask = table.count - 1
        var presence = [UInt64](repeating: 0, count: Self.presenceBits / 64)
        for entry in table where entry.length > 0 {
            let bit = Self.presenceBit(entry.hash)
            presence[bit >> 6] |= 1 << UInt64(bit & 63)
        }
        self.presence = presence
        ruleCount = count
        var allHaveLetters = true
        for entry in table where entry.length > 0 && entry.flags & Self.topLevelICANN != 0 {
            let label = keys[Int(entry.offset)..<Int(entry.offset) + Int(entry.length)]
            if !label.contains(where: { ($0 | 0x20) &- 97 < 26 }) { allHaveLetters = false }
        }
        everyTopLevelDomainHasALetter = allHaveLetters
    }

    /// Loads the list from a file in the list's text format.
    public static func load(path: String) throws -> PublicSuffixList {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(path: path, reason: "the file is missing or unreadable")
        }
        let list = PublicSuffixList(text: data)
        guard list.ruleCount > 0 else { throw LoadError(path: path, reason: "the file holds no rules") }
        return list
    }

    /// Whether the last label of `bytes` is a top-level domain of the ICANN section
    /// (`com`, `uk`, `xn--p1ai`; not `php`, `so`-less `6`, `exe`). ASCII case folded.
    public func hasKnownTopLevelDomain(_ bytes: Span<UInt8>) -> Bool {
        var start = bytes.count
        while start > 0, bytes[start - 1] != UInt8(ascii: ".") { start -= 1 }
        guard start < bytes.count, bytes.count - start <= 63 else { return false }
        var hash = Self.seed
        for index in (start..<bytes.count).reversed() { hash = Self.mix(hash, bytes[index]) }
        guard let entry = find(hash: hash, bytes, start..<bytes.count) else { return false }
        return entry.flags & Self.topLevelICANN != 0
    }

    /// What the ICANN section says of the last label of `bytes`: `notDelegated` exactly
    /// when `hasKnownTopLevelDomain` is false; otherwise whether longer ICANN rules end
    /// with it, so that for a name of two or more labels without empty ones
    /// `isPublicSuffix(bytes, section: .icann)` is false without looking further when
    /// the answer is `delegatedAlone` (no ICANN flag can be met past the last label).
    /// One hash probe; ASCII case folded.
    public func topLevelDomainRules(_ bytes: Span<UInt8>) -> TopLevelDomainRules {
        var start = bytes.count
        while start > 0, bytes[start - 1] != UInt8(ascii: ".") { start -= 1 }
        guard start < bytes.count, bytes.count - start <= 63 else { return .notDelegated }
        var hash = Self.seed
        for index in (start..<bytes.count).reversed() { hash = Self.mix(hash, bytes[index]) }
        guard let entry = find(hash: hash, bytes, start..<bytes.count), entry.flags & Self.topLevelICANN != 0 else {
            return .notDelegated
        }
        // A wildcard (`*.ck`) is stored on the top-level domain itself, as `ck`.
        let deeper = entry.flags & (Self.deeperICANNRules | Self.wildcardICANN) != 0
        return deeper ? .delegatedWithDeeperRules : .delegatedAlone
    }

    /// Whether `bytes` (a domain name, labels joined by `.`, no trailing dot) is itself a
    /// public suffix under `section`'s rules, e.g. `com`, `co.uk`, `foo.kawasaki.jp`.
    /// A single label is always one (the list's implicit `*` rule).
    public func isPublicSuffix(_ bytes: Span<UInt8>, section: Section = .all) -> Bool {
        guard let suffix = publicSuffixLength(bytes, section: section) else { return false }
        return suffix == bytes.count
    }

    /// The length in bytes of the registrable domain at the end of `bytes`: the public
    /// suffix and one more label (`example.co.uk` in `www.example.co.uk`); nil when the
    /// name is a public suffix itself or is not a well-formed name.
    public func registrableDomainLength(_ bytes: Span<UInt8>, section: Section = .all) -> Int? {
        guard let suffix = publicSuffixLength(bytes, section: section), suffix < bytes.count else { return nil }
        // bytes[count - suffix - 1] is the dot before the suffix.
        var start = bytes.count - suffix - 1
        while start > 0, bytes[start - 1] != UInt8(ascii: ".") { start -= 1 }
        return bytes.count - start
    }

    /// The length in bytes of the public suffix at the end of `bytes` (the prevailing
    /// rule of the list's algorithm); nil when `bytes` is empty, too long, or has an
    /// empty label.
    public func publicSuffixLength(_ bytes: Span<UInt8>, section: Section = .all) -> Int? {
        let count = bytes.count
        guard count > 0, count <= Self.maximumNameLength else { return nil }
        let normal = section == .icann ? Self.normalICANN : Self.normalICANN | Self.normalPrivate
        let wildcard = section == .icann ? Self.wildcardICANN : Self.wildcardICANN | Self.wildcardPrivate
        let exception = section == .icann ? Self.exceptionICANN : Self.exceptionICANN | Self.exceptionPrivate
        // The implicit "*" rule makes the last label a public suffix; longer rules win.
        var best = 0
        var previousFlags: UInt8 = 0
        var hash = Self.seed
        var end = count
        while true {
            // The next label to the left: labelStart..<end.
            var labelStart = end
            while labelStart > 0, bytes[labelStart - 1] != UInt8(ascii: ".") { labelStart -= 1 }
            guard labelStart < end else { return nil }  // an empty label
            let previousLength = count - end - (end < count ? 1 : 0)
            if end < count { hash = Self.mix(hash, UInt8(ascii: ".")) }
            for position in (labelStart..<end).reversed() { hash = Self.mix(hash, bytes[position]) }
            let length = count - labelStart
            let entry = find(hash: hash, bytes, labelStart..<count)
            // An exception prevails: its suffix minus its first label.
            if let entry, entry.flags & exception != 0 { return previousLength }
            if best == 0 || previousFlags & wildcard != 0 || (entry?.flags ?? 0) & normal != 0 { best = length }
            // No rule ends with this suffix, so none ends with a longer one.
            guard let entry, labelStart > 0 else { return best }
            previousFlags = entry.flags
            end = labelStart - 1
        }
    }

    // MARK: - Hashing and probing

    static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

    /// FNV-1a step on the ASCII-lower-cased byte.
    @inline(__always)
    static func mix(_ hash: UInt64, _ byte: UInt8) -> UInt64 {
        let folded = byte &- 65 < 26 ? byte | 0x20 : byte
        return (hash ^ UInt64(folded)) &* 0x0000_0100_0000_01b3
    }

    /// The bit of `presence` for an entry with this hash (its top bits; the slot comes
    /// from the low ones).
    @inline(__always)
    static func presenceBit(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 47) & (presenceBits - 1) }

    /// The probe ends: the table is at most half full, so an empty slot always follows.
    private func find(hash: UInt64, _ bytes: Span<UInt8>, _ range: Range<Int>) -> Entry? {
        let bit = Self.presenceBit(hash)
        guard presence[bit >> 6] & 1 << UInt64(bit & 63) != 0 else { return nil }
        var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
        while true {
            let entry = table[slot]
            if entry.length == 0 { return nil }
            if entry.hash == hash, Int(entry.length) == range.count, matches(entry, bytes, range) { return entry }
            slot = (slot + 1) & mask
        }
    }

    private func matches(_ entry: Entry, _ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        var keyIndex = Int(entry.offset)
        for index in range {
            let byte = bytes[index]
            let folded = byte &- 65 < 26 ? byte | 0x20 : byte
            if keys[keyIndex] != folded { return false }
            keyIndex += 1
        }
        return true
    }

    /// Collects rules and every suffix of them, then lays out the table.
    private struct Builder {
        var keys: [UInt8] = []
        var entries: [Entry] = []
        var index: [ArraySlice<UInt8>: Int] = [:]

        mutating func add(_ rule: [UInt8], flag: UInt8, topLevel: Bool) {
            let lowered = rule.map { $0 &- 65 < 26 ? $0 | 0x20 : $0 }
            // Every suffix that starts after a dot, shortest first.
            var start = lowered.count
            while true {
                while start > 0, lowered[start - 1] != UInt8(ascii: ".") { start -= 1 }
                let suffix = lowered[start...]
                let isWhole = start == 0
                let isLast = !suffix.contains(UInt8(ascii: "."))
                var flags: UInt8 = isWhole ? flag : 0
                if topLevel, isLast { flags |= PublicSuffixList.topLevelICANN }
                if let position = index[suffix] {
                    entries[position].flags |= flags
                } else if !suffix.isEmpty, suffix.count <= Int(UInt16.max) {
                    var hash = PublicSuffixList.seed
                    for byte in suffix.reversed() { hash = PublicSuffixList.mix(hash, byte) }
                    index[suffix] = entries.count
                    entries.append(Entry(hash: hash, offset: UInt32(keys.count), length: UInt16(suffix.count), flags: flags))
                    keys.append(contentsOf: suffix)
                }
                if start == 0 { break }
                start -= 1
            }
        }

        /// Flags the top-level domain `label` (already added) as ending a longer ICANN rule.
        mutating func markDeeperRules(under label: ArraySlice<UInt8>) {
            let lowered = ArraySlice(label.map { $0 &- 65 < 26 ? $0 | 0x20 : $0 })
            if let position = index[lowered] { entries[position].flags |= PublicSuffixList.deeperICANNRules }
        }

        func finish() -> ([UInt8], [Entry]) {
            var capacity = 16
            while capacity < entries.count * 2 { capacity <<= 1 }
            var table = Array(repeating: Entry(hash: 0, offset: 0, length: 0, flags: 0), count: capacity)
            for entry in entries {
                var slot = Int(truncatingIfNeeded: entry.hash ^ (entry.hash >> 29)) & (capacity - 1)
                while table[slot].length != 0 { slot = (slot + 1) & (capacity - 1) }
                table[slot] = entry
            }
            return (keys, table)
        }
    }
}

/// RFC 3492 Punycode, encoding only, for the list's internationalised rules.
enum Punycode {
    /// `name` with every non-ASCII label replaced by `xn--` and its Punycode; nil when a
    /// label cannot be encoded.
    static func asciiName(_ name: String) -> [UInt8]? {
        var result: [UInt8] = []
        for (position, label) in name.split(separator: ".", omittingEmptySubsequences: false).enumerated() {
            if position > 0 { result.append(UInt8(ascii: ".")) }
            let scalars = Array(label.unicodeScalars)
            if scalars.allSatisfy(\.isASCII) {
                result.append(contentsOf: label.utf8)
            } else {
                guard let encoded = encode(scalars.map(\.value)) else { return nil }
                result.append(contentsOf: "xn--".utf8)
                result.append(contentsOf: encoded)
            }
        }
        return result
    }

    static func encode(_ input: [UInt32]) -> [UInt8]? {
        let base: UInt32 = 36, tMin: UInt32 = 1, tMax: UInt32 = 26, skew: UInt32 = 38, damp: UInt32 = 700
        func digit(_ value: UInt32) -> UInt8 { UInt8(value < 26 ? value + 97 : value - 26 + 48) }
        func adapt(_ delta: UInt32, _ points: UInt32, _ first: Bool) -> UInt32 {
            var delta = first ? delta / damp : delta / 2
            delta += delta / points
            var k: UInt32 = 0
            while delta > ((base - tMin) * tMax) / 2 {
                delta /= base - tMin
                k += base
            }
            return k + (base - tMin + 1) * delta / (delta + skew)
        }
        var output: [UInt8] = input.filter { $0 < 0x80 }.map { UInt8($0) }
        let basicCount = UInt32(output.count)
        if basicCount > 0 { output.append(UInt8(ascii: "-")) }
        var n: UInt32 = 0x80
        var delta: UInt32 = 0
        var bias: UInt32 = 72
        var handled = basicCount
        while handled < UInt32(input.count) {
            guard let m = input.filter({ $0 >= n }).min() else { return nil }
            let (product, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += product
            n = m
            for c in input {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return output
    }
}
