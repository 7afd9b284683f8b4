import Foundation
import HogMail
import HogMailDelivery
import HogMailStore
import Hummingbird
import HummingbirdTesting
import PostgresTestSupport
import Testing

@testable import HogMailServer

/// A server over a fresh store and outbox, with the built-in templates.
struct ServerFixture {
    let folder: URL
    let store: SubscriberStore
    /// The server store, when the fixture's store is on PostgreSQL.
    let postgres: PostgresLocation?
    let service: SubscriptionService
    let server: PublicServer
    var outbox: URL { folder.appendingPathComponent("outbox") }

    init(perAddress: Int = 3, perClient: Int = 20, configurationText: String? = nil, transport: (any Transport)? = nil,
         limits: ConnectionLimits = ConnectionLimits(), sharing other: ServerFixture? = nil, engine: StoreEngineKind = .sqlite) throws {
        // `sharing`: a second server on the first one's store file and outbox, with a store
        // handle of its own (as a second `hogmail serve` process has).
        folder = other?.folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("out/1"), withIntermediateDirectories: true)
        try Data("<h1>Issue one</h1>".utf8).write(to: folder.appendingPathComponent("out/1/web.html"))
        try Data("<ol>archive</ol>".utf8).write(to: folder.appendingPathComponent("out/index.html"))
        let configuration = try Configuration.parse(
            configurationText ?? Scaffold.commentedConfiguration(anchor: CalendarDate(year: 2026, month: 1, day: 7)!), file: "hogmail.yml").0
        let location = try other?.postgres ?? (engine == .postgres ? PostgresTestServer.freshDatabase() : nil)
        switch location {
        case let location?:
            postgres = location
            store = try SubscriberStore(postgres: location, localFolder: folder.path)
        case nil:
            postgres = nil
            store = try SubscriberStore(path: folder.appendingPathComponent("hogmail.sqlite").path)
        }
        let (templates, _) = try TemplateSet.load(directory: folder.appendingPathComponent("no-templates"))
        service = SubscriptionService(configuration: configuration, store: store,
                                      signer: TokenSigner(secret: String(repeating: "s", count: 40), listID: configuration.list.id),
                                      transport: transport ?? OutboxTransport(directory: folder.appendingPathComponent("outbox")), templates: templates)
        var server = PublicServer(service: service, outputDirectory: folder.appendingPathComponent("out"),
                                  perAddressLimit: perAddress, perClientLimit: perClient)
        server.limits = limits
        self.server = server
    }

    /// What `serve`'s worker does in the background: the confirmation emails of recorded requests.
    @discardableResult
    func sendConfirmations() async -> ConfirmationWorker.Report {
        await server.confirmations.processDue()
    }

    func outboxMessages() throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []
        return try names.sorted().map { try String(contentsOf: outbox.appendingPathComponent($0), encoding: .utf8) }
    }

    func confirmedSubscriber(_ email: String) throws -> Subscriber {
        let (s, _) = try store.requestSubscription(email: email, name: nil, consent: formConsentForServer, actor: "test")
        return try store.confirm(publicID: s.publicID)!
    }

    /// The server exactly as `hogmail serve` runs it (with its worker and connection limits),
    /// on a free port, until `test` returns.
    func running(_ test: @escaping @Sendable (Int) async throws -> Void) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = self.server
        let task = Task { try await server.run(host: "127.0.0.1", port: 0) { port in continuation.yield(port) } }
        defer { task.cancel() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { return }
        try await test(port)
    }

    func live(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await server.application(host: "127.0.0.1", port: 0).test(.live) { client in try await test(client) }
    }
}

let formConsentForServer = Subscriber.Consent(at: Date(), method: .form, source: "test", text: "Send me HogMail.")

