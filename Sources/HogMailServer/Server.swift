import Foundation
import HogMail
import HogMailStore
import Hummingbird

/// The request context: the client's address, for rate limits.
public struct HogMailRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// `hogmail serve`: the form, the confirm and unsubscribe links, and the public archive.
public struct PublicServer: Sendable {
    public var service: SubscriptionService
    /// Where `hogmail build` wrote the archive.
    public var outputDirectory: URL
    public var perAddress: RateLimiter
    public var perClient: RateLimiter
    public static let maximumBody = 16 * 1024

    public init(service: SubscriptionService, outputDirectory: URL,
                perAddress: RateLimiter = RateLimiter(limit: 3, window: 3600),
                perClient: RateLimiter = RateLimiter(limit: 20, window: 3600)) {
        self.service = service
        self.outputDirectory = outputDirectory
        self.perAddress = perAddress
        self.perClient = perClient
    }

    public func router() -> Router<HogMailRequestContext> {
        let router = Router(context: HogMailRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: PlainErrorPageMiddleware { status in
            switch status {
            case .notFound: return self.message(.notFound, "Not found", "There is no page here. The archive lists every issue.")
            case .methodNotAllowed: return self.message(.methodNotAllowed, "Not allowed", "This address does not take that kind of request.")
            case .contentTooLarge: return self.message(.contentTooLarge, "Too large", "That request was larger than this server accepts.")
            default: return self.message(status, "Something went wrong", "Please try again later.")
            }
        })
        router.get("/subscribe") { _, _ in self.subscribeForm() }
        router.post("/subscribe") { request, context in try await self.subscribe(request, context) }
        router.get("/confirm") { request, _ in try self.confirm(request) }
        router.get("/unsubscribe") { request, _ in try self.unsubscribePage(request) }
        router.post("/unsubscribe") { request, _ in try await self.unsubscribe(request) }
        router.get("/archive") { _, _ in self.file("index.html", type: "text/html; charset=utf-8") }
        router.get("/archive/:issue") { _, context in self.issuePage(context) }
        router.get("/feed.xml") { _, _ in self.file("feed.xml", type: "application/atom+xml; charset=utf-8") }
        return router
    }

