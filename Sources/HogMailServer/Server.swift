import Foundation
import HogMail
import HogMailInbound
import HogMailStore
import HTTPTypes
import Hummingbird
import Logging

/// The request context: the connection's peer (the client, or the reverse proxy in front).
public struct HogMailRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// `hogmail serve`: the form, the confirm and unsubscribe links, the public archive, and the
/// SES webhook when `transport.ses` is configured.
public struct PublicServer: Sendable {
    public var service: SubscriptionService
    /// Where `hogmail build` wrote the archive.
    public var outputDirectory: URL
    public var perAddress: RateLimiter
    public var perClient: RateLimiter
    /// Who the client is behind `serve.trusted_proxies`.
    public var clients: ClientAddressResolver
    /// Sends the confirmation emails of recorded requests, outside the request.
    public let confirmations: ConfirmationWorker
    public var limits = ConnectionLimits()
    public static let maximumBody = 16 * 1024
    /// `POST /webhooks/ses` (SES bounces and complaints through SNS); nil, and the route
    /// absent, when `hogmail.yml` has no `transport.ses` section.
    public var sesWebhook: SESWebhook?
    var webhookLogger = Logger(label: "hogmail.webhooks")

    public init(service: SubscriptionService, outputDirectory: URL,
                perAddressLimit: Int = 3, perClientLimit: Int = 20) {
        self.service = service
        self.outputDirectory = outputDirectory
        // In the store: two servers on one store hold the same limits as one.
        self.perAddress = RateLimiter(store: service.store, scope: "subscribe-address", limit: perAddressLimit, window: 3600)
        self.perClient = RateLimiter(store: service.store, scope: "subscribe-client", limit: perClientLimit, window: 3600)
        self.clients = ClientAddressResolver(configuration: service.configuration)
        self.confirmations = ConfirmationWorker(service: service)
        self.sesWebhook = SESWebhook(configuration: service.configuration, store: service.store)
    }

    static let routes = RouteMethods([
        ("/subscribe", [.get, .post]), ("/confirm", [.get, .post]), ("/unsubscribe", [.get, .post]),
        ("/archive", [.get]), ("/archive/:issue", [.get]), ("/archive/:issue/:file", [.get]), ("/feed.xml", [.get]),
    ])
    static let webhookRoutes: [(String, [HTTPRequest.Method])] = [("/webhooks/ses", [.post])]

