import CaseStore
import Correlation
import Foundation
import HTTPTypes
import Hummingbird
import Observations

/// The incident list, its CSV and JSON, one incident, and triage.
extension Routes {
    // MARK: Incidents

    private struct IncidentsView {
        var frame: Frame
        var filter: IncidentQuery
        var severityOptions: [Option]
        var statusOptions: [Option]
        var problems: [String]
        var hasIncidents: Bool
        var first, last, total: Int
        var previous, next: String?
        var csv, json: String
        var columns: [Column]
        var rows: [IncidentLine]
    }

    func incidentList(_ request: Request, _ context: CairnContext) async throws -> Response {
        let query = IncidentQuery(request)
        let (filter, problems) = query.filter()
        let size = query.pageSize
        let offset = (query.pageNumber - 1) * size
        let page = try await blocking {
            try database.incidentPage(filter, order: query.order, descending: query.descending, limit: size, offset: offset)
        }
        var frame = frame("Incidents", context)
        frame.onIncidents = true
        let view = IncidentsView(
            frame: frame, filter: query,
            severityOptions: Severity.allCases.map { Option(value: $0.rawValue, selected: $0.rawValue == query.severity) },
            statusOptions: TriageStatus.allCases.map { Option(value: $0.rawValue, selected: $0.rawValue == query.status) },
            problems: problems, hasIncidents: page.total > 0,
            first: min(page.total, offset + 1), last: offset + page.rows.count, total: page.total,
            previous: offset > 0 ? query.link(["page": String(query.pageNumber - 1)]) : nil,
            next: offset + page.rows.count < page.total ? query.link(["page": String(query.pageNumber + 1)]) : nil,
            csv: query.link(["page": nil, "per": nil], path: "/incidents.csv"),
            json: query.link(["page": nil, "per": nil], path: "/api/incidents"),
            columns: columns(query), rows: page.rows.map(IncidentLine.init))
        return Pages.html(Templates.render(view, "incidents"))
    }

    /// The list's headings, each a link sorting by it.
    func columns(_ query: IncidentQuery) -> [Column] {
        let sortable: [(String, IncidentOrder?, Bool)] = [
            ("ID", .id, true), ("Severity", .severity, false), ("Status", nil, false), ("Host", .host, false),
            ("First seen", .firstSeen, false), ("Last seen", .lastSeen, false), ("Sightings", .sightings, true),
            ("Title", nil, false), ("Assignee", nil, false),
        ]
        return sortable.map { label, order, numeric in
            guard let order else { return Column(label: label, numeric: numeric) }
            let isCurrent = query.order == order
            let direction = isCurrent && query.descending ? "asc" : "desc"
            return Column(
                label: label, href: query.link(["sort": order.rawValue, "dir": direction, "page": nil]), numeric: numeric,
                current: isCurrent ? (query.descending ? "descending" : "ascending") : nil,
                arrow: isCurrent ? (query.descending ? "▼" : "▲") : "")
        }
    }

