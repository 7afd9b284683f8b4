import Crypto
import Foundation
import HogMail
import HogMailStore

/// `hogmail subscribers process-mail MAILDIR`: reads what came back to the list's addresses —
/// unsubscribe requests to `unsubscribe+TOKEN@`, bounces and complaints to the VERP address
/// `bounces+TOKEN@`, automatic replies — and applies each once.
///
/// A report acts only on a recipient named by something HogMail signed: the VERP token it was
/// sent back to, or the unsubscribe token in the enclosed message's headers. Anyone can mail a
/// fake bounce to the bounce address; only a signed token can make a subscriber bounced.
///
/// Each message handled moves from `new/` to `cur/` with the Seen flag (`:2,S`); one that
/// cannot be attributed or understood stays in `new/` and is reported, every run, until a
/// person deals with it. The store refuses a report applied before, so re-running changes nothing.
public struct MailboxProcessor: Sendable {
    public var configuration: Configuration
    public var store: SubscriberStore
    public var signer: TokenSigner
    /// How much of each message is read. Reports put their machine-readable part first; a
    /// longer message (a returned 50 MB attachment) is judged on its beginning.
    public var readLimit = 2 * 1024 * 1024

    public init(configuration: Configuration, store: SubscriberStore, signer: TokenSigner) {
        self.configuration = configuration
        self.store = store
        self.signer = signer
    }

    /// What was done with one message.
    public struct Line: Sendable, Equatable, Codable {
        public enum Action: String, Sendable, Codable {
            case unsubscribed, bounced, softBounced = "soft_bounced", complained, recorded
            /// Applied before: moved, nothing changed.
            case duplicate
            /// An auto-reply or a not-spam/success report: moved, nothing to do.
            case ignored
            /// Left in new/ for a person.
            case left
        }
        public var file: String
        public var action: Action
        public var kind: String
        public var email: String?
        public var sendID: Int64?
        /// A sentence: what it was and what was done.
        public var message: String
    }

    public struct Totals: Sendable, Equatable, Codable {
        public var unsubscribed = 0, bounced = 0, softBounced = 0, complained = 0, recorded = 0, duplicates = 0, ignored = 0, left = 0
        public var processed: Int { unsubscribed + bounced + softBounced + complained + recorded + duplicates + ignored }
    }

