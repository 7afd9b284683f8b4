import Foundation

private let footerWithoutUnsubscribe = #"<p style="margin:0;font-size:14px;color:#5f6368;">{{why}}</p><p style="margin:0;font-size:13px;color:#5f6368;">{{list_name}} · {{postal_address}}</p>"#

struct UnsubscribeLinkInHTMLRule: Rule {
    static let description = RuleDescription(
        identifier: "unsubscribe_link_html", name: "Unsubscribe link in the HTML", kind: .compliance, severity: .error,
        description: "The HTML part has a visible link to the reader's one-click unsubscribe URL.",
        rationale: "Leaving must be as easy as arriving; a reader who cannot find the way out marks the email as spam, which hurts every other reader's delivery.",
        silenceable: false,
        triggeringExamples: [LintExample("A short issue.", templates: ["partials/footer.html": footerWithoutUnsubscribe])],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let links = email.anchors.filter(email.isUnsubscribe)
        if links.isEmpty {
            return [finding("The HTML part has no link to the unsubscribe URL. Put `<a href=\"{{{unsubscribe_url}}}\">Unsubscribe</a>` in the footer template.",
                            at: email.location(of: "{{> partials/footer.html}}"))]
        }
        if links.allSatisfy({ $0.text.isEmpty }) {
            return [finding("The unsubscribe link has no text a reader can see. Give it words, such as \"Unsubscribe\".",
                            at: email.location(ofURL: email.unsubscribeURL))]
        }
        return []
    }
}

struct UnsubscribeLinkInTextRule: Rule {
    static let description = RuleDescription(
        identifier: "unsubscribe_link_text", name: "Unsubscribe link in the text part", kind: .compliance, severity: .error,
        description: "The plain-text part shows the reader's unsubscribe URL.",
        rationale: "Readers of the text part (and screen readers, and watches) need the way out as much as anyone.",
        silenceable: false,
        triggeringExamples: [LintExample("A short issue.", templates: ["email.txt": "{{% CONTENT_TYPE: TEXT}}\n{{title}}\n\n{{body}}\n\n{{postal_address}}\n"])],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        guard !email.text.contains(email.unsubscribeURL) else { return [] }
        let source = email.templates["email.txt"]?.source ?? "templates/email.txt.mustache"
        return [finding("The text part does not show the unsubscribe URL. Add `Unsubscribe: {{unsubscribe_url}}` to the text template's footer.",
                        at: SourcePosition(file: source, line: nil))]
    }
}

