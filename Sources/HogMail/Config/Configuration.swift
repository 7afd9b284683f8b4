import Foundation

/// `hogmail.yml`: who sends, where links point, when issues go out.
/// Read once; every later stage takes the values from here.
public struct Configuration: Sendable {
    public struct List: Sendable {
        public var name: String
        /// The `List-Id` identifier (RFC 2919), a domain-like name.
        public var id: String
        public var from: Mailbox
        public var replyTo: Mailbox?
        public var postalAddress: String
        /// One sentence under every issue: why the reader gets this email.
        public var why: String
        /// Mailbox for `List-Unsubscribe: <mailto:…>`; defaults to unsubscribe@ the From domain.
        public var unsubscribeMailbox: String
        /// The envelope sender (`list.bounce_address`, default bounces@ the From domain): each
        /// message of a send goes out as `bounces+TOKEN@domain` (VERP), so a bounce names its
        /// send and recipient.
        public var bounceAddress: String = ""
        /// `<html lang>` of emails and pages.
        public var language: String
        /// What the subscribe form says a person agrees to; recorded with their consent.
        public var consentText: String
    }

    public struct URLs: Sendable {
        /// Relative links and images in drafts resolve against this; nil if not configured.
        public var site: String?
        /// Where `hogmail serve` answers: unsubscribe, archive, feed.
        public var publicBase: String
    }

    public struct Schedule: Sendable {
        public var cadence: Cadence
        public var anchor: CalendarDate
        public var hour: Int
        public var minute: Int
        public var timeZone: TimeZone
    }

    /// `transport.smtp`; the password comes from the variable `password_env` names.
    public struct SMTP: Sendable {
        public var url: String
        public var tls: String
        public var username: String?
        public var passwordEnvironmentVariable: String?
        public var connections: Int
        /// `ca_file`: the CA that signed the server's certificate (a private CA, as internal
        /// relays use), relative to the project folder unless absolute; nil means the system's CAs.
        public var caFile: String?
        /// The line of `ca_file` in hogmail.yml, for errors about the file it names.
        public var caFileLine: Int?
    }

    /// `transport.ses`; the keys come from the variables the `*_env` settings name.
    public struct SES: Sendable {
        public var region: String
        public var endpoint: String
        public var accessKeyIDEnvironmentVariable: String
        public var secretAccessKeyEnvironmentVariable: String
        /// `sns_cert_hosts`: hosts (`host` or `host:port`) besides `sns.REGION.amazonaws.com`
        /// that the SES webhook fetches SNS signing certificates from and follows subscription
        /// links to, over http or https. Empty in production; a test's local server otherwise.
        public var snsCertificateHosts: [String] = []
        /// `sns_topic_arns`: when set, the SES webhook takes notifications from these topics only.
        public var snsTopicARNs: [String] = []
    }

    public struct Lint: Sendable {
        public var allowHosts: [String]
        public var allowUTM: Bool
    }

    /// `links`: how `hogmail links` and the send gate fetch the draft's links.
    public struct Links: Sendable {
        /// `allow_private`: fetch hosts that resolve to private, loopback or link-local
        /// addresses. Off, so a draft cannot make the editor's machine probe its own network.
        public var allowPrivate = false
        /// `check_before_send`: `hogmail send` checks the issue's links and refuses a dead one.
        public var checkBeforeSend = true
    }

