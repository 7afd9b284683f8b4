import Foundation
import HogMail

/// The preview's own pages. Plain HTML with one stylesheet and one small script, both served
/// by the preview itself: no CDN, no font service, nothing that leaves the machine.
enum PreviewPages {
    /// Gmail clips a message whose HTML is larger than about 102 KB ("[Message clipped]"),
    /// hiding the footer and its unsubscribe link.
    static let gmailClipBytes = 102 * 1024

    static func escape(_ text: String) -> String { HTML.escapeAttribute(text) }

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <link rel="stylesheet" href="/preview.css">
        <script src="/preview.js" defer></script>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    // MARK: - The list of drafts

    static func index(listName: String, version: String, summaries: [DraftSummary]) -> String {
        var rows = ""
        for summary in summaries {
            let lint: String
            if let failure = summary.failure {
                lint = "<span class=\"bad\">does not build: \(escape(failure.message))</span>"
            } else if summary.errors > 0 {
                lint = "<span class=\"bad\">\(summary.errors) error\(summary.errors == 1 ? "" : "s")</span>" + (summary.warnings > 0 ? ", \(summary.warnings) warning\(summary.warnings == 1 ? "" : "s")" : "")
            } else if summary.warnings > 0 {
                lint = "<span class=\"warn\">\(summary.warnings) warning\(summary.warnings == 1 ? "" : "s")</span>"
            } else {
                lint = "<span class=\"good\">clean</span>"
            }
            rows += """
                <tr><td><a href="/drafts/\(escape(summary.fileName))">\(escape(summary.title))</a><br><span class="small">\(escape(summary.fileName))</span></td>\
                <td>\(summary.date.map(escape) ?? "–")</td><td>\(summary.isDraft ? "draft" : "ready")</td><td>\(lint)</td></tr>

                """
        }
        if summaries.isEmpty {
            rows = "<tr><td colspan=\"4\">There are no drafts in issues/. Write one with <code>hogmail new</code>.</td></tr>\n"
        }
        return document(title: "Drafts – \(listName)", body: """
            <header class="bar"><h1>\(escape(listName)): drafts</h1><p id="status" class="small" role="status" aria-live="polite"></p></header>
            <main id="drafts" data-index data-version="\(escape(version))">
            <table>
            <caption>Every draft in issues/, newest first. This list updates when a file changes.</caption>
            <thead><tr><th scope="col">Issue</th><th scope="col">Date</th><th scope="col">Status</th><th scope="col">Lint</th></tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            </main>
            """)
    }

    // MARK: - One draft

    static func page(draft: String, version: String, pageVersion: String? = nil, preview: DraftPreview, testAddresses: [String], csrf: String, links: String = "") -> String {
        let title: String
        switch preview {
        case .built(let issue, _): title = "Preview: \(issue.subject)"
        case .failed: title = "Preview: \(draft) does not build"
        }
        let base = "/drafts/\(draft)"
        return document(title: title, body: """
            <header class="bar"><p><a href="/">All drafts</a></p><h1>\(escape(draft))</h1>\
            <p id="status" class="small" role="status" aria-live="polite">Updates by itself when you save.</p></header>
            <main id="panels" data-preview="\(escape(base))" data-version="\(escape(pageVersion ?? version))">
            \(panels(draft: draft, version: version, preview: preview, testAddresses: testAddresses, csrf: csrf, links: links))
            </main>
            """)
    }

