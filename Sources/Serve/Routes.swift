import CaseStore
import Correlation
import Evidence
import Foundation
import HTTPTypes
import Hummingbird
import Indicators
import Observations

/// The routes of `cairn serve`. GET routes only read the case (the store's read-only
/// transactions); POST routes check the session's CSRF token before they change
/// anything.
struct Routes: Sendable {
    let database: CaseDatabase
    let rules: LoadedExplainRules
    let sessions: Sessions
    let options: ServeOptions
    let uploads: Uploads?
    let summaries = SummaryCache()

    /// The sightings an incident page shows at a time.
    static let sightingsPerPage = 500

    func add(to router: Router<CairnContext>) {
        router.get("/") { request, context in try await casePage(request, context) }
        router.get("/incidents") { request, context in try await incidentList(request, context) }
        router.get("/incidents.csv") { request, _ in try await incidentCSV(request) }
        router.get("/incidents/:id") { request, context in try await incidentPage(request, context) }
        router.post("/incidents/:id/triage") { request, context in try await triage(request, context) }
        router.get("/sightings/:id") { _, context in try await sightingPage(context) }
        router.get("/sources") { _, context in try await sourcesPage(context) }
        router.get("/custody") { _, context in try await custodyPage(context) }
        router.get("/explain") { request, context in explainPage(request, context) }
        router.get("/login") { _, _ in Pages.loginPage(problem: nil, status: .ok) }
        router.post("/login") { request, context in try await login(request, context) }
        router.post("/export") { request, context in try await export(request, context) }
        router.get("/static/cairn.css") { _, _ in Assets.response(Assets.css, type: "text/css; charset=utf-8") }
        router.get("/static/cairn.js") { _, _ in Assets.response(Assets.script, type: "text/javascript; charset=utf-8") }
        router.get("/upload") { _, context in uploadPage(context) }
        router.post("/upload") { request, context in try await upload(request, context) }
        router.get("/upload/events") { _, _ in uploadEvents() }
        router.get("/api/uploads") { _, _ in try Pages.json(uploads?.all ?? []) }
        router.get("/api/case") { _, _ in try await apiCase() }
        router.get("/api/incidents") { request, _ in try await apiIncidents(request) }
        router.get("/api/incidents/:id") { _, context in try await apiIncident(context) }
        router.get("/api/sources") { _, _ in try Pages.json(try await blocking { try database.sources().map(SourceJSON.init) }) }
        router.get("/api/custody") { _, _ in try Pages.json(try await blocking { try database.custodyEntries() }) }
        router.get("/api/explain") { request, _ in try apiExplain(request) }
    }

    private var caseName: String {
        PostgresLocation.isURL(database.location) ? database.location : (database.location as NSString).lastPathComponent
    }

    private func frame(_ title: String, _ context: CairnContext) -> Frame {
        Frame(title: title, analyst: context.visitor.analyst, caseName: caseName,
              csrfToken: context.visitor.csrfToken ?? "")
    }

    // MARK: The case

    private struct CaseView {
        var frame: Frame
        var severities: [NameCount]
        var statuses: [NameCount]
        var sourceStatuses: [NameCount]
        var sightingCount: Int
        var chart: Chart?
        var topIndicators: [TopIndicator]
        var hasTopIndicators: Bool
        var anomalies: [NameCount]
        var hasAnomalies: Bool
        var notes: [String]
        var incidentTotal: Int
        var columns: [Column]
        var rows: [IncidentLine]
    }

    private struct TopIndicator {
        var type, value, valueQuery, rule, sightings: String
    }

    private func casePage(_ request: Request, _ context: CairnContext) async throws -> Response {
        let (summary, page, sources) = try await blocking {
            (try summaries.summary(of: database),
             try database.incidentPage(IncidentFilter(), limit: 25, offset: 0),
             try database.sources())
        }
        var frame = frame("Case", context)
        frame.onCase = true
        let top = summary.topIndicators.map {
            TopIndicator(type: $0.type, value: $0.value, valueQuery: Form.encode($0.value),
                         rule: "\($0.ruleFile):\($0.ruleLine)", sightings: String($0.sightings))
        }
        let anomalies = summary.anomalies.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            .map { NameCount(name: $0.key, count: String($0.value)) }
        let notes = sources.flatMap { source in source.notes.map { "\((source.path as NSString).lastPathComponent): \($0)" } }
            + sources.compactMap { source in source.error.map { "\((source.path as NSString).lastPathComponent): \($0)" } }
        let view = CaseView(
            frame: frame,
            severities: Severity.allCases.reversed().map { NameCount(name: $0.rawValue, count: String(summary.severities[$0] ?? 0)) },
            statuses: TriageStatus.allCases.map { NameCount(name: $0.rawValue, count: String(summary.statuses[$0] ?? 0)) },
            sourceStatuses: summary.sourceStatuses.sorted { $0.key < $1.key }.map { NameCount(name: $0.key, count: String($0.value)) },
            sightingCount: summary.sightingCount, chart: Chart(summary.timeline),
            topIndicators: top, hasTopIndicators: !top.isEmpty, anomalies: anomalies, hasAnomalies: !anomalies.isEmpty,
            notes: Array(notes.prefix(50)), incidentTotal: page.total,
            columns: columns(IncidentQuery()), rows: page.rows.map(IncidentLine.init))
        return Pages.html(Templates.render(view, "case"))
    }

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