    public func application(host: String, port: Int) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: nil))
    }

    // MARK: - Routes

    func subscribeForm() -> Response {
        page("pages/subscribe.html", ["subscribe_path": "/subscribe", "consent_text": service.configuration.list.consentText])
    }

    func subscribe(_ request: Request, _ context: HogMailRequestContext) async throws -> Response {
        guard let fields = try await form(request) else { return message(.badRequest, "That request was not understood", "Send the form from the subscribe page.") }
        guard await perClient.allow(context.clientAddress) else {
            return message(.tooManyRequests, "Too many requests", "Please wait a while before trying again.", retryAfter: 3600)
        }
        guard let raw = fields["email"], let email = Subscriber.normalize(raw) else {
            return message(.badRequest, "That is not an email address", "Go back and check the address: it should look like name@example.com.")
        }
        guard await perAddress.allow(email) else {
            return message(.tooManyRequests, "Too many requests", "Please wait a while before trying again.", retryAfter: 3600)
        }
        let name = fields["name"].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 }
        let consent = Subscriber.Consent(
            at: Date(), method: .form, source: "\(service.configuration.urls.publicBase)/subscribe", text: service.configuration.list.consentText,
            ip: context.clientAddress, userAgent: request.headers[.userAgent].map { String($0.prefix(300)) })
        try await service.requestSubscription(email: email, name: name, consent: consent, actor: "form")
        // The same answer whether or not the address was known: the form must not reveal who subscribes.
        return message(.ok, "Check your inbox", "If \(email) can receive our email, a confirmation link is on its way. Nothing else arrives until you confirm.")
    }

    func confirm(_ request: Request) throws -> Response {
        guard let token = request.uri.queryParameters["token"].map(String.init) else {
            return message(.badRequest, "This link is incomplete", "Open the whole link from the confirmation email.")
        }
        switch try service.confirm(token: token) {
        case .done: return message(.ok, "You are subscribed", "Thank you. The next issue of \(service.configuration.list.name) will reach you; every issue has a one-click unsubscribe link.")
        case .expired: return message(.gone, "This link has expired", "Confirmation links work for 7 days. Subscribe again to get a new one.")
        case .invalid: return message(.badRequest, "This link is not valid", "Open the whole link from the confirmation email.")
        }
    }

    func unsubscribePage(_ request: Request) throws -> Response {
        // A GET never unsubscribes: link scanners and previews fetch GETs.
        guard let token = request.uri.queryParameters["token"].map(String.init),
              let subscriber = try service.subscriber(forUnsubscribeToken: token) else {
            return message(.badRequest, "This link is not valid", "Use the unsubscribe link from one of our emails, or reply to any issue and we will take you off by hand.")
        }
        let action = "/unsubscribe?token=" + (token.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? token)
        return page("pages/unsubscribe.html", ["masked_email": Self.mask(subscriber.email), "action": action])
    }

    func unsubscribe(_ request: Request) async throws -> Response {
        guard let token = request.uri.queryParameters["token"].map(String.init) else {
            return message(.badRequest, "This link is not valid", "Use the unsubscribe link from one of our emails.")
        }
        guard let fields = try await form(request) else {
            return message(.badRequest, "That request was not understood", "Use the button on the unsubscribe page.")
        }
        let oneClick = fields["List-Unsubscribe"] == "One-Click"
        switch try service.unsubscribe(token: token, actor: oneClick ? "one-click" : "unsubscribe-page") {
        case .done:
            return message(.ok, "You are unsubscribed", "You will get no more email from \(service.configuration.list.name). If you change your mind, you can subscribe again at any time.")
        case .invalid, .expired:
            return message(.badRequest, "This link is not valid", "Use the unsubscribe link from one of our emails, or reply to any issue and we will take you off by hand.")
        }
    }

    func issuePage(_ context: HogMailRequestContext) -> Response {
        guard let issue = context.parameters.get("issue"), issue.range(of: "^[A-Za-z0-9_-]+$", options: .regularExpression) != nil else {
            return message(.notFound, "No such issue", "The archive lists every issue.")
        }
        return file("\(issue)/web.html", type: "text/html; charset=utf-8")
    }

    // MARK: - Helpers

    func form(_ request: Request) async throws -> [String: String]? {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: Self.maximumBody) else { return nil }
        return try? FormBody.fields(Array(buffer.readableBytesView), contentType: request.headers[.contentType])
    }

    func file(_ relative: String, type: String) -> Response {
        let url = outputDirectory.appendingPathComponent(relative)
        guard let data = try? Data(contentsOf: url) else {
            return message(.notFound, "Not found", "The archive has not been built yet, or this issue does not exist.")
        }
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func page(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        var context: [String: Any] = ["lang": service.configuration.list.language, "list_name": service.configuration.list.name]
        context.merge(values) { _, new in new }
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: service.templates.render(template, context))))
    }

    func message(_ status: HTTPResponse.Status, _ heading: String, _ text: String, retryAfter: Int? = nil) -> Response {
        var response = page("pages/message.html", ["heading": heading, "message": text], status: status)
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    /// `ada@example.com` → `a**@example.com`: enough to recognise, not enough to harvest.
    static func mask(_ email: String) -> String {
        guard let at = email.lastIndex(of: "@") else { return "***" }
        let local = email[..<at]
        return "\(local.prefix(1))\(String(repeating: "*", count: max(2, local.count - 1)))\(email[at...])"
    }
}

/// Errors the router raises (no such route, wrong method, body too large) become the same
/// short plain page as every other refusal, instead of an empty body.
struct PlainErrorPageMiddleware<Context: RequestContext>: RouterMiddleware {
    let page: @Sendable (HTTPResponse.Status) -> Response

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            return page(error.status)
        }
    }
}

/// Headers for every answer: a strict Content-Security-Policy, no framing, no sniffing, no
/// referrer leaks. A route that sets its own policy (the preview's email frame) keeps it and
/// its framing rule.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The site's own pages: inline styles and images only, no script.
    var contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.init("Content-Security-Policy")!] == nil {
            response.headers[.init("Content-Security-Policy")!] = contentSecurityPolicy
            response.headers[.init("X-Frame-Options")!] = "DENY"
        }
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
