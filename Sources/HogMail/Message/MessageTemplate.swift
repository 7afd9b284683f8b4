import Crypto
import Foundation

/// One issue's email, encoded once: everything but the per-recipient fields is
/// already quoted-printable, so a recipient's message is a few string joins.
public struct MessageTemplate: Sendable {
    public var from: Mailbox
    public var replyTo: Mailbox?
    public var subject: String {
        didSet { encodedHeaders.subject = MIME.unstructured(subject) }
    }
    public var listID: String
    public var listName: String
    public var archiveURL: String
    public var unsubscribeMailbox: String
    /// Identifies what is being sent (issue and content); goes into Message-IDs and the boundary.
    public var contentHash: String
    private var encodedHeaders: (subject: String, from: String, replyTo: String?, listID: String)
    private var text: [EncodedSegment]
    private var html: [EncodedSegment]
    private var boundary: String

    enum EncodedSegment: Sendable {
        case encoded(String)
        case field(PersonalizedText.Field)
    }

    /// The per-recipient facts.
    public struct Recipient: Sendable {
        public var mailbox: Mailbox
        public var unsubscribeURL: String
        /// `mailto:unsubscribe+TOKEN@example.com?subject=unsubscribe`
        public var unsubscribeMailto: String
        public var messageID: String
        public var date: Date
        public var timeZone: TimeZone

        public init(mailbox: Mailbox, unsubscribeURL: String, unsubscribeMailto: String, messageID: String, date: Date, timeZone: TimeZone) {
            self.mailbox = mailbox
            self.unsubscribeURL = unsubscribeURL
            self.unsubscribeMailto = unsubscribeMailto
            self.messageID = messageID
            self.date = date
            self.timeZone = timeZone
        }
    }

    public init(configuration: Configuration, subject: String, text: PersonalizedText, html: PersonalizedText, archiveURL: String) throws {
        try MIME.checkHeaderValue(subject, header: "Subject")
        try MIME.checkHeaderValue(configuration.list.name, header: "List-Id")
        self.from = configuration.list.from
        self.replyTo = configuration.list.replyTo
        self.subject = subject
        self.listID = configuration.list.id
        self.listName = configuration.list.name
        self.archiveURL = archiveURL
        self.unsubscribeMailbox = configuration.list.unsubscribeMailbox
        var hasher = SHA256()
        for part in [subject, text.filled([:]), html.filled([:]), MIME.mailbox(from), listID] {
            hasher.update(data: Data(part.utf8))
            hasher.update(data: Data([0]))
        }
        self.contentHash = hasher.finalize().hexString
        self.boundary = "=_hm_" + contentHash.prefix(24)
        self.encodedHeaders = (MIME.unstructured(subject), MIME.mailbox(from), replyTo.map(MIME.mailbox),
                               "\(MIME.phrase(listName)) <\(listID)>")
        self.text = Self.encode(text)
        self.html = Self.encode(html)
    }

    /// The complete RFC 5322 message for one recipient, CRLF throughout.
    public func message(for recipient: Recipient) throws -> String {
        try MIME.checkHeaderValue(recipient.mailbox.address, header: "To")
        try MIME.checkHeaderValue(recipient.mailbox.name ?? "", header: "To")
        try MIME.checkHeaderValue(recipient.unsubscribeURL, header: "List-Unsubscribe")
        try MIME.checkHeaderValue(recipient.messageID, header: "Message-ID")
        try MIME.checkHeaderValue(recipient.unsubscribeMailto, header: "List-Unsubscribe")
        let mailto = recipient.unsubscribeMailto
        var headers: [String] = [
            MIME.header("Date", MIME.date(recipient.date, in: recipient.timeZone)),
            MIME.header("From", encodedHeaders.from),
        ]
        if let replyTo = encodedHeaders.replyTo { headers.append(MIME.header("Reply-To", replyTo)) }
        headers += [
            MIME.header("To", MIME.mailbox(recipient.mailbox)),
            MIME.header("Subject", encodedHeaders.subject),
            MIME.header("Message-ID", recipient.messageID),
            MIME.header("List-Id", encodedHeaders.listID),
            // RFC 2369 + RFC 8058: the HTTPS URL takes a one-click POST; the mailto is the fallback.
            MIME.header("List-Unsubscribe", "<\(recipient.unsubscribeURL)>, <\(mailto)>"),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            MIME.header("List-Archive", "<\(archiveURL)>"),
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        let textValues: [PersonalizedText.Field: String] = [
            .unsubscribeURL: recipient.unsubscribeURL, .recipientEmail: recipient.mailbox.address,
        ]
        let htmlValues = textValues.mapValues(HTML.escapeAttribute)
        var message = headers.joined(separator: "\r\n")
        message += "\r\n\r\nThis is a multipart message in MIME format.\r\n\r\n--\(boundary)\r\n"
        message += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        message += Self.join(text, textValues)
        message += "\r\n--\(boundary)\r\n"
        message += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        message += Self.join(html, htmlValues)
        message += "\r\n--\(boundary)--\r\n"
        return message
    }

    /// `<hex@domain>`: the same for the same send and recipient, different for any other.
    public static func messageID(sendKey: String, recipient: String, domain: String) -> String {
        let digest = SHA256.hash(data: Data("\(sendKey)\u{0}\(recipient.lowercased())".utf8))
        return "<" + digest.prefix(16).hexString + "@" + domain + ">"
    }
}

private extension MessageTemplate {
    static func encode(_ text: PersonalizedText) -> [EncodedSegment] {
        text.segments.map { segment in
            switch segment {
            case .literal(let literal): return .encoded(MIME.quotedPrintable(literal, softBreakAtEnd: true))
            case .field(let field): return .field(field)
            }
        }
    }

    static func join(_ segments: [EncodedSegment], _ values: [PersonalizedText.Field: String]) -> String {
        var result = ""
        for segment in segments {
            switch segment {
            case .encoded(let encoded): result += encoded
            case .field(let field): result += MIME.quotedPrintable(values[field] ?? "", softBreakAtEnd: true)
            }
        }
        // The body ends with a soft break; the closing CRLF before the boundary belongs to the boundary.
        // (Counted in scalars: "\r\n" is a single Character in Swift.)
        if result.hasSuffix("=\r\n") { result.unicodeScalars.removeLast(3) }
        return result
    }
}

extension Configuration {
    /// One recipient's fields: the unsubscribe URL and the mailto both carry `token`; the
    /// date is shown in the schedule's zone. The one place sample, test and real sends build it.
    public func recipient(_ mailbox: Mailbox, token: String, messageID: String, date: Date) -> MessageTemplate.Recipient {
        MessageTemplate.Recipient(
            mailbox: mailbox, unsubscribeURL: ProjectURLs(publicBase: urls.publicBase).unsubscribe(token: token),
            unsubscribeMailto: SampleMessage.mailto(mailbox: list.unsubscribeMailbox, token: token),
            messageID: messageID, date: date, timeZone: schedule.timeZone)
    }
}
