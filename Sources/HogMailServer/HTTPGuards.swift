import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

// MARK: - Connections

/// The limits both servers put on connections: a slow client (one header byte a second) or an
/// idle one is dropped, and no more than `maximumConnections` are open at once.
public struct ConnectionLimits: Sendable {
    /// From a connection's start (or the end of the previous answer) to the end of the next
    /// request: headers and body must arrive within this.
    public var requestDeadline: TimeAmount
    public var maximumConnections: Int

    public init(requestDeadline: TimeAmount = .seconds(15), maximumConnections: Int = 512) {
        self.requestDeadline = requestDeadline
        self.maximumConnections = maximumConnections
    }

    var server: HTTPServerBuilder {
        let deadline = requestDeadline
        return .http1(configuration: .init(additionalChannelHandlers: [RequestDeadlineHandler(deadline: deadline)], idleTimeout: deadline))
    }

    func configuration(host: String, port: Int) -> ApplicationConfiguration {
        .init(address: .hostname(host, port: port), serverName: nil,
              availableConnectionsDelegate: MaximumAvailableConnections(maximumConnections))
    }
}

/// Closes a connection whose request has not fully arrived `deadline` after the connection
/// opened or the previous answer ended. NIO's idle timer alone does not do this: it restarts on
/// every byte, so a client trickling one byte a second would hold the connection forever.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let deadline: TimeAmount
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { disarm() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

// MARK: - Methods

/// The routes a server answers and their methods, so that a known path asked with another
/// method gets 405 with `Allow` (RFC 9110 §15.5.6) instead of 404, and HEAD is allowed wherever
/// GET is (the router answers it).
struct RouteMethods: Sendable {
    let routes: [(components: [Substring], methods: [HTTPRequest.Method])]
    /// As given, to build a longer list from.
    let list: [(String, [HTTPRequest.Method])]

    init(_ routes: [(String, [HTTPRequest.Method])]) {
        list = routes
        self.routes = routes.map { path, methods in
            (path.split(separator: "/"), methods.contains(.get) && !methods.contains(.head) ? methods + [.head] : methods)
        }
    }

    func allowed(for path: String) -> [HTTPRequest.Method]? {
        let components = path.split(separator: "/")
        return routes.first { route in
            route.components.count == components.count
                && zip(route.components, components).allSatisfy { pattern, part in pattern.hasPrefix(":") || pattern == part }
        }?.methods
    }
}

/// Turns "no such route" into 405 with `Allow` when the path exists under other methods.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allowed = routes.allowed(for: request.uri.path), !allowed.contains(request.method) else { throw error }
            throw HTTPError(.methodNotAllowed, headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
        }
    }
}

// MARK: - Errors

/// Every refusal and every failure is the same short page with the security headers: errors the
/// router raises (no such route, wrong method, body too large) and errors a handler throws (a
/// store that cannot be read), which are logged — never an empty body or a Swift value.
struct PlainErrorPageMiddleware<Context: RequestContext>: RouterMiddleware {
    let page: @Sendable (HTTPResponse.Status) -> Response
    var logger = Logger(label: "hogmail.server")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            var response = page(error.status)
            for field in error.headers { response.headers.append(field) }
            return response
        } catch let error as any HTTPResponseError {
            return page(error.status)
        } catch {
            logger.error("\(request.method.rawValue) \(request.uri.path) failed: \(String(describing: error))")
            return page(.internalServerError)
        }
    }
}

/// Headers for every answer: a strict Content-Security-Policy, no framing, no sniffing, no
/// referrer leaks. A route that sets its own policy (the preview's email frame) keeps it and
/// its framing rule.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The site's own pages: inline styles and images only, no script. Images from the
    /// archive itself too ('self'), which is plain http when serve runs without a proxy.
    var contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = contentSecurityPolicy
            response.headers[.xFrameOptions] = "DENY"
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }
}

// MARK: - The preview: only the editor's own browser

/// The port a server really listens on, known once it is bound (port 0 picks a free one).
public final class ListeningPort: Sendable {
    private let value: Mutex<Int>

    public init(_ port: Int) { value = Mutex(port) }

    public var port: Int {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// DNS rebinding: a page on evil.example that re-points its name at 127.0.0.1 reaches the
/// preview with `Host: evil.example`. The preview answers only the names of this machine's
/// loopback (and the address it listens on), with its own port or none, and takes a POST only
/// from its own pages.
struct LoopbackOnlyMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Lower-cased host names (IPv6 in brackets) that name this server.
    let names: Set<String>
    let listening: ListeningPort

    init(listeningOn host: String, port: ListeningPort) {
        var names: Set<String> = ["localhost", "127.0.0.1", "[::1]"]
        let bound = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if !["0.0.0.0", "[::]", ""].contains(bound) { names.insert(bound.lowercased()) }
        self.names = names
        self.listening = port
    }

    /// `localhost:4000`, `[::1]:4000`, `127.0.0.1`: one of our names, with our port or none.
    func accepts(_ authority: String) -> Bool {
        let value = authority.lowercased()
        var name = value
        var port: Int?
        if let colon = value.lastIndex(of: ":"), !value[colon...].contains("]") {
            name = String(value[..<colon])
            guard let number = Int(value[value.index(after: colon)...]) else { return false }
            port = number
        }
        guard names.contains(name) else { return false }
        let actual = listening.port
        return port == nil || actual == 0 || port == actual
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, accepts(host) else {
            return Self.refusal(.misdirectedRequest, "This preview answers only on this machine (http://localhost or http://127.0.0.1 with its port). Open it from there.")
        }
        if request.method != .get && request.method != .head {
            // A browser names the page a request came from; a page of another origin is refused
            // even with a valid CSRF token. Tools that send neither header (curl) still need the token.
            if let origin = request.headers[.origin] {
                guard let url = URL(string: origin), url.scheme == "http", let originHost = url.host,
                      accepts((originHost.contains(":") ? "[\(originHost)]" : originHost) + ":\(url.port ?? 80)")
                else { return Self.refusal(.forbidden, "This request came from another site (\(origin)); the preview takes changes only from its own pages.") }
            }
            if let site = request.headers[.secFetchSite], site != "same-origin", site != "none" {
                return Self.refusal(.forbidden, "This request came from another site (Sec-Fetch-Site: \(site)); the preview takes changes only from its own pages.")
            }
        }
        return try await next(request, context)
    }

    static func refusal(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let forwarded = Self("Forwarded")!
    static let xForwardedFor = Self("X-Forwarded-For")!
}