    /// `serve`: what `hogmail serve` trusts.
    public struct Serve: Sendable {
        /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` names the client.
        public var trustedProxies: [IPNetwork] = []
    }

    /// `delivery`: what comes back after a send, and when a send stops itself.
    public struct Delivery: Sendable {
        /// Hard bounces per message out above which a send pauses (0.05 = 5%, Amazon SES's review level).
        public var maxBounceRate = 0.05
        /// Complaints per message accepted above which a send pauses (0.001 = 0.1%, SES's review level).
        public var maxComplaintRate = 0.001
        /// Soft bounces on this many sends in a row make a subscriber bounced.
        public var softBounceLimit = 3
        /// The breaker judges once this many messages are out, or `breakerShare` of the send if fewer.
        public var breakerMinimumMessages = 500
        public var breakerShare = 0.02
        /// `delivery.claim_lease`: on a server store, how long a sender's claim on recipients
        /// lasts without renewal (a dead sender's recipients go to another after this).
        public var claimLease: TimeInterval = 60
    }

    public var list: List
    public var urls: URLs
    public var schedule: Schedule
    /// The SQLite file (`store.path`, or `store.url: sqlite:FILE`) when the store is local.
    public var storePath: String
    /// `store.url` when it names a PostgreSQL server (`postgres://USER@HOST:PORT/DATABASE`).
    public var storeServerURL: String?
    /// `store.password_env`: the environment variable holding the server's password.
    public var storePasswordEnvironmentVariable: String?
    /// The line of `store.url` in hogmail.yml, for errors about it.
    public var storeURLLine: Int?
    public var tokenKeyEnvironmentVariable: String
    public var transportKind: String
    public var outboxPath: String
    public var smtp: SMTP?
    public var ses: SES?
    /// Messages per second and per hour (`transport.rate`); 0 means no limit.
    public var ratePerSecond: Double
    public var ratePerHour: Int
    public var testAddresses: [String]
    public var lint: Lint
    public var serve = Serve()
    public var delivery = Delivery()
    public var links = Links()
    /// Recipient of the sample `email.eml` that `hogmail build` writes.
    public var sampleRecipient: Mailbox
    /// `build.content_width`: the email's column in px (the templates' 600 px container less its
    /// padding). No image is wider: Outlook shows an image at its `width` attribute.
    public var contentWidth = Theme.standard.contentWidth
    /// Where the file was read from, for messages.
    public var path: String
}

extension Configuration {
    public static let fileName = "hogmail.yml"

    /// Reads `hogmail.yml` in `directory`. `displayPath` is how errors name the file.
    public static func load(fromDirectory directory: URL, displayPath: String? = nil) throws -> (Configuration, [Warning]) {
        let url = directory.appendingPathComponent(fileName)
        let shown = displayPath ?? fileName
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw HogMailError(file: shown, "There is no \(fileName) in \(directory.path). Run `hogmail init \(directory.path)` to create a project, or pass `--project DIR` pointing at one.")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw HogMailError(file: shown, "\(fileName) cannot be read: \(error.localizedDescription). Check its permissions.")
        }
        let text = try TextFile.decode(data, file: shown)
        return try parse(text, file: shown, projectDirectory: directory)
    }

    static let knownKeys: [String: Set<String>] = [
        "": ["list", "urls", "schedule", "store", "secrets", "transport", "test_addresses", "lint", "build", "serve", "delivery", "links"],
        "list": ["name", "id", "from", "reply_to", "postal_address", "why", "unsubscribe_mailto", "bounce_address", "language", "consent_text"],
        "urls": ["site", "public"],
        "schedule": ["cadence", "anchor", "time", "timezone"],
        "store": ["path", "url", "password_env"],
        "secrets": ["token_key_env"],
        "lint": ["allow_hosts", "allow_utm"],
        "links": ["allow_private", "check_before_send"],
        "build": ["sample_recipient", "content_width"],
        "serve": ["trusted_proxies"],
        "delivery": ["max_bounce_rate", "max_complaint_rate", "soft_bounce_limit", "claim_lease"],
        "transport.ses": ["region", "endpoint", "access_key_id_env", "secret_access_key_env", "sns_cert_hosts", "sns_topic_arns"],
    ]

