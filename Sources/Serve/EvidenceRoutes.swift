import CaseStore
import Evidence
import Foundation
import HTTPTypes
import Hummingbird
import Indicators
import Observations

/// What the case holds beside its incidents: a sighting in its source, the sources, the
/// custody log, and explanations against the rules.
extension Routes {
    private struct SightingView {
        var frame: Frame
        var sighting: SightingLine
        var incident: Int64?
        var host: String
        var isLine: Bool
        var lines: [ContextLine]
        var decoded: [SightingContext.Decoded]
        var hasDecoded: Bool
        var problems: [String]
    }

    private struct ContextLine {
        var number: UInt64
        var text: String
        var isSighting: Bool
        var truncated: Bool
    }

    /// One sighting with its provenance, and its source around it: the log line with
    /// the lines before and after, or what Cairn decodes from the packet; both re-read
    /// from the file only if its SHA-256 is still the recorded one.
    func sightingPage(_ context: CairnContext) async throws -> Response {
        let id = try context.parameters.require("id", as: Int64.self)
        let (row, surroundings) = try await sightingInSource(id)
        let isLine = if case .line = row.locator { true } else { false }
        let view = SightingView(
            frame: frame("Sighting \(id)", context), sighting: SightingLine(row), incident: row.incidentID, host: row.host,
            isLine: isLine,
            lines: surroundings.lines.map {
                ContextLine(number: $0.number, text: $0.text, isSighting: $0.isSighting, truncated: $0.truncated)
            },
            decoded: surroundings.decoded, hasDecoded: !surroundings.decoded.isEmpty, problems: surroundings.problems)
        return Pages.html(Templates.render(view, "sighting"))
    }

    /// `/api/sightings/ID`: the sighting as `cairn sightings --format json` writes it,
    /// and its source around it.
    func apiSighting(_ context: CairnContext) async throws -> Response {
        struct Answer: Encodable {
            var sighting: SightingJSON
            var lines: [Line]
            var decoded: [Decoded]
            var problems: [String]
            struct Line: Encodable {
                var number: UInt64
                var text: String
                var sighting: Bool
                var truncated: Bool
            }
            struct Decoded: Encodable {
                var `where`: String
                var value: String
            }
        }
        let (row, surroundings) = try await sightingInSource(try context.parameters.require("id", as: Int64.self))
        return try Pages.json(Answer(
            sighting: SightingJSON(row),
            lines: surroundings.lines.map {
                Answer.Line(number: $0.number, text: $0.text, sighting: $0.isSighting, truncated: $0.truncated)
            },
            decoded: surroundings.decoded.map { Answer.Decoded(where: $0.field, value: $0.value) },
            problems: surroundings.problems))
    }

    /// A sighting and its source around it (404 when no sighting has the id).
    private func sightingInSource(_ id: Int64) async throws -> (SightingRow, SightingContext) {
        let found = try await blocking { () -> (SightingRow, SightingContext)? in
            guard let row = try database.sighting(id) else { return nil }
            switch row.locator {
            case .line(let number, let offset):
                return (row, SightingContext.logLines(path: row.sourcePath, sha256: row.sourceSHA256, line: number, offset: offset))
            case .packet(let frame):
                return (row, SightingContext.packet(path: row.sourcePath, sha256: row.sourceSHA256, frame: frame))
            }
        }
        guard let found else { throw HTTPError(.notFound, message: "No sighting \(id) in this case.") }
        return found
    }

    // MARK: Sources, custody, explain

    private struct SourcesView {
        var frame: Frame
        var rows: [SourceLine]
    }

    private struct SourceLine {
        var id: Int64
        var kind, status, path, packets, lines, bytes, anomalies, anomalyList, startedAt: String
        var sha256, error: String?
        var notes: [String]
    }

    func sourcesPage(_ context: CairnContext) async throws -> Response {
        let rows = try await blocking { try database.sources() }
        var frame = frame("Sources", context)
        frame.onSources = true
        let lines = rows.map { row in
            SourceLine(
                id: row.id, kind: row.kind?.rawValue ?? "", status: row.status, path: row.path,
                packets: String(row.packets), lines: String(row.lines), bytes: String(row.bytes),
                anomalies: String(row.anomalies.total),
                anomalyList: row.anomalies.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
                startedAt: row.startedAt, sha256: row.sha256, error: row.error, notes: row.notes)
        }
        return Pages.html(Templates.render(SourcesView(frame: frame, rows: lines), "sources"))
    }

