import Observations

/// The public suffix checks a domain indicator needs, on top of Observations'
/// `PublicSuffixList` (the one list both rule files and log scanning use). A domain
/// indicator that is itself a public suffix (`com`, `co.uk`, `github.io`) would match a
/// whole registry, so it is refused, naming the section of the list that says so.
extension PublicSuffixList {
    /// Where Debian's `publicsuffix` package puts the list.
    static let defaultPath = debianPath

    /// A list with no rules: only single labels are suffixes (the list's implicit `*`).
    static let empty = PublicSuffixList(text: [UInt8]())

    /// Reads the list at `path`; nil when it cannot be read.
    static func read(path: String) -> PublicSuffixList? { try? load(path: path) }

    /// Which part of the list makes a name a public suffix, for the message refusing it.
    enum Rule: Sendable { case icann, privateDomains }

    /// The part of the list whose rule makes `name` (lower case, ASCII, no trailing dot)
    /// a public suffix, or nil when it is not one. Single labels are `.icann`.
    func rule(for name: String) -> Rule? {
        let bytes = name.utf8.span
        if isPublicSuffix(bytes, section: .icann) { return .icann }
        if isPublicSuffix(bytes, section: .all) { return .privateDomains }
        return nil
    }

    /// Whether `name` (lower case, ASCII, no trailing dot) is a public suffix.
    func isPublicSuffix(_ name: String) -> Bool { rule(for: name) != nil }
}