    /// `projectDirectory`, when known, lets absolute paths be checked against the project's folders.
    public static func parse(_ text: String, file: String, projectDirectory: URL? = nil) throws -> (Configuration, [Warning]) {
        let root = try YAMLMapping.parse(text, file: file)
        var warnings: [Warning] = []
        func warnUnknown(_ mapping: YAMLMapping, _ section: String) {
            for (key, line) in mapping.unknownKeys(known: knownKeys[section] ?? [], at: section) {
                warnings.append(Warning(file: file, line: line, "`\(key)` is not a setting HogMail knows; it is ignored. Check its spelling against `hogmail init`'s commented hogmail.yml."))
            }
        }
        warnUnknown(root, "")
        warnings += commentsThatLookLikeValues(text, file: file)

        guard let listSection = try root.mapping("list", at: "list") else {
            throw HogMailError(file: file, line: 1, "The `list:` section is missing. Add it with at least `name`, `id`, `from` and `postal_address` (see `hogmail init` for a commented example).")
        }
        warnUnknown(listSection, "list")
        let name = try listSection.requiredString("name", at: "list.name", fix: "Add the newsletter's name, e.g. `name: HogMail`.")
        let id = try listSection.requiredString("id", at: "list.id", fix: "Add a List-Id such as `id: news.example.com` (RFC 2919: a domain you control).")
        try checkHeaderSafe(id, path: "list.id", file: file, line: listSection.lineOf("id"))
        guard id.range(of: #"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+$"#, options: .regularExpression) != nil else {
            throw HogMailError(file: file, line: listSection.lineOf("id"), "`list.id` is `\(id)`, which is not a List-Id. Use a dotted name under a domain you control, such as `news.example.com` (RFC 2919).")
        }
        let fromText = try listSection.requiredString("from", at: "list.from", fix: "Add the sender, e.g. `from: HogMail <hogmail@example.com>`; CAN-SPAM and every mailbox provider require an honest From.")
        let from = try Mailbox.parse(fromText, field: "list.from", file: file, line: listSection.lineOf("from"))
        let replyTo = try listSection.string("reply_to", at: "list.reply_to").map {
            try Mailbox.parse($0, field: "list.reply_to", file: file, line: listSection.lineOf("reply_to"))
        }
        let postal = try listSection.requiredString("postal_address", at: "list.postal_address", fix: "Add the postal address printed under every issue, e.g. `postal_address: 2261 Market Street #4008, San Francisco, CA 94114, USA` (CAN-SPAM requires one).")
        try checkHeaderSafe(postal, path: "list.postal_address", file: file, line: listSection.lineOf("postal_address"), allowNewlines: true)
        let why = try listSection.string("why", at: "list.why") ?? "You get this because you subscribed to \(name)."
        let mailto = try listSection.string("unsubscribe_mailto", at: "list.unsubscribe_mailto") ?? "unsubscribe@\(from.domain)"
        let unsubscribeMailbox = try Mailbox.parse(mailto, field: "list.unsubscribe_mailto", file: file, line: listSection.lineOf("unsubscribe_mailto")).address
        let bounceText = try listSection.string("bounce_address", at: "list.bounce_address") ?? "bounces@\(from.domain)"
        let bounceAddress = try Mailbox.parse(bounceText, field: "list.bounce_address", file: file, line: listSection.lineOf("bounce_address")).address
        guard !bounceAddress.split(separator: "@").first!.contains("+") else {
            throw HogMailError(file: file, line: listSection.lineOf("bounce_address"), "`list.bounce_address` is `\(bounceText)`; it must have no `+` in its local part, since HogMail adds `+TOKEN` to it for each message (VERP). Use e.g. `bounces@\(from.domain)`.")
        }
        let language = try listSection.string("language", at: "list.language") ?? "en"
        guard language.range(of: #"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"#, options: .regularExpression) != nil else {
            throw HogMailError(file: file, line: listSection.lineOf("language"), "`list.language` is `\(language)`, which is not a language tag. Use one like `en` or `en-GB`.")
        }

        guard let urlSection = try root.mapping("urls", at: "urls") else {
            throw HogMailError(file: file, line: 1, "The `urls:` section is missing. Add `public:` (where `hogmail serve` answers, used in unsubscribe links) and `site:` (where relative links in drafts point).")
        }
        warnUnknown(urlSection, "urls")
        let publicBase = try absoluteHTTPURL(
            urlSection.requiredString("public", at: "urls.public", fix: "Add the address where `hogmail serve` answers, e.g. `public: https://newsletter.example.com`; unsubscribe links point there."),
            path: "urls.public", file: file, line: urlSection.lineOf("public"))
        let site = try urlSection.string("site", at: "urls.site").map {
            try absoluteHTTPURL($0, path: "urls.site", file: file, line: urlSection.lineOf("site"))
        }

        let scheduleSection = try root.mapping("schedule", at: "schedule")
        if let scheduleSection { warnUnknown(scheduleSection, "schedule") }
        let cadenceText = try scheduleSection?.string("cadence", at: "schedule.cadence") ?? "biweekly"
        guard let cadence = Cadence(rawValue: cadenceText) else {
            throw HogMailError(file: file, line: scheduleSection?.lineOf("cadence"), "`schedule.cadence` is `\(cadenceText)`; use one of \(Cadence.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ")).")
        }
        let anchorText = try scheduleSection?.string("anchor", at: "schedule.anchor")
        let anchor = try anchorText.map {
            guard let date = CalendarDate(parsing: $0) else {
                throw HogMailError(file: file, line: scheduleSection?.lineOf("anchor"), "`schedule.anchor` is `\($0)`, which is not a date (use YYYY-MM-DD, the date an issue went out).")
            }
            return date
        } ?? CalendarDate(year: 2026, month: 1, day: 7)!
        let timeText = try scheduleSection?.string("time", at: "schedule.time") ?? "09:00"
        guard let (hour, minute) = parseClockTime(timeText) else {
            throw HogMailError(file: file, line: scheduleSection?.lineOf("time"), "`schedule.time` is `\(timeText)`, which is not a time of day (use \"HH:MM\" in quotes, e.g. \"16:00\").")
        }
        let zoneText = try scheduleSection?.string("timezone", at: "schedule.timezone") ?? "UTC"
        guard let zone = TimeZone(identifier: zoneText) else {
            throw HogMailError(file: file, line: scheduleSection?.lineOf("timezone"), "`schedule.timezone` is `\(zoneText)`, which is not a time zone name. Use an IANA name such as `Europe/London` or `UTC`.")
        }

