import CaseStore
import Correlation
import Foundation
import HTTPTypes
import Hummingbird
import Observations

/// What every page shows around its content (`Templates.layout`).
struct Frame {
    var title: String
    var analyst: String?
    var caseName: String
    var csrfToken: String
    var onCase = false, onIncidents = false, onSources = false, onCustody = false, onExplain = false, onUpload = false
}

/// One option of a `<select>`.
struct Option {
    var value: String
    var selected: Bool
}

struct NameCount {
    var name: String
    var count: String
}

/// A table row of the incident list (`Templates.incidentTable`).
struct IncidentLine {
    var id: Int64
    var severity, status, host, firstSeen, lastSeen, sightings, title: String
    var assignee: String?

    init(_ row: IncidentRow) {
        id = row.id
        severity = row.severity
        status = row.status.rawValue
        host = row.host
        firstSeen = row.firstSeen.iso8601
        lastSeen = row.lastSeen.iso8601
        sightings = String(row.sightingCount) + (row.lineCount > 0 ? " +\(row.lineCount) lines" : "")
        title = row.title
        assignee = row.assignee
    }
}

/// A column heading of the incident list: a link that sorts by it (the other way when
/// it already does).
struct Column {
    var label: String
    var href: String?
    var numeric = false
    /// `ascending` or `descending` when the list is sorted by this column.
    var current: String?
    var arrow = ""
}

/// The incident list's query: its filters, order and page, as the browser sends them
/// (`/incidents?severity=high&sort=host&dir=asc&page=2`) and as the CLI's options name
/// them.
struct IncidentQuery: Decodable {
    var severity: String?
    var status: String?
    var host: String?
    var indicator: String?
    var source: String?
    var since: String?
    var until: String?
    var sort: String?
    var dir: String?
    var page: String?
    var per: String?
    var limit: String?
    var offset: String?

    static let pageSizes = [25, 50, 100, 200, 500]

    init(_ request: Request) {
        self = Form.decode(IncidentQuery.self, from: request.uri.query ?? "") ?? IncidentQuery()
    }

    init() {}

    var order: IncidentOrder { sort.flatMap(IncidentOrder.init(rawValue:)) ?? .lastSeen }
    /// Newest, most severe, most sighted first unless `dir=asc`.
    var descending: Bool { dir != "asc" }
    var pageNumber: Int { max(1, page.flatMap { Int($0) } ?? 1) }
    var pageSize: Int { per.flatMap { Int($0) }.flatMap { IncidentQuery.pageSizes.contains($0) ? $0 : nil } ?? 50 }

    /// The store's filter, and a sentence for each value that was not understood (and
    /// left out of the filter).
    func filter() -> (IncidentFilter, [String]) {
        var filter = IncidentFilter()
        var problems: [String] = []
        let present = Form.present
        if let severity = present(severity) {
            if let level = Severity(rawValue: severity) { filter.minimumSeverity = level } else {
                problems.append("severity \(severity) is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        if let status = present(status) {
            if let parsed = TriageStatus(rawValue: status) { filter.status = parsed } else {
                problems.append("status \(status) is not one of \(TriageStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        filter.host = present(host)
        filter.indicator = present(indicator)
        filter.source = present(source)
        for (name, text, keep) in [("since", since, { filter.since = $0 }), ("until", until, { filter.until = $0 })]
            as [(String, String?, (Timestamp) -> Void)] {
            guard let text = present(text) else { continue }
            if let time = Timestamp(typed: text) { keep(time) } else {
                problems.append("\(name) \(text) is not a time such as 2024-03-01 or 2024-03-01T12:00:00Z")
            }
        }
        return (filter, problems)
    }

    /// The query of this list with some fields changed (nil removes one), for links.
    func link(_ changes: [String: String?] = [:], path: String = "/incidents") -> String {
        var fields: [(String, String?)] = [
            ("severity", severity), ("status", status), ("host", host), ("indicator", indicator), ("source", source),
            ("since", since), ("until", until), ("sort", sort), ("dir", dir), ("per", per), ("page", page),
        ]
        for index in fields.indices {
            if let change = changes[fields[index].0] { fields[index].1 = change }
        }
        return Form.link(path, fields)
    }

}

/// URL-encoded forms and query strings, decoded by Hummingbird's decoder (which reads
/// `+` as a space, as browsers send it, and `ids[]=1&ids[]=2` as a list).
enum Form {
    static func decode<T: Decodable>(_ type: T.Type, from text: String) -> T? {
        try? URLEncodedFormDecoder().decode(type, from: text)
    }

    /// A field's text without the blanks around it; nil when nothing is left.
    static func present(_ text: String?) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    /// `path?name=value&…`, leaving out empty fields, every value percent-encoded.
    static func link(_ path: String, _ fields: [(String, String?)]) -> String {
        let pairs = fields.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return name + "=" + encode(value)
        }
        return pairs.isEmpty ? path : path + "?" + pairs.joined(separator: "&")
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }
}

/// Answers that are not a route's own: HTML and JSON bodies, errors, 401.
enum Pages {
    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONForms.encoded(value))))
    }

    static func isAPI(_ request: Request) -> Bool { request.uri.path.hasPrefix("/api/") }

    /// 401: the sign-in page for a browser, a short JSON error for the API.
    static func unauthorized(_ request: Request) -> Response {
        if isAPI(request) || request.method != .get {
            var response = (try? json(["error": "a valid token is needed (Authorization: Bearer TOKEN)"], status: .unauthorized))
                ?? Response(status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return loginPage(problem: nil, status: .unauthorized)
    }

    static func loginPage(problem: String?, status: HTTPResponse.Status) -> Response {
        struct View {
            var frame: Frame
            var problem: String?
        }
        return html(
            Templates.render(View(frame: Frame(title: "Sign in", analyst: nil, caseName: "", csrfToken: ""), problem: problem), "login"),
            status: status)
    }

    /// The answer to an error a route threw: its status and message, as a page or as
    /// JSON. Store errors are said in words (`CaseDatabase.describe`).
    static func failure(_ error: any Error, request: Request) -> Response {
        let (status, message): (HTTPResponse.Status, String)
        switch error {
        case let error as HTTPError: (status, message) = (error.status, error.body ?? error.status.reasonPhrase)
        case CaseStoreError.unknownIncident(let id): (status, message) = (.notFound, "No incident \(id) in this case.")
        case let error as CaseStoreError: (status, message) = (.conflict, error.description)
        default: (status, message) = (.internalServerError, CaseDatabase.describe(error))
        }
        if isAPI(request) {
            return (try? json(["error": message], status: status)) ?? Response(status: status)
        }
        struct View {
            var frame: Frame
            var status: String
            var message: String
        }
        let frame = Frame(title: "\(status.code) \(status.reasonPhrase)", analyst: nil, caseName: "", csrfToken: "")
        return html(Templates.render(View(frame: frame, status: frame.title, message: message), "failure"), status: status)
    }
}
