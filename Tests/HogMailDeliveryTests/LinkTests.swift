import Foundation
import HogMail
import Testing

@testable import HogMailDelivery

/// Tests/servers/link_server.py on 127.0.0.1: pages in several charsets, redirects, dead ends,
/// slow and endless answers; it counts requests and the most open at once per Host.
final class LinkTestServer: @unchecked Sendable {
    let process = Process()
    let port: Int

    init() throws {
        port = try startServerScript("link_server.py", [], process: process, hint: "python3 from the standard library is all it needs")
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// The checker as the tests use it: private addresses allowed (the server is on loopback),
    /// `other.test` pointed at the server as a second host, a 10 s timeout (a busy test run on
    /// two cores can hold a local answer for a second or more).
    func options(timeout: TimeInterval = 10) -> LinkCheckOptions {
        var options = LinkCheckOptions(allowPrivate: true)
        options.timeout = timeout
        options.resolve = ["other.test:\(port):127.0.0.1", "public.test:\(port):127.0.0.1"]
        return options
    }

    struct Stats: Decodable {
        var requests: [String: Int]
        var max_concurrent: [String: Int]
        var user_agents: [String]
    }

    func stats() async throws -> Stats {
        let answer = try await HTTPFetch.get(url("/stats"))
        return try JSONDecoder().decode(Stats.self, from: answer.body)
    }
}

/// A project with one upcoming draft (issue 1, dated 2026-01-07) whose body is given.
struct LinkProject {
    let folder: URL
    let project: Project
    let configuration: HogMail.Configuration
    static let today = CalendarDate(year: 2026, month: 1, day: 7)!

    init(body: String? = nil) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-links-\(UUID().uuidString)")
        self.folder = folder
        try Scaffold.initProject(at: folder, today: Self.today)
        if let body {
            try Data("---\ntitle: Issue one\ndate: 2026-01-07\n---\n\n\(body)".utf8).write(to: folder.appendingPathComponent("issues/001-welcome.md"))
        }
        project = Project(directory: folder)
        configuration = try project.configuration().0
    }

    var draft: URL { folder.appendingPathComponent("issues/001-welcome.md") }
    var text: String { (try? String(contentsOf: draft, encoding: .utf8)) ?? "" }
    func issue() throws -> HogMail.Issue { try DraftParser.parse(contentsOf: draft, displayPath: "issues/001-welcome.md") }
}

@Suite struct LinkCheckTests {
    let server: LinkTestServer
    init() throws { server = try LinkTestServer() }

    func check(_ path: String, timeout: TimeInterval = 10) async -> LinkStatus {
        let url = path.hasPrefix("http") ? path : server.url(path)
        return await LinkChecker(options: server.options(timeout: timeout)).check([url])[url]!
    }

    @Test func aPageThatAnswersIsOk() async {
        let status = await check("/utf8")
        #expect(status.state == .ok && status.status == 200 && !status.isDead)
    }

    @Test func permanentRedirectsNameTheFinalAddress() async {
        for path in ["/301", "/308"] {
            let status = await check(path)
            #expect(status.state == .movedPermanently, "\(path): \(status)")
            #expect(status.finalURL == server.url("/utf8"))
        }
    }

    @Test func aTemporaryRedirectIsOk() async {
        let status = await check("/302")
        #expect(status.state == .ok && status.finalURL == server.url("/utf8"))
    }

    @Test func aRedirectToAnotherSiteIsSaid() async {
        let status = await check("/offsite")
        #expect(status.state == .redirectedOffSite)
        #expect(status.finalURL == "http://other.test:\(server.port)/utf8")
    }

    @Test func aRedirectToASignInPageIsSaid() async {
        let status = await check("/login-redirect")
        #expect(status.state == .redirectedToLogin && status.finalURL == server.url("/login?next=%2Farticle"))
    }

    @Test func deadEndsAreDead() async {
        let expected: [String: LinkStatus.State] = ["/404": .notFound, "/410": .gone, "/500": .serverError]
        for (path, state) in expected {
            let status = await check(path)
            #expect(status.state == state && status.isDead, "\(path): \(status)")
        }
    }