        let store = try root.mapping("store", at: "store")
        if let store { warnUnknown(store, "store") }
        // `store.url` picks the engine: `sqlite:FILE` (the default, as `store.path`) or a PostgreSQL server.
        var storePath = try store?.string("path", at: "store.path") ?? "hogmail.sqlite"
        var storeServerURL: String?
        if let url = try store?.string("url", at: "store.url") {
            let line = store?.lineOf("url")
            if try store?.string("path", at: "store.path") != nil {
                throw HogMailError(file: file, line: line, "Both `store.path` and `store.url` are set. Keep one: `store.url: sqlite:hogmail.sqlite` (a file) or `store.url: postgres://USER@HOST:5432/DATABASE` (a server).")
            }
            let lower = url.lowercased()
            if lower.hasPrefix("sqlite:") {
                storePath = String(url.dropFirst("sqlite:".count))
                guard !storePath.isEmpty else {
                    throw HogMailError(file: file, line: line, "`store.url` is `sqlite:` with no file. Write `store.url: sqlite:hogmail.sqlite`.")
                }
            } else if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
                storeServerURL = url
            } else {
                throw HogMailError(file: file, line: line, "`store.url` is `\(url.split(separator: "@").last.map(String.init) ?? url)`, which names no engine HogMail knows. Write `sqlite:FILE` for a file beside the project, or `postgres://USER@HOST:5432/DATABASE` for a PostgreSQL server.")
            }
        }
        let storePasswordEnv = try store?.string("password_env", at: "store.password_env")
        if storePasswordEnv != nil, storeServerURL == nil {
            throw HogMailError(file: file, line: store?.lineOf("password_env"), "`store.password_env` is set, but the store is an SQLite file, which has no password. Remove it, or set `store.url` to a postgres:// URL.")
        }
        let secrets = try root.mapping("secrets", at: "secrets")
        if let secrets { warnUnknown(secrets, "secrets") }
        let tokenEnv = try secrets?.string("token_key_env", at: "secrets.token_key_env") ?? "HOGMAIL_SECRET"

        // The transport section is read in full by the delivery layer; here only what building needs.
        let transport = try root.mapping("transport", at: "transport")
        let kind = try transport?.string("kind", at: "transport.kind") ?? "outbox"
        guard ["outbox", "smtp", "ses"].contains(kind) else {
            throw HogMailError(file: file, line: transport?.lineOf("kind"), "`transport.kind` is `\(kind)`; use `outbox`, `smtp` or `ses`.")
        }
        let outboxSection = try transport?.mapping("outbox", at: "transport.outbox")
        let outboxPath = try outboxSection?.string("path", at: "transport.outbox.path") ?? "outbox"
        if kind == "outbox", isInsideOutputFolder(outboxPath, projectDirectory: projectDirectory) {
            warnings.append(Warning(file: file, line: outboxSection?.lineOf("path") ?? transport?.lineOf("outbox"),
                                    "`transport.outbox.path` is `\(outboxPath)`, inside out/, the folder `hogmail build` writes for publishing: every message there, with its reader's address and unsubscribe link, would be published with the site. Use a folder outside it, like `outbox: { path: outbox }`."))
        }
        let smtp = try transport?.mapping("smtp", at: "transport.smtp").map { section -> SMTP in
            let tls = try section.string("tls", at: "transport.smtp.tls") ?? "required"
            guard ["required", "implicit", "none"].contains(tls) else {
                throw HogMailError(file: file, line: section.lineOf("tls"), "`transport.smtp.tls` is `\(tls)`; use `required` (STARTTLS), `implicit` (smtps://) or `none` (only for a server on 127.0.0.1).")
            }
            let connections = try section.int("connections", at: "transport.smtp.connections") ?? 4
            guard (1...64).contains(connections) else {
                throw HogMailError(file: file, line: section.lineOf("connections"), "`transport.smtp.connections` is \(connections); use 1 to 64.")
            }
            if section.has("password") {
                throw HogMailError(file: file, line: section.lineOf("password"), "Passwords never go in hogmail.yml. Put it in an environment variable and name it with `password_env: HOGMAIL_SMTP_PASSWORD`.")
            }
            return SMTP(url: try section.requiredString("url", at: "transport.smtp.url", fix: "Add `url: smtp://mail.example.com:587`."),
                        tls: tls, username: try section.string("username", at: "transport.smtp.username"),
                        passwordEnvironmentVariable: try section.string("password_env", at: "transport.smtp.password_env"),
                        connections: connections,
                        caFile: try section.string("ca_file", at: "transport.smtp.ca_file"), caFileLine: section.lineOf("ca_file"))
        }
        let ses = try transport?.mapping("ses", at: "transport.ses").map { section -> SES in
            warnUnknown(section, "transport.ses")
            let region = try section.string("region", at: "transport.ses.region") ?? "us-east-1"
            var ses = SES(region: region,
                          endpoint: try section.string("endpoint", at: "transport.ses.endpoint") ?? "https://email.\(region).amazonaws.com",
                          accessKeyIDEnvironmentVariable: try section.string("access_key_id_env", at: "transport.ses.access_key_id_env") ?? "AWS_ACCESS_KEY_ID",
                          secretAccessKeyEnvironmentVariable: try section.string("secret_access_key_env", at: "transport.ses.secret_access_key_env") ?? "AWS_SECRET_ACCESS_KEY")
            ses.snsCertificateHosts = try (section.stringList("sns_cert_hosts", at: "transport.ses.sns_cert_hosts") ?? []).map { text in
                let host = text.trimmingCharacters(in: .whitespaces).lowercased()
                guard host.range(of: #"^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$"#, options: .regularExpression) != nil else {
                    throw HogMailError(file: file, line: section.lineOf("sns_cert_hosts"), "`transport.ses.sns_cert_hosts` lists `\(text)`, which is not a host. Write a host name or `host:port`, like `127.0.0.1:8081`, without a scheme or path; leave the list out in production (certificates then come only from https://sns.REGION.amazonaws.com).")
                }
                return host
            }
            ses.snsTopicARNs = try (section.stringList("sns_topic_arns", at: "transport.ses.sns_topic_arns") ?? []).map { text in
                let arn = text.trimmingCharacters(in: .whitespaces)
                guard arn.range(of: #"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$"#, options: .regularExpression) != nil else {
                    throw HogMailError(file: file, line: section.lineOf("sns_topic_arns"), "`transport.ses.sns_topic_arns` lists `\(text)`, which is not an SNS topic ARN. Copy it from the SNS console; it looks like `arn:aws:sns:eu-west-1:123456789012:hogmail-feedback`.")
                }
                return arn
            }
            return ses
        }
        let rate = try transport?.mapping("rate", at: "transport.rate")
        let perSecondText = try rate?.string("per_second", at: "transport.rate.per_second") ?? "50"
        guard let perSecond = Double(perSecondText), perSecond >= 0 else {
            throw HogMailError(file: file, line: rate?.lineOf("per_second"), "`transport.rate.per_second` is `\(perSecondText)`; use a number of messages per second (0 for no limit).")
        }
        let perHour = try rate?.int("per_hour", at: "transport.rate.per_hour") ?? 100_000

        let testAddresses = try root.stringList("test_addresses", at: "test_addresses") ?? []
        for address in testAddresses {
            _ = try Mailbox.parse(address, field: "test_addresses", file: file, line: root.lineOf("test_addresses"))
        }
        let lintSection = try root.mapping("lint", at: "lint")
        if let lintSection { warnUnknown(lintSection, "lint") }
        let allowHosts = try lintSection?.stringList("allow_hosts", at: "lint.allow_hosts") ?? []
        let allowUTM = try lintSection?.bool("allow_utm", at: "lint.allow_utm") ?? false

        let linksSection = try root.mapping("links", at: "links")
        if let linksSection { warnUnknown(linksSection, "links") }
        var links = Links()
        links.allowPrivate = try linksSection?.bool("allow_private", at: "links.allow_private") ?? false
        links.checkBeforeSend = try linksSection?.bool("check_before_send", at: "links.check_before_send") ?? true

        let build = try root.mapping("build", at: "build")
        if let build { warnUnknown(build, "build") }
        let sample = try Mailbox.parse(
            build?.string("sample_recipient", at: "build.sample_recipient") ?? "Sample Reader <reader@example.com>",
            field: "build.sample_recipient", file: file, line: build?.lineOf("sample_recipient"))

        let serveSection = try root.mapping("serve", at: "serve")
        if let serveSection { warnUnknown(serveSection, "serve") }
        let trustedProxies = try (serveSection?.stringList("trusted_proxies", at: "serve.trusted_proxies") ?? []).map { text in
            guard let network = IPNetwork(text) else {
                throw HogMailError(file: file, line: serveSection?.lineOf("trusted_proxies"), "`serve.trusted_proxies` lists `\(text)`, which is not an address or network. Write it as `127.0.0.1`, `10.0.0.0/8` or `::1/128`: the proxies in front of `hogmail serve`, never the whole internet.")
            }
            return network
        }

        let deliverySection = try root.mapping("delivery", at: "delivery")
        if let deliverySection { warnUnknown(deliverySection, "delivery") }
        var delivery = Delivery()
        func percentage(_ key: String, maximum: Double) throws -> Double? {
            guard let text = try deliverySection?.string(key, at: "delivery.\(key)") else { return nil }
            var number = text.trimmingCharacters(in: .whitespaces)
            if number.hasSuffix("%") { number.removeLast() }
            guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value > 0, value <= maximum else {
                throw HogMailError(file: file, line: deliverySection?.lineOf(key), "`delivery.\(key)` is `\(text)`; write a percentage above 0 and at most \(Int(maximum)), like `\(key == "max_bounce_rate" ? "5%" : "0.1%")`.")
            }
            return value / 100
        }
        delivery.maxBounceRate = try percentage("max_bounce_rate", maximum: 100) ?? delivery.maxBounceRate
        delivery.maxComplaintRate = try percentage("max_complaint_rate", maximum: 100) ?? delivery.maxComplaintRate
        if let limit = try deliverySection?.int("soft_bounce_limit", at: "delivery.soft_bounce_limit") {
            guard (1...100).contains(limit) else {
                throw HogMailError(file: file, line: deliverySection?.lineOf("soft_bounce_limit"), "`delivery.soft_bounce_limit` is \(limit); use 1 to 100 (the number of sends in a row a subscriber may soft-bounce before being treated as bounced; 3 is usual).")
            }
            delivery.softBounceLimit = limit
        }
        if let lease = try deliverySection?.int("claim_lease", at: "delivery.claim_lease") {
            guard (5...3600).contains(lease) else {
                throw HogMailError(file: file, line: deliverySection?.lineOf("claim_lease"), "`delivery.claim_lease` is \(lease); use 5 to 3600 seconds (how long a sender's claim on recipients lasts on a PostgreSQL store before another sender may take them; 60 is usual).")
            }
            delivery.claimLease = TimeInterval(lease)
        }

        let contentWidth = try build?.int("content_width", at: "build.content_width")
        if let contentWidth, !(200...1200).contains(contentWidth) {
            throw HogMailError(file: file, line: build?.lineOf("content_width"), "`build.content_width` is \(contentWidth); write the width in pixels of the email's column, 200 to 1200 (520 for the default templates: 600 px less 40 px padding on each side).")
        }

        var configuration = Configuration(
            list: List(name: name, id: id, from: from, replyTo: replyTo, postalAddress: postal, why: why,
                       unsubscribeMailbox: unsubscribeMailbox, language: language,
                       consentText: try listSection.string("consent_text", at: "list.consent_text")
                           ?? "Send me \(name) by email, about every two weeks. I can unsubscribe with one click at any time."),
            urls: URLs(site: site, publicBase: publicBase),
            schedule: Schedule(cadence: cadence, anchor: anchor, hour: hour, minute: minute, timeZone: zone),
            storePath: storePath,
            storeServerURL: storeServerURL,
            storePasswordEnvironmentVariable: storePasswordEnv,
            storeURLLine: store?.lineOf("url"),
            tokenKeyEnvironmentVariable: tokenEnv,
            transportKind: kind,
            outboxPath: outboxPath,
            smtp: smtp,
            ses: ses,
            ratePerSecond: perSecond,
            ratePerHour: perHour,
            testAddresses: testAddresses,
            lint: Lint(allowHosts: allowHosts, allowUTM: allowUTM),
            sampleRecipient: sample,
            path: file)
        configuration.serve.trustedProxies = trustedProxies
        if let contentWidth { configuration.contentWidth = contentWidth }
        configuration.delivery = delivery
        configuration.links = links
        configuration.list.bounceAddress = bounceAddress
        return (configuration, warnings)
    }
}

