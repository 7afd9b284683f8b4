import Crypto
import Foundation

/// One issue's email, encoded once: everything but the per-recipient fields is already
/// quoted-printable bytes, and the headers between those fields are already written, so a
/// recipient's message is its headers and fields, with the rest referred to (`WireMessage`).
public struct MessageTemplate: Sendable {
    public let from: Mailbox
    public let replyTo: Mailbox?
    public var subject: String {
        didSet {
            fixed = Self.fixedParts(subject: subject, from: from, replyTo: replyTo, listID: listID, listName: listName, archiveURL: archiveURL, boundary: boundary)
            tailIsDotFree = Self.isDotFree(fixed: fixed, text: text, html: html)
            layout = Layout(fixed: fixed, text: text, html: html)
        }
    }
    public let listID: String
    public let listName: String
    public let archiveURL: String
    public let unsubscribeMailbox: String
    /// Identifies what is being sent (issue and content); goes into Message-IDs and the boundary.
    public let contentHash: String
    private let text: [EncodedSegment]
    private let html: [EncodedSegment]
    private let boundary: String
    private var fixed: FixedParts
    /// No line from the headers after List-Unsubscribe to the end starts with ".": checked of
    /// the bytes written once per send (`isDotFree`), and true of each recipient's fields, which
    /// are quoted-printable (a "." at a line start is written `=2E`) and start and end a line.
    private var tailIsDotFree = false
    /// Everything after List-Unsubscribe but the fields, in one buffer every message refers to.
    private var layout: Layout

    enum EncodedSegment: Sendable {
        case encoded([UInt8])
        case field(PersonalizedText.Field)
    }

    /// The bytes between the per-recipient fields, in the order they are written.
    struct FixedParts: Sendable {
        /// After the Date line: From and Reply-To.
        var afterDate: [UInt8]
        /// After To: Subject.
        var afterTo: [UInt8]
        /// After the Message-ID: List-Id.
        var afterMessageID: [UInt8]
        /// After List-Unsubscribe: the other headers up to the text part's body.
        var afterUnsubscribe: [UInt8]
        /// Between the text and the HTML part's bodies.
        var betweenParts: [UInt8]
        /// After the HTML part's body.
        var end: [UInt8]
    }

    /// The bytes after List-Unsubscribe that are the same for every recipient, in the order
    /// they are written, and where each part's fields go between them.
    struct Layout: Sendable {
        enum Slot: Sendable {
            case shared(Range<Int>)
            case field(PersonalizedText.Field)
        }
        var shared: [UInt8] = []
        var afterUnsubscribe: Range<Int> = 0..<0
        var text: [Slot] = []
        var betweenParts: Range<Int> = 0..<0
        var html: [Slot] = []
        var end: Range<Int> = 0..<0

        init(fixed: FixedParts, text: [EncodedSegment], html: [EncodedSegment]) {
            func add(_ bytes: [UInt8]) -> Range<Int> {
                shared += bytes
                return shared.count - bytes.count..<shared.count
            }
            func slots(_ segments: [EncodedSegment]) -> [Slot] {
                segments.map { segment in
                    switch segment {
                    case .encoded(let encoded): return .shared(add(encoded))
                    case .field(let field): return .field(field)
                    }
                }
            }
            afterUnsubscribe = add(fixed.afterUnsubscribe)
            self.text = slots(text)
            betweenParts = add(fixed.betweenParts)
            self.html = slots(html)
            end = add(fixed.end)
        }
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
        self.fixed = Self.fixedParts(subject: subject, from: from, replyTo: replyTo, listID: listID, listName: listName, archiveURL: archiveURL, boundary: boundary)
        self.text = Self.encode(text)
        self.html = Self.encode(html)
        self.tailIsDotFree = Self.isDotFree(fixed: fixed, text: self.text, html: self.html)
        self.layout = Layout(fixed: fixed, text: self.text, html: self.html)
    }

    /// True when no piece written after List-Unsubscribe starts with "." or has a line that does.
    static func isDotFree(fixed: FixedParts, text: [EncodedSegment], html: [EncodedSegment]) -> Bool {
        var pieces = [fixed.afterUnsubscribe, fixed.betweenParts, fixed.end]
        for case .encoded(let encoded) in text + html { pieces.append(encoded) }
        return pieces.allSatisfy(noLineStartsWithDot)
    }

    static func noLineStartsWithDot(_ bytes: [UInt8]) -> Bool {
        bytes.first != UInt8(ascii: ".") && !zip(bytes, bytes.dropFirst()).contains { $0 == 10 && $1 == UInt8(ascii: ".") }
    }

    /// The complete RFC 5322 message for one recipient, CRLF throughout.
    public func message(for recipient: Recipient) throws -> String {
        String(decoding: try bytes(for: recipient), as: UTF8.self)
    }

    /// `message(for:)` as the bytes that go on the wire, in one buffer.
    public func bytes(for recipient: Recipient) throws -> [UInt8] {
        try wire(for: recipient).joined()
    }

