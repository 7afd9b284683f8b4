import Foundation
import HogMail
import HogMailDelivery
import HogMailStore
import Hummingbird

/// The state of every link the preview shows, checked in the background: a page never waits
/// for a link. Each finished check bumps `generation`, which is part of the version the page
/// polls, so the page picks the answers up the way it picks up a saved draft.
actor PreviewLinkBoard {
    private var known: [String: LinkStatus] = [:]
    private var checking: Set<String> = []
    private(set) var generation = 0
    /// A timeout or a 503 may be gone soon: asked again after this long.
    static let retryUnsettled: TimeInterval = 300

    /// What is known of `urls` now; the rest (and stale answers) are being checked.
    func states(for urls: [String], audit: @escaping @Sendable () -> LinkAudit?, now: Date = Date()) -> [String: LinkStatus] {
        let wanted = Set(urls)
        let stale = wanted.filter { url in
            guard !checking.contains(url) else { return false }
            guard let status = known[url] else { return true }
            let age = now.timeIntervalSince(status.checkedAt)
            return age > LinkCache.lifetime || (!status.isCacheable && age > Self.retryUnsettled)
        }
        if !stale.isEmpty {
            checking.formUnion(stale)
            Task.detached { [self] in
                let results = await audit()?.statuses(of: Array(stale)).statuses ?? [:]
                await self.record(results, asked: stale)
            }
        }
        return known.filter { wanted.contains($0.key) }
    }

    private func record(_ results: [String: LinkStatus], asked: Set<String>) {
        known.merge(results) { _, new in new }
        checking.subtract(asked)
        generation += 1
    }
}

extension PreviewServer {
    /// The link checker as hogmail.yml says now (or as a test set it).
    func linkAudit() -> LinkAudit? {
        guard let configuration = try? builder.project.configuration().0 else { return nil }
        return LinkAudit(project: builder.project, configuration: configuration, options: linkCheckOptions)
    }

    /// The links panel of a built draft: each link's state as known now.
    func linksPanel(_ built: BuildPipeline.BuiltIssue, draft: String) async -> String {
        let site = (try? builder.project.configuration().0.urls.site) ?? nil
        let links = DraftLinks.links(of: built.issue, site: site)
        let server = self
        let states = await linkBoard.states(for: links.map(\.url), audit: { server.linkAudit() })
        return PreviewPages.linksPanel(links: links, states: states, base: "/drafts/\(draft)", csrf: csrf)
    }

    /// The version the page polls: the project's files and the link answers that came in.
    func pageVersion(_ version: String) async -> String {
        "\(version)-\(await linkBoard.generation)"
    }

