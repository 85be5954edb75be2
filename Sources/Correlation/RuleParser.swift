import Foundation
import Observations
import Yams

/// One document of a rule file as parsed, before base-rule names are resolved.
enum ParsedDocument {
    case base(BaseRule, nameMark: Position)
    case correlation(PendingCorrelation)
}

/// A 1-based line and column in a file.
struct Position: Hashable {
    var line: Int
    var column: Int
}

/// A correlation rule whose `rules` still name base rules.
struct PendingCorrelation {
    var rule: CorrelationRule
    /// Each referenced name with the position of its scalar.
    var references: [(name: String, position: Position)]
    var idPosition: Position
}

/// Turns the text of one rule file into documents and diagnostics. A document with any
/// error yields no rule; the other documents of the file are parsed on their own, so a
/// YAML syntax error loses only its own document.
struct RuleFileParser {
    let file: String
    private(set) var diagnostics: [RuleDiagnostic] = []
    private(set) var documents: [ParsedDocument] = []

    /// The keys Sigma rules carry as information; accepted and not used.
    static let informationKeys: Set<String> = [
        "description", "author", "date", "modified", "references", "tags", "status", "falsepositives", "license",
    ]
    static let indicatorTypes = ["ipv4", "ipv6", "cidr", "domain", "md5", "sha1", "sha256", "url", "email"]

    init(file: String) { self.file = file }

    mutating func parse(text: String) {
        for chunk in RuleFileParser.documentChunks(text) {
            parseDocument(chunk.text, lineOffset: chunk.lineOffset)
        }
    }

    /// Splits at document markers (`---` at the start of a line), keeping each chunk's
    /// line offset. YAML forbids `---` at column 1 inside a document, so this is exact.
    static func documentChunks(_ text: String) -> [(text: String, lineOffset: Int)] {
        var chunks: [(text: String, lineOffset: Int)] = []
        var current: [Substring] = []
        var start = 0
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let isMarker = line.hasPrefix("---")
                && (line.count == 3 || line.dropFirst(3).first.map { $0 == " " || $0 == "\t" || $0 == "\r" } == true)
            if isMarker, !current.isEmpty {
                chunks.append((current.joined(separator: "\n"), start))
                current = []
                start = index
            }
            current.append(line)
        }
        if !current.isEmpty { chunks.append((current.joined(separator: "\n"), start)) }
        return chunks
    }

    // MARK: Documents

    private mutating func parseDocument(_ text: String, lineOffset: Int) {
        var context = DocumentContext(file: file, lineOffset: lineOffset)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        context.lastLine = (lines.count, (lines.last?.unicodeScalars.count ?? 0) + 1)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            diagnostics.append(context.syntaxDiagnostic(error))
            return
        } catch {
            diagnostics.append(context.diagnostic(at: Position(line: lineOffset + 1, column: 1), "\(error)"))
            return
        }
        guard let root else { return }  // only comments or blank lines
        if case .scalar(let scalar) = root, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            return
        }
        guard let mapping = root.mapping else {
            context.error(at: root, "a rule document must be a mapping of keys to values")
            diagnostics += context.diagnostics
            return
        }
        let document: ParsedDocument?
        if mapping["correlation"] != nil {
            document = context.correlationRule(mapping, node: root).map(ParsedDocument.correlation)
        } else if mapping["selection"] != nil {
            document = context.baseRule(mapping, node: root).map { ParsedDocument.base($0.0, nameMark: $0.1) }
        } else {
            context.error(at: root, "a document needs `selection` (a base rule) or `correlation` (a correlation rule)")
            document = nil
        }
        if context.diagnostics.isEmpty, let document {
            documents.append(document)
        }
        diagnostics += context.diagnostics
    }
}

/// The checks of one document, collecting its diagnostics.
private struct DocumentContext {
    let file: String
    let lineOffset: Int
    var diagnostics: [RuleDiagnostic] = []
    /// The document's last line (1-based within the document) and the column after its
    /// end: where a syntax error found at the end of the input is reported, rather than
    /// on the next document's `---`.
    var lastLine = (line: 1, endColumn: 1)