    /// One recipient's message as the wire carries it: its headers and fields written, the
    /// template's encoded parts referred to between them. This runs once per recipient, so it
    /// is the send's inner loop. `dotFreeFrom` is where the headers end when the template
    /// knows no later line starts with "."; SMTP looks for lines to dot-stuff only before it.
    public func wire(for recipient: Recipient) throws -> WireMessage {
        try MIME.checkHeaderValue(recipient.mailbox.address, header: "To")
        try MIME.checkHeaderValue(recipient.mailbox.name ?? "", header: "To")
        try MIME.checkHeaderValue(recipient.unsubscribeURL, header: "List-Unsubscribe")
        try MIME.checkHeaderValue(recipient.messageID, header: "Message-ID")
        try MIME.checkHeaderValue(recipient.unsubscribeMailto, header: "List-Unsubscribe")
        var out: [UInt8] = []
        out.reserveCapacity(fixed.afterDate.count + fixed.afterTo.count + fixed.afterMessageID.count + 1536)
        out += "Date: ".utf8
        MIME.appendDate(recipient.date, in: recipient.timeZone, to: &out)
        out.append(13)
        out.append(10)
        out += fixed.afterDate
        MIME.appendHeader("To", MIME.mailbox(recipient.mailbox), to: &out)
        out += fixed.afterTo
        MIME.appendHeader("Message-ID", recipient.messageID, to: &out)
        out += fixed.afterMessageID
        // RFC 2369 + RFC 8058: the HTTPS URL takes a one-click POST; the mailto is the fallback.
        MIME.appendHeader("List-Unsubscribe", "<\(recipient.unsubscribeURL)>, <\(recipient.unsubscribeMailto)>", to: &out)
        let tail = out.count
        // Each field's value is encoded once per message, however often the parts use it, after
        // the headers in the same buffer.
        func encoded(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
            let start = out.count
            MIME.appendQuotedPrintable(bytes: bytes, to: &out, softBreakAtEnd: true)
            return start..<out.count
        }
        func encoded(_ value: String) -> Range<Int> {
            var value = value
            return value.withUTF8(encoded)
        }
        // In the HTML part they are attribute values; mostly there is nothing to escape (the
        // unsubscribe URL's `&s=` is the exception). Escaped and encoded on bytes, no String between.
        func escaped(_ value: String, _ plain: Range<Int>) -> Range<Int> {
            HTML.escapedAttributeBytes(value)?.withUnsafeBufferPointer(encoded) ?? plain
        }
        let url = encoded(recipient.unsubscribeURL), email = encoded(recipient.mailbox.address)
        let htmlURL = escaped(recipient.unsubscribeURL, url), htmlEmail = escaped(recipient.mailbox.address, email)
        var wire = WireMessage(own: out, shared: layout.shared, pieces: layout.text.count + layout.html.count + 6)
        wire.append(.init(isShared: false, range: 0..<tail))
        wire.append(.init(isShared: true, range: layout.afterUnsubscribe))
        Self.append(layout.text, to: &wire, unsubscribeURL: url, recipientEmail: email)
        wire.append(.init(isShared: true, range: layout.betweenParts))
        Self.append(layout.html, to: &wire, unsubscribeURL: htmlURL, recipientEmail: htmlEmail)
        wire.append(.init(isShared: true, range: layout.end))
        wire.dotFreeFrom = tailIsDotFree ? tail : nil
        return wire
    }

    /// `<hex@domain>`: the same for the same send and recipient, different for any other.
    public static func messageID(sendKey: String, recipient: String, domain: String) -> String {
        MessageIDs(sendKey: sendKey, domain: domain).messageID(recipient: recipient)
    }
}

/// Message-IDs of one send: SHA-256 over the send's key and the recipient's address, with the
/// key already hashed in, so each id costs one short update.
public struct MessageIDs: Sendable {
    private let keyed: HashState
    /// `@domain>`
    private let suffix: [UInt8]

    public init(sendKey: String, domain: String) {
        var hasher = HashState()
        hasher.update(Array(sendKey.utf8) + [0])
        keyed = hasher
        suffix = Array("@\(domain)>".utf8)
    }

    public func messageID(recipient: String) -> String {
        var id: [UInt8] = []
        var recipient = recipient
        recipient.withUTF8 { write(recipient: UnsafeRawBufferPointer($0), to: &id) }
        return String(decoding: id, as: UTF8.self)
    }

    /// `messageID(recipient:)` of the address's UTF-8 bytes, written over `out`: the freeze
    /// makes one per recipient inside SQLite, and this way without a `String` in between.
    public func write(recipient: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        // Lower-cased: the same address in any case is the same recipient.
        out.removeAll(keepingCapacity: true)
        out.appendLowercasedUTF8(recipient)
        let digest = out.withUnsafeBytes { keyed.digest(appending: $0) }
        out.removeAll(keepingCapacity: true)
        out.append(UInt8(ascii: "<"))
        digest.appendHex(bytes: 16, to: &out)
        out.append(contentsOf: suffix)
    }
}