    @Test func aRedirectLoopEndsAtOnce() async {
        let status = await check("/loop-a")
        #expect(status.state == .redirectLoop && status.isDead)
        #expect(status.detail.contains("/loop-a"))
    }

    @Test func moreThanFiveRedirectsAreTooMany() async {
        #expect(await check("/chain/5").state == .ok)
        #expect(await check("/chain/6").state == .tooManyRedirects)
    }

    /// The server answers after 30 s; the check gives up after its 1 s. (Not timed by the clock
    /// here: on a busy machine the test's own task may resume late.)
    @Test func aSlowServerTimesOut() async {
        let status = await check("/slow/one?s=30", timeout: 1)
        #expect(status.state == .timeout && status.isDead)
        #expect(status.detail == "no complete answer within 1 s")
    }

    @Test func aServerThatRefusesHeadIsAskedWithGet() async throws {
        #expect(await check("/head-refused").state == .ok)
        let requests = try await server.stats().requests
        #expect(requests["HEAD /head-refused"] == 1 && requests["GET /head-refused"] == 1)
    }

    /// Read to its end, the endless page would time out (1 s) and the 50 MB one take long:
    /// an ok says the check stopped at the status.
    @Test func anEndlessOrHugeBodyIsNotRead() async throws {
        #expect(await check("/never-ends-get-only").state == .ok)
        #expect(await check("/huge").state == .ok)
        let requests = try await server.stats().requests
        #expect(requests["HEAD /never-ends-get-only"] == 1 && requests["GET /never-ends-get-only"] == 1)
    }

    @Test func anUnknownNameIsADNSFailure() async {
        let status = await check("http://no-such-host.invalid/")
        #expect(status.state == .dnsFailure && status.isNetworkFailure)
    }

    @Test func onlyHttpAndHttpsAreFetched() async {
        let status = await check("ftp://127.0.0.1/file")
        #expect(status.state == .unsupported && status.isDead)
    }

    @Test func aLoopbackAddressIsRefusedUnlessAllowed() async throws {
        var options = server.options()
        options.allowPrivate = false
        let urls = [server.url("/utf8"), "http://public.test:\(server.port)/og"]
        let results = await LinkChecker(options: options).check(urls)
        for url in urls {
            #expect(results[url]?.state == .privateAddress, "\(url): \(String(describing: results[url]))")
            #expect(results[url]?.detail.contains("127.0.0.1, a loopback address") == true)
        }
        let requests = try await server.stats().requests
        #expect(requests["HEAD /utf8"] == nil && requests["HEAD /og"] == nil)
    }

    @Test func noHostSeesMoreThanTwoRequestsAtOnce() async throws {
        let urls = (1...10).map { server.url("/slow/\($0)?s=0.3") } + (1...4).map { "http://other.test:\(server.port)/slow/o\($0)?s=0.3" }
        let results = await LinkChecker(options: server.options(timeout: 5)).check(urls)
        #expect(results.values.allSatisfy { $0.state == .ok })
        let stats = try await server.stats()
        #expect(stats.max_concurrent["127.0.0.1:\(server.port)"] == 2)
        #expect(stats.max_concurrent["other.test:\(server.port)"] == 2)
    }

    @Test func theCacheSavesASecondRequest() async throws {
        let fixture = try LinkProject(body: "Read [this](\(server.url("/utf8"))) and ![a chart](\(server.url("/og"))).\n")
        let audit = LinkAudit(project: fixture.project, configuration: fixture.configuration, options: server.options())
        let first = await audit.check([try fixture.issue()])
        let second = await audit.check([try fixture.issue()])
        #expect(first.entries.map(\.cached) == [false, false])
        #expect(second.entries.map(\.cached) == [true, true])
        #expect(second.entries.map(\.status.state) == [.ok, .ok])
        let requests = try await server.stats().requests
        #expect(requests["HEAD /utf8"] == 1 && requests["HEAD /og"] == 1)
        let fresh = await audit.check([try fixture.issue()], fresh: true)
        #expect(fresh.entries.map(\.cached) == [false, false])
        #expect(try await server.stats().requests["HEAD /utf8"] == 2)
    }

