import CaseStore
import Foundation
import HTTPTypes
import Hummingbird

/// What changes something: signing in, exports (custody entries) and uploads (ingests).
extension Routes {
    // MARK: Signing in, export

    private struct LoginForm: Decodable {
        var token: String?
    }

    func login(_ request: Request, _ context: CairnContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        let form = Form.decode(LoginForm.self, from: String(buffer: body))
        guard let token = form?.token, let analyst = sessions.analyst(token: token) else {
            return Pages.loginPage(problem: "That token is not in the server's token file.", status: .unauthorized)
        }
        let (id, _) = sessions.start(analyst: analyst)
        var response = Response.redirect(to: "/", type: .normal)
        response.setCookie(Sessions.cookie(id, secure: options.tlsCertificate != nil))
        return response
    }

    private struct ExportForm: Decodable {
        var csrf_token: String?
        var ids: [Int64]?
    }

    /// Builds the evidence package of the chosen incidents with `cairn export`'s exporter
    /// (recorded in the custody log under the analyst's name) and sends it as one ZIP.
    func export(_ request: Request, _ context: CairnContext) async throws -> Response {
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

    func uploadPage(_ context: CairnContext) -> Response {
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
    func upload(_ request: Request, _ context: CairnContext) async throws -> Response {
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
        uploads.enqueue(job.id)
        return try Pages.json(job, status: .accepted)
    }

    /// Server-sent events: every half second, the uploads and their progress as one
    /// `uploads` event (JSON on one line), until the browser leaves.
    func uploadEvents() -> Response {
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
}
