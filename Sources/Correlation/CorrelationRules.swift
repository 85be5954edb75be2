import ByteParsing
import Foundation
import Observations

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The correlation rules of `Rules/correlation/`: base rules (which events count) and
/// correlation rules (how many, grouped how, within what timespan), loaded from
/// multi-document YAML files in Sigma's vocabulary. Immutable once loaded and
/// `Sendable`: one value is shared by every reader (for `baseRules(matchingLine:program:)`)
/// and by the correlation pass (`evaluate(events:)`). docs/correlation.md is the reference.
public struct CorrelationRules: Sendable {
    /// Every base rule that loaded without error, in file order (files sorted bytewise).
    public private(set) var baseRules: [BaseRule]
    /// Every correlation rule that loaded without error, in file order.
    public private(set) var correlations: [CorrelationRule]
    /// Indices into `baseRules` of the log-line base rules, with their needles.
    private var lineRules: [(index: Int, selection: BaseRule.LineSelection)]

    /// No rules.
    public init() {
        baseRules = []
        correlations = []
        lineRules = []
    }

    /// Whether any base rule selects log lines (if not, the ingest need not call
    /// `baseRules(matchingLine:program:)` at all).
    public var hasLineRules: Bool { !lineRules.isEmpty }

    // MARK: Loading

    /// The rules of every `*.yml` and `*.yaml` file directly in `directory` (hidden files
    /// skipped), read in bytewise order of their names, with every problem found. A
    /// document with an error yields no rule; other documents and files still load.
    /// A missing directory is a diagnostic at line 0.
    public static func load(directory: String) -> (rules: CorrelationRules, diagnostics: [RuleDiagnostic]) {
        guard let files = ruleFiles(in: directory) else {
            return (CorrelationRules(), [RuleDiagnostic(file: directory, line: 0, column: 0, message: "cannot list directory")])
        }
        return load(files: files)
    }

    /// The paths of the `*.yml` and `*.yaml` files directly in `directory`, hidden files
    /// skipped, in bytewise order of their names; nil when it cannot be listed.
    static func ruleFiles(in directory: String) -> [String]? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        return names
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yml") || $0.hasSuffix(".yaml")) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { directory.hasSuffix("/") ? directory + $0 : directory + "/" + $0 }
    }

    /// The rules of the given files, in the order given.
    public static func load(files: [String]) -> (rules: CorrelationRules, diagnostics: [RuleDiagnostic]) {
        var texts: [(file: String, text: String)] = []
        var diagnostics: [RuleDiagnostic] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                diagnostics.append(RuleDiagnostic(file: file, line: 0, column: 0, message: "cannot read file"))
                continue
            }
            guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
                diagnostics.append(RuleDiagnostic(file: file, line: 1, column: 1, message: "not UTF-8 text"))
                continue
            }
            texts.append((file, text))
        }
        let (rules, more) = load(texts: texts)
        return (rules, diagnostics + more)
    }

    /// The rules of one file's text; `file` is the name diagnostics give.
    public static func load(text: String, file: String) -> (rules: CorrelationRules, diagnostics: [RuleDiagnostic]) {
        load(texts: [(file, text)])
    }

    /// The rules of several files' texts. Base rules are collected from all files first,
    /// so a correlation rule may reference a base rule of another file.
    public static func load(texts: [(file: String, text: String)]) -> (rules: CorrelationRules, diagnostics: [RuleDiagnostic]) {
        var diagnostics: [RuleDiagnostic] = []
        var documents: [ParsedDocument] = []
        for (file, text) in texts {
            var parser = RuleFileParser(file: file)
            parser.parse(text: text)
            diagnostics += parser.diagnostics
            documents += parser.documents
        }
        // Names of base rules whose documents failed are still known, so a reference to
        // one says so rather than "unknown".
        var failedNames: Set<String> = []
        for (file, text) in texts {
            failedNames.formUnion(RuleFileParser.failedBaseNames(text: text, file: file, diagnostics: diagnostics))
        }

        var rules = CorrelationRules()
        var indexByName: [String: Int] = [:]
        for case .base(let rule, let position) in documents {
            if let existing = indexByName[rule.name] {
                let first = rules.baseRules[existing]
                diagnostics.append(RuleDiagnostic(
                    file: rule.file, line: position.line, column: position.column,
                    message: "base rule `\(rule.name)` is already defined at \(first.file):\(first.line)"))
                continue
            }
            indexByName[rule.name] = rules.baseRules.count
            if case .logLine(let selection) = rule.selection {
                rules.lineRules.append((rules.baseRules.count, selection))
            }
            rules.baseRules.append(rule)
        }
        var ids: [String: CorrelationRule] = [:]
        for case .correlation(let pending) in documents {
            var rule = pending.rule
            var resolved = true
            for (name, position) in pending.references {
                if let index = indexByName[name] {
                    if rule.baseRuleIndices.contains(index) {
                        diagnostics.append(RuleDiagnostic(
                            file: rule.file, line: position.line, column: position.column,
                            message: "rule `\(name)` is listed twice"))
                        resolved = false
                    }
                    rule.baseRuleIndices.append(index)
                } else {
                    let why = failedNames.contains(name)
                        ? "base rule `\(name)` has errors (see above)"
                        : "unknown rule `\(name)`: no base rule has this name"
                    diagnostics.append(RuleDiagnostic(file: rule.file, line: position.line, column: position.column, message: why))
                    resolved = false
                }
            }
            if let existing = ids[rule.id] {
                diagnostics.append(RuleDiagnostic(
                    file: rule.file, line: pending.idPosition.line, column: pending.idPosition.column,
                    message: "correlation id `\(rule.id)` is already used at \(existing.file):\(existing.line)"))
                resolved = false
            }
            guard resolved else { continue }
            ids[rule.id] = rule
            rules.correlations.append(rule)
        }
        diagnostics.sort { ($0.file.utf8.lexicographicallyPrecedes($1.file.utf8)) || ($0.file == $1.file && ($0.line, $0.column) < ($1.line, $1.column)) }
        return (rules, diagnostics)
    }

    // MARK: Log lines

    /// The log-line base rules that select `line` (indices into `baseRules`, ascending):
    /// those with a `message|contains` string found in `line` and, when they name
    /// programs, whose program is `program`. `program` is the syslog tag as written
    /// (`sshd[812]:`, `sshd:` or `sshd`); the part before `[` or `:` is compared. Pass
    /// the whole line (or just its message). Allocates nothing when no rule matches,
    /// which is almost always; O(line length × strings) (`Span.contains`).
    public func baseRules(matchingLine line: Span<UInt8>, program: Span<UInt8>? = nil) -> [Int] {
        var matched: [Int] = []
        guard !lineRules.isEmpty, !line.isEmpty else { return matched }
        for (index, selection) in lineRules {
            if !selection.programs.isEmpty {
                guard let program else { continue }
                let name = CorrelationRules.programName(program)
                guard selection.programs.contains(where: { name.elementsEqual($0) }) else { continue }
            }
            // `needle` is non-empty: the parser rejects empty strings.
            if selection.contains.contains(where: { line.contains($0.span) }) { matched.append(index) }
        }
        return matched
    }

    /// The convenience twin of `baseRules(matchingLine:program:)` for text.
    public func baseRules(matchingLine line: String, program: String? = nil) -> [Int] {
        let lineBytes = Array(line.utf8)
        guard let program else { return baseRules(matchingLine: lineBytes.span, program: nil) }
        let programBytes = Array(program.utf8)
        return baseRules(matchingLine: lineBytes.span, program: programBytes.span)
    }

    /// The program name of a syslog tag: the bytes before the first `[` or `:`.
    @_lifetime(copy tag)
    public static func programName(_ tag: Span<UInt8>) -> Span<UInt8> {
        var end = 0
        while end < tag.count, tag[end] != UInt8(ascii: "["), tag[end] != UInt8(ascii: ":") { end += 1 }
        return tag.extracting(0..<end)
    }

    // MARK: Sightings

    /// The base rules that select `event` (indices into `baseRules`, ascending): for a
    /// sighting, the sighting base rules whose selection accepts it; for a log line, the
    /// rules it carries.
    public func baseRules(matching event: CorrelationEvent) -> [Int] {
        switch event.payload {
        case .logLine(let line):
            return line.baseRules.filter { $0 >= 0 && $0 < baseRules.count }.sorted()
        case .sighting(let sighting):
            var matched: [Int] = []
            for (index, rule) in baseRules.enumerated() {
                if case .sighting(let selection) = rule.selection, selection.matches(sighting) { matched.append(index) }
            }
            return matched
        }
    }
}

