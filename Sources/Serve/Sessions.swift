import ByteParsing
import CaseStore
import Concurrency
import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// What each route knows of a request: who is asking, and the CSRF token its forms carry.
public struct CairnContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `Gate` before any route runs.
    var visitor = Visitor(analyst: "", csrfToken: nil)

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Forms are small; the upload page streams its files instead of collecting them.
    public var maxUploadSize: Int { 1 << 20 }
}

/// Who made a request.
struct Visitor: Sendable {
    /// The analyst's name from the token file, or the user running `cairn serve` when
    /// it runs without one: what triage records.
    var analyst: String
    /// The token every POST of this browser session must carry in `csrf_token`; nil for a
    /// request that authenticated with an `Authorization` header, which no other site can
    /// make a browser send.
    var csrfToken: String?
}

/// The browser sessions of one server: a random id in an HttpOnly, SameSite=Strict
/// cookie names a session, which holds the analyst and the session's CSRF token. Sessions
/// live in memory: a restarted server asks for tokens again.
final class Sessions: Sendable {
    static let cookieName = "cairn_session"
    /// A session unused this long is forgotten.
    static let idleLimit: TimeInterval = 12 * 3600
    /// The most sessions kept; the least recently used go first.
    static let capacity = 10_000

    struct Session {
        var analyst: String
        var csrfToken: String
        var lastUsed: Date
    }

    /// SHA-256 of each token → analyst; nil when the server runs without tokens.
    private let tokenDigests: [String: String]?
    /// The analyst of a server without tokens.
    let localAnalyst: String
    private let open = Lock<[String: Session]>([:])

    init(tokens: [String: String]?, localAnalyst: String = CustodyChain.currentUser()) {
        tokenDigests = tokens.map { tokens in
            Dictionary(uniqueKeysWithValues: tokens.map { (Sessions.digest($0.key), $0.value) })
        }
        self.localAnalyst = localAnalyst
    }

    var requiresTokens: Bool { tokenDigests != nil }

    /// The analyst a token belongs to. Tokens are compared by their SHA-256, so the
    /// time a lookup takes says nothing about how much of a token was right.
    func analyst(token: String) -> String? {
        tokenDigests?[Sessions.digest(token)]
    }

    /// The live session `id` names, marked used now.
    func session(_ id: String) -> Session? {
        open.withLock { sessions in
            guard var session = sessions[id], Date().timeIntervalSince(session.lastUsed) < Sessions.idleLimit else {
                sessions[id] = nil
                return nil
            }
            session.lastUsed = Date()
            sessions[id] = session
            return session
        }
    }

    /// A new session for `analyst`; returns its id.
    func start(analyst: String) -> (id: String, session: Session) {
        let session = Session(analyst: analyst, csrfToken: Sessions.randomToken(), lastUsed: Date())
        let id = Sessions.randomToken()
        open.withLock { sessions in
            if sessions.count >= Sessions.capacity,
               let oldest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                sessions[oldest] = nil
            }
            sessions[id] = session
        }
        return (id, session)
    }

    func end(_ id: String) {
        open.withLock { $0[id] = nil }
    }

    /// 256 random bits as hex, from the system's generator (getrandom(2) on Linux).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.string((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func digest(_ text: String) -> String {
        Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    /// The cookie that names session `id`: HttpOnly, SameSite=Strict, and Secure when the
    /// server speaks TLS.
    static func cookie(_ id: String, secure: Bool) -> Cookie {
        Cookie(name: cookieName, value: id, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// Whether two tokens are equal, in time that depends only on their lengths.
    static func same(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}

/// Runs before every route: answers who is asking (a token, a session cookie, or the
/// local user when the server has no tokens), refuses the rest with 401, and puts the
/// security headers on every answer, errors included.
struct Gate: RouterMiddleware {
    typealias Context = CairnContext

    let sessions: Sessions
    let secureCookies: Bool

    /// No script, style or frame from anywhere but Cairn; no inline script or style.
    static let headers: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        // Not `no-referrer`: with it, browsers send `Origin: null` on the pages' own
        // forms, which the origin check below would refuse. Other sites get nothing.
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    /// What a request may reach without having signed in.
    static func isOpen(_ path: String) -> Bool {
        path == "/login" || path.hasPrefix("/static/")
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        var started: (id: String, session: Sessions.Session)?
        // A browser names the page a POST comes from; one from another site (which could
        // sign a browser in under the attacker's token) is refused before anything else.
        if request.method == .post, let origin = request.headers[.origin], !Gate.sameOrigin(origin, host: request.head.authority) {
            return secured(Pages.failure(HTTPError(.forbidden, message: "A form from \(origin) may not post to this server."), request: request))
        }
        // Without a token file, an Authorization header (a proxy's, say) is not Cairn's.
        if sessions.requiresTokens, let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), let analyst = sessions.analyst(token: String(header.dropFirst(7))) else {
                return secured(Pages.unauthorized(request))
            }
            context.visitor = Visitor(analyst: analyst, csrfToken: nil)
        } else if let id = request.cookies[Sessions.cookieName]?.value, let session = sessions.session(id) {
            context.visitor = Visitor(analyst: session.analyst, csrfToken: session.csrfToken)
        } else if !sessions.requiresTokens {
            started = sessions.start(analyst: sessions.localAnalyst)
            context.visitor = Visitor(analyst: sessions.localAnalyst, csrfToken: started?.session.csrfToken)
        } else if !Gate.isOpen(request.uri.path) {
            return secured(Pages.unauthorized(request))
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Pages.failure(error, request: request)
        }
        if let started { response.setCookie(Sessions.cookie(started.id, secure: secureCookies)) }
        return secured(response)
    }

    /// Whether `origin` (`https://host:port`, or `null`) names the host the request was
    /// sent to.
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, let components = URLComponents(string: origin), let originHost = components.host else { return false }
        let originAuthority = originHost.contains(":") && !originHost.hasPrefix("[") ? "[\(originHost)]" : originHost
        return (components.port.map { "\(originAuthority):\($0)" } ?? originAuthority) == host
    }

    private func secured(_ response: Response) -> Response {
        var response = response
        for field in Gate.headers where response.headers[field.name] == nil { response.headers.append(field) }
        return response
    }
}
