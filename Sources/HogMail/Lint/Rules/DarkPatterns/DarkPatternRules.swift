import Foundation

struct FalseUrgencyRule: Rule {
    static let description = RuleDescription(
        identifier: "false_urgency", name: "False urgency or scarcity", kind: .darkPatterns, severity: .error,
        description: "Subject, preheader and body use no urgency or scarcity phrases (Lint/Data/urgency.txt), unless the front matter states a real `deadline`.",
        rationale: "\"Only 3 left\" and \"ends tonight\" push readers to act before they think; when the deadline is real, say so with `deadline:` and the date.",
        triggeringExamples: [
            LintExample("Hurry, only 3 seats left for the workshop!"),
            LintExample("Our beta is open.", title: "Last chance: the beta closes"),
            LintExample("Sign-ups end at midnight. Don’t miss out!"),
            LintExample("12 people are viewing this offer right now."),
        ],
        nonTriggeringExamples: [
            LintExample("No hurry: the beta stays open all year."),
            LintExample("If you are in a hurry, skip to the last section."),
            LintExample("Early-bird tickets end tonight.", frontMatter: "deadline: 2026-01-07\n"),
            LintExample("We fixed the last bug in the importer and shipped three features."),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        if let deadline = email.issue.deadline, deadline >= email.issue.sendTime.date { return [] }
        let past = email.issue.deadline.map { " The `deadline` \($0) is before the send date, so it cannot excuse it." } ?? ""
        var found: [Finding] = []
        for (label, text) in email.readerText {
            var matched: Set<String> = []
            for match in PhraseMatcher.matches(in: text, list: email.lists.urgency) {
                matched.insert(match.text.lowercased())
                found.append(finding("The \(label) says \"\(match.text)\": \(match.entry.note). Say what is true instead; if there is a real deadline, add `deadline: YYYY-MM-DD` to the front matter.\(past)",
                                     at: email.location(forPhraseIn: label, phrase: match.entry.value),
                                     excerpt: match.text))
            }
            found += DarkPatternShapes.findings(self, in: email, label: label, text: text, kinds: [.urgency], skipping: matched,
                                                advice: "Say what is true instead; if there is a real deadline, add `deadline: YYYY-MM-DD` to the front matter.\(past)")
        }
        return found
    }
}

struct FalseScarcityRule: Rule {
    static let description = RuleDescription(
        identifier: "false_scarcity", name: "False scarcity or demand", kind: .darkPatterns, severity: .error,
        description: "No sentence has the shape of a low-stock count or a popularity claim that presses the reader (Lint/Data/shapes.txt: few left, almost gone, while supplies last, in high demand, in other carts, counted sales).",
        rationale: "\"Only 3 left\" and \"38 people have this in their cart\" rush the reader with numbers they cannot check; a newsletter informs.",
        triggeringExamples: [
            LintExample("Hurry! Only 7 kits left."),
            LintExample("This course is almost sold out."),
            LintExample("38 people have this in their cart."),
            LintExample("Sold 23 products in the last 6 hours."),
        ],
        nonTriggeringExamples: [
            LintExample("Only 3 people work on the importer."),
            LintExample("Over the last few years we rewrote the parser."),
            LintExample("The feature is limited to admins."),
            LintExample("Three people joined the team this month."),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        email.readerText.flatMap { label, text in
            DarkPatternShapes.findings(self, in: email, label: label, text: text, kinds: [.scarcity, .highDemand], skipping: [],
                                       advice: "Say what is true and useful to the reader, without the count or the pressure.")
        }
    }
}

struct FakeActivityRule: Rule {
    static let description = RuleDescription(
        identifier: "fake_activity", name: "Fake activity", kind: .darkPatterns, severity: .error,
        description: "No sentence reports activity the reader cannot check: someone somewhere who just bought, people viewing right now (Lint/Data/shapes.txt).",
        rationale: "\"Sarah in Austin just bought this\" is social proof made up for pressure; in an email it cannot even be live.",
        triggeringExamples: [
            LintExample("Sarah in Austin just bought this."),
            LintExample("23 people are looking at this right now."),
            LintExample("Someone from London signed up 2 minutes ago."),
        ],
        nonTriggeringExamples: [
            LintExample("Ada joined the team as a maintainer in May."),
            LintExample("We just shipped the importer."),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        email.readerText.flatMap { label, text in
            DarkPatternShapes.findings(self, in: email, label: label, text: text, kinds: [.fakeActivity], skipping: [],
                                       advice: "Remove it; report real numbers, with their date and source, if they matter.")
        }
    }
}

extension DarkPatternShapes {
    /// A rule's findings for the shapes of some kinds, one per sentence.
    static func findings<R: Rule>(_ rule: R, in email: LintedEmail, label: String, text: String, kinds: Set<Kind>,
                                  skipping: Set<String>, advice: String) -> [Finding] {
        // A sentence a phrase-list entry already reported is not reported twice.
        let skipped = skipping.map { PhraseMatcher.tokens($0).joined(separator: " ") }
        // The text part repeats the subject (and the preheader) as its first lines: those are
        // reported once, for the front matter line that holds them.
        func letters(_ text: String) -> String { text.lowercased().filter { $0.isLetter || $0.isNumber } }
        let repeated = label == "body" ? Set([letters(email.issue.subject), letters(email.issue.preheader)]) : []
        return sentences(text).compactMap { sentence in
            if repeated.contains(letters(sentence)) { return nil }
            guard let match = bundled.matches(inSentence: sentence, kinds: kinds).first else { return nil }
            let words = PhraseMatcher.tokens(sentence).joined(separator: " ")
            guard !skipped.contains(where: { !$0.isEmpty && words.contains($0) }) else { return nil }
            // The draft has straight quotes where the email has curly ones: look the line up by
            // the words before the first quote.
            let beforeQuote = sentence.prefix { !"'\u{2019}\u{2018}\"\u{201C}\u{201D}[".contains($0) }
            let anchor = String((beforeQuote.count >= 8 ? beforeQuote : sentence[...]).prefix(40))
            var found = rule.finding("The \(label) says \"\(sentence.prefix(120))\": it has the shape of \(match.kind.description) (\(match.shape): \"\(match.text)\"). \(advice)",
                                     at: Self.location(in: email, label: label, anchor: anchor, words: match.text), excerpt: match.text)
            let shape = bundled.shapes.first { $0.kind == match.kind && $0.name == match.shape }
            found.explanation = "shape \"\(match.shape)\" (\(match.kind.rawValue), Lint/Data/shapes.txt) matched the words \"\(match.text)\" in the \(label) sentence \"\(sentence)\""
                + (shape?.triggering.first.map { ". It is the shape of, for example: \"\($0)\"" } ?? "")
                + ". `hogmail rules` lists every shape of `\(R.description.identifier)`; if this is honest, rephrase it or silence the rule in the front matter with a reason."
            return found
        }
    }
}

extension DarkPatternShapes {
    /// The draft line of a sentence: by its first words, else by the words the shape matched.
    static func location(in email: LintedEmail, label: String, anchor: String, words: String) -> SourcePosition {
        let first = email.location(forPhraseIn: label, phrase: anchor)
        if first.line != nil { return first }
        return email.location(forPhraseIn: label, phrase: words)
    }
}

extension DarkPatternShapes.Kind: CustomStringConvertible {
    public var description: String {
        switch self {
        case .urgency: return "false urgency"
        case .scarcity: return "false scarcity"
        case .highDemand: return "a high-demand claim"
        case .fakeActivity: return "fake activity"
        case .confirmshaming: return "confirmshaming"
        }
    }
}

struct CountdownTimerRule: Rule {
    static let description = RuleDescription(
        identifier: "countdown_timer", name: "Countdown timer", kind: .darkPatterns, severity: .error,
        description: "No image comes from a countdown-timer service (Lint/Data/countdown-hosts.txt) or has \"countdown\" or \"timer\" in its address.",
        rationale: "A ticking clock in an email is manufactured urgency, and the image server learns when the email was opened.",
        triggeringExamples: [
            LintExample("![Offer ends in](https://gen.sendtric.com/countdown/xyz)"),
            LintExample("![Time left](https://cdn.example.com/images/countdown-sale.gif)"),
        ],
        nonTriggeringExamples: [LintExample("![Our new dashboard](https://example.com/images/dashboard.png)")])

