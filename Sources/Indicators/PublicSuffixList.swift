import Foundation

/// The public suffix list (publicsuffix.org), as Debian's `publicsuffix` package
/// installs it: names under which anyone can register (`com`, `co.uk`, `github.io`).
/// A domain indicator that is itself a public suffix would match a whole registry, so
/// it is refused.
///
/// Both the ICANN and the private sections are used. Rules: `name` (a suffix),
/// `*.name` (every direct child of `name` is a suffix), `!name` (an exception to a
/// wildcard: not a suffix). Rules in Unicode are converted to punycode, since
/// indicators are ASCII. Any single label is a suffix (the list's implicit `*` rule),
/// even when the list is absent.
public struct PublicSuffixList: Sendable {
    /// Where Debian's `publicsuffix` package puts the list.
    public static let defaultPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    /// The list at `defaultPath`, read once; nil when it is absent or unreadable.
    public static let system: PublicSuffixList? = PublicSuffixList(path: defaultPath)

    /// Which section a rule came from, for the message that refuses it.
    enum Section: Sendable { case icann, privateDomains }

    private var rules: [String: Section] = [:]
    private var wildcards: [String: Section] = [:]
    private var exceptions: Set<String> = []

    /// The number of rules read (all three kinds).
    public var count: Int { rules.count + wildcards.count + exceptions.count }

    /// A list with no rules: only single labels are suffixes.
    public init() {}

    /// Reads the list at `path`; nil when it cannot be read.
    public init?(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        self.init(text: String(decoding: data, as: UTF8.self))
    }

    /// Parses the list's text (comments `//`, one rule per line, the first
    /// whitespace-separated word of a line).
    public init(text: String) {
        var section = Section.icann
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("//") {
                if line.contains("===BEGIN PRIVATE DOMAINS===") { section = .privateDomains }
                if line.contains("===BEGIN ICANN DOMAINS===") { section = .icann }
                continue
            }
            guard let word = line.split(separator: " ").first, !word.isEmpty else { continue }
            var rule = String(word).lowercased()
            if rule.hasPrefix("!") {
                rule.removeFirst()
                if let ascii = Punycode.domainToASCII(rule) { exceptions.insert(ascii) }
            } else if rule.hasPrefix("*.") {
                rule.removeFirst(2)
                if let ascii = Punycode.domainToASCII(rule) { wildcards[ascii] = section }
            } else if let ascii = Punycode.domainToASCII(rule) {
                rules[ascii] = section
            }
        }
    }

    /// The section whose rule makes `name` (lower case, ASCII, no trailing dot) a
    /// public suffix, or nil when it is not one. Single labels are `.icann`.
    func section(of name: String) -> Section? {
        if exceptions.contains(name) { return nil }
        if let section = rules[name] { return section }
        guard let dot = name.firstIndex(of: ".") else { return .icann }
        if let section = wildcards[String(name[name.index(after: dot)...])] { return section }
        return nil
    }

    /// Whether `name` (lower case, ASCII, no trailing dot) is a public suffix.
    public func isPublicSuffix(_ name: String) -> Bool { section(of: name) != nil }
}

/// RFC 3492 punycode, encoding only: enough to bring the Unicode rules of the public
/// suffix list to the `xn--` form indicators use.
enum Punycode {
    /// Each label that is not ASCII becomes `xn--` + its punycode; nil on overflow.
    static func domainToASCII(_ name: String) -> String? {
        var labels: [String] = []
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.unicodeScalars.allSatisfy(\.isASCII) {
                labels.append(String(label))
            } else {
                guard let encoded = encode(Array(label.unicodeScalars.map(\.value))) else { return nil }
                labels.append("xn--" + encoded)
            }
        }
        return labels.joined(separator: ".")
    }

    private static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 128

    private static func digit(_ value: Int) -> Character {
        // 0-25 are a-z, 26-35 are 0-9; `value` is always in 0..<36 here.
        Character(UnicodeScalar(UInt8(value < 26 ? 97 + value : 22 + value)))
    }

    private static func adapt(_ delta: Int, _ count: Int, _ first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / count
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    static func encode(_ input: [UInt32]) -> String? {
        var output = ""
        for scalar in input where scalar < 128 { output.append(Character(UnicodeScalar(UInt8(scalar)))) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append("-") }
        var n = initialN, delta = 0, bias = initialBias
        while handled < input.count {
            guard let m = input.map(Int.init).filter({ $0 >= n }).min() else { return nil }
            let (product, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += product
            n = m
            for scalar in input.map(Int.init) {
                if scalar < n { delta += 1 }
                if scalar == n {
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