    private func incidentList(_ request: Request, _ context: CairnContext) async throws -> Response {
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
    private func columns(_ query: IncidentQuery) -> [Column] {
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
    /// --format tsv`.
    private func incidentCSV(_ request: Request) async throws -> Response {
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

    private struct SightingLine {
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

    private func incidentPage(_ request: Request, _ context: CairnContext) async throws -> Response {
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
    private func sightingPage(_ context: CairnContext) async throws -> Response {
        let id = try context.parameters.require("id", as: Int64.self)
        let found = try await blocking { () -> (SightingRow, SightingContext)? in
            guard let row = try database.sighting(id) else { return nil }
            switch row.locator {
            case .line(let number, let offset):
                return (row, SightingContext.logLines(path: row.sourcePath, sha256: row.sourceSHA256, line: number, offset: offset))
            case .packet(let frame):
                return (row, SightingContext.packet(path: row.sourcePath, sha256: row.sourceSHA256, frame: frame))
            }
        }
        guard let (row, surroundings) = found else { throw HTTPError(.notFound, message: "No sighting \(id) in this case.") }
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
    private func triage(_ request: Request, _ context: CairnContext) async throws -> Response {
        let id = try context.parameters.require("id", as: Int64.self)
        let form = try await post(TriageForm.self, request, context, token: \.csrf_token)
        guard let status = form.status.flatMap(TriageStatus.init(rawValue:)) else {
            throw HTTPError(.badRequest, message: "status must be one of \(TriageStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let note = Routes.present(form.note), assignee = Routes.present(form.assignee)
        let analyst = context.visitor.analyst
        try await blocking {
            guard let incident = try database.incident(id) else { throw CaseStoreError.unknownIncident(id) }
            // An unchanged assignee field is not a new assignment.
            let changed = assignee == incident.assignee ? nil : assignee
            try database.triage(incident: id, status: status, note: note, assignee: changed, user: analyst)
        }
        return .redirect(to: "/incidents/\(id)", type: .normal)
    }

    static func present(_ text: String?) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    /// The form of a POST, after its CSRF token was checked: 403 (and nothing done) when
    /// the session's token is not in it. A request signed with a bearer token needs none.
    private func post<Fields: Decodable>(
        _ type: Fields.Type, _ request: Request, _ context: CairnContext, token: KeyPath<Fields, String?>
    ) async throws -> Fields {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let fields = Form.decode(Fields.self, from: String(buffer: body))
        if let expected = context.visitor.csrfToken {
            guard let given = fields?[keyPath: token], Sessions.same(given, expected) else {
                throw HTTPError(.forbidden, message: "The form's CSRF token is missing or not this session's: nothing was changed. Reload the page and try again.")
            }
        }
        guard let fields else { throw HTTPError(.badRequest, message: "The form could not be read.") }
        return fields
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

    private func sourcesPage(_ context: CairnContext) async throws -> Response {
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

    private func custodyPage(_ context: CairnContext) async throws -> Response {
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

    private func explainPage(_ request: Request, _ context: CairnContext) -> Response {
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
        guard let value = Routes.present(query.value) else { return ([], []) }
        guard let ruleSet = rules.ruleSet, let table = rules.compiled else {
            return ([], ["No rules are loaded: start cairn serve with --rules DIR."])
        }
        var problems = rules.problems
        var at: Timestamp?
        if let text = Routes.present(query.at) {
            at = IncidentQuery.time(text)
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

    // MARK: Signing in, export

    private struct LoginForm: Decodable {
        var token: String?
    }

    private func login(_ request: Request, _ context: CairnContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let form = Form.decode(LoginForm.self, from: String(buffer: body))
        guard let token = form?.token, let analyst = sessions.analyst(token: token) else {
            return Pages.loginPage(problem: "That token is not in the server's token file.", status: .unauthorized)
        }
        let (id, _) = sessions.start(analyst: analyst)
        var response = Response.redirect(to: "/", type: .normal)
        response.setCookie(Gate(sessions: sessions, secureCookies: options.tlsCertificate != nil).cookie(id))
        return response
    }

    private struct ExportForm: Decodable {
        var csrf_token: String?
        var ids: [Int64]?
    }

    /// Builds the evidence package of the chosen incidents with `cairn export`'s exporter
    /// (recorded in the custody log under the analyst's name) and sends it as one ZIP.
    private func export(_ request: Request, _ context: CairnContext) async throws -> Response {
        let form = try await post(ExportForm.self, request, context, token: \.csrf_token)
        let ids = Array(Set(form.ids ?? [])).sorted()
        guard !ids.isEmpty else { throw HTTPError(.badRequest, message: "Select at least one incident to export.") }
        let archive = try await blocking { [options, database] in
            try ExportArchive.build(
                database: database, ids: ids, organisation: options.organisation, toolVersion: options.toolVersion,
                analyst: context.visitor.analyst)
        }
        return archive.response()
    }

    // MARK: Uploads

    private struct UploadView {
        var frame: Frame
        var enabled: Bool
        var directory: String
        var limit: String
        var jobs: [Uploads.Job]
    }

    private func uploadPage(_ context: CairnContext) -> Response {
        var frame = frame("Upload", context)
        frame.onUpload = true
        let view = UploadView(
            frame: frame, enabled: uploads != nil, directory: uploads?.settings.directory ?? "",
            limit: ByteCountFormatter.string(fromByteCount: Int64(clamping: options.uploadLimit), countStyle: .binary),
            jobs: (uploads?.all ?? []).reversed())
        return Pages.html(Templates.render(view, "upload"))
    }

    /// One file as the request body (the page's script sends each file so, with its
    /// name in `X-File-Name`, percent-encoded, and the session's CSRF token in
    /// `X-CSRF-Token`): stored, then ingested in the background. 202 with the job.
    private func upload(_ request: Request, _ context: CairnContext) async throws -> Response {
        if let expected = context.visitor.csrfToken {
            guard let given = request.headers[HTTPField.Name("X-CSRF-Token")!], Sessions.same(given, expected) else {
                throw HTTPError(.forbidden, message: "The upload's CSRF token is missing or not this session's: nothing was stored.")
            }
        }
        guard let uploads else { throw HTTPError(.notFound, message: "Uploads are off on this server.") }
        let name = request.headers[HTTPField.Name("X-File-Name")!].flatMap { $0.removingPercentEncoding } ?? "upload"
        if let length = request.headers[.contentLength].flatMap({ UInt64($0) }), length > uploads.settings.limit {
            throw HTTPError(.contentTooLarge, message: Uploads.Failure.tooLarge(limit: uploads.settings.limit).description)
        }
        let job: Uploads.Job
        do {
            job = try await uploads.receive(name: name, analyst: context.visitor.analyst, body: request.body)
        } catch let failure as Uploads.Failure {
            if case .tooLarge = failure { throw HTTPError(.contentTooLarge, message: failure.description) }
            throw HTTPError(.internalServerError, message: failure.description)
        }
        let id = job.id
        Thread.detachNewThread { uploads.ingest(id) }
        return try Pages.json(job, status: .accepted)
    }

    /// Server-sent events: every half second, the uploads and their progress as one
    /// `uploads` event (JSON on one line), until the browser leaves.
    private func uploadEvents() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { [uploads] writer in
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                while !Task.isCancelled {
                    let data = try encoder.encode(uploads?.all ?? [])
                    try await writer.write(ByteBuffer(string: "event: uploads\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n"))
                    try await Task.sleep(for: .milliseconds(500))
                }
                try await writer.finish(nil)
            })
    }

    // MARK: JSON

    private func apiCase() async throws -> Response {
        let summary = try await blocking { try summaries.summary(of: database) }
        return try Pages.json(CaseSummaryJSON(summary))
    }

    /// `cairn incidents --format json` with the same filters; `limit` and `offset` take a
    /// page, whose total is in `X-Total-Count`.
    private func apiIncidents(_ request: Request) async throws -> Response {
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
    private func apiIncident(_ context: CairnContext) async throws -> Response {
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

    private func apiExplain(_ request: Request) throws -> Response {
        let query = Form.decode(ExplainQuery.self, from: request.uri.query ?? "") ?? ExplainQuery()
        guard Routes.present(query.value) != nil else { throw HTTPError(.badRequest, message: "give the value as ?value=") }
        let (reports, problems) = explain(query)
        if reports.isEmpty, let problem = problems.last { throw HTTPError(.badRequest, message: problem) }
        return try Pages.json(reports)
    }
}

/// `/api/case`: the counts of the case page.
struct CaseSummaryJSON: Encodable {
    var severities: [String: Int]
    var statuses: [String: Int]
    var sources: [String: Int]
    var sightings: Int
    var anomalies: [String: UInt64]
    var timeline: [Bucket]
    var topIndicators: [Top]

    struct Bucket: Encodable {
        var start, end: String
        var sightings: Int
    }

    struct Top: Encodable {
        var type, value, rule: String
        var sightings: Int
    }

    init(_ summary: CaseSummary) {
        severities = Dictionary(uniqueKeysWithValues: summary.severities.map { ($0.key.rawValue, $0.value) })
        statuses = Dictionary(uniqueKeysWithValues: summary.statuses.map { ($0.key.rawValue, $0.value) })
        sources = summary.sourceStatuses
        sightings = summary.sightingCount
        anomalies = summary.anomalies
        timeline = summary.timeline.map { Bucket(start: $0.start.iso8601, end: $0.end.iso8601, sightings: $0.sightings) }
        topIndicators = summary.topIndicators.map {
            Top(type: $0.type, value: $0.value, rule: "\($0.ruleFile):\($0.ruleLine)", sightings: $0.sightings)
        }
    }

    enum CodingKeys: String, CodingKey {
        case severities, statuses, sources, sightings, anomalies, timeline, topIndicators = "top_indicators"
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