    func findings(in email: LintedEmail) -> [Finding] {
        email.images.compactMap { _, src in
            let service = email.lists.countdownHosts.first { LintedEmail.matches(src, entry: $0.value) }
            let path = URLComponents(string: src)?.path.lowercased() ?? src.lowercased()
            guard service != nil || path.contains("countdown") || path.contains("timer") else { return nil }
            return finding("The image \(src) is a countdown timer\(service.map { " (\($0.note))" } ?? ""). State the date instead; a clock in an email pressures the reader.",
                           at: email.location(ofURL: src), excerpt: src)
        }
    }
}

struct FakeReplySubjectRule: Rule {
    static let description = RuleDescription(
        identifier: "fake_reply_subject", name: "Fake reply or forward", kind: .darkPatterns, severity: .error,
        description: "The subject does not start with `Re:`, `Fwd:`, `Fw:` or a translation (`AW:`, `WG:`, `TR:`, `RV:`, `SV:`…).",
        rationale: "A newsletter is not a reply; pretending to continue a conversation tricks the reader into opening it.",
        triggeringExamples: [LintExample("Hello.", title: "Re: your account"), LintExample("Hello.", title: "FWD: the plan"),
                             LintExample("Hello.", title: "AW: Frage")],
        nonTriggeringExamples: [LintExample("Hello.", title: "Reply-all etiquette, explained"), LintExample("Hello.", title: "Refactoring, part 2")])

