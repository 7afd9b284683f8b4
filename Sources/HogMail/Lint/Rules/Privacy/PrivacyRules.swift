import Foundation

struct TrackingPixelRule: Rule {
    static let description = RuleDescription(
        identifier: "tracking_pixel", name: "Tracking pixel", kind: .privacy, severity: .error,
        description: "No image is 1×1 or smaller (by attribute or CSS) or hidden: that is how opens are tracked.",
        rationale: "A pixel reports when, where and on what device a reader opened the email, without asking. We promised no tracking.",
        triggeringExamples: [
            LintExample(#"Hello. <img src="https://stats.example.net/open.gif?id=42" width="1" height="1" alt="">"#),
            LintExample(#"Hello. <img src="https://example.com/o.png" style="display:none" alt="">"#),
            LintExample(#"Hello. <img src="https://example.com/o.png" style="width:0;height:0" alt="">"#),
        ],
        nonTriggeringExamples: [
            LintExample("![A chart of weekly signups](https://example.com/chart.png)"),
            LintExample(#"<img src="https://example.com/logo.png" width="120" height="40" alt="HogMail">"#),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        email.images.compactMap { node, src in
            let attributes = email.document.nodes[node].attributes
            let style = email.document.style(node)
            let width = attributes["width"].flatMap(CSS.pixels) ?? style["width"].flatMap(CSS.pixels)
            let height = attributes["height"].flatMap(CSS.pixels) ?? style["height"].flatMap(CSS.pixels)
            let tiny: (Double?) -> Bool = { $0.map { $0 <= 1 } ?? false }
            let isPixel = (tiny(width) && (tiny(height) || height == nil)) || (tiny(height) && width == nil)
            if isPixel {
                return finding("The image \(src) is at most 1×1 pixel: a tracking pixel. Remove it; HogMail does not track opens.",
                               at: email.location(ofURL: src), excerpt: src)
            }
            if let reason = email.hiddenBy(node) {
                return finding("The image \(src) is hidden (\(reason)), which is how tracking pixels hide. Remove it, or show it.",
                               at: email.location(ofURL: src), excerpt: src)
            }
            return nil
        }
    }
}

struct TrackerHostRule: Rule {
    static let description = RuleDescription(
        identifier: "tracker_host", name: "Third-party tracker", kind: .privacy, severity: .error,
        description: "No link or image points at a known tracking or analytics host (the list in Lint/Data/tracker-hosts.txt).",
        rationale: "Links and images through Google Analytics, Mailchimp, SendGrid and the like tell a third party who read what. Allow your own analytics host by name in `lint.allow_hosts`.",
        triggeringExamples: [
            LintExample("Read [the report](https://www.google-analytics.com/collect?v=1&tid=UA-1)."),
            LintExample("![Banner](https://ct.sendgrid.net/wf/open?upn=abc)"),
            LintExample("Watch [the talk](https://example.us1.list-manage.com/track/click?u=1&id=2)."),
        ],
        nonTriggeringExamples: [
            LintExample("Read [the report](https://example.com/report)."),
            LintExample("Read [our stats](https://stats.example.com/report).", configure: { $0.lint.allowHosts = ["stats.example.com"] }),
            LintExample("We moved off [Google Analytics](https://marketingplatform.google.com/about/analytics/)."),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        var reported: Set<String> = []
        return email.urls.compactMap { _, url in
            guard url.hasPrefix("http"), !reported.contains(url) else { return nil }
            guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return nil }
            if email.configuration.lint.allowHosts.contains(where: { LintedEmail.matches(host: host, path: components.path, entry: $0) }) { return nil }
            guard let entry = email.lists.trackerHosts.first(where: { LintedEmail.matches(host: host, path: components.path, entry: $0.value) }) else { return nil }
            reported.insert(url)
            return finding("\(url) goes through \(entry.value) (\(entry.note)), a third party that records who opened or clicked. Link to the destination directly.",
                           at: email.location(ofURL: url), excerpt: url)
        }
    }
}

struct LinkShortenerRule: Rule {
    static let description = RuleDescription(
        identifier: "link_shortener", name: "Link shortener", kind: .privacy, severity: .warning,
        description: "A link goes through a link shortener (Lint/Data/shortener-hosts.txt).",
        rationale: "The reader cannot see where a shortened link goes, and the shortener counts every click. It names no reader, so it is a warning: link to the destination itself.",
        triggeringExamples: [LintExample("Read [the spec](https://bit.ly/url-spec).")],
        nonTriggeringExamples: [LintExample("Read [the spec](https://url.spec.whatwg.org/).")])

    func findings(in email: LintedEmail) -> [Finding] {
        var reported: Set<String> = []
        return email.urls.compactMap { _, url in
            guard url.hasPrefix("http"), !reported.contains(url),
                  let components = URLComponents(string: url), let host = components.host?.lowercased(),
                  let entry = email.lists.shortenerHosts.first(where: { LintedEmail.matches(host: host, path: components.path, entry: $0.value) })
            else { return nil }
            reported.insert(url)
            return finding("\(url) goes through a link shortener (\(entry.note)): the reader cannot see where it leads, and \(entry.value) counts the click. Link to the destination directly.",
                           at: email.location(ofURL: url), excerpt: url)
        }
    }
}

struct ClickTrackingRedirectRule: Rule {
    static let description = RuleDescription(
        identifier: "click_tracking_redirect", name: "Click-tracking redirect", kind: .privacy, severity: .error,
        description: "No link wraps another URL in its query (`?url=`, `?u=`, `?redirect=`…), which is how click tracking works.",
        rationale: "A redirect records the click before sending the reader on, and shows a different address than the one they will reach.",
        triggeringExamples: [
            LintExample("Read [the post](https://t.example.net/c?url=https%3A%2F%2Fexample.com%2Fpost)."),
            LintExample("Read [the post](https://links.example.net/r?redirect=https://example.org/post&id=9)."),
        ],
        nonTriggeringExamples: [
            LintExample("Watch [the demo](https://www.youtube.com/watch?v=abc123)."),
            LintExample("Search [for flags](https://example.com/search?q=feature+flags)."),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        let names = Set(email.lists.redirectParameters.map { $0.value.lowercased() })
        return email.anchors.compactMap { anchor in
            let href = HTML.unescape(anchor.href)
            guard let items = URLComponents(string: href)?.queryItems else { return nil }
            for item in items where names.contains(item.name.lowercased()) {
                let value = (item.value ?? "").removingPercentEncoding ?? item.value ?? ""
                if value.range(of: #"^(https?://|www\.)"#, options: [.regularExpression, .caseInsensitive]) != nil {
                    return finding("\(href) sends the reader through a redirect (`\(item.name)=\(value)`), which records the click. Link to \(value) directly.",
                                   at: email.location(ofURL: href), excerpt: href)
                }
            }
            return nil
        }
    }
}

struct UTMParametersRule: Rule {
    static let description = RuleDescription(
        identifier: "utm_parameters", name: "UTM parameters", kind: .privacy, severity: .warning,
        description: "A link carries `utm_` campaign parameters (a warning; `lint.allow_utm: true` in hogmail.yml silences it).",
        rationale: "`utm_source=newsletter` tells the other site where its visitors came from; it identifies no reader, so it is not tracking, but it is analytics the reader did not ask for. Drop it unless the team wants it.",
        triggeringExamples: [LintExample("Read [the post](https://example.com/post?utm_source=newsletter&utm_medium=email).")],
        nonTriggeringExamples: [
            LintExample("Read [the post](https://example.com/post)."),
            LintExample("Read [the post](https://example.com/post?utm_source=newsletter).", configure: { $0.lint.allowUTM = true }),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        guard !email.configuration.lint.allowUTM else { return [] }
        return email.anchors.compactMap { anchor in
            let href = HTML.unescape(anchor.href)
            guard let items = URLComponents(string: href)?.queryItems,
                  let item = items.first(where: { $0.name.lowercased().hasPrefix("utm_") }) else { return nil }
            let stripped = UTMParametersRule.withoutUTM(href)
            return finding("\(href) carries `\(item.name)`: it tells \(LintedEmail.host(of: href) ?? "the other site") that the visit came from this newsletter (no reader is identified). Link to \(stripped) to drop it, or set `lint.allow_utm: true` in hogmail.yml if the team wants it.",
                           at: email.location(ofURL: href), excerpt: href)
        }
    }

    static func withoutUTM(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.queryItems = components.queryItems?.filter { !$0.name.lowercased().hasPrefix("utm_") }
        if components.queryItems?.isEmpty == true { components.queryItems = nil }
        return components.string ?? url
    }
}

struct ReaderIdentifierRule: Rule {
    static let description = RuleDescription(
        identifier: "reader_identifier_in_url", name: "Reader identified in a link", kind: .privacy, severity: .error,
        description: "No link or image other than the unsubscribe and confirm links carries something that identifies the reader: their address, a per-recipient template value, a subscriber id or a mail tool's merge tag or tracking parameter.",
        rationale: "A link that names the reader tells the site (and its analytics) exactly who clicked; an image that does reports who opened. That is tracking, whatever the parameter is called.",
        triggeringExamples: [
            LintExample("Read [the post](https://example.com/post?email={{recipient_email}})."),
            LintExample("Read [the post](https://example.com/post?subscriber_id=8812)."),
            LintExample("Read [the post](https://example.com/post?mc_eid=ab12cd&utm_source=x)."),
            LintExample("Read [the post](https://example.com/post?e=*|EMAIL|*)."),
            LintExample("![banner](https://img.example.com/b.png?u=%%emailaddr%%)"),
        ],
        nonTriggeringExamples: [
            LintExample("Read [the post](https://example.com/post?ref=newsletter)."),
            LintExample("Search [the docs](https://example.com/search?q=email+address)."),
            LintExample("Write to [us](mailto:hello@example.com)."),
        ])

    /// Parameters mail and marketing tools use to name a subscriber.
    static let identifyingParameters: Set<String> = [
        "email", "e", "mail", "emailaddress", "email_address", "subscriber", "subscriber_id", "subscriberid", "sid", "uid", "user_id",
        "userid", "contact_id", "contactid", "recipient", "recipient_id", "rid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "vero_id",
        "ck_subscriber_id", "oly_enc_id", "sc_cid", "dm_i", "lid", "eid", "cid",
    ]
    /// Merge tags of common mail tools, left in a URL.
    static let mergeTag = #"(\*\|[A-Z_]+\|\*|%%[A-Za-z_]+%%|\{\{\s*[A-Za-z_.]+\s*\}\}|\[(email|subscriber|uid|contact)[^\]]*\]|\$\{?(email|subscriber)[A-Za-z_]*\}?)"#

    func findings(in email: LintedEmail) -> [Finding] {
        let address = email.configuration.sampleRecipient.address.lowercased()
        let encodedAddress = address.addingPercentEncoding(withAllowedCharacters: .alphanumerics)?.lowercased() ?? address
        var reported: Set<String> = []
        return email.urls.compactMap { _, raw in
            let url = HTML.unescape(raw)
            let lowered = url.lowercased()
            guard lowered.hasPrefix("http"), !reported.contains(url), !email.isOwnPersonalLink(url) else { return nil }
            var reason: String?
            // The sample message fills every per-recipient hole with the sample reader: any of
            // it in a URL is a per-recipient value.
            if lowered.contains(address) || lowered.contains(encodedAddress) {
                reason = "the reader's address (a per-recipient template value)"
            } else if let range = url.range(of: Self.mergeTag, options: .regularExpression) {
                reason = "the merge tag `\(url[range])`, which a mail tool fills with the reader's data"
            } else if let item = URLComponents(string: url)?.queryItems?.first(where: { item in
                Self.identifyingParameters.contains(item.name.lowercased()) && !(item.value ?? "").isEmpty
                    && (item.value ?? "").range(of: #"^(newsletter|email|mail)$"#, options: [.regularExpression, .caseInsensitive]) == nil
            }) {
                reason = "`\(item.name)=\(item.value ?? "")`, a parameter mail tools use to name the subscriber"
            }
            guard let reason else { return nil }
            reported.insert(url)
            return finding("\(url) carries \(reason). A link must not say who clicked, nor an image who opened; remove it (only the unsubscribe and confirm links are personal).",
                           at: email.location(ofURL: url), excerpt: url)
        }
    }
}