extension RuleFileParser {
    /// The `name` of each base-rule document of `text` that produced a diagnostic: so
    /// that a reference to it says it has errors. Best effort (the name must parse).
    static func failedBaseNames(text: String, file: String, diagnostics: [RuleDiagnostic]) -> Set<String> {
        let own = diagnostics.filter { $0.file == file }
        guard !own.isEmpty else { return [] }
        var names: Set<String> = []
        let chunks = documentChunks(text)
        for (position, chunk) in chunks.enumerated() {
            let endLine = position + 1 < chunks.count ? chunks[position + 1].lineOffset : Int.max
            guard own.contains(where: { $0.line > chunk.lineOffset && $0.line <= endLine }) else { continue }
            // A plain `name: x` line at the top level, without parsing YAML again.
            for line in chunk.text.split(separator: "\n") where line.hasPrefix("name:") {
                let value = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                names.insert(value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")))
            }
        }
        return names
    }
}

/// Where correlation rules are found: the `correlation` directory of each rules
/// directory (`Rules/correlation/*.yml`), and `.yml`/`.yaml` files named directly.
public enum CorrelationRuleFiles {
    public static let directoryName = "correlation"

    /// The correlation rules of the given rule paths (as `--rules` takes them), with
    /// the directories they came from and every diagnostic.
    public static func load(rulePaths: [String]) -> (
        rules: CorrelationRules, diagnostics: [RuleDiagnostic], directories: [String]
    ) {
        var files: [String] = []
        var directories: [String] = []
        for path in rulePaths {
            guard let kind = FileKind(of: path) else { continue }
            if kind == .directory {
                let directory = (path.hasSuffix("/") ? String(path.dropLast()) : path) + "/" + directoryName
                guard FileKind(of: directory) == .directory,
                      let found = CorrelationRules.ruleFiles(in: directory)
                else { continue }
                directories.append(directory)
                files += found
            } else if path.hasSuffix(".yml") || path.hasSuffix(".yaml") {
                files.append(path)
            }
        }
        let (rules, diagnostics) = CorrelationRules.load(files: files)
        return (rules, diagnostics, directories)
    }
}
