import Foundation

/// Questions many rules ask of the final HTML.
extension LintedEmail {
    public struct Anchor {
        public var node: Int
        public var href: String
        public var text: String
    }

    public var anchors: [Anchor] {
        document.elements(named: "a").compactMap { index in
            guard let href = document.nodes[index].attributes["href"] else { return nil }
            return Anchor(node: index, href: href.trimmingCharacters(in: .whitespaces), text: document.textContent(index))
        }
    }

    public var images: [(node: Int, src: String)] {
        document.elements(named: "img").map { ($0, document.nodes[$0].attributes["src"] ?? "") }
    }

    /// Every URL the reader's client would load or follow.
    public var urls: [(node: Int, url: String)] {
        document.allElements.flatMap { index -> [(node: Int, url: String)] in
            ["href", "src", "background"].compactMap { name in
                document.nodes[index].attributes[name].map { (index, $0.trimmingCharacters(in: .whitespaces)) }
            }
        }
    }

    /// Why an element is hidden by its own inline style, or nil if it is not.
    public func hidingReason(_ index: Int) -> String? {
        let style = document.style(index)
        let attributes = document.nodes[index].attributes
        if style["display"] == "none" { return "display:none" }
        if style["visibility"] == "hidden" { return "visibility:hidden" }
        if let opacity = style["opacity"].flatMap(Double.init), opacity == 0 { return "opacity:0" }
        if let size = style["font-size"].flatMap(CSS.pixels), size == 0 { return "font-size:0" }
        if let height = style["max-height"].flatMap(CSS.pixels), height == 0, style["overflow"] == "hidden" { return "max-height:0" }
        if attributes["hidden"] != nil { return "the hidden attribute" }
        return nil
    }

    /// The nearest hiding reason on the element or an ancestor.
    public func hiddenBy(_ index: Int) -> String? {
        for node in document.lineage(index) where document.nodes[node].kind == .element {
            if let reason = hidingReason(node) { return reason }
        }
        return nil
    }

    /// The value of a CSS property on the element or its nearest ancestor that sets it.
    public func inherited(_ property: String, at index: Int) -> String? {
        for node in document.lineage(index) where document.nodes[node].kind == .element {
            if let value = document.style(node)[property] { return value }
        }
        return nil
    }

    /// The background an element is painted on: the nearest `background-color`, `background` or `bgcolor`.
    public func background(at index: Int) -> (Double, Double, Double) {
        for node in document.lineage(index) where document.nodes[node].kind == .element {
            let style = document.style(node)
            for value in [style["background-color"], style["background"]?.split(separator: " ").first.map(String.init),
                          document.nodes[node].attributes["bgcolor"]].compactMap({ $0 }) {
                if let color = CSS.color(value) { return color }
            }
        }
        return (255, 255, 255)
    }

    public var isUnsubscribe: (Anchor) -> Bool {
        { anchor in HTML.unescape(anchor.href) == unsubscribeURL }
    }

    /// The host of a URL, lower-cased, without a leading `www.`.
    /// The links that are personal by design: the reader's own unsubscribe and confirm links.
    func isOwnPersonalLink(_ url: String) -> Bool {
        let base = configuration.urls.publicBase
        return url == unsubscribeURL || url.hasPrefix(base + "/unsubscribe") || url.hasPrefix(base + "/confirm")
    }

    public static func host(of url: String) -> String? {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return nil }
        return host.hasPrefix("www.") ? String(host.dropFirst(4)) : host
    }

    /// Whether `url` falls under a list entry (`host` or `host/path`), or an allowed host.
    public static func matches(_ url: String, entry: String) -> Bool {
        guard let components = URLComponents(string: url), let rawHost = components.host?.lowercased() else { return false }
        return matches(host: rawHost, path: components.path, entry: entry)
    }

    /// `matches(_:entry:)` for a URL already taken apart (`host` lower-cased): checking one URL
    /// against a whole list parses it once, not once per entry.
    public static func matches(host rawHost: String, path: String, entry: String) -> Bool {
        let parts = entry.lowercased().split(separator: "/", maxSplits: 1)
        let host = String(parts[0])
        guard rawHost == host || rawHost.hasSuffix("." + host) else { return false }
        guard parts.count == 2 else { return true }
        return path.lowercased().hasPrefix("/" + parts[1])
    }

    /// The body of the text part without the template's footer, for phrase rules.
    public var readerText: [(label: String, text: String)] {
        [("subject", issue.subject), ("preheader", issue.preheader), ("body", text)]
    }

    public func location(forPhraseIn label: String, phrase: String) -> SourcePosition {
        switch label {
        case "subject":
            return frontMatter(issue.frontMatterLines["subject"] != nil ? "subject" : "title")
        case "preheader":
            for key in ["preheader", "description"] where issue.frontMatterLines[key] != nil { return frontMatter(key) }
            return location(ofPhrase: phrase)
        default:
            return location(ofPhrase: phrase)
        }
    }
}