    public func router() -> Router<HogMailRequestContext> {
        let router = Router(context: HogMailRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: PlainErrorPageMiddleware { status in
            switch status {
            case .notFound: return self.message(.notFound, "Not found", "There is no page here. The archive lists every issue.")
            case .methodNotAllowed: return self.message(.methodNotAllowed, "Not allowed", "This address does not take that kind of request.")
            case .contentTooLarge: return self.message(.contentTooLarge, "Too large", "That request was larger than this server accepts.")
            default: return self.message(status, "Something went wrong", "Please try again in a few minutes. If it keeps happening, reply to any issue and tell us.")
            }
        })
        router.add(middleware: MethodNotAllowedMiddleware(routes: sesWebhook == nil ? Self.routes : RouteMethods(Self.routes.list + Self.webhookRoutes)))
        router.get("/subscribe") { _, _ in self.subscribeForm() }
        router.post("/subscribe") { request, context in try await self.subscribe(request, context) }
        router.get("/confirm") { request, _ in try self.confirmPage(request) }
        router.post("/confirm") { request, _ in try await self.confirm(request) }
        router.get("/unsubscribe") { request, _ in try self.unsubscribePage(request) }
        router.post("/unsubscribe") { request, _ in try await self.unsubscribe(request) }
        router.get("/archive") { _, _ in self.file("index.html", type: "text/html; charset=utf-8") }
        router.get("/archive/:issue") { _, context in self.issuePage(context) }
        router.get("/archive/:issue/:file") { _, context in self.issueFile(context) }
        router.get("/feed.xml") { _, _ in self.file("feed.xml", type: "application/atom+xml; charset=utf-8") }
        if let sesWebhook {
            router.post("/webhooks/ses") { request, _ in try await self.sesNotification(request, sesWebhook) }
        }
        return router
    }

    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), server: limits.server, configuration: limits.configuration(host: host, port: port),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) })
    }

    /// The server and its confirmation worker, until cancelled.
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.confirmations.run() }
            group.addTask { try await self.application(host: host, port: port, onRunning: onRunning).runService() }
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Routes

    func subscribeForm() -> Response {
        page("pages/subscribe.html", ["subscribe_path": "/subscribe", "consent_text": service.configuration.list.consentText])
    }

    func subscribe(_ request: Request, _ context: HogMailRequestContext) async throws -> Response {
        guard let fields = try await form(request) else { return message(.badRequest, "That request was not understood", "Send the form from the subscribe page.") }
        let client = clients.client(peer: context.peerAddress, headers: request.headers)
        guard try await perClient.allow(client) else {
            return message(.tooManyRequests, "Too many requests", "Please wait a while before trying again.", retryAfter: 3600)
        }
        guard let raw = fields["email"], raw.utf8.count <= 254, Subscriber.validateAddress(raw) == nil, let email = Subscriber.normalize(raw) else {
            return message(.badRequest, "That is not an email address", "Go back and check the address: it should look like name@example.com.")
        }
        let name = fields["name"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        // The store's own rule (one line, no control characters, at most 200 characters), checked
        // here so the person gets a 400 and nothing is recorded.
        if let name, Subscriber.validateName(name) != nil {
            return message(.badRequest, "That name cannot be used", "Go back and write your name on one line, in at most 200 characters (or leave it empty).")
        }
        // One person, however they spell the address's case: the limit holds for `Victim@` and `victim@` alike.
        guard try await perAddress.allow(email.lowercased()) else {
            return message(.tooManyRequests, "Too many requests", "Please wait a while before trying again.", retryAfter: 3600)
        }
        let consent = Subscriber.Consent(
            at: Date(), method: .form, source: "\(service.configuration.urls.publicBase)/subscribe", text: service.configuration.list.consentText,
            ip: client, userAgent: request.headers[.userAgent].map { String($0.prefix(300)) })
        // Recorded, not acted on: the worker sends the confirmation. The answer costs the same
        // insert for every address and cannot fail with the mail relay, so neither its status
        // nor its timing tells who is subscribed.
        try service.store.enqueueSubscriptionRequest(email: email, name: name, consent: consent)
        confirmations.notify()
        return message(.ok, "Check your inbox", "If \(email) can receive our email, a confirmation link is on its way. Nothing else arrives until you confirm.")
    }

    /// A GET of the confirmation link shows a button; only its POST confirms. Mail scanners
    /// fetch every link in a message, and a double opt-in they could complete proves nothing.
    func confirmPage(_ request: Request) throws -> Response {
        guard let token = request.uri.queryParameters["token"].map(String.init) else {
            return message(.badRequest, "This link is incomplete", "Open the whole link from the confirmation email.")
        }
        switch service.checkConfirmation(token: token) {
        case .done(let subscriber):
            return page("pages/confirm.html", ["masked_email": Self.mask(subscriber.email), "action": "/confirm?token=" + Self.queryEscaped(token)])
        case .expired: return message(.gone, "This link has expired", "Confirmation links work for 7 days. Subscribe again to get a new one.")
        case .invalid: return message(.badRequest, "This link is not valid", "Open the whole link from the confirmation email.")
        }
    }

    func confirm(_ request: Request) async throws -> Response {
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
        var action = "/unsubscribe?token=" + Self.queryEscaped(token)
        if let send = sendNumber(request) { action += "&s=\(send)" }
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
        switch try service.unsubscribe(token: token, actor: oneClick ? "one-click" : "unsubscribe-page", sendID: sendNumber(request)) {
        case .done:
            return message(.ok, "You are unsubscribed", "You will get no more email from \(service.configuration.list.name). If you change your mind, you can subscribe again at any time.")
        case .invalid, .expired:
            return message(.badRequest, "This link is not valid", "Use the unsubscribe link from one of our emails, or reply to any issue and we will take you off by hand.")
        }
    }

    /// The `s` of an unsubscribe link: the send it came in, so `status` can count who left
    /// through which issue. A plain number, not a tracking id; ignored unless such a send exists.
    func sendNumber(_ request: Request) -> Int64? {
        guard let text = request.uri.queryParameters["s"].map(String.init), (1...18).contains(text.utf8.count),
              text.utf8.allSatisfy({ (48...57).contains($0) }), let id = Int64(text), id > 0,
              (try? service.store.sendExists(id: id)) == true else { return nil }
        return id
    }

    func issuePage(_ context: HogMailRequestContext) -> Response {
        guard let issue = context.parameters.get("issue"), issue.range(of: "^[A-Za-z0-9_-]+$", options: .regularExpression) != nil else {
            return message(.notFound, "No such issue", "The archive lists every issue.")
        }
        return file("\(issue)/web.html", type: "text/html; charset=utf-8")
    }

    /// An image the build copied into the issue's folder. Only names the build makes
    /// (`stem.<12 hex>.png`) are answered, so nothing else in out/ is reachable and no path
    /// climbs out of it; the content hash in the name lets caches keep the file for a year.
    func issueFile(_ context: HogMailRequestContext) -> Response {
        guard let issue = context.parameters.get("issue"), issue.range(of: "^[A-Za-z0-9_-]+$", options: .regularExpression) != nil,
              let name = context.parameters.get("file"), name.utf8.count <= 100,
              name.range(of: LocalImages.hashedNamePattern, options: .regularExpression) != nil,
              let format = ImageFormat(fileExtension: (name as NSString).pathExtension) else {
            return message(.notFound, "Not found", "There is no such file in the archive.")
        }
        var response = file("\(issue)/\(name)", type: format.contentType)
        guard response.status == .ok else { return response }
        response.headers[.cacheControl] = "public, max-age=31536000, immutable"
        if format == .svg {
            // An SVG opened on its own is a document that could run script: none, and no fetches.
            response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'"
        }
        return response
    }

    /// SNS posts JSON as `text/plain`; the body goes to HogMailInbound as it came.
    func sesNotification(_ request: Request, _ webhook: SESWebhook) async throws -> Response {
        var request = request
        // Past the limit this throws 413: SNS messages are at most 256 KB.
        let buffer = try await request.collectBody(upTo: SNSNotification.maximumBody)
        let messageType = HTTPField.Name("x-amz-sns-message-type").flatMap { request.headers[$0] }
        let answer = await webhook.handle(body: Array(buffer.readableBytesView), messageType: messageType)
        if answer.isProblem { webhookLogger.warning("\(answer.log)") } else { webhookLogger.info("\(answer.log)") }
        return Response(status: .init(code: answer.status),
                        headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }

    // MARK: - Helpers

    func form(_ request: Request) async throws -> [String: String]? {
        var request = request
        // Past the limit this throws 413, which the error page answers.
        let buffer = try await request.collectBody(upTo: Self.maximumBody)
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

    /// `ada@example.com` → `a***@example.com`: enough to recognise, not enough to harvest —
    /// always three stars, so the page does not tell the local part's length either.
    static func mask(_ email: String) -> String {
        guard let at = email.lastIndex(of: "@") else { return "***" }
        return "\(email[..<at].prefix(1))***\(email[at...])"
    }

    static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