    @Test func aDamagedCacheIsAWarningAndIgnored() async throws {
        let fixture = try LinkProject(body: "Read [this](\(server.url("/utf8"))).\n")
        let cache = fixture.folder.appendingPathComponent(".hogmail/cache/links.json")
        try FileManager.default.createDirectory(at: cache.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("{ not json".utf8).write(to: cache)
        let report = await LinkAudit(project: fixture.project, configuration: fixture.configuration, options: server.options()).check([try fixture.issue()])
        #expect(report.entries.first?.status.state == .ok)
        #expect(report.warnings.first?.message.contains("cannot be read") == true)
        #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: cache)) is [String: Any])
    }

    @Test func eachLinkIsReportedWithItsDraftLine() async throws {
        let body = "# Links\n\n- [gone](\(server.url("/410"))) – sad\n- [fine](\(server.url("/utf8")))\n\n![img](\(server.url("/404")))\n"
        let fixture = try LinkProject(body: body)
        let report = await LinkAudit(project: fixture.project, configuration: fixture.configuration, options: server.options()).check([try fixture.issue()])
        #expect(report.entries.map(\.line) == [
            "issues/001-welcome.md:8: dead (410 Gone) \(server.url("/410")) (410 Gone)",
            "issues/001-welcome.md:9: ok \(server.url("/utf8")) (200)",
            "issues/001-welcome.md:11: dead (404 Not Found) \(server.url("/404")) (404 Not Found)",
        ])
        #expect(report.dead.count == 2)
    }

    @Test func fixRedirectsWritesTheFinalAddressIntoTheDraft() async throws {
        let fixture = try LinkProject(body: "- [moved](\(server.url("/301"))) – still good\n- [temp](\(server.url("/302")))\n")
        let report = await LinkAudit(project: fixture.project, configuration: fixture.configuration, options: server.options()).check([try fixture.issue()])
        let fixes = try LinkAudit.fixRedirects(report, baseDirectory: fixture.folder)
        #expect(fixes.changed.count == 1 && fixes.notRewritten.isEmpty)
        #expect(fixture.text.hasSuffix("- [moved](\(server.url("/utf8"))) – still good\n- [temp](\(server.url("/302")))\n"))
    }

    func fixRedirects(_ fixture: LinkProject) async throws -> LinkAudit.RedirectFixes {
        let report = await LinkAudit(project: fixture.project, configuration: fixture.configuration, options: server.options()).check([try fixture.issue()])
        return try LinkAudit.fixRedirects(report, baseDirectory: fixture.folder)
    }

    /// The server's Location is written percent-encoded: `)` cannot end the link and start another.
    @Test func fixRedirectsEscapesTheAddressItWrites() async throws {
        let fixture = try LinkProject(body: "- [T](\(server.url("/inject"))) – a take\n")
        let fixes = try await fixRedirects(fixture)
        #expect(fixes.changed.map(\.to) == [server.url("/landing)*https://evil.example/*")])
        #expect(fixture.text.hasSuffix("- [T](\(server.url("/landing%29*https://evil.example/*"))) – a take\n"), "\(fixture.text)")
        #expect(DraftLinks.links(of: try fixture.issue(), site: nil).map(\.url) == [server.url("/landing%29*https://evil.example/*")])
    }

    /// `/moved` is moved; `/moved/v2`, on the line before in the same paragraph, is not.
    @Test func fixRedirectsRewritesOnlyTheWholeAddress() async throws {
        let fixture = try LinkProject(body: "See [v2](\(server.url("/moved/v2"))) and\nthe [old](\(server.url("/moved"))) one.\n")
        let fixes = try await fixRedirects(fixture)
        #expect(fixes.changed.map(\.link.line) == [7])
        #expect(fixture.text.hasSuffix("See [v2](\(server.url("/moved/v2"))) and\nthe [old](\(server.url("/utf8"))) one.\n"), "\(fixture.text)")
    }

    @Test func fixRedirectsKeepsTheByteOrderMarkAndLineEndings() async throws {
        let fixture = try LinkProject()
        let draft = "---\r\ntitle: Issue one\r\ndate: 2026-01-07\r\n---\r\n\r\n- [moved](\(server.url("/301")))\r\n- [fine](\(server.url("/utf8")))\nlast line"
        try Data([0xEF, 0xBB, 0xBF] + Array(draft.utf8)).write(to: fixture.draft)
        let fixes = try await fixRedirects(fixture)
        #expect(fixes.changed.count == 1)
        let expected = draft.replacingOccurrences(of: server.url("/301"), with: server.url("/utf8"))
        #expect(try Data(contentsOf: fixture.draft) == Data([0xEF, 0xBB, 0xBF] + Array(expected.utf8)))
    }

    /// Written with an entity, the address is not on its line as the parser reads it: said, not
    /// skipped silently; the draft (CRLF) is not written.
    @Test func fixRedirectsNamesTheLinksItCouldNotRewrite() async throws {
        let fixture = try LinkProject()
        let before = Data("---\r\ntitle: Issue one\r\ndate: 2026-01-07\r\n---\r\n\r\n- [odd](\(server.url("/301?a=1&amp;b=2")))\r\n".utf8)
        try before.write(to: fixture.draft)
        let fixes = try await fixRedirects(fixture)
        #expect(fixes.changed.isEmpty)
        #expect(fixes.notRewrittenLines == ["issues/001-welcome.md:6: could not rewrite \(server.url("/301?a=1&b=2")) (moved to \(server.url("/utf8"))): write it by hand"])
        #expect(try Data(contentsOf: fixture.draft) == before)
    }

    /// One request at a time to the host, eight slow pages of 1 s, a 2 s timeout (6 s a link):
    /// the next hops of a chain of redirects, and the GET after a refused HEAD, go first, and
    /// time in the queue does not count against a link.
    @Test func redirectsAndAGetAfterHeadAreNotTimedOutByTheQueue() async throws {
        var options = server.options(timeout: 2)
        options.maximumPerHost = 1
        let slow = (1...8).map { server.url("/slow/\($0)?s=1") }
        let links = [server.url("/chain/2"), server.url("/go/head-refused")]
        let results = await LinkChecker(options: options).check(links + slow)
        for link in links {
            #expect(results[link]?.state == .ok, "\(String(describing: results[link]))")
        }
    }

    @Test func anAddressWithUnusualCharactersIsChecked() async throws {
        let url = server.url("/utf8?family=A|B&x={y}^[z]")
        #expect(LinkChecker.refusal(url) == nil)
        #expect(await check(url).state == .ok)
        #expect(await check("http:///no-host").state == .unsupported)
        #expect(LinkChecker.refusal("mailto:a@example.com") != nil && LinkChecker.refusal("https://") != nil)
    }
}

@Suite struct PrivateAddressTests {
    func kind(_ text: String) -> String? { PrivateAddress.kind(of: IPNetwork.parseAddress(text)!) }

    @Test func privateLoopbackAndLinkLocalAddressesAreNamed() {
        #expect(kind("127.0.0.1") == "loopback")
        #expect(kind("10.1.2.3") == "private")
        #expect(kind("172.31.0.1") == "private")
        #expect(kind("192.168.1.1") == "private")
        #expect(kind("169.254.169.254") == "link-local")
        #expect(kind("100.64.0.1") == "carrier-grade NAT")
        #expect(kind("0.0.0.0") == "unspecified")
        #expect(kind("::1") == "loopback")
        #expect(kind("::") == "unspecified")
        #expect(kind("fd00::1") == "unique local (ULA)")
        #expect(kind("fe80::1") == "link-local")
        #expect(kind("::ffff:10.0.0.1") == "IPv4-mapped private")
        #expect(kind("::ffff:127.0.0.1") == "IPv4-mapped loopback")
    }

    @Test func publicAddressesAreNot() {
        for address in ["93.184.215.14", "172.32.0.1", "100.128.0.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            #expect(kind(address) == nil, "\(address)")
        }
    }
}