struct ListUnsubscribeHeaderRule: Rule {
    static let description = RuleDescription(
        identifier: "list_unsubscribe_header", name: "List-Unsubscribe header", kind: .compliance, severity: .error,
        description: "The message has one `List-Unsubscribe` header with an HTTPS URL and a mailto URL (RFC 2369).",
        rationale: "Mail clients show their own unsubscribe button from this header; Gmail and Yahoo require it of bulk senders.",
        silenceable: false,
        triggeringExamples: [LintExample("A short issue.", configure: { $0.urls.publicBase = "http://newsletter.example.com" })],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let values = email.header("List-Unsubscribe")
        let location = SourcePosition(file: email.configuration.path, line: nil)
        guard values.count == 1, let value = values.first else {
            return [finding("The message has \(values.count) List-Unsubscribe headers; it needs exactly one.", at: location)]
        }
        let urls = value.components(separatedBy: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard urls.allSatisfy({ $0.hasPrefix("<") && $0.hasSuffix(">") }) else {
            return [finding("List-Unsubscribe is `\(value)`; each URL must be in angle brackets (RFC 2369).", at: location)]
        }
        var found: [Finding] = []
        if !urls.contains(where: { $0.hasPrefix("<https://") && URL(string: String($0.dropFirst().dropLast())) != nil }) {
            found.append(finding("List-Unsubscribe has no HTTPS URL, so one-click unsubscribe (RFC 8058) cannot work. Make `urls.public` in hogmail.yml an https:// address.", at: location, excerpt: value))
        }
        if !urls.contains(where: { $0.hasPrefix("<mailto:") && $0.contains("@") }) {
            found.append(finding("List-Unsubscribe has no mailto URL for clients without HTTP. Set `list.unsubscribe_mailto` in hogmail.yml.", at: location, excerpt: value))
        }
        return found
    }
}

struct ListUnsubscribePostHeaderRule: Rule {
    static let description = RuleDescription(
        identifier: "list_unsubscribe_post_header", name: "One-click unsubscribe (RFC 8058)", kind: .compliance, severity: .error,
        description: "The message carries `List-Unsubscribe-Post: List-Unsubscribe=One-Click` next to an HTTPS List-Unsubscribe URL.",
        rationale: "RFC 8058 one-click lets the mail client unsubscribe with a single POST, without a page, a login or a question; it needs an HTTPS URL to post to.",
        silenceable: false,
        triggeringExamples: [LintExample("A short issue.", configure: { $0.urls.publicBase = "http://newsletter.example.com" })],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let location = SourcePosition(file: email.configuration.path, line: nil)
        let values = email.header("List-Unsubscribe-Post")
        guard values == ["List-Unsubscribe=One-Click"] else {
            return [finding("The message needs exactly one `List-Unsubscribe-Post: List-Unsubscribe=One-Click` header (RFC 8058).", at: location)]
        }
        guard email.header("List-Unsubscribe").first?.contains("<https://") == true else {
            return [finding("One-click unsubscribe needs an HTTPS URL in List-Unsubscribe to POST to (RFC 8058 §3.1). Make `urls.public` an https:// address.", at: location)]
        }
        return []
    }
}

struct PostalAddressRule: Rule {
    static let description = RuleDescription(
        identifier: "postal_address", name: "Postal address", kind: .compliance, severity: .error,
        description: "Both parts show the sender's postal address from `list.postal_address`.",
        rationale: "CAN-SPAM requires a valid physical postal address in every commercial email; it also tells readers a real organisation is behind it.",
        triggeringExamples: [LintExample("A short issue.", templates: ["partials/footer.html": #"<p><a href="{{{unsubscribe_url}}}" style="font-size:14px;color:#1d4aff;">Unsubscribe</a></p>"#])],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let address = email.configuration.list.postalAddress.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        var found: [Finding] = []
        let htmlText = email.document.nodes.indices.first.map { email.document.textContent($0) } ?? ""
        if !htmlText.contains(address) {
            found.append(finding("The HTML part does not show the postal address. Keep `{{postal_address}}` in the footer template.",
                                 at: SourcePosition(file: email.templates["partials/footer.html"]?.source ?? "templates", line: nil)))
        }
        if !email.text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ").contains(address) {
            found.append(finding("The text part does not show the postal address. Keep `{{postal_address}}` in the text template.",
                                 at: SourcePosition(file: email.templates["email.txt"]?.source ?? "templates", line: nil)))
        }
        return found
    }
}

struct SenderConfiguredRule: Rule {
    static let description = RuleDescription(
        identifier: "sender_configured", name: "Honest sender", kind: .compliance, severity: .error,
        description: "From and Reply-To are configured, once each, and replies reach an address of the sender.",
        rationale: "An honest newsletter can be answered: a reply to a no-reply address is a door painted on a wall.",
        triggeringExamples: [LintExample("A short issue.", configure: { $0.list.replyTo = nil }),
                             LintExample("A short issue.", configure: { $0.list.replyTo = Mailbox(address: "noreply@example.com") })],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let location = SourcePosition(file: email.configuration.path, line: nil)
        var found: [Finding] = []
        if email.header("From").count != 1 { found.append(finding("The message needs exactly one From header; set `list.from`.", at: location)) }
        let replyTo = email.header("Reply-To")
        if replyTo.count != 1 {
            found.append(finding("Reply-To is not configured. Set `list.reply_to` in hogmail.yml to an address a person reads.", at: location))
        } else if let value = replyTo.first, value.range(of: #"(?i)\bno[-_.]?reply@|\bdo[-_.]?not[-_.]?reply@"#, options: .regularExpression) != nil {
            found.append(finding("Reply-To is `\(value)`, a no-reply address. Readers must be able to answer: use an address a person reads.", at: location))
        }
        return found
    }
}

struct ListIDHeaderRule: Rule {
    static let description = RuleDescription(
        identifier: "list_id_header", name: "List-Id header", kind: .compliance, severity: .error,
        description: "The message has one well-formed `List-Id` header (RFC 2919).",
        rationale: "List-Id lets readers filter the newsletter and lets providers recognise it as a list the reader joined.",
        triggeringExamples: [LintExample("A short issue.", configure: { $0.list.id = "my list" })],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let values = email.header("List-Id")
        let location = SourcePosition(file: email.configuration.path, line: nil)
        guard values.count == 1, let value = values.first else {
            return [finding("The message has \(values.count) List-Id headers; it needs exactly one.", at: location)]
        }
        guard value.range(of: #"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+>\s*$"#, options: .regularExpression) != nil else {
            return [finding("List-Id is `\(value)`, which is not `Name <id.example.com>` (RFC 2919). Fix `list.id` in hogmail.yml.", at: location, excerpt: value)]
        }
        return []
    }
}
