/// The format of a rule file, detected from its content (never its name).
public enum RuleFormat: String, Sendable, Hashable, CaseIterable {
    /// One indicator per line (see docs/rules.md).
    case plainList = "plain list"
    /// Not a rule file: binary, or JSON that is not a STIX bundle. One error for the file.
    case unrecognised = "not a rule file"

    /// Detects the format from the first bytes of a file.
    static func detect(_ bytes: [UInt8]) -> RuleFormat {
        .plainList
    }

    /// Reads a file of this format.
    func parse(_ bytes: [UInt8], path: String, suffixes: PublicSuffixList) -> ParsedFile {
        switch self {
        case .plainList: PlainListParser.parse(file: bytes, path: path, suffixes: suffixes)
        case .unrecognised: ParsedFile()
        }
    }
}