    public func process(maildir: URL, now: Date = Date(), report: (Line) -> Void = { _ in }) throws -> Totals {
        let manager = FileManager.default
        let new = maildir.appendingPathComponent("new"), cur = maildir.appendingPathComponent("cur")
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: new.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw HogMailError(file: maildir.path, "This is not a Maildir: it has no new/ folder. Point `process-mail` at the folder your mail server delivers the unsubscribe and bounce addresses to (the one holding new/, cur/ and tmp/).")
        }
        do { try manager.createDirectory(at: cur, withIntermediateDirectories: true) } catch {
            throw HogMailError(file: cur.path, "The Maildir's cur/ folder cannot be created: \(error.localizedDescription). Check the folder's permissions.")
        }
        var totals = Totals()
        // Names are read in batches from the directory stream: 100,000 messages cost a list of names, not their contents.
        for name in try Self.names(in: new) {
            let url = new.appendingPathComponent(name)
            let line = try handle(file: url, name: name, now: now)
            switch line.action {
            case .unsubscribed: totals.unsubscribed += 1
            case .bounced: totals.bounced += 1
            case .softBounced: totals.softBounced += 1
            case .complained: totals.complained += 1
            case .recorded: totals.recorded += 1
            case .duplicate: totals.duplicates += 1
            case .ignored: totals.ignored += 1
            case .left: totals.left += 1
            }
            if line.action != .left {
                let seen = name.contains(":2,") ? (name.hasSuffix("S") || name.split(separator: ",").last?.contains("S") == true ? name : name + "S") : name + ":2,S"
                if rename(url.path, cur.appendingPathComponent(seen).path) != 0 {
                    throw HogMailError(file: url.path, "This message was processed but cannot be moved to cur/: \(String(cString: strerror(errno))). Check the Maildir's permissions; running again is safe (the store knows it was applied).")
                }
            }
            report(line)
        }
        return totals
    }

    /// The message files in `new/`, sorted (Maildir names start with the delivery time).
    static func names(in folder: URL) throws -> [String] {
        guard let directory = opendir(folder.path) else {
            throw HogMailError(file: folder.path, "The Maildir's new/ folder cannot be read: \(String(cString: strerror(errno))). Check its permissions.")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            // Dot files are not messages (Maildir writers use them for temporary names).
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    func handle(file url: URL, name: String, now: Date) throws -> Line {
        let bytes: [UInt8]
        var size = 0
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            bytes = Array(try handle.read(upToCount: readLimit) ?? Data())
            size = Int((try? handle.seekToEnd()) ?? UInt64(bytes.count))
        } catch {
            return Line(file: name, action: .left, kind: "unreadable", message: "The message cannot be read (\(error.localizedDescription)); it stays in new/. Check its permissions.")
        }
        if bytes.isEmpty {
            return Line(file: name, action: .left, kind: "empty", message: "The file is empty; it stays in new/. Delete it if your mail server left it there by mistake.")
        }
        let headers = MessageHeaders(parsing: bytes)
        if let token = Self.tokens(local: unsubscribeLocalPart, in: envelopeValues(headers)).first {
            return try unsubscribe(token: token, name: name, now: now)
        }
        let mail = ReturnedMail(bytes: bytes)
        let truncated = size > bytes.count ? " (only its first \(readLimit / 1024 / 1024) MB of \(size / 1024 / 1024) MB were read)" : ""
        switch mail.kind {
        case .autoReply, .notFailure:
            return Line(file: name, action: .ignored, kind: mail.kind.rawValue, email: mail.recipient,
                        message: "Ignored \(mail.detail)\(truncated).")
        case .other:
            return Line(file: name, action: .left, kind: mail.kind.rawValue, email: mail.recipient,
                        message: "Left in new/ for a person to read: \(mail.detail)\(truncated).")
        case .hardBounce, .softBounce, .complaint:
            return try apply(mail, name: name, bytes: bytes, truncated: truncated, now: now)
        }
    }

    // MARK: - Unsubscribe requests

    var unsubscribeLocalPart: String { String(configuration.list.unsubscribeMailbox.split(separator: "@").first ?? "unsubscribe") }
    var bounceLocalPart: String { String(configuration.list.bounceAddress.split(separator: "@").first ?? "bounces") }

    /// Delivered-To and X-Original-To carry the envelope address; To as the client wrote it.
    func envelopeValues(_ headers: MessageHeaders) -> [String] {
        ["Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To"].flatMap(headers.values)
    }

    func unsubscribe(token: String, name: String, now: Date) throws -> Line {
        guard let publicID = try? signer.verify(token, purpose: .unsubscribe) else {
            return Line(file: name, action: .left, kind: "unsubscribe", message: "Left in new/: the unsubscribe address carries a token that is not valid for this list (damaged or forged).")
        }
        guard let subscriber = try store.suppress(publicID: publicID, as: .unsubscribed, actor: "mail", reason: "unsubscribed via mail", now: now) else {
            return Line(file: name, action: .left, kind: "unsubscribe", message: "Left in new/: the unsubscribe token names a subscriber who is no longer in the store.")
        }
        return Line(file: name, action: .unsubscribed, kind: "unsubscribe", email: subscriber.email, message: "Unsubscribed \(subscriber.email) (asked by mail).")
    }

    // MARK: - Bounces and complaints

    /// Who a report is about, from what HogMail signed.
    public enum Attribution: Sendable {
        case verp(sendID: Int64, publicID: String)
        case unsubscribeToken(publicID: String, sendID: Int64?)
        case messageID(String)
        case none(String)
    }

    public func attribute(_ mail: ReturnedMail) -> Attribution {
        // 1. The VERP address the report was sent back to.
        let verpTokens = Self.tokens(local: bounceLocalPart, in: envelopeValues(mail.headers), verp: true)
        for token in verpTokens {
            if let (sendID, publicID) = try? signer.verifyBounce(token) { return .verp(sendID: sendID, publicID: publicID) }
        }
        // 2. What the enclosed original carries: its Return-Path (VERP), its List-Unsubscribe token.
        for original in mail.originalHeaders {
            for token in Self.tokens(local: bounceLocalPart, in: original.values("Return-Path") + original.values("X-Original-Return-Path"), verp: true) {
                if let (sendID, publicID) = try? signer.verifyBounce(token) { return .verp(sendID: sendID, publicID: publicID) }
            }
            for value in original.values("List-Unsubscribe") {
                if let (token, send) = Self.unsubscribeLink(in: value), let publicID = try? signer.verify(token, purpose: .unsubscribe) {
                    return .unsubscribeToken(publicID: publicID, sendID: send)
                }
            }
        }
        // 3. A bounce in words may quote the VERP address it was sent from.
        for token in Self.tokens(local: bounceLocalPart, in: [mail.text], verp: true) {
            if let (sendID, publicID) = try? signer.verifyBounce(token) { return .verp(sendID: sendID, publicID: publicID) }
        }
        if !verpTokens.isEmpty {
            return .none("its VERP token (in the address it was sent back to) is not signed with this list's key: it is damaged or forged")
        }
        // 4. Our Message-ID in the enclosed headers: findable, but guessable by anyone who knows the
        // address, so it only attributes, never proves. Used for complaints relayed by providers that
        // strip everything else (the journal must hold the id).
        if let id = mail.originalHeaders.lazy.compactMap({ $0.first("Message-ID") }).first {
            return .messageID(id.trimmingCharacters(in: .whitespaces))
        }
        return .none("it names no signed HogMail token (no VERP address, no unsubscribe link in the enclosed message)")
    }

    func apply(_ mail: ReturnedMail, name: String, bytes: [UInt8], truncated: String, now: Date) throws -> Line {
        let kind = mail.kind.feedback!
        var feedback = DeliveryFeedback(kind: kind, statusCode: mail.statusCode, detail: mail.detail, source: "mail",
                                        reference: Self.reference(mail, bytes: bytes))
        switch attribute(mail) {
        case .verp(let sendID, let publicID):
            feedback.sendID = sendID
            feedback.publicID = publicID
        case .unsubscribeToken(let publicID, let sendID):
            feedback.publicID = publicID
            feedback.sendID = sendID
        case .messageID(let id):
            feedback.messageID = id
            guard kind == .complaint else {
                return Line(file: name, action: .left, kind: mail.kind.rawValue, email: mail.recipient,
                            message: "Left in new/: a \(kind.label) (\(mail.detail)) that cannot be attributed: it carries no signed token, and HogMail acts on a bounce only through its VERP address\(truncated).")
            }
        case .none(let why):
            return Line(file: name, action: .left, kind: mail.kind.rawValue, email: mail.recipient,
                        message: "Left in new/: a \(kind.label)\(mail.recipient.map { " for \($0)" } ?? "") that cannot be attributed: \(why)\(truncated).")
        }
        let outcome = try store.apply(feedback, softBounceLimit: configuration.delivery.softBounceLimit, now: now)
        switch outcome {
        case .duplicate:
            return Line(file: name, action: .duplicate, kind: mail.kind.rawValue, email: mail.recipient, message: "Already applied (the same report was read before); nothing changed.")
        case .unattributed(let why):
            return Line(file: name, action: .left, kind: mail.kind.rawValue, email: mail.recipient, message: "Left in new/: a \(kind.label) that cannot be attributed: \(why).")
        case .applied(let email, let sendID, let newStatus):
            let onSend = sendID.map { " on send #\($0)" } ?? ""
            let code = mail.statusCode.map { "\($0) " } ?? ""
            switch (kind, newStatus) {
            case (.complaint, _):
                return Line(file: name, action: .complained, kind: mail.kind.rawValue, email: email, sendID: sendID,
                            message: "Complaint\(onSend) from \(email): \(mail.detail). \(email) is marked complained and never mailed again.")
            case (.hardBounce, let status):
                return Line(file: name, action: .bounced, kind: mail.kind.rawValue, email: email, sendID: sendID,
                            message: "Hard bounce\(onSend) for \(email): \(code)\(mail.detail). " + (status == .bounced ? "\(email) is marked bounced and never mailed again." : "\(email) had already left the list."))
            case (.softBounce, .bounced?):
                return Line(file: name, action: .bounced, kind: mail.kind.rawValue, email: email, sendID: sendID,
                            message: "Soft bounce\(onSend) for \(email): \(code)\(mail.detail). It bounced on \(configuration.delivery.softBounceLimit) sends in a row, so it is now marked bounced.")
            case (.softBounce, _):
                return Line(file: name, action: .softBounced, kind: mail.kind.rawValue, email: email, sendID: sendID,
                            message: "Soft bounce\(onSend) for \(email): \(code)\(mail.detail). Counted; the address stays on the list.")
            }
        }
    }

    /// Names a report for the store: its Message-ID when it has one (a report delivered twice is
    /// the same report), else a hash of its bytes; with the recipient and kind it names.
    static func reference(_ mail: ReturnedMail, bytes: [UInt8]) -> String {
        let id = mail.headers.first("Message-ID")?.trimmingCharacters(in: .whitespaces)
        let base = id.flatMap { $0.isEmpty ? nil : "id:\($0)" } ?? "sha256:" + SHA256.hash(data: bytes).map { String($0, radix: 16) }.joined()
        return "\(base)|\(mail.recipient ?? "")|\(mail.kind.rawValue)"
    }

    /// `local+TOKEN@` in header values: each TOKEN, in order. For the bounce address any local
    /// part is taken when the token has the VERP shape (`b1.…`): an alias (Postfix's
    /// `virtual_alias_maps` to a local user) keeps the extension but changes the local part.
    static func tokens(local: String, in values: [String], verp: Bool = false) -> [String] {
        guard !local.isEmpty else { return [] }
        var pattern = "(?i)(?<![A-Za-z0-9._+-])" + NSRegularExpression.escapedPattern(for: local) + "\\+([A-Za-z0-9._-]{1,300})@"
        if verp { pattern += "|\\+(b1\\.[A-Za-z0-9_-]{1,20}\\.[A-Za-z0-9_-]{1,64}\\.[A-Za-z0-9_-]{1,64})@" }
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        var result: [String] = []
        for value in values {
            let range = NSRange(value.startIndex..., in: value)
            for match in expression.matches(in: value, range: range).prefix(20) {
                let group = match.range(at: 1).location != NSNotFound || match.numberOfRanges < 3 ? 1 : 2
                if let token = Range(match.range(at: group), in: value).map({ String(value[$0]) }), !result.contains(token) { result.append(token) }
            }
        }
        return result
    }

    /// The token and send number of an unsubscribe link (`…/unsubscribe?token=u1.…&s=3`).
    static func unsubscribeLink(in value: String) -> (token: String, sendID: Int64?)? {
        guard let range = value.range(of: #"[?&]token=(u1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"#, options: .regularExpression) else { return nil }
        let token = String(value[range].split(separator: "=", maxSplits: 1).last ?? "")
        var sendID: Int64?
        if let s = value.range(of: #"[?&]s=[0-9]{1,18}(?![0-9])"#, options: .regularExpression) {
            sendID = Int64(value[s].split(separator: "=").last ?? "")
        }
        return (token, sendID)
    }
}