extension Configuration {
    /// True when `path` (relative to the project, or absolute) is in the project's `out/`, the
    /// folder `hogmail build` writes and people publish.
    static func isInsideOutputFolder(_ path: String, projectDirectory: URL?) -> Bool {
        if path.hasPrefix("/") {
            guard let projectDirectory else { return false }
            let output = projectDirectory.appendingPathComponent("out").standardizedFileURL.path
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            return absolute == output || absolute.hasPrefix(output + "/")
        }
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                // Above the project folder: not its out/.
                guard !parts.isEmpty else { return false }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.first == "out"
    }
}

private extension Configuration {
    /// `postal_address: 2261 Market Street #4008, …` reads as "2261 Market Street": in YAML
    /// " #" starts a comment. A comment that begins with no space after `#` is most likely
    /// part of the value, so it is pointed out.
    static func commentsThatLookLikeValues(_ text: String, file: String) -> [Warning] {
        text.components(separatedBy: "\n").enumerated().compactMap { index, line in
            guard line.range(of: #"^\s*[A-Za-z_]+:\s+[^"'#\s\[{][^#]*\s#[^\s#]"#, options: .regularExpression) != nil else { return nil }
            return Warning(file: file, line: index + 1, "the text after \" #\" on this line is read as a YAML comment, so the value stops before it. If the # belongs to the value (an address like \"Street #4008\"), put the whole value in quotes.")
        }
    }

    static func absoluteHTTPURL(_ text: String, path: String, file: String, line: Int?) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty
        else {
            throw HogMailError(file: file, line: line, "`\(path)` is `\(text)`, which is not an absolute web address. Write it in full, e.g. `https://example.com`.")
        }
        // Stored without a trailing slash, so joining paths never doubles it.
        var result = trimmed
        while result.hasSuffix("/") { result.removeLast() }
        return result
    }

    static func parseClockTime(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
              (0..<24).contains(hour), (0..<60).contains(minute) else { return nil }
        return (hour, minute)
    }
}

/// Refuses values that would break or inject into a mail header (CR, LF, NUL).
func checkHeaderSafe(_ value: String, path: String, file: String?, line: Int?, allowNewlines: Bool = false) throws {
    let forbidden: Set<Unicode.Scalar> = allowNewlines ? ["\0"] : ["\r", "\n", "\0"]
    if value.unicodeScalars.contains(where: forbidden.contains) {
        throw HogMailError(file: file, line: line, "`\(path)` contains a line break or NUL character, which could inject mail headers. Keep it on one line.")
    }
}
