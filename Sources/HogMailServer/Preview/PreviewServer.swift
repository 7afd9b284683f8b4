import Crypto
import Foundation
import HogMail
import HogMailDelivery
import HogMailStore
import Hummingbird

/// `hogmail preview`: the editor's browser tab. Every page is built from `hogmail build`'s own
/// pipeline (nothing written), so the email shown is byte for byte the one in `out/`.
public struct PreviewServer: Sendable {
    public let builder: PreviewBuilder
    /// Sends the real message to the configured test addresses, the way `hogmail send --test` does.
    public typealias TestSender = @Sendable (BuildPipeline.BuiltIssue) async throws -> String
    let testSender: TestSender
    let guardian = TestSendGuard()
    /// A random value in every test-send form: another site cannot make the browser send one.
    let csrf: String
    /// The address it listens on and its port, once bound: the only Host values it answers.
    let host: String
    let port: ListeningPort
    /// Each link's state, checked in the background.
    let linkBoard = PreviewLinkBoard()
    /// How links are fetched; nil: as hogmail.yml says (tests point names at 127.0.0.1).
    public var linkCheckOptions: LinkCheckOptions?
    /// Check the draft's links in the background and show them. Off only for tests that
    /// compare page versions, which a finished link check changes.
    public var checksLinks = true