    func findings(in email: LintedEmail) -> [Finding] {
        let pattern = #"(?i)^\s*(re|fwd?|aw|wg|tr|rv|sv|vs|antw|odp|pd|enc|rif|res|ynt|vb|vl|doorst|回复|答复|转发|轉寄|回覆)\s*(\[\d+\])?\s*[:：]"#
        guard email.issue.subject.range(of: pattern, options: .regularExpression) != nil else { return [] }
        return [finding("The subject \"\(email.issue.subject)\" starts like a reply or a forward, but this is a newsletter. Remove the prefix.",
                        at: email.location(forPhraseIn: "subject", phrase: email.issue.subject), excerpt: email.issue.subject)]
    }
}

struct DeceptiveLinkTextRule: Rule {
    static let description = RuleDescription(
        identifier: "deceptive_link_text", name: "Deceptive link text", kind: .darkPatterns, severity: .error,
        description: "A link whose text shows an address goes to that address's site, and `https` shown is not `http` linked. Text is an address when it has a scheme or `www.`, or is host-shaped and ends in a real public suffix (the Public Suffix List); a file name (`config.ts`, `query-retention.md`) is not.",
        rationale: "Showing one address and linking another is the phishing trick; readers must be able to trust what a link says.",
        triggeringExamples: [
            LintExample("Log in at [paypal.com](https://paypal.example.net/login)."),
            LintExample("See [https://example.com/docs](http://example.com/docs)."),
            LintExample("See [www.example.org](https://example.net/)."),
            LintExample("Read [example.co.uk/news](https://example.net/news)."),
        ],
        nonTriggeringExamples: [
            LintExample("See [example.com](https://www.example.com/about)."),
            LintExample("See <https://example.com/docs>."),
            LintExample("Read [the docs](https://docs.example.com)."),
            LintExample("The fix is in [executesql.ts](https://github.com/example/app/blob/main/src/executesql.ts)."),
            LintExample("See [query-retention.md](https://github.com/example/docs/blob/main/query-retention.md) and [setup.sh](https://github.com/example/app/blob/main/setup.sh)."),
            LintExample("Built with [Node.js](https://nodejs.org/) and [Next.js](https://nextjs.org/)."),
            LintExample("Download it from [https://nodejs.org/download/](/download/)."),
            LintExample("Use [`window.open`](https://www.electronjs.org/docs/latest/api/window-open) instead."),
            LintExample("The service is open source: [update.electronjs.org](https://github.com/electron/update.electronjs.org)."),
            LintExample("A tweet: [pic.twitter.com/abc123](https://t.co/abc123)"),
            LintExample("Read [docs.example.com](https://example.com/docs)."),
        ])