    private struct CustodyView {
        var frame: Frame
        var verification: CustodyVerification
        var entries: [CustodyLine]
    }

    private struct CustodyLine {
        var id: Int64
        var recordedAt, user, host, action, commandLine, entryHash, hashPrefix: String
        var inputs, outputs: [CustodyFile]
        var inputCount, outputCount: Int
    }

    func custodyPage(_ context: CairnContext) async throws -> Response {
        let (entries, verification) = try await blocking { (try database.custodyEntries(), try database.verifyCustody()) }
        var frame = frame("Custody", context)
        frame.onCustody = true
        let lines = entries.map {
            CustodyLine(
                id: $0.id, recordedAt: $0.recordedAt, user: $0.user, host: $0.host, action: $0.action,
                commandLine: $0.commandLine, entryHash: $0.entryHash, hashPrefix: String($0.entryHash.prefix(16)),
                inputs: $0.inputs, outputs: $0.outputs, inputCount: $0.inputs.count, outputCount: $0.outputs.count)
        }
        return Pages.html(Templates.render(CustodyView(frame: frame, verification: verification, entries: lines), "custody"))
    }

    /// `/api/custody/verify`: what `cairn custody verify` says, as JSON.
    func apiCustodyVerification() async throws -> Response {
        struct Answer: Encodable {
            var ok: Bool
            var entryCount: Int
            var firstBrokenID: Int64?
            var problem: String?

            enum CodingKeys: String, CodingKey {
                case ok, problem, entryCount = "entry_count", firstBrokenID = "first_broken_id"
            }
        }
        let result = try await blocking { try database.verifyCustody() }
        return try Pages.json(Answer(
            ok: result.ok, entryCount: result.entryCount, firstBrokenID: result.firstBrokenID, problem: result.problem))
    }

    private struct ExplainQuery: Decodable {
        var value: String?
        var at: String?
    }

    private struct ExplainView {
        var frame: Frame
        var value, at, rulePaths: String
        var problems: [String]
        var reports: [String]
    }

    func explainPage(_ request: Request, _ context: CairnContext) -> Response {
        let query = Form.decode(ExplainQuery.self, from: request.uri.query ?? "") ?? ExplainQuery()
        var frame = frame("Explain", context)
        frame.onExplain = true
        let (reports, problems) = explain(query)
        let view = ExplainView(
            frame: frame, value: query.value ?? "", at: query.at ?? "", rulePaths: rules.paths.joined(separator: ", "),
            problems: problems, reports: reports.map(\.text))
        return Pages.html(Templates.render(view, "explain"))
    }

    /// What `cairn explain` would print for the query's value, one report per reading
    /// of the value, and the problems (no rules, a value that is none of the kinds).
    private func explain(_ query: ExplainQuery) -> ([ExplainJSON], [String]) {
        guard let value = Form.present(query.value) else { return ([], []) }
        guard let ruleSet = rules.ruleSet, let table = rules.compiled else {
            return ([], ["No rules are loaded: start cairn serve with --rules DIR."])
        }
        var problems = rules.problems
        var at: Timestamp?
        if let text = Form.present(query.at) {
            at = Timestamp(typed: text)
            if at == nil { problems.append("at \(text) is not a time such as 2024-03-01T12:00:00Z") }
        }
        let explanations = table.explain(value, at: at)
        if explanations.isEmpty {
            problems.append("\(value) is not an address, domain, URL, e-mail address, hash or JA3/JA4 fingerprint")
        }
        return (explanations.map {
            ExplainJSON(value: $0.value.description, sighting: $0.match != nil,
                        text: ExplainReport.text($0, rules: ruleSet, at: at))
        }, problems)
    }

    private struct ExplainJSON: Encodable {
        var value: String
        /// Whether an observation of the value would be a sighting.
        var sighting: Bool
        /// The report, as `cairn explain` prints it.
        var text: String
    }

    func apiExplain(_ request: Request) throws -> Response {
        let query = Form.decode(ExplainQuery.self, from: request.uri.query ?? "") ?? ExplainQuery()
        guard Form.present(query.value) != nil else { throw HTTPError(.badRequest, message: "give the value as ?value=") }
        let (reports, problems) = explain(query)
        if reports.isEmpty, let problem = problems.last { throw HTTPError(.badRequest, message: problem) }
        return try Pages.json(reports)
    }
}