    public init(project: Project, host: String = "127.0.0.1", port: Int = 0, testSender: @escaping TestSender) {
        self.builder = PreviewBuilder(project: project)
        self.testSender = testSender
        self.host = host
        self.port = ListeningPort(port)
        self.csrf = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }).hexString
    }

    /// The test sender of `hogmail send --test`: the project's store, key and transport as
    /// hogmail.yml says now, to its `test_addresses`.
    public static func projectTestSender(_ project: Project) -> TestSender {
        { issue in
            let (configuration, _) = try project.configuration()
            guard !configuration.testAddresses.isEmpty else {
                throw HogMailError(file: "hogmail.yml", "There are no test addresses. List them under `test_addresses:` in hogmail.yml.")
            }
            let job = SendJob(configuration: configuration, store: try SubscriberStore.open(project, configuration),
                              signer: try TokenSigner.fromEnvironment(configuration),
                              transport: try configuration.transport(projectDirectory: project.directory))
            let sent = try await job.sendTest(issue, to: configuration.testAddresses)
            return "Sent a test to \(sent.joined(separator: ", ")) through \(job.transport.name). It is not part of any send."
                + (issue.imagesNotOnlineNote.map { " " + $0 } ?? "")
        }
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: LoopbackOnlyMiddleware(listeningOn: host, port: port))
        // The preview's pages run only their own script and style and talk only to the preview.
        router.add(middleware: SecurityHeadersMiddleware(contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"))
        router.get("/") { _, _ in try await self.index() }
        router.get("/version") { _, _ in Self.text(await builder.version()) }
        router.get("/preview.css") { _, _ in Self.asset(PreviewAssets.css, type: "text/css; charset=utf-8") }
        router.get("/preview.js") { _, _ in Self.asset(PreviewAssets.javascript, type: "text/javascript; charset=utf-8") }
        router.get("/drafts/:draft") { _, context in try await self.page(context, panelsOnly: false) }
        router.get("/drafts/:draft/panels") { _, context in try await self.page(context, panelsOnly: true) }
        router.get("/drafts/:draft/version") { _, _ in Self.text(await self.pageVersion(await builder.version())) }
        router.get("/drafts/:draft/email.html") { _, context in try await self.email(context) }
        router.get("/drafts/:draft/images/:file") { _, context in try await self.image(context) }
        router.post("/drafts/:draft/test-send") { request, context in try await self.testSend(request, context) }
        router.post("/drafts/:draft/links") { request, context in
            try await self.addLink(request, context, draft: try context.parameters.require("draft"))
        }
        router.get("/links/add") { request, _ in self.addLinkForm(request) }
        router.post("/links/add") { request, context in try await self.addLink(request, context, draft: nil) }
        return router
    }

    public func application(limits: ConnectionLimits = ConnectionLimits(), onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let listening = port
        let requested = port.port
        return Application(router: router(), server: limits.server, configuration: limits.configuration(host: host, port: requested),
                           onServerRunning: { channel in
                               listening.port = channel.localAddress?.port ?? requested
                               await onRunning(listening.port)
                           })
    }

    // MARK: - Routes

    func index() async throws -> Response {
        let version = await builder.version()
        let summaries = await builder.summaries()
        let listName = (try? builder.project.configuration().0.list.name) ?? "HogMail"
        return Self.html(PreviewPages.index(listName: listName, version: version, summaries: summaries))
    }

    func page(_ context: BasicRequestContext, panelsOnly: Bool) async throws -> Response {
        let draft = try context.parameters.require("draft")
        guard (try? await builder.draftURL(named: draft)) != nil else { return Self.notFound(draft) }
        let (version, preview) = await builder.preview(of: draft)
        let addresses = (try? builder.project.configuration().0.testAddresses) ?? []
        var links = ""
        if checksLinks, case .built(let built, _) = preview { links = await linksPanel(built, draft: draft) }
        let pageVersion = await self.pageVersion(version)
        let body = panelsOnly
            ? PreviewPages.panels(draft: draft, version: version, preview: preview, testAddresses: addresses, csrf: csrf, links: links)
            : PreviewPages.page(draft: draft, version: version, pageVersion: pageVersion, preview: preview, testAddresses: addresses, csrf: csrf, links: links)
        var response = Self.html(body)
        response.headers[.init("X-Preview-Version")!] = pageVersion
        return response
    }

    /// The email exactly as `hogmail build` writes it, for the sandboxed frames.
    func email(_ context: BasicRequestContext) async throws -> Response {
        let draft = try context.parameters.require("draft")
        guard (try? await builder.draftURL(named: draft)) != nil else { return Self.notFound(draft) }
        let (_, preview) = await builder.preview(of: draft)
        switch preview {
        case .built(let issue, _):
            var response = Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                                    body: .init(byteBuffer: ByteBuffer(string: Self.localImagesServedHere(issue, draft: draft, publicBase: await builder.publicBase()))))
            // The email never runs script; it may be framed by the preview only.
            response.headers[.init("Content-Security-Policy")!] =
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http: data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
            response.headers[.init("X-Frame-Options")!] = "SAMEORIGIN"
            return response
        case .failed(let error):
            return Response(status: .unprocessableContent, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: "This draft does not build: \(error.location.map { "\($0): " } ?? "")\(error.message)\n")))
        }
    }

    /// A local image of the draft, from the build's own output: it is not at `urls.public` until
    /// the issue is published and served, and the editor wants to see it now.
    func image(_ context: BasicRequestContext) async throws -> Response {
        let draft = try context.parameters.require("draft")
        let name = try context.parameters.require("file")
        guard name.range(of: LocalImages.hashedNamePattern, options: .regularExpression) != nil,
              let format = ImageFormat(fileExtension: (name as NSString).pathExtension),
              (try? await builder.draftURL(named: draft)) != nil,
              case .built(let issue, _) = await builder.preview(of: draft).preview, let data = issue.outputs[name] else {
            return Self.notFound(draft)
        }
        var response = Response(status: .ok, headers: [.contentType: format.contentType, .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        if format == .svg { response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'" }
        return response
    }

    /// The email with its local images' public addresses pointed at the preview, which serves them.
    static func localImagesServedHere(_ issue: BuildPipeline.BuiltIssue, draft: String, publicBase: String?) -> String {
        var html = String(decoding: issue.outputs["email.html"] ?? Data(), as: UTF8.self)
        guard let publicBase else { return html }
        let urls = ProjectURLs(publicBase: publicBase)
        let path = draft.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#&\"'<>"))) ?? draft
        for name in issue.outputs.keys.sorted() where name.range(of: LocalImages.hashedNamePattern, options: .regularExpression) != nil {
            html = html.replacingOccurrences(of: HTML.escapeAttribute(urls.issueFile(issue.folder, name)), with: "/drafts/\(path)/images/\(name)")
        }
        return html
    }

    func testSend(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let draft = try context.parameters.require("draft")
        let base = "/drafts/\(draft)"
        var request = request
        let buffer = try await request.collectBody(upTo: 4096)
        let fields = (try? FormBody.fields(Array(buffer.readableBytesView), contentType: request.headers[.contentType])) ?? [:]
        let fromScript = request.headers[.init("X-Requested-With")!] == "fetch"
        func answer(_ status: HTTPResponse.Status, _ text: String, ok: Bool, confirm: Bool = false) -> Response {
            let fragment = PreviewPages.testSendResult(text, confirm: confirm, base: base, csrf: csrf, ok: ok)
            let body = fromScript ? fragment
                : PreviewPages.document(title: "Test send", body: "<main class=\"panel\">\(fragment)<p><a href=\"\(PreviewPages.escape(base))\">Back to the preview</a></p></main>")
            return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        guard let token = fields["csrf"], TokenSigner.constantTimeEqual(Data(token.utf8), Data(csrf.utf8)) else {
            return answer(.forbidden, "This request did not come from the preview page. Reload the page and use its button.", ok: false)
        }
        guard (try? await builder.draftURL(named: draft)) != nil else { return Self.notFound(draft) }
        guard case .built(let issue, _) = await builder.preview(of: draft).preview else {
            return answer(.unprocessableContent, "The draft does not build, so there is nothing to send. Fix it first.", ok: false)
        }
        if issue.lint.errorCount > 0 {
            return answer(.unprocessableContent, "The linter found errors; `hogmail send --test` refuses such a draft too. Fix them first.", ok: false)
        }
        // The same version of the same draft, sent moments ago: ask before sending it again.
        let repeatAllowed = fields["again"] == "1"
        switch await guardian.begin(draft: draft, contentHash: issue.message.contentHash, allowRepeat: repeatAllowed) {
        case .inProgress:
            return answer(.conflict, "A test of this draft is being sent right now.", ok: false)
        case .recent(let seconds):
            return answer(.conflict, "This version was sent as a test \(seconds) second\(seconds == 1 ? "" : "s") ago. Send it again?", ok: false, confirm: true)
        case .go:
            do {
                let text = try await testSender(issue)
                await guardian.finish(draft: draft, contentHash: issue.message.contentHash, sent: true)
                return answer(.ok, text, ok: true)
            } catch {
                await guardian.finish(draft: draft, contentHash: issue.message.contentHash, sent: false)
                let message = (error as? HogMailError).map { $0.description } ?? "\(error)"
                return answer(.badGateway, "The test was not sent: \(message)", ok: false)
            }
        }
    }

    // MARK: - Helpers

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func notFound(_ draft: String) -> Response {
        html(PreviewPages.document(title: "No such draft", body: """
            <main class="panel" role="alert"><h1>No such draft</h1><p>There is no draft called <code>\(PreviewPages.escape(draft))</code> in issues/.</p>\
            <p><a href="/">All drafts</a></p></main>
            """), status: .notFound)
    }
}

/// Keeps a test send from going out twice by accident: one at a time per draft, and the same
/// version again within ten minutes only when asked for explicitly.
actor TestSendGuard {
    enum Verdict: Equatable { case go, inProgress, recent(seconds: Int) }
    private var sending: Set<String> = []
    private var last: [String: (hash: String, at: Date)] = [:]
    static let window: TimeInterval = 600

    func begin(draft: String, contentHash: String, allowRepeat: Bool, now: Date = Date()) -> Verdict {
        if sending.contains(draft) { return .inProgress }
        if !allowRepeat, let previous = last[draft], previous.hash == contentHash, now.timeIntervalSince(previous.at) < Self.window {
            return .recent(seconds: Int(now.timeIntervalSince(previous.at)))
        }
        sending.insert(draft)
        return .go
    }

    func finish(draft: String, contentHash: String, sent: Bool, now: Date = Date()) {
        sending.remove(draft)
        if sent { last[draft] = (contentHash, now) }
    }
}