private extension MessageTemplate {
    static func fixedParts(subject: String, from: Mailbox, replyTo: Mailbox?, listID: String, listName: String, archiveURL: String, boundary: String) -> FixedParts {
        func lines(_ headers: [(String, String)]) -> [UInt8] {
            var bytes: [UInt8] = []
            for (name, value) in headers { MIME.appendHeader(name, value, to: &bytes) }
            return bytes
        }
        var afterDate = [("From", MIME.mailbox(from))]
        if let replyTo { afterDate.append(("Reply-To", MIME.mailbox(replyTo))) }
        return FixedParts(
            afterDate: lines(afterDate),
            afterTo: lines([("Subject", MIME.unstructured(subject))]),
            afterMessageID: lines([("List-Id", "\(MIME.phrase(listName)) <\(listID)>")]),
            afterUnsubscribe: Array("""
                List-Unsubscribe-Post: List-Unsubscribe=One-Click\r
                \(MIME.header("List-Archive", "<\(archiveURL)>"))\r
                MIME-Version: 1.0\r
                Content-Type: multipart/alternative; boundary="\(boundary)"\r
                \r
                This is a multipart message in MIME format.\r
                \r
                --\(boundary)\r
                Content-Type: text/plain; charset=utf-8\r
                Content-Transfer-Encoding: quoted-printable\r
                \r

                """.utf8),
            betweenParts: Array("""
                \r
                --\(boundary)\r
                Content-Type: text/html; charset=utf-8\r
                Content-Transfer-Encoding: quoted-printable\r
                \r

                """.utf8),
            end: Array("\r\n--\(boundary)--\r\n".utf8))
    }

    static func encode(_ text: PersonalizedText) -> [EncodedSegment] {
        text.segments.map { segment in
            switch segment {
            case .literal(let literal): return .encoded(Array(MIME.quotedPrintable(literal, softBreakAtEnd: true).utf8))
            case .field(let field): return .field(field)
            }
        }
    }

    static let softBreak = Array("=\r\n".utf8)

    /// A part's encoded segments with the fields filled in (ranges of the message's own bytes).
    /// Each piece ends with a soft break, so pieces join without passing the line limit; the
    /// part's last soft break is dropped, as the CRLF before the boundary belongs to the boundary.
    static func append(_ slots: [Layout.Slot], to wire: inout WireMessage, unsubscribeURL: Range<Int>, recipientEmail: Range<Int>) {
        for slot in slots {
            switch slot {
            case .shared(let range): wire.append(.init(isShared: true, range: range))
            case .field(.unsubscribeURL): wire.append(.init(isShared: false, range: unsubscribeURL))
            case .field(.recipientEmail): wire.append(.init(isShared: false, range: recipientEmail))
            }
        }
        if wire.hasSuffix(softBreak) { wire.dropLast(3) }
    }
}

extension Configuration {
    /// One recipient's fields: the unsubscribe URL and the mailto both carry `token`; the
    /// date is shown in the schedule's zone. The one place sample, test and real sends build it.
    public func recipient(_ mailbox: Mailbox, token: String, messageID: String, date: Date) -> MessageTemplate.Recipient {
        RecipientFields(self).recipient(mailbox, token: token, messageID: messageID, date: date)
    }
}

/// What every recipient's fields share, worked out once per send: the unsubscribe URL's
/// prefix, the parts of the mailto address around the token, the time zone.
public struct RecipientFields: Sendable {
    let unsubscribePrefix: String
    let mailtoPrefix: String
    let mailtoSuffix: String
    let timeZone: TimeZone
    /// `&s=3`: the send's number on its unsubscribe links, so `status` counts who left through
    /// which issue without any tracking (the same for every reader of the send).
    let sendSuffix: String

    public init(_ configuration: Configuration, sendID: Int64? = nil) {
        unsubscribePrefix = ProjectURLs(publicBase: configuration.urls.publicBase).unsubscribe(token: "")
        sendSuffix = sendID.map { "&s=\($0)" } ?? ""
        let parts = SampleMessage.mailto(mailbox: configuration.list.unsubscribeMailbox, token: "\u{0}").components(separatedBy: "\u{0}")
        mailtoPrefix = parts[0]
        mailtoSuffix = parts.count > 1 ? parts[1] : ""
        timeZone = configuration.schedule.timeZone
    }

    public func recipient(_ mailbox: Mailbox, token: String, messageID: String, date: Date) -> MessageTemplate.Recipient {
        MessageTemplate.Recipient(mailbox: mailbox, unsubscribeURL: unsubscribePrefix + token + sendSuffix, unsubscribeMailto: mailtoPrefix + token + mailtoSuffix,
                                  messageID: messageID, date: date, timeZone: timeZone)
    }
}
