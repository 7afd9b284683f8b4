import Crypto
import Foundation

/// A one-off message to one person (the double opt-in confirmation): multipart text + HTML,
/// the same MIME rules as an issue, no list headers (the person is not on the list yet).
public struct TransactionalMessage: Sendable {
    public var from: Mailbox
    public var replyTo: Mailbox?
    public var to: Mailbox
    public var subject: String
    public var text: String
    public var html: String
    public var date: Date
    public var messageID: String

    public init(from: Mailbox, replyTo: Mailbox?, to: Mailbox, subject: String, text: String, html: String, date: Date, messageID: String) {
        self.from = from
        self.replyTo = replyTo
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.date = date
        self.messageID = messageID
    }

    public func encoded() throws -> String {
        for (name, value) in [("Subject", subject), ("To", to.address), ("To", to.name ?? ""), ("Message-ID", messageID)] {
            try MIME.checkHeaderValue(value, header: name)
        }
        let boundary = "=_hm_" + SHA256.hash(data: Data((text + html).utf8)).prefix(12).hexString
        var headers = [
            MIME.header("Date", MIME.date(date, in: TimeZone(identifier: "UTC")!)),
            MIME.header("From", MIME.mailbox(from)),
        ]
        if let replyTo { headers.append(MIME.header("Reply-To", MIME.mailbox(replyTo))) }
        headers += [
            MIME.header("To", MIME.mailbox(to)),
            MIME.header("Subject", MIME.unstructured(subject)),
            MIME.header("Message-ID", messageID),
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        return headers.joined(separator: "\r\n") + "\r\n\r\n--\(boundary)\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + MIME.quotedPrintable(text)
            + "\r\n--\(boundary)\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + MIME.quotedPrintable(html)
            + "\r\n--\(boundary)--\r\n"
    }
}