    /// Endings of code and document files. Some are also country suffixes (`.sh`, `.rs`, `.md`,
    /// `.py`), but a bare `setup.sh` in a newsletter is a file; with a scheme or a path it is an address.
    static let fileExtensions: Set<String> = [
        "ts", "tsx", "js", "jsx", "mjs", "cjs", "md", "mdx", "markdown", "rst", "txt", "py", "rb", "rs", "go", "sh", "bash", "zsh",
        "swift", "kt", "java", "c", "h", "cc", "cpp", "hpp", "cs", "m", "mm", "php", "pl", "lua", "ex", "exs", "erl", "hs", "scala",
        "clj", "dart", "vue", "svelte", "astro", "css", "scss", "sass", "less", "html", "htm", "xml", "json", "jsonc", "yml", "yaml",
        "toml", "ini", "cfg", "conf", "env", "lock", "sql", "csv", "tsv", "log", "proto", "graphql", "gql", "tf", "hcl", "nix",
        "dockerfile", "gradle", "cmake", "mk", "zip", "tar", "gz", "tgz", "pdf", "png", "jpg", "jpeg", "gif", "svg", "webp",
        "wasm", "ipynb", "dat", "bin", "so", "dll", "exe", "patch", "diff",
    ]

    /// Domains that are one site's own short or alternative names (Twitter's `pic.twitter.com`
    /// links go through its `t.co`).
    static let sameSite: [String: String] = [
        "t.co": "twitter.com", "x.com": "twitter.com", "youtu.be": "youtube.com", "fb.me": "facebook.com", "redd.it": "reddit.com",
        "amzn.to": "amazon.com", "wp.me": "wordpress.com", "goo.gl": "google.com", "g.co": "google.com",
    ]

    /// Who a host belongs to: its registrable domain (`docs.example.co.uk` → `example.co.uk`),
    /// with a site's own short domains mapped to it.
    static func owner(of host: String) -> String {
        let domain = PublicSuffixList.bundled.registrableDomain(of: host) ?? host
        return sameSite[domain] ?? domain
    }