func form(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
let urlEncoded: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

/// Decodes a quoted-printable body enough to find links in it.
func unfoldQuotedPrintable(_ text: String) -> String {
    text.replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=3D", with: "=")
}

@Suite struct ServerTests {
    @Test func subscribeConfirmFlowThroughTheRealServer() async throws {
        let fixture = try ServerFixture()
        try await fixture.live { client in
            try await client.execute(uri: "/subscribe", method: .get) { response in
                #expect(response.status == .ok)
                let page = String(buffer: response.body)
                #expect(page.contains("<input type=\"email\"") && !page.contains("checked"))
                #expect(page.contains("unsubscribe with one click"))
            }
            var headers = urlEncoded
            headers[.userAgent] = "TestBrowser/1.0"
            try await client.execute(uri: "/subscribe", method: .post, headers: headers,
                                     body: form("email=Ada%40Example.com&name=Ada+Lovelace")) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("Check your inbox"))
            }
            // The answer only recorded the request; the worker sends the email.
            #expect(try fixture.outboxMessages().isEmpty)
            #expect(await fixture.sendConfirmations().sent == 1)
            let messages = try fixture.outboxMessages()
            #expect(messages.count == 1)
            let message = unfoldQuotedPrintable(messages[0])
            #expect(message.contains("To: Ada Lovelace <Ada@example.com>"))
            let range = try #require(message.range(of: #"/confirm\?token=[A-Za-z0-9._-]+"#, options: .regularExpression))
            let path = String(message[range])
            #expect(try fixture.store.subscriber(email: "Ada@example.com")?.status == .pending)
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("Confirm my subscription"))
            }
            #expect(try fixture.store.subscriber(email: "Ada@example.com")?.status == .pending)
            try await client.execute(uri: path, method: .post, headers: urlEncoded, body: form("")) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("You are subscribed"))
            }
            let subscriber = try #require(try fixture.store.subscriber(email: "Ada@example.com"))
            #expect(subscriber.status == .confirmed)
            #expect(subscriber.consent.method == .form)
            #expect(subscriber.consent.ip == "127.0.0.1")
            #expect(subscriber.consent.userAgent == "TestBrowser/1.0")
            #expect(subscriber.consent.text?.contains("unsubscribe with one click") == true)
            #expect(subscriber.consent.confirmedAt != nil)
        }
    }

    @Test func subscribeAnswersTheSameForKnownAndUnknownAddresses() async throws {
        let fixture = try ServerFixture()
        _ = try fixture.confirmedSubscriber("known@example.com")
        try await fixture.live { client in
            let known = try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded, body: form("email=known%40example.com")) {
                String(buffer: $0.body).replacingOccurrences(of: "known@example.com", with: "X")
            }
            let unknown = try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded, body: form("email=new%40example.com")) {
                String(buffer: $0.body).replacingOccurrences(of: "new@example.com", with: "X")
            }
            #expect(known == unknown)
        }
    }

    @Test func oneClickPostUnsubscribesWithEitherBodyType() async throws {
        let fixture = try ServerFixture()
        let a = try fixture.confirmedSubscriber("a@example.com"), b = try fixture.confirmedSubscriber("b@example.com")
        let tokenA = fixture.service.signer.unsubscribeToken(publicID: a.publicID)
        let tokenB = fixture.service.signer.unsubscribeToken(publicID: b.publicID)
        try await fixture.live { client in
            try await client.execute(uri: "/unsubscribe?token=\(tokenA)", method: .post, headers: urlEncoded,
                                     body: form("List-Unsubscribe=One-Click")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.location] == nil)
            }
            let boundary = "----hogmail-test"
            let multipart = "--\(boundary)\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--\(boundary)--\r\n"
            try await client.execute(uri: "/unsubscribe?token=\(tokenB)", method: .post,
                                     headers: [.contentType: "multipart/form-data; boundary=\(boundary)"], body: form(multipart)) { response in
                #expect(response.status == .ok)
            }
            // Repeating it is harmless.
            try await client.execute(uri: "/unsubscribe?token=\(tokenA)", method: .post, headers: urlEncoded,
                                     body: form("List-Unsubscribe=One-Click")) { #expect($0.status == .ok) }
        }
        #expect(try fixture.store.subscriber(email: "a@example.com")?.status == .unsubscribed)
        #expect(try fixture.store.subscriber(email: "b@example.com")?.status == .unsubscribed)
        let events = try fixture.store.events(of: try fixture.store.subscriber(email: "a@example.com")!)
        #expect(events.filter { $0.to == .unsubscribed }.map(\.actor) == ["one-click"])
        let eventsB = try fixture.store.events(of: try fixture.store.subscriber(email: "b@example.com")!)
        #expect(eventsB.filter { $0.to == .unsubscribed }.map(\.actor) == ["one-click"])
    }

    @Test func getShowsAButtonAndChangesNothing() async throws {
        let fixture = try ServerFixture()
        let s = try fixture.confirmedSubscriber("ada@example.com")
        let token = fixture.service.signer.unsubscribeToken(publicID: s.publicID)
        try await fixture.live { client in
            try await client.execute(uri: "/unsubscribe?token=\(token)", method: .get) { response in
                #expect(response.status == .ok)
                let page = String(buffer: response.body)
                #expect(page.contains("a***@example.com") && !page.contains("ada@example.com"))
                #expect(page.contains("<button type=\"submit\">Unsubscribe</button>"))
                #expect(!page.lowercased().contains("are you sure"))
            }
        }
        #expect(try fixture.store.subscriber(email: "ada@example.com")?.status == .confirmed)
    }

    @Test func forgedTruncatedOrOtherTokensChangeNothing() async throws {
        let fixture = try ServerFixture()
        let s = try fixture.confirmedSubscriber("ada@example.com")
        let token = fixture.service.signer.unsubscribeToken(publicID: s.publicID)
        let other = TokenSigner(secret: String(repeating: "x", count: 40), listID: "news.example.com").unsubscribeToken(publicID: s.publicID)
        try await fixture.live { client in
            for bad in [String(token.dropLast(4)), other, "u1.\(s.publicID).AAAAAAAAAAAAAAAAAAAAAA", "", "../../etc/passwd"] {
                try await client.execute(uri: "/unsubscribe?token=\(bad)", method: .post, headers: urlEncoded,
                                         body: form("List-Unsubscribe=One-Click")) { response in
                    #expect(response.status == .badRequest, "token \(bad)")
                }
            }
        }
        #expect(try fixture.store.subscriber(email: "ada@example.com")?.status == .confirmed)
    }

    @Test func oversizedBodyIsRefused() async throws {
        let fixture = try ServerFixture()
        let s = try fixture.confirmedSubscriber("ada@example.com")
        let token = fixture.service.signer.unsubscribeToken(publicID: s.publicID)
        try await fixture.live { client in
            try await client.execute(uri: "/unsubscribe?token=\(token)", method: .post, headers: urlEncoded,
                                     body: form(String(repeating: "a", count: 100_000))) { response in
                #expect((400..<500).contains(Int(response.status.code)))
            }
        }
        #expect(try fixture.store.subscriber(email: "ada@example.com")?.status == .confirmed)
    }

    @Test func subscribeIsRateLimitedPerAddress() async throws {
        let fixture = try ServerFixture(perAddress: 2)
        try await fixture.live { client in
            for expected in [HTTPResponse.Status.ok, .ok, .tooManyRequests] {
                try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded, body: form("email=ada%40example.com")) {
                    #expect($0.status == expected)
                }
            }
        }
        await fixture.sendConfirmations()
        #expect(try fixture.outboxMessages().count == 2)
    }

    @Test func invalidAddressIsA400() async throws {
        let fixture = try ServerFixture()
        try await fixture.live { client in
            try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded, body: form("email=nope")) {
                #expect($0.status == .badRequest)
            }
        }
        #expect(try fixture.store.counts().isEmpty)
    }

    @Test func expiredConfirmationIsExplained() throws {
        let fixture = try ServerFixture()
        let (s, _) = try fixture.store.requestSubscription(email: "ada@example.com", name: nil, consent: formConsentForServer, actor: "test")
        let token = fixture.service.signer.confirmationToken(publicID: s.publicID, expires: Date(timeIntervalSinceNow: -10))
        #expect(try fixture.service.confirm(token: token) == .expired)
        #expect(try fixture.store.subscriber(email: "ada@example.com")?.status == .pending)
    }

    @Test func pagesCarrySecurityHeadersAndTheArchiveIsServed() async throws {
        let fixture = try ServerFixture()
        try await fixture.live { client in
            try await client.execute(uri: "/archive/1/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "<h1>Issue one</h1>")
                #expect(response.headers[.init("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            try await client.execute(uri: "/archive/", method: .get) { #expect(String(buffer: $0.body) == "<ol>archive</ol>") }
            try await client.execute(uri: "/archive/..%2F..%2Fetc/", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/unsubscribe", method: .delete) { response in
                #expect((400..<500).contains(Int(response.status.code)))
                #expect(String(buffer: response.body).contains("<h1>"))
            }
        }
    }

    @Test func anIssuesImagesAreServedWithTheirTypeAndALongCacheAndNothingElseIs() async throws {
        let fixture = try ServerFixture()
        let folder = fixture.folder.appendingPathComponent("out/1")
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        try png.write(to: folder.appendingPathComponent("signups.0123456789ab.png"))
        try Data("<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".utf8).write(to: folder.appendingPathComponent("diagram.0123456789ab.svg"))
        try Data([0xFF, 0xD8, 0xFF]).write(to: folder.appendingPathComponent("chart.0123456789ab.jpg"))
        try Data("secret".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try Data("secret".utf8).write(to: fixture.folder.appendingPathComponent("hogmail.0123456789ab.png"))
        try await fixture.live { client in
            try await client.execute(uri: "/archive/1/signups.0123456789ab.png", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Data(buffer: response.body) == png)
                #expect(response.headers[.contentType] == "image/png")
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            try await client.execute(uri: "/archive/1/chart.0123456789ab.jpg", method: .get) { #expect($0.headers[.contentType] == "image/jpeg") }
            try await client.execute(uri: "/archive/1/diagram.0123456789ab.svg", method: .get) { response in
                #expect(response.headers[.contentType] == "image/svg+xml")
                #expect(response.headers[.init("Content-Security-Policy")!] == "default-src 'none'; style-src 'unsafe-inline'")
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            try await client.execute(uri: "/archive/1/signups.0123456789ab.png", method: .head) { #expect($0.status == .ok) }
            for path in ["/archive/1/notes.txt", "/archive/1/web.html", "/archive/1/missing.0123456789ab.png", "/archive/2/signups.0123456789ab.png",
                         "/archive/..%2F/hogmail.0123456789ab.png", "/archive/1/..%2F..%2Fhogmail.0123456789ab.png", "/archive/1/signups.0123456789ab.PNG",
                         "/archive/1/signups.0123456789ab.png.txt", "/archive/1/.0123456789ab.png"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(response.headers[.cacheControl] != "public, max-age=31536000, immutable")
                }
            }
        }
    }
}