    /// The part of the page that is replaced when the project changes.
    static func panels(draft: String, version: String, preview: DraftPreview, testAddresses: [String], csrf: String, links: String = "") -> String {
        let base = "/drafts/\(draft)"
        guard case .built(let built, let warnings) = preview else {
            guard case .failed(let error) = preview else { return "" }
            return """
                <section class="panel error" role="alert" aria-labelledby="error-heading">
                <h2 id="error-heading">This draft does not build</h2>
                <p class="location">\(escape(error.location ?? draft))\(error.step.map { " <span class=\"small\">(step: \(escape($0)))</span>" } ?? "")</p>
                <p class="message">\(escape(error.message))</p>
                <p class="small">Fix it and save: this page comes back by itself.</p>
                </section>
                """
        }
        let eml = String(decoding: built.outputs["email.eml"] ?? Data(), as: UTF8.self)
        let headers = Self.headers(of: eml)
        let htmlBytes = built.outputs["email.html"]?.count ?? 0
        let text = String(decoding: built.outputs["email.txt"] ?? Data(), as: UTF8.self)
        let from = headers.first { $0.name == "From" }?.value ?? ""
        let inboxLine = String((built.issue.preheader).prefix(110))
        let frame = "\(base)/email.html?v=\(version)"
        var out = """
            <section class="panel" aria-labelledby="inbox-heading">
            <h2 id="inbox-heading">In the inbox</h2>
            <div class="inbox"><p class="sender">\(escape(from))</p><p><strong id="subject">\(escape(built.subject))</strong> <span class="preheader">– \(escape(inboxLine))</span></p></div>
            \(built.isDraft ? "<p class=\"small\">Marked <code>draft: true</code>: built, but left out of the archive and feed.</p>" : "")
            \(warnings.isEmpty ? "" : "<ul class=\"small\">" + warnings.map { "<li>warning: \(escape($0.description))</li>" }.joined() + "</ul>")
            </section>
            <section class="panel" aria-labelledby="views-heading">
            <h2 id="views-heading">The email</h2>
            <p class="small">Exactly the bytes of <code>out/\(escape(built.folder))/email.html</code>, but images of the project load from the preview; others from their own addresses.</p>
            <div class="views">
            <figure class="view desktop"><figcaption>Desktop (600 px content)</figcaption>
            <iframe data-frame="desktop" title="The email at desktop width" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" src="\(escape(frame))"></iframe></figure>
            <figure class="view phone"><figcaption>Phone (375 px)</figcaption>
            <iframe data-frame="phone" title="The email at phone width" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" src="\(escape(frame))"></iframe></figure>
            <figure class="view phone dark"><figcaption>Dark mode (phone width)</figcaption>
            <iframe data-frame="dark" title="The email in dark mode" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" src="\(escape(frame))"></iframe></figure>
            </div>
            <p class="small">Dark mode shows the email's own <code>prefers-color-scheme</code> rules, which Apple Mail (macOS and iOS), Outlook for Mac and Thunderbird apply. Gmail and Outlook for Windows ignore them and may invert colours their own way.</p>
            </section>

            """
        out += lintPanel(built)
        out += links
        out += """
            <section class="panel" aria-labelledby="text-heading">
            <h2 id="text-heading">Plain-text part</h2>
            <pre id="text-part" class="text-part">\(escape(text))</pre>
            </section>
            <section class="panel" aria-labelledby="headers-heading">
            <h2 id="headers-heading">Headers and size</h2>
            <table class="headers"><tbody>
            \(headers.map { "<tr><th scope=\"row\">\(escape($0.name))</th><td>\(escape($0.value))</td></tr>" }.joined(separator: "\n"))
            </tbody></table>
            <p><label for="size">HTML part: \(String(format: "%.1f", Double(htmlBytes) / 1024)) KB of Gmail's \(gmailClipBytes / 1024) KB before it clips the message</label>
            <meter id="size" min="0" max="\(gmailClipBytes)" high="\(gmailClipBytes * 3 / 4)" value="\(htmlBytes)">\(htmlBytes) bytes</meter></p>
            <p class="small">Whole message: \(String(format: "%.1f", Double(eml.utf8.count) / 1024)) KB.</p>
            </section>

            """
        out += testSendPanel(base: base, addresses: testAddresses, csrf: csrf)
        out += sourcePanel(built.issue)
        return out
    }