    /// The host a link text shows, or nil when the text is not an address.
    static func shownHost(_ text: String) -> String? {
        guard text.range(of: #"^(https?://)?([A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}(:\d+)?([/?#]\S*)?$"#, options: .regularExpression) != nil else { return nil }
        let hasScheme = text.lowercased().hasPrefix("http://") || text.lowercased().hasPrefix("https://")
        guard let host = LintedEmail.host(of: hasScheme ? text : "https://" + text) else { return nil }
        if hasScheme || text.lowercased().hasPrefix("www.") { return host }
        let hostPart = text.prefix { $0 != "/" && $0 != "?" && $0 != "#" && $0 != ":" }
        let hasPath = hostPart.count < text.count
        let last = host.split(separator: ".").last.map(String.init) ?? ""
        if !hasPath && fileExtensions.contains(last) { return nil }
        return PublicSuffixList.bundled.isRegistrableHost(host) ? host : nil
    }

    func findings(in email: LintedEmail) -> [Finding] {
        email.anchors.compactMap { anchor in
            let text = anchor.text.trimmingCharacters(in: .whitespaces)
            let href = HTML.unescape(anchor.href)
            guard let shown = Self.shownHost(text), let target = LintedEmail.host(of: href) else { return nil }
            // Code (`[`window.open`](…)`) names an API, not a site; and a link whose address
            // names the shown host (github.com/electron/update.electronjs.org) is about that site.
            if email.issue.sourceText.contains("[`\(text)`]") { return nil }
            if shown != target, let path = URLComponents(string: href)?.path.lowercased(), path.contains(shown) { return nil }
            // A link the draft wrote relative (`[nodejs.org/download](/download/)`) goes to the
            // editor's own site (`urls.site`), which its text names.
            if let site = email.configuration.urls.site, href.hasPrefix(site + "/"),
               email.issue.sourceText.contains("](" + href.dropFirst(site.count)) || email.issue.sourceText.contains("href=\"" + href.dropFirst(site.count)) {
                return nil
            }
            if shown != target, Self.owner(of: shown) != Self.owner(of: target) {
                return finding("The link text shows \(shown) but the link goes to \(target). Make the text say where the link goes.",
                               at: email.location(ofURL: href), excerpt: "\(text) → \(href)")
            }
            if text.lowercased().hasPrefix("https://") && href.lowercased().hasPrefix("http://") {
                return finding("The link text shows https:// but the link is http://. Link to the https address.",
                               at: email.location(ofURL: href), excerpt: "\(text) → \(href)")
            }
            return nil
        }
    }
}

struct HiddenUnsubscribeRule: Rule {
    static let description = RuleDescription(
        identifier: "unsubscribe_hidden", name: "Hidden, tiny or faint unsubscribe link", kind: .darkPatterns, severity: .error,
        description: "The unsubscribe link is visible, at least 10 px, with WCAG AA contrast (4.5:1) against its background.",
        rationale: "An unsubscribe link that exists but cannot be seen is a lie of omission; readers should find the way out at a glance.",
        silenceable: false,
        triggeringExamples: [
            LintExample("Hello.", templates: ["partials/footer.html": #"<p>{{why}} {{postal_address}} <a href="{{{unsubscribe_url}}}" style="font-size:8px;color:#1d4aff;">unsubscribe</a></p>"#]),
            LintExample("Hello.", templates: ["partials/footer.html": #"<p>{{why}} {{postal_address}} <a href="{{{unsubscribe_url}}}" style="font-size:14px;color:#eeeeee;">unsubscribe</a></p>"#]),
            LintExample("Hello.", templates: ["partials/footer.html": #"<p>{{why}} {{postal_address}} <span style="display:none"><a href="{{{unsubscribe_url}}}">unsubscribe</a></span></p>"#]),
        ],
        nonTriggeringExamples: [LintExample("Hello.")])

    func findings(in email: LintedEmail) -> [Finding] {
        email.anchors.filter(email.isUnsubscribe).compactMap { anchor in
            let location = email.location(ofURL: email.unsubscribeURL)
            if let reason = email.hiddenBy(anchor.node) {
                return finding("The unsubscribe link is hidden (\(reason)). Show it.", at: location)
            }
            if let size = email.inherited("font-size", at: anchor.node).flatMap(CSS.pixels), size < 10 {
                return finding("The unsubscribe link is \(Int(size)) px; make it at least 10 px (14 px reads well).", at: location)
            }
            let foreground = email.inherited("color", at: anchor.node).flatMap(CSS.color) ?? (0, 0, 238)
            let ratio = CSS.contrast(foreground, email.background(at: anchor.node))
            if ratio < 4.5 {
                return finding(String(format: "The unsubscribe link's contrast against its background is %.1f:1; WCAG AA asks for at least 4.5:1. Use a darker colour.", ratio), at: location)
            }
            return nil
        }
    }
}

struct ConfirmshamingRule: Rule {
    static let description = RuleDescription(
        identifier: "confirmshaming", name: "Confirmshaming", kind: .darkPatterns, severity: .error,
        description: "No wording makes saying no feel shameful (Lint/Data/confirmshaming.txt).",
        rationale: "\"No thanks, I don't like saving money\" guilt-trips the reader into a choice; a plain \"No thanks\" respects them.",
        triggeringExamples: [
            LintExample("[No thanks, I don't want to grow my business](https://example.com/decline)"),
            LintExample("Leaving already? We'll miss you."),
        ],
        nonTriggeringExamples: [LintExample("[No thanks](https://example.com/decline)"), LintExample("We shipped the importer.")])

    func findings(in email: LintedEmail) -> [Finding] {
        email.readerText.flatMap { label, text in
            let listed = PhraseMatcher.matches(in: text, list: email.lists.confirmshaming)
            let found = listed.map { match in
                finding("The \(label) says \"\(match.text)\": \(match.entry.note). Offer the choice plainly, e.g. \"No thanks\".",
                        at: email.location(forPhraseIn: label, phrase: match.entry.value), excerpt: match.text)
            }
            return found + DarkPatternShapes.findings(self, in: email, label: label, text: text, kinds: [.confirmshaming],
                                                      skipping: Set(listed.map { $0.text.lowercased() }),
                                                      advice: "Offer the choice plainly, e.g. \"No thanks\".")
        }
    }
}

struct ShoutingSubjectRule: Rule {
    static let description = RuleDescription(
        identifier: "shouting_subject", name: "Shouting subject", kind: .darkPatterns, severity: .error,
        description: "The subject is not mostly capitals and has at most one `!`.",
        rationale: "ALL CAPS and `!!!` are volume, not information; they belong to the spam folder and train readers to ignore us.",
        triggeringExamples: [LintExample("Hello.", title: "BIGGEST RELEASE OF THE YEAR"), LintExample("Hello.", title: "We shipped it!!")],
        nonTriggeringExamples: [LintExample("Hello.", title: "RFC 8058 and the GDPR, explained"), LintExample("Hello.", title: "We shipped it!")])

    func findings(in email: LintedEmail) -> [Finding] {
        let subject = email.issue.subject
        let letters = subject.unicodeScalars.filter { $0.properties.isAlphabetic && ($0.properties.isUppercase || $0.properties.isLowercase) }
        let upper = letters.filter { $0.properties.isUppercase }.count
        var found: [Finding] = []
        let location = email.location(forPhraseIn: "subject", phrase: subject)
        if letters.count >= 8 && Double(upper) / Double(letters.count) > 0.6 {
            found.append(finding("The subject \"\(subject)\" is mostly capitals. Write it in sentence case.", at: location, excerpt: subject))
        }
        if subject.filter({ $0 == "!" || $0 == "！" }).count > 1 {
            found.append(finding("The subject \"\(subject)\" has more than one `!`. One is plenty; none is often better.", at: location, excerpt: subject))
        }
        return found
    }
}

struct PrecheckedBoxRule: Rule {
    static let description = RuleDescription(
        identifier: "prechecked_checkbox", name: "Pre-checked box", kind: .darkPatterns, severity: .error,
        description: "No checkbox or radio button is checked in advance.",
        rationale: "Consent is something a person gives, not something a form assumes for them.",
        triggeringExamples: [LintExample(#"<form><input type="checkbox" name="partners" checked> Send me partner offers</form>"#)],
        nonTriggeringExamples: [LintExample(#"<form><input type="checkbox" name="partners"> Send me partner offers</form>"#)])

    func findings(in email: LintedEmail) -> [Finding] {
        email.document.elements(named: "input").compactMap { node in
            let attributes = email.document.nodes[node].attributes
            guard ["checkbox", "radio"].contains(attributes["type"]?.lowercased() ?? ""), attributes["checked"] != nil else { return nil }
            return finding("A \(attributes["type"]!.lowercased()) is checked in advance. Leave it unchecked: the reader decides.",
                           at: email.location(of: "checked"))
        }
    }
}

struct HiddenTextRule: Rule {
    static let description = RuleDescription(
        identifier: "hidden_text", name: "Hidden text", kind: .darkPatterns, severity: .error,
        description: "No text is hidden from the reader, except the one preheader.",
        rationale: "Hidden text says something to filters or previews that the reader never sees; what we say, we say openly.",
        triggeringExamples: [LintExample(#"Hello. <span style="display:none">free money winner</span>"#),
                             LintExample(#"Hello. <div style="font-size:0">prize</div>"#)],
        nonTriggeringExamples: [LintExample("Hello, readers.")])

    func findings(in email: LintedEmail) -> [Finding] {
        var preheaderSeen = false
        var found: [Finding] = []
        for node in email.document.allElements {
            guard let reason = email.hidingReason(node) else { continue }
            if let parent = email.document.nodes[node].parent, email.hiddenBy(parent) != nil { continue }
            let text = email.document.textContent(node)
            guard !text.isEmpty else { continue }
            // Compared by scalars: the spacer after the preheader starts with a combining character.
            if !preheaderSeen && !email.issue.preheader.isEmpty && text.unicodeScalars.starts(with: email.issue.preheader.unicodeScalars) {
                preheaderSeen = true
                continue
            }
            found.append(finding("Text is hidden (\(reason)): \"\(text.prefix(60))\". Show it or remove it; only the preheader may be hidden.",
                                 at: email.location(ofPhrase: String(text.prefix(40))), excerpt: text))
        }
        return found
    }
}
