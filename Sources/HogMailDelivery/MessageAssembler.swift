import Foundation
import HogMail
import HogMailStore

/// One send's per-recipient messages, from the issue encoded once: the recipient's signed
/// unsubscribe token, a Message-ID fixed by (send, recipient), and the message with both
/// filled in. No rendering, no store, no network: what `make bench` measures as assembly.
public struct MessageAssembler: Sendable {
    public let configuration: Configuration
    public let signer: TokenSigner
    public let message: MessageTemplate
    /// Goes into every Message-ID: the same send and recipient always give the same id.
    public let sendKey: String
    private let ids: MessageIDs
    private let fields: RecipientFields
    private let from: String
    /// The send whose id goes into each envelope sender's VERP token; nil for sends outside the
    /// journal (benchmarks), which use the plain bounce address.
    private let sendID: Int64?
    /// `bounces+` and `@example.com`, split once per send: each message puts its token between.
    private let bounceParts: (prefix: String, suffix: String)

    public init(configuration: Configuration, signer: TokenSigner, message: MessageTemplate, sendKey: String, sendID: Int64? = nil) {
        self.configuration = configuration
        self.signer = signer
        self.message = message
        self.sendKey = sendKey
        self.ids = Self.ids(configuration: configuration, sendKey: sendKey)
        self.fields = RecipientFields(configuration, sendID: sendID)
        self.from = configuration.list.from.address
        self.sendID = sendID
        let bounce = configuration.list.bounceAddress
        let verp = TokenSigner.verpAddress(bounce, token: "\u{0}").split(separator: "\u{0}", omittingEmptySubsequences: false)
        self.bounceParts = verp.count == 2 ? (String(verp[0]), String(verp[1])) : (bounce, "")
    }

    public init(configuration: Configuration, signer: TokenSigner, message: MessageTemplate, send: SendRecord) {
        self.init(configuration: configuration, signer: signer, message: message, sendKey: Self.sendKey(id: send.id, contentHash: send.contentHash), sendID: send.id)
    }

    /// `<…>` with at least one character inside and nothing but visible ASCII: what a header
    /// carries and the accepted-log can hold on one line.
    static func isJournalable(messageID: String) -> Bool {
        let bytes = messageID.utf8
        return bytes.count >= 3 && bytes.first == UInt8(ascii: "<") && bytes.last == UInt8(ascii: ">")
            && !messageID.containsUTF8Byte { $0 <= 0x20 || $0 >= 0x7F }
    }

    /// What a journaled send's Message-IDs are made from: its number and its content.
    static func sendKey(id: Int64, contentHash: String) -> String { "send:\(id):\(contentHash)" }

    /// The Message-IDs of a send that is about to be frozen, for `SubscriberStore.freezeSend`:
    /// the same ids `outgoing` makes for that send.
    public static func messageIDs(configuration: Configuration, contentHash: String) -> (Int64) -> MessageIDs {
        { sendID in ids(configuration: configuration, sendKey: sendKey(id: sendID, contentHash: contentHash)) }
    }

    /// A send's Message-IDs: its key, at the domain of the list's From address.
    static func ids(configuration: Configuration, sendKey: String) -> MessageIDs {
        MessageIDs(sendKey: sendKey, domain: configuration.list.from.domain)
    }

    /// `messageID`: the one frozen in the journal, if the row has it; otherwise made here. A
    /// frozen id that is not `<…>` of visible characters (a row written behind HogMail's back)
    /// is refused, so that recipient fails alone: the accepted-log could not record it, and the
    /// message would go again on every run.
    public func outgoing(email: String, name: String?, publicID: String, messageID frozen: String? = nil, at date: Date) throws -> OutgoingMessage {
        if let frozen, !Self.isJournalable(messageID: frozen) {
            throw HogMailError("The journal's Message-ID for this recipient, \(frozen.debugDescription), is not `<id@domain>` of visible characters; it was changed outside HogMail. This recipient is marked failed; the others go on.")
        }
        let token = signer.unsubscribeToken(publicID: publicID)
        let messageID = frozen ?? ids.messageID(recipient: email)
        let wire = try message.wire(for: fields.recipient(Mailbox(name: name, address: email), token: token, messageID: messageID, date: date))
        let returnPath = sendID.map { bounceParts.prefix + signer.bounceToken(sendID: $0, publicID: publicID) + bounceParts.suffix }
            ?? configuration.list.bounceAddress
        return OutgoingMessage(from: from, returnPath: returnPath, to: email, messageID: messageID, wire: wire)
    }
}