    static func lintPanel(_ built: BuildPipeline.BuiltIssue) -> String {
        let findings = built.lint.findings
        var items = ""
        for finding in findings {
            let state = finding.silencedReason.map { "silenced: \(escape($0))" } ?? finding.severity.rawValue
            let place = finding.line.map { "line \($0)" } ?? "whole email"
            let label = "<span class=\"sev \(finding.isSilenced ? "silenced" : finding.severity.rawValue)\">\(state)</span> \(escape(finding.message)) <code>\(escape(finding.rule))</code> <span class=\"small\">(\(place))</span>"
            if let line = finding.line {
                items += "<li><button type=\"button\" class=\"finding\" data-line=\"\(line)\">\(label)</button></li>\n"
            } else {
                items += "<li class=\"finding\">\(label)</li>\n"
            }
        }
        let summary = findings.isEmpty ? "No findings: the email keeps every rule."
            : "\(built.lint.errorCount) error\(built.lint.errorCount == 1 ? "" : "s"), \(built.lint.warningCount) warning\(built.lint.warningCount == 1 ? "" : "s")\(built.lint.errorCount > 0 ? ": `hogmail build` and `hogmail send` refuse this draft until they are fixed." : ".")"
        return """
            <section class="panel" aria-labelledby="lint-heading">
            <h2 id="lint-heading">Lint</h2>
            <p id="lint-summary">\(escape(summary))</p>
            <ul id="lint" class="lint">
            \(items)</ul>
            <p class="small">Choose a finding to see its line in the draft below. <code>hogmail rules</code> explains each rule.</p>
            </section>

            """
    }

    static func testSendPanel(base: String, addresses: [String], csrf: String) -> String {
        guard !addresses.isEmpty else {
            return """
                <section class="panel" aria-labelledby="test-heading"><h2 id="test-heading">Test send</h2>
                <p>List the addresses for test copies under <code>test_addresses:</code> in hogmail.yml to send one from here.</p></section>

                """
        }
        return """
            <section class="panel" aria-labelledby="test-heading"><h2 id="test-heading">Test send</h2>
            <form method="post" action="\(escape(base))/test-send" class="test-send">
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <p>The real message, subject marked [Test], to \(addresses.map { "<code>\(escape($0))</code>" }.joined(separator: ", ")), through the configured transport. It is not part of any send.</p>
            <button type="submit" id="test-send">Send a test</button>
            </form>
            <p id="test-send-result" role="status" aria-live="polite"></p>
            </section>

            """
    }

    static func sourcePanel(_ issue: Issue) -> String {
        let lines = issue.sourceText.split(separator: "\n", omittingEmptySubsequences: false)
        let items = lines.enumerated().map { index, line in
            "<li id=\"L\(index + 1)\"><code>\(escape(String(line)))</code></li>"
        }.joined(separator: "\n")
        return """
            <section class="panel" aria-labelledby="source-heading">
            <h2 id="source-heading">Draft: \(escape(issue.sourcePath))</h2>
            <ol class="source">
            \(items)
            </ol>
            </section>

            """
    }

    static func testSendResult(_ text: String, confirm: Bool, base: String, csrf: String, ok: Bool) -> String {
        var out = "<p class=\"\(ok ? "good" : "bad")\">\(escape(text))</p>"
        if confirm {
            out += """
                <form method="post" action="\(escape(base))/test-send" class="test-send"><input type="hidden" name="csrf" value="\(escape(csrf))">\
                <input type="hidden" name="again" value="1"><button type="submit">Send it again</button></form>
                """
        }
        return out
    }

    // MARK: - Headers

    struct Header: Equatable { var name: String; var value: String }

    /// The header block of a message, unfolded.
    static func headers(of message: String) -> [Header] {
        var headers: [Header] = []
        for line in message.components(separatedBy: "\r\n") {
            if line.isEmpty { break }
            if line.hasPrefix(" ") || line.hasPrefix("\t"), !headers.isEmpty {
                headers[headers.count - 1].value += line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append(Header(name: String(line[..<colon]), value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        return headers
    }
}