    init(file: String, lineOffset: Int) {
        self.file = file
        self.lineOffset = lineOffset
    }

    func position(_ node: Node) -> Position {
        guard let mark = node.mark else { return Position(line: lineOffset + 1, column: 1) }
        return Position(line: mark.line + lineOffset, column: mark.column)
    }

    func diagnostic(at position: Position, _ message: String) -> RuleDiagnostic {
        RuleDiagnostic(file: file, line: position.line, column: position.column, message: message)
    }

    mutating func error(at node: Node, _ message: String) {
        diagnostics.append(diagnostic(at: position(node), message))
    }

    func syntaxDiagnostic(_ error: YamlError) -> RuleDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let words = [context.map { $0.text }, problem].compactMap { $0 }.filter { !$0.isEmpty }
            let position = mark.line > lastLine.line
                ? Position(line: lastLine.line + lineOffset, column: lastLine.endColumn)
                : Position(line: mark.line + lineOffset, column: mark.column)
            return diagnostic(at: position, "YAML syntax: " + words.joined(separator: ", "))
        case .reader(let problem, _, _, _):
            return diagnostic(at: Position(line: lineOffset + 1, column: 1), "YAML syntax: \(problem)")
        default:
            return diagnostic(at: Position(line: lineOffset + 1, column: 1), "YAML: \(error)")
        }
    }

    // MARK: Shapes

    /// The keys of `mapping` by name, reporting keys that are not strings, duplicate and
    /// unknown keys.
    mutating func keys(
        of mapping: Node.Mapping, allowed: [String], information: Set<String> = [], what: String
    ) -> [String: (key: Node, value: Node)] {
        var result: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                error(at: key, "keys must be plain names")
                continue
            }
            if result[name] != nil {
                error(at: key, "duplicate key `\(name)`")
                continue
            }
            if !allowed.contains(name) && !information.contains(name) {
                error(at: key, "unknown key `\(name)` in \(what) (expected one of: \(allowed.joined(separator: ", ")))")
                continue
            }
            result[name] = (key, value)
        }
        return result
    }

    /// A non-empty string scalar.
    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            error(at: node, "`\(what)` must be a text value")
            return nil
        }
        guard scalar.style != .plain || !Self.isNull(scalar.string) else {
            error(at: node, "`\(what)` has no value")
            return nil
        }
        guard !scalar.string.isEmpty else {
            error(at: node, "`\(what)` must not be empty")
            return nil
        }
        return scalar.string
    }

    /// One string or a non-empty list of strings, each with its position.
    mutating func strings(_ node: Node, _ what: String) -> [(value: String, position: Position)]? {
        if node.scalar != nil {
            return string(node, what).map { [($0, position(node))] }
        }
        guard let sequence = node.sequence else {
            error(at: node, "`\(what)` must be a text value or a list of them")
            return nil
        }
        guard !sequence.isEmpty else {
            error(at: node, "`\(what)` must not be an empty list")
            return nil
        }
        var values: [(value: String, position: Position)] = []
        var failed = false
        for item in sequence {
            guard item.scalar != nil, let value = string(item, what) else {
                if item.scalar == nil { error(at: item, "`\(what)` must list text values") }
                failed = true
                continue
            }
            values.append((value, position(item)))
        }
        return failed ? nil : values
    }

    static func isNull(_ text: String) -> Bool {
        text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    mutating func required(_ keys: [String: (key: Node, value: Node)], _ name: String, in node: Node, what: String) -> Node? {
        guard let entry = keys[name] else {
            error(at: node, "\(what) lacks `\(name)`")
            return nil
        }
        return entry.value
    }

    // MARK: Base rules

    mutating func baseRule(_ mapping: Node.Mapping, node: Node) -> (BaseRule, Position)? {
        let keys = keys(
            of: mapping, allowed: ["name", "title", "id", "selection"], information: RuleFileParser.informationKeys,
            what: "a base rule")
        let nameNode = required(keys, "name", in: node, what: "a base rule")
        let titleNode = required(keys, "title", in: node, what: "a base rule")
        let selectionNode = required(keys, "selection", in: node, what: "a base rule")
        let name = nameNode.flatMap { string($0, "name") }
        let title = titleNode.flatMap { string($0, "title") }
        if let id = keys["id"] { _ = string(id.value, "id") }
        let selection = selectionNode.flatMap { self.selection($0) }
        guard let name, let title, let selection, let nameNode else { return nil }
        let rule = BaseRule(name: name, title: title, selection: selection, file: file, line: position(node).line)
        return (rule, position(nameNode))
    }

    static let sightingKeys = ["indicator", "indicator.type", "indicator.feed", "field"]
    static let lineKeys = ["message|contains", "program"]

    mutating func selection(_ node: Node) -> BaseRule.Selection? {
        guard let mapping = node.mapping else {
            error(at: node, "`selection` must be a mapping (of \((Self.sightingKeys + Self.lineKeys).map { "`\($0)`" }.joined(separator: ", ")))")
            return nil
        }
        let keys = keys(of: mapping, allowed: Self.sightingKeys + Self.lineKeys, what: "a selection")
        let sighting = Self.sightingKeys.filter { keys[$0] != nil }
        let line = Self.lineKeys.filter { keys[$0] != nil }
        if !sighting.isEmpty && !line.isEmpty {
            error(
                at: node,
                "a selection is either of sightings (`indicator…`, `field`) or of log lines (`message|contains`, `program`), not both")
            return nil
        }
        func list(_ name: String) -> [String]? {
            guard let value = keys[name]?.value else { return [] }
            return strings(value, name).map { $0.map(\.value) }
        }
        if !line.isEmpty {
            guard keys["message|contains"] != nil else {
                error(at: node, "a log-line selection needs `message|contains`")
                return nil
            }
            guard let contains = list("message|contains"), let programs = list("program") else { return nil }
            return .logLine(BaseRule.LineSelection(contains: contains, programs: programs))
        }
        if keys.isEmpty, mapping.isEmpty {
            error(at: node, "an empty selection selects nothing; name at least one of \(Self.sightingKeys.joined(separator: ", "))")
            return nil
        }
        guard let values = list("indicator"), let feeds = list("indicator.feed"), let fields = list("field") else {
            _ = list("indicator.type")
            return nil
        }
        var types: [String] = []
        if let typeNode = keys["indicator.type"]?.value {
            guard let listed = strings(typeNode, "indicator.type") else { return nil }
            for (type, position) in listed {
                if RuleFileParser.indicatorTypes.contains(type) {
                    types.append(type)
                } else {
                    diagnostics.append(diagnostic(
                        at: position,
                        "unknown indicator type `\(type)` (expected one of: \(RuleFileParser.indicatorTypes.joined(separator: ", ")))"))
                }
            }
        }
        return .sighting(BaseRule.SightingSelection(indicatorTypes: types, feeds: feeds, fields: fields, values: values))
    }

    // MARK: Correlation rules

    mutating func correlationRule(_ mapping: Node.Mapping, node: Node) -> PendingCorrelation? {
        let keys = keys(
            of: mapping, allowed: ["title", "id", "name", "severity", "level", "correlation"],
            information: RuleFileParser.informationKeys, what: "a correlation rule")
        let title = required(keys, "title", in: node, what: "a correlation rule").flatMap { string($0, "title") }
        let idNode = required(keys, "id", in: node, what: "a correlation rule")
        let id = idNode.flatMap { string($0, "id") }
        if let name = keys["name"] { _ = string(name.value, "name") }
        var severity: Severity?
        switch (keys["severity"], keys["level"]) {
        case (nil, nil):
            error(at: node, "a correlation rule lacks `severity` (info, low, medium, high or critical)")
        case (.some(let a), .some):
            error(at: a.key, "give `severity` or Sigma's `level`, not both")
        case (.some(let entry), nil), (nil, .some(let entry)):
            let name = entry.key.scalar?.string ?? "severity"
            if let text = string(entry.value, name) {
                severity = Severity(rawValue: text)
                if severity == nil {
                    error(at: entry.value, "unknown severity `\(text)` (expected info, low, medium, high or critical)")
                }
            }
        }
        guard let correlationNode = keys["correlation"]?.value else { return nil }
        guard let body = correlationNode.mapping else {
            error(at: correlationNode, "`correlation` must be a mapping (type, rules, group-by, timespan, condition)")
            return nil
        }
        let fields = self.keys(
            of: body, allowed: ["type", "rules", "group-by", "timespan", "condition", "ordered"], what: "`correlation`")

        var kind: CorrelationRule.Kind?
        if let typeNode = required(fields, "type", in: correlationNode, what: "`correlation`"), let text = string(typeNode, "type") {
            kind = CorrelationRule.Kind(rawValue: text)
            if kind == nil {
                error(at: typeNode, "unknown correlation type `\(text)` (expected one of: \(CorrelationRule.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if let orderedNode = fields["ordered"]?.value {
            switch orderedNode.scalar?.string {
            case "true":
                if kind == .temporal { kind = .temporalOrdered } else if kind != nil && kind != .temporalOrdered {
                    error(at: orderedNode, "`ordered` applies only to `temporal` correlations")
                }
            case "false":
                if kind == .temporalOrdered { error(at: orderedNode, "`temporal_ordered` cannot be `ordered: false`") }
            default:
                error(at: orderedNode, "`ordered` must be true or false")
            }
        }

        var references: [(name: String, position: Position)] = []
        if let rulesNode = required(fields, "rules", in: correlationNode, what: "`correlation`"),
           let listed = strings(rulesNode, "rules") {
            references = listed.map { (name: $0.value, position: $0.position) }
            if references.count > 32 {
                error(at: rulesNode, "a correlation may reference at most 32 rules")
            }
            if (kind == .temporal || kind == .temporalOrdered) && references.count < 2 {
                error(at: rulesNode, "a temporal correlation needs at least two rules")
            }
        }

        var groupBy: [CorrelationRule.GroupField] = []
        if let groupNode = fields["group-by"]?.value, let listed = strings(groupNode, "group-by") {
            for (name, position) in listed {
                guard let field = CorrelationRule.GroupField(rawValue: name) else {
                    diagnostics.append(diagnostic(
                        at: position,
                        "cannot group by `\(name)` (expected one of: \(CorrelationRule.GroupField.allCases.map(\.rawValue).joined(separator: ", ")))"))
                    continue
                }
                if groupBy.contains(field) {
                    diagnostics.append(diagnostic(at: position, "`\(name)` is listed twice in `group-by`"))
                }
                groupBy.append(field)
            }
        }

        var timespan: Int64?
        if let spanNode = required(fields, "timespan", in: correlationNode, what: "`correlation`") {
            if let text = spanNode.scalar?.string, let nanoseconds = Self.timespan(text) {
                timespan = nanoseconds
            } else {
                error(at: spanNode, "bad timespan `\(spanNode.scalar?.string ?? "")`: expected a positive whole number and a unit s, m, h or d (e.g. 30s, 5m, 1h, 1d)")
            }
        }

        var condition: CorrelationRule.Condition?
        var valueField: CorrelationRule.ValueField?
        let conditionNode = fields["condition"]?.value
        switch kind {
        case .eventCount, .valueCount:
            if let conditionNode {
                (condition, valueField) = self.condition(conditionNode, allowsField: kind == .valueCount)
                if kind == .valueCount, condition != nil, valueField == nil {
                    error(at: conditionNode, "a value_count condition needs `field` (the field whose distinct values are counted)")
                    condition = nil
                }
            } else {
                error(at: correlationNode, "`correlation` lacks `condition` (e.g. `condition: {gte: 20}`)")
            }
        case .temporal:
            if let conditionNode {
                (condition, _) = self.condition(conditionNode, allowsField: false)
            } else {
                condition = CorrelationRule.Condition([.gte(max(references.count, 1))])
            }
        case .temporalOrdered:
            if let conditionNode {
                error(at: conditionNode, "a temporal_ordered correlation takes no `condition`: all its rules must match, in order")
            }
            condition = CorrelationRule.Condition([.gte(references.count)])
        case nil:
            break
        }

        guard let title, let id, let idNode, let severity, let kind, let timespan, let condition else { return nil }
        let rule = CorrelationRule(
            id: id, title: title, severity: severity, kind: kind, baseRuleIndices: [],
            baseRuleNames: references.map(\.name), groupBy: groupBy, timespan: timespan, condition: condition,
            valueField: valueField, file: file, line: position(node).line)
        return PendingCorrelation(rule: rule, references: references, idPosition: position(idNode))
    }

    /// `{gte: N, …, field: F}`: at least one comparison, bounds whole numbers ≥ 0.
    mutating func condition(
        _ node: Node, allowsField: Bool
    ) -> (CorrelationRule.Condition?, CorrelationRule.ValueField?) {
        guard let mapping = node.mapping else {
            error(at: node, "`condition` must be a mapping such as `{gte: 20}`")
            return (nil, nil)
        }
        let operators = ["gte", "gt", "lte", "lt", "eq"]
        let keys = keys(of: mapping, allowed: operators + ["field"], what: "`condition`")
        var comparisons: [CorrelationRule.Condition.Comparison] = []
        var failed = false
        for name in operators {
            guard let entry = keys[name] else { continue }
            guard let text = entry.value.scalar?.string, let bound = Int(text), bound >= 0 else {
                error(at: entry.value, "`\(name)` must be a whole number, 0 or more")
                failed = true
                continue
            }
            switch name {
            case "gte": comparisons.append(.gte(bound))
            case "gt": comparisons.append(.gt(bound))
            case "lte": comparisons.append(.lte(bound))
            case "lt": comparisons.append(.lt(bound))
            default: comparisons.append(.eq(bound))
            }
        }
        var field: CorrelationRule.ValueField?
        if let entry = keys["field"] {
            if !allowsField {
                error(at: entry.key, "`field` belongs only in a value_count condition")
                failed = true
            } else if let text = string(entry.value, "field") {
                field = CorrelationRule.ValueField(rawValue: text)
                if field == nil {
                    error(at: entry.value, "cannot count values of `\(text)` (expected one of: \(CorrelationRule.ValueField.allCases.map(\.rawValue).joined(separator: ", ")))")
                    failed = true
                }
            } else {
                failed = true
            }
        }
        if comparisons.isEmpty && !failed {
            error(at: node, "`condition` needs one of gte, gt, lte, lt, eq")
            return (nil, field)
        }
        return (failed ? nil : CorrelationRule.Condition(comparisons), field)
    }

    /// `30s`, `5m`, `1h`, `1d` in nanoseconds; nil when malformed, zero or too long.
    static func timespan(_ text: String) -> Int64? {
        guard let unit = text.last, text.count >= 2 else { return nil }
        let digits = text.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0", let count = Int64(digits) else {
            return nil
        }
        let unitNanoseconds: Int64
        switch unit {
        case "s": unitNanoseconds = 1_000_000_000
        case "m": unitNanoseconds = 60_000_000_000
        case "h": unitNanoseconds = 3_600_000_000_000
        case "d": unitNanoseconds = 86_400_000_000_000
        default: return nil
        }
        let (product, overflow) = count.multipliedReportingOverflow(by: unitNanoseconds)
        return overflow ? nil : product
    }
}