    /// Every incident the filters select, as CSV with the columns of `cairn incidents
    /// --format tsv` and the assignee, a rule incident's log lines in a column of their
    /// own (the TSV adds them to the sightings' cell).
    func incidentCSV(_ request: Request) async throws -> Response {
        let query = IncidentQuery(request)
        let (filter, problems) = query.filter()
        if let problem = problems.first { throw HTTPError(.badRequest, message: problem) }
        let rows = try await blocking {
            try database.incidentPage(filter, order: query.order, descending: query.descending, limit: Int.max, offset: 0).rows
        }
        var text = CSV.line(["id", "first_seen", "last_seen", "host", "severity", "confidence", "status", "assignee",
                             "indicators", "sightings", "lines", "title"])
        for row in rows {
            text += CSV.line([
                String(row.id), row.firstSeen.iso8601, row.lastSeen.iso8601, row.host, row.severity, String(row.confidence),
                row.status.rawValue, row.assignee ?? "", row.indicators.joined(separator: ","), String(row.sightingCount),
                String(row.lineCount), row.title,
            ])
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"incidents.csv\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: One incident

    private struct IncidentView {
        var frame: Frame
        var incident: IncidentSummary
        var mergedInto: Int64?
        var hostQuery: String
        var lineCount: Int?
        var explanation: String
        var timeline: Timeline?
        var sightingPage: SightingPage
        var sightings: [SightingLine]
        var hasLines: Bool
        var lines: [LineEventLine]
        var history: [TriageEvent]
        var statusOptions: [Option]
    }

    private struct IncidentSummary {
        var id: Int64
        var severity, title, host, firstSeen, lastSeen, status: String
        var confidence, sightings: Int
        var rule, assignee: String?
    }

    private struct SightingPage {
        var shown: Bool
        var first, last: Int
        var previous, next: String?
    }

    struct SightingLine {
        var id: Int64
        var time, field, observed, indicatorType, indicatorValue, indicatorQuery, rule: String
        var sourcePath, sourceName, sourceSHA256, locator: String
        var lastTime: String?
        var packets: UInt64
        var derivedFrom, feed: String?
        var unverified: Bool

        init(_ row: SightingRow) {
            id = row.id
            time = row.time.iso8601
            field = row.field
            observed = row.observed
            indicatorType = row.indicatorType
            indicatorValue = row.indicatorValue
            indicatorQuery = Form.encode(row.indicatorValue)
            rule = "\(row.ruleFile):\(row.ruleLine)"
            sourcePath = row.sourcePath
            sourceName = (row.sourcePath as NSString).lastPathComponent
            sourceSHA256 = row.sourceSHA256
            locator = row.locator.shortText
            lastTime = row.lastTime?.iso8601
            packets = row.packets
            derivedFrom = row.derivedFrom?.description
            feed = row.indicatorSource
            unverified = row.unverified
        }
    }

    private struct LineEventLine {
        var time, host, baseRules, sourcePath, sourceName: String
        var logSource: String?
        var line: UInt64
    }

    func incidentPage(_ request: Request, _ context: CairnContext) async throws -> Response {
        let id = try context.parameters.require("id", as: Int64.self)
        let start = max(0, Form.decode(SightingsQuery.self, from: request.uri.query ?? "")?.from.flatMap { Int($0) } ?? 0)
        let limit = Routes.sightingsPerPage
        let loaded = try await blocking { () -> (IncidentRow, [SightingRow], [StoredLineEvent], [TriageEvent])? in
            guard let incident = try database.incident(id) else { return nil }
            return (incident, try database.sightings(incident: id, limit: limit, offset: start),
                    try database.lineEvents(incident: id), try database.triageHistory(incident: id))
        }
        guard let (incident, sightings, lines, history) = loaded else { throw CaseStoreError.unknownIncident(id) }
        let shownEnd = start + sightings.count
        let partial = start > 0 || shownEnd < incident.sightingCount
        let view = IncidentView(
            frame: frame("Incident \(id)", context),
            incident: IncidentSummary(
                id: incident.id, severity: incident.severity, title: incident.title, host: incident.host,
                firstSeen: incident.firstSeen.iso8601, lastSeen: incident.lastSeen.iso8601,
                status: incident.status.rawValue, confidence: incident.confidence, sightings: incident.sightingCount,
                rule: incident.ruleID, assignee: incident.assignee),
            mergedInto: incident.mergedInto, hostQuery: Form.encode(incident.host),
            lineCount: incident.lineCount > 0 ? incident.lineCount : nil,
            explanation: incident.explanation.isEmpty ? "(not recorded)" : incident.explanation,
            timeline: Timeline(sightings, incompleteNote: partial
                ? "drawn: sightings \(start + 1)–\(shownEnd) of \(incident.sightingCount)" : nil),
            sightingPage: SightingPage(
                shown: partial, first: start + 1, last: shownEnd,
                previous: start > 0 ? "/incidents/\(id)?from=\(max(0, start - limit))" : nil,
                next: shownEnd < incident.sightingCount ? "/incidents/\(id)?from=\(shownEnd)" : nil),
            sightings: sightings.map(SightingLine.init), hasLines: !lines.isEmpty,
            lines: lines.map {
                LineEventLine(time: $0.time.iso8601, host: $0.host, baseRules: $0.baseRules.joined(separator: ", "),
                              sourcePath: $0.sourcePath, sourceName: ($0.sourcePath as NSString).lastPathComponent,
                              logSource: $0.logSource, line: $0.line)
            },
            history: history,
            statusOptions: TriageStatus.allCases.map { Option(value: $0.rawValue, selected: $0 == incident.status) })
        return Pages.html(Templates.render(view, "incident"))
    }

    private struct SightingsQuery: Decodable {
        var from: String?
    }

    private struct TriageForm: Decodable {
        var csrf_token: String?
        var status: String?
        var note: String?
        var assignee: String?
    }

    /// Appends a triage event, recorded under the analyst's name, then shows the
    /// incident again (303, so a reload does not post twice).
    func triage(_ request: Request, _ context: CairnContext) async throws -> Response {
        let id = try context.parameters.require("id", as: Int64.self)
        let form = try await post(TriageForm.self, request, context, token: \.csrf_token)
        guard let status = form.status.flatMap(TriageStatus.init(rawValue:)) else {
            throw HTTPError(.badRequest, message: "status must be one of \(TriageStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let note = Form.present(form.note), assignee = Form.present(form.assignee)
        let analyst = context.visitor.analyst
        try await blocking {
            guard let incident = try database.incident(id) else { throw CaseStoreError.unknownIncident(id) }
            // An unchanged assignee field is not a new assignment.
            let changed = assignee == incident.assignee ? nil : assignee
            try database.triage(incident: id, status: status, note: note, assignee: changed, user: analyst)
        }
        return .redirect(to: "/incidents/\(id)", type: .normal)
    }

    /// `cairn incidents --format json` with the same filters; `limit` and `offset` take a
    /// page, whose total is in `X-Total-Count`.
    func apiIncidents(_ request: Request) async throws -> Response {
        let query = IncidentQuery(request)
        let (filter, problems) = query.filter()
        if let problem = problems.first { throw HTTPError(.badRequest, message: problem) }
        let limit = query.limit.flatMap { Int($0) } ?? Int.max
        let offset = query.offset.flatMap { Int($0) } ?? 0
        let page = try await blocking {
            try database.incidentPage(filter, order: query.order, descending: query.descending, limit: limit, offset: offset)
        }
        var response = try Pages.json(page.rows.map(IncidentJSON.init))
        response.headers[HTTPField.Name("X-Total-Count")!] = String(page.total)
        return response
    }

    /// `cairn show ID --format json`.
    func apiIncident(_ context: CairnContext) async throws -> Response {
        let id = try context.parameters.require("id", as: Int64.self)
        let show = try await blocking { () -> ShowJSON? in
            guard let incident = try database.incident(id) else { return nil }
            return ShowJSON(
                incident: IncidentJSON(incident), sightings: try database.sightings(incident: id).map(SightingJSON.init),
                triage: try database.triageHistory(incident: id))
        }
        guard let show else { throw CaseStoreError.unknownIncident(id) }
        return try Pages.json(show)
    }
}

/// CSV as RFC 4180 writes it. A cell that a spreadsheet would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return: evidence is written by attackers)
/// is prefixed with `'`, as OWASP advises.
enum CSV {
    static func line(_ cells: [String]) -> String {
        cells.map(cell).joined(separator: ",") + "\r\n"
    }

    static func cell(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
