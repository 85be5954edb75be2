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
        router.get("/api/sightings/:id") { _, context in try await apiSighting(context) }
        router.get("/api/sources") { _, _ in try Pages.json(try await blocking { try database.sources().map(SourceJSON.init) }) }
        router.get("/api/custody") { _, _ in try Pages.json(try await blocking { try database.custodyEntries() }) }
        router.get("/api/custody/verify") { _, _ in try await apiCustodyVerification() }
        router.get("/api/explain") { request, _ in try apiExplain(request) }
    }

    private var caseName: String {
        PostgresLocation.isURL(database.location) ? database.location : (database.location as NSString).lastPathComponent
    }

    func frame(_ title: String, _ context: CairnContext) -> Frame {
        Frame(title: title, analyst: context.visitor.analyst, caseName: caseName,
              csrfToken: context.visitor.csrfToken ?? "")
    }

    // MARK: The case

    private struct CaseView {
        var frame: Frame
        var severities: [NameCount]
        var statuses: [NameCount]
        var sourceStatuses: [NameCount]
        /// The sources, those that failed or are still being read first (at most 20).
        var sources: [SourceBrief]
        var moreSources: Int?
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

    private struct SourceBrief {
        var name, path, status, kind: String
        var error: String?
    }

    private struct TopIndicator {
        var type, value, valueQuery, rule, sightings: String
    }

    func casePage(_ request: Request, _ context: CairnContext) async throws -> Response {
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
        let briefs = sources.sorted { ($0.status == "complete" ? 1 : 0, $0.id) < ($1.status == "complete" ? 1 : 0, $1.id) }
            .map { SourceBrief(name: ($0.path as NSString).lastPathComponent, path: $0.path, status: $0.status,
                               kind: $0.kind?.rawValue ?? "", error: $0.error) }
        let view = CaseView(
            frame: frame,
            severities: Severity.allCases.reversed().map { NameCount(name: $0.rawValue, count: String(summary.severities[$0] ?? 0)) },
            statuses: TriageStatus.allCases.map { NameCount(name: $0.rawValue, count: String(summary.statuses[$0] ?? 0)) },
            sourceStatuses: summary.sourceStatuses.sorted { $0.key < $1.key }.map { NameCount(name: $0.key, count: String($0.value)) },
            sources: Array(briefs.prefix(20)), moreSources: briefs.count > 20 ? briefs.count - 20 : nil,
            sightingCount: summary.sightingCount, chart: Chart(summary.timeline),
            topIndicators: top, hasTopIndicators: !top.isEmpty, anomalies: anomalies, hasAnomalies: !anomalies.isEmpty,
            notes: Array(notes.prefix(50)), incidentTotal: page.total,
            columns: columns(IncidentQuery()), rows: page.rows.map(IncidentLine.init))
        return Pages.html(Templates.render(view, "case"))
    }

    /// The case page's counts as JSON.
    func apiCase() async throws -> Response {
        let summary = try await blocking { try summaries.summary(of: database) }
        return try Pages.json(CaseSummaryJSON(summary))
    }

    // MARK: What the routes share

    /// The form of a POST, after its CSRF token was checked: 403 (and nothing done) when
    /// the session's token is not in it. A request signed with a bearer token needs none.
    func post<Fields: Decodable>(
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
