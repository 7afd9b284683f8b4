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
        identifier: "utm_parameters", name: "UTM parameters", kind: .privacy, severity: .error,
        description: "No link carries `utm_` campaign parameters, unless hogmail.yml sets `lint.allow_utm: true`.",
        rationale: "UTM parameters feed analytics with who came from which email; the team's rule is no analytics in email unless it decides otherwise, in one place.",
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
            return finding("\(href) carries `\(item.name)`; remove the utm_ parameters (or set `lint.allow_utm: true` in hogmail.yml if the team decided to use them).",
                           at: email.location(ofURL: href), excerpt: href)
        }
    }
}