    /// `POST /drafts/:draft/links` and `POST /links/add`: what `hogmail links add` does,
    /// behind the test send's guard (the page's random token; loopback Host only).
    func addLink(_ request: Request, _ context: BasicRequestContext, draft: String?) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 * 1024)
        let fields = (try? FormBody.fields(Array(buffer.readableBytesView), contentType: request.headers[.contentType])) ?? [:]
        let fromScript = request.headers[.init("X-Requested-With")!] == "fetch"
        let back = draft.map { "/drafts/\($0)" } ?? "/"
        func answer(_ status: HTTPResponse.Status, _ text: String, ok: Bool) -> Response {
            let fragment = "<p class=\"\(ok ? "good" : "bad")\">\(PreviewPages.escape(text))</p>"
            let body = fromScript ? fragment
                : PreviewPages.document(title: "Add a link", body: "<main class=\"panel\">\(fragment)<p><a href=\"\(PreviewPages.escape(back))\">Back to the preview</a></p></main>")
            return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        guard let token = fields["csrf"], TokenSigner.constantTimeEqual(Data(token.utf8), Data(csrf.utf8)) else {
            return answer(.forbidden, "This request did not come from the preview page. Reload the page and use its form.", ok: false)
        }
        var draftPath: String?
        if let draft {
            guard let url = try? await builder.draftURL(named: draft) else { return Self.notFound(draft) }
            draftPath = url.path
        }
        guard let url = fields["url"]?.trimmingCharacters(in: .whitespacesAndNewlines), !url.isEmpty else {
            return answer(.unprocessableContent, "Give the page's address to add.", ok: false)
        }
        do {
            let (configuration, _) = try builder.project.configuration()
            let today = CalendarDate(Date(), in: configuration.schedule.timeZone)
            let section = fields["section"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 } ?? "Good reads"
            let take = fields["take"].flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
            let added = try await LinkCollector(project: builder.project, configuration: configuration, options: linkCheckOptions)
                .add(url, take: take, section: section, draft: draftPath, today: today)
            let name = URL(fileURLWithPath: added.draft).lastPathComponent
            let notes = added.notes.isEmpty ? "" : " " + added.notes.joined(separator: " ")
            return answer(.ok, "Added to \(name), line \(added.line): \(added.bullet)\(notes)", ok: true)
        } catch let error as HogMailError {
            return answer(.unprocessableContent, "The link was not added: \(error.description)", ok: false)
        }
    }

    /// `GET /links/add?url=…`: the bookmarklet's page, the form filled in, nothing added until it is sent.
    func addLinkForm(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let url = query["url"].map(String.init) ?? ""
        let take = query["take"].map(String.init) ?? ""
        return Self.html(PreviewPages.document(title: "Add a link", body: """
            <header class="bar"><p><a href="/">All drafts</a></p><h1>Add a link</h1></header>
            <main class="panel">
            <p>To the next unsent draft, under its section (created if missing), with the page's title.</p>
            \(PreviewPages.addLinkForm(action: "/links/add", csrf: csrf, url: url, take: take))
            </main>
            """))
    }
}

extension PreviewPages {
    static func linksPanel(links: [DraftLink], states: [String: LinkStatus], base: String, csrf: String) -> String {
        var items = ""
        var dead = 0, look = 0, waiting = 0
        for link in links {
            let label: String
            if let status = states[link.url] {
                let severity = status.isDead ? "error" : status.isWarning ? "warning" : "ok"
                if status.isDead { dead += 1 } else if status.isWarning { look += 1 }
                label = "<span class=\"sev \(severity)\">\(escape(status.label))</span> \(escape(link.url)) <span class=\"small\">(\(escape(status.detail)); line \(link.line))</span>"
            } else {
                waiting += 1
                label = "<span class=\"sev checking\">checking…</span> \(escape(link.url)) <span class=\"small\">(line \(link.line))</span>"
            }
            items += "<li><button type=\"button\" class=\"finding\" data-line=\"\(link.line)\" data-link-state=\"\(states[link.url]?.state.rawValue ?? "checking")\">\(label)</button></li>\n"
        }
        var summary = links.isEmpty ? "No links or remote images." : "\(links.count) link\(links.count == 1 ? "" : "s"): \(dead) dead, \(look) to look at"
        if !links.isEmpty { summary += waiting > 0 ? "; \(waiting) being checked." : "." }
        if dead > 0 { summary += " `hogmail send` refuses this issue until they are fixed (or --allow-dead-links)." }
        return """
            <section class="panel" aria-labelledby="links-heading">
            <h2 id="links-heading">Links</h2>
            <p id="links-summary">\(escape(summary))</p>
            <ul id="links" class="lint">
            \(items)</ul>
            <h3>Add a link</h3>
            \(addLinkForm(action: "\(base)/links", csrf: csrf, url: "", take: ""))
            </section>

            """
    }

    static func addLinkForm(action: String, csrf: String, url: String, take: String) -> String {
        """
        <form method="post" action="\(escape(action))" class="add-link">
        <input type="hidden" name="csrf" value="\(escape(csrf))">
        <p><label for="add-link-url">Address</label> <input id="add-link-url" name="url" type="url" required placeholder="https://…" value="\(escape(url))"></p>
        <p><label for="add-link-take">Your take</label> <input id="add-link-take" name="take" value="\(escape(take))"></p>
        <p><label for="add-link-section">Section</label> <input id="add-link-section" name="section" value="Good reads"></p>
        <button type="submit" id="add-link">Add the link</button>
        </form>
        <p id="add-link-result" role="status" aria-live="polite"></p>
        """
    }
}
