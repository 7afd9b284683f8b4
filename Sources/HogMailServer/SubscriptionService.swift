import Foundation
import HogMail
import HogMailDelivery
import HogMailStore

/// Double opt-in, confirmation and leaving: the logic behind the form, the links and the
/// `subscribers` commands, in one place so the CLI and the server behave the same.
public struct SubscriptionService: Sendable {
    public var configuration: Configuration
    public var store: SubscriberStore
    public var signer: TokenSigner
    public var transport: any Transport
    public var templates: TemplateSet
    public var confirmationValidity: TimeInterval = 7 * 24 * 3600

    public init(configuration: Configuration, store: SubscriberStore, signer: TokenSigner, transport: any Transport, templates: TemplateSet) {
        self.configuration = configuration
        self.store = store
        self.signer = signer
        self.transport = transport
        self.templates = templates
    }

    public var urls: ProjectURLs { ProjectURLs(publicBase: configuration.urls.publicBase) }

    public func confirmURL(for subscriber: Subscriber, now: Date = Date()) -> String {
        "\(configuration.urls.publicBase)/confirm?token=\(signer.confirmationToken(publicID: subscriber.publicID, expires: now.addingTimeInterval(confirmationValidity)))"
    }

    public func unsubscribeURL(for subscriber: Subscriber) -> String {
        urls.unsubscribe(token: signer.unsubscribeToken(publicID: subscriber.publicID))
    }

    /// The mailto of List-Unsubscribe, with the token in the address (`unsubscribe+TOKEN@example.com`).
    public func unsubscribeMailto(for subscriber: Subscriber) -> String {
        SampleMessage.mailto(mailbox: configuration.list.unsubscribeMailbox, token: signer.unsubscribeToken(publicID: subscriber.publicID))
    }

    /// Records the request and sends the confirmation email when one is needed.
    /// Returns whether an email went out (never shown to the person asking).
    @discardableResult
    public func requestSubscription(email: String, name: String?, consent: Subscriber.Consent, actor: String, now: Date = Date()) async throws -> Bool {
        let (subscriber, outcome) = try store.requestSubscription(email: email, name: name, consent: consent, actor: actor, now: now)
        guard outcome == .needsConfirmation else { return false }
        try await sendConfirmation(to: subscriber, now: now)
        return true
    }

    public func sendConfirmation(to subscriber: Subscriber, now: Date = Date()) async throws {
        let context: [String: Any] = [
            "lang": configuration.list.language, "list_name": configuration.list.name, "email": subscriber.email,
            "confirm_url": confirmURL(for: subscriber, now: now), "valid_days": Int(confirmationValidity / 86_400),
            "postal_address": configuration.list.postalAddress,
        ]
        let messageID = MessageTemplate.messageID(sendKey: "confirm:\(subscriber.publicID):\(UUID().uuidString)",
                                                  recipient: subscriber.email, domain: configuration.list.from.domain)
        let message = TransactionalMessage(
            from: configuration.list.from, replyTo: configuration.list.replyTo,
            to: Mailbox(name: subscriber.name, address: subscriber.email),
            subject: "Please confirm your subscription to \(configuration.list.name)",
            text: templates.render("confirmation.txt", context), html: templates.render("confirmation.html", context),
            date: now, messageID: messageID)
        // VERP with send 0 (no send): a confirmation that bounces marks the address bounced.
        let returnPath = TokenSigner.verpAddress(configuration.list.bounceAddress, token: signer.bounceToken(sendID: 0, publicID: subscriber.publicID))
        try await transport.send(OutgoingMessage(from: configuration.list.from.address, returnPath: returnPath, to: subscriber.email,
                                                 messageID: messageID, data: try message.encoded()))
    }

    public enum LinkOutcome: Equatable, Sendable {
        case done(Subscriber)
        case invalid
        case expired
    }

    public func confirm(token: String, now: Date = Date()) throws -> LinkOutcome {
        do {
            let publicID = try signer.verify(token, purpose: .confirm, now: now)
            guard let subscriber = try store.confirm(publicID: publicID, now: now) else { return .invalid }
            return .done(subscriber)
        } catch let failure as TokenSigner.Failure {
            return failure == .expired ? .expired : .invalid
        }
    }

    /// What confirming would do, without doing it (for the GET page).
    public func checkConfirmation(token: String, now: Date = Date()) -> LinkOutcome {
        do {
            let publicID = try signer.verify(token, purpose: .confirm, now: now)
            guard let subscriber = try store.subscriber(publicID: publicID) else { return .invalid }
            return .done(subscriber)
        } catch let failure as TokenSigner.Failure {
            return failure == .expired ? .expired : .invalid
        } catch {
            return .invalid
        }
    }

    /// The subscriber a valid unsubscribe token names, without changing anything (for the GET page).
    public func subscriber(forUnsubscribeToken token: String) throws -> Subscriber? {
        guard let publicID = try? signer.verify(token, purpose: .unsubscribe) else { return nil }
        return try store.subscriber(publicID: publicID)
    }

    /// Unsubscribes at once; repeating it changes nothing.
    /// `sendID`: the send whose link was used, counted in `hogmail status`.
    public func unsubscribe(token: String, actor: String, sendID: Int64? = nil, now: Date = Date()) throws -> LinkOutcome {
        guard let publicID = try? signer.verify(token, purpose: .unsubscribe) else { return .invalid }
        let reason = "unsubscribed via \(actor)" + (sendID.map { " from send #\($0)" } ?? "")
        guard let subscriber = try store.suppress(publicID: publicID, as: .unsubscribed, actor: actor, reason: reason, sendID: sendID, now: now)
        else { return .invalid }
        return .done(subscriber)
    }
}
