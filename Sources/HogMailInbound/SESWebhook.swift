import Foundation
import HogMail
import HogMailDelivery
import HogMailStore

/// `POST /webhooks/ses`: Amazon SES bounce and complaint notifications, delivered by an SNS
/// HTTP(S) subscription. The web server only reads the body and hands it here.
///
/// Nothing is believed before its SNS signature is checked (`SNSVerifier`). A verified
/// `SubscriptionConfirmation` is confirmed by fetching its `SubscribeURL`; a verified
/// `Notification` with an SES Bounce or Complaint is applied to the store once (a Permanent
/// bounce makes the subscriber bounced, a Transient one counts as soft, a complaint makes them
/// complained). Whatever is forged, expired, unsigned or from another topic is answered 403
/// and changes nothing.
public struct SESWebhook: Sendable {
    /// What to answer SNS: an HTTP status, a short plain-text body, and a line for the server's log.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var body: String
        public var log: String
        /// Rejections and failures are worth a warning; the rest is routine.
        public var isProblem: Bool { status >= 400 }
    }

    public let store: SubscriberStore
    public let verifier: SNSVerifier
    public var softBounceLimit: Int
    /// GETs a confirmation link the verifier allowed; returns the HTTP status.
    let follow: @Sendable (String) async throws -> Int

    /// Nil, and the route absent, unless `transport.ses.sns_topic_arns` names the topics. SNS
    /// signs the messages of every AWS account's topics: without the list, anyone could
    /// subscribe the webhook to a topic of their own and post correctly signed "bounces" for
    /// any address they know.
    public init?(configuration: Configuration, store: SubscriberStore,
                 fetch: (@Sendable (String) async throws -> Data)? = nil,
                 follow: (@Sendable (String) async throws -> Int)? = nil) {
        guard let ses = configuration.ses, !ses.snsTopicARNs.isEmpty else { return nil }
        self.store = store
        self.verifier = SNSVerifier(extraHosts: ses.snsCertificateHosts, topicARNs: ses.snsTopicARNs, fetch: fetch)
        self.softBounceLimit = configuration.delivery.softBounceLimit
        self.follow = follow ?? { url in try await HTTPFetch.get(url, timeout: 10, maximumBytes: 64 * 1024).status }
    }

    /// `messageType` is the `x-amz-sns-message-type` header, which must agree with the body.
    public func handle(body: [UInt8], messageType: String? = nil, now: Date = Date()) async -> Answer {
        let notification: SNSNotification
        do {
            notification = try SNSNotification(json: body)
            if let messageType, messageType != notification.kind.rawValue {
                throw SNSRejection("the x-amz-sns-message-type header (\(SNSNotification.visible(messageType))) disagrees with the body's Type")
            }
            try await verifier.verify(notification, now: now)
        } catch let rejection as SNSRejection {
            return Answer(status: 403, body: "Forbidden: not a valid SNS message.\n", log: "SES webhook: refused a message: \(rejection.reason).")
        } catch {
            // Not a forgery: SNS retries a 5xx answer.
            return Answer(status: 503, body: "The signing certificate cannot be fetched now; try again.\n",
                          log: "SES webhook: \(error); the message was not read (SNS will retry).")
        }
        let topic = SNSNotification.visible(notification.topicARN)
        switch notification.kind {
        case .subscriptionConfirmation:
            return await confirm(notification, topic: topic)
        case .unsubscribeConfirmation:
            return Answer(status: 200, body: "OK\n", log: "SES webhook: the subscription to \(topic) was ended (UnsubscribeConfirmation); SES notifications from it stop.")
        case .notification:
            return apply(notification, topic: topic, now: now)
        }
    }

    func confirm(_ notification: SNSNotification, topic: String) async -> Answer {
        // Signed by SNS, but followed only where a certificate could come from.
        guard let url = notification.subscribeURL, verifier.isAllowed(url) else {
            return Answer(status: 403, body: "Forbidden: not a valid SNS message.\n",
                          log: "SES webhook: refused a subscription confirmation for \(topic): its SubscribeURL is not on an SNS host.")
        }
        do {
            let status = try await follow(url)
            guard (200..<300).contains(status) else {
                return Answer(status: 502, body: "The subscription could not be confirmed.\n",
                              log: "SES webhook: confirming the subscription to \(topic) failed (SNS answered HTTP \(status)); confirm it in the SNS console.")
            }
            return Answer(status: 200, body: "Subscription confirmed.\n", log: "SES webhook: confirmed the subscription to \(topic).")
        } catch {
            return Answer(status: 502, body: "The subscription could not be confirmed.\n",
                          log: "SES webhook: confirming the subscription to \(topic) failed (\((error as? DeliveryError)?.response ?? "\(error)")); confirm it in the SNS console.")
        }
    }

    func apply(_ notification: SNSNotification, topic: String, now: Date) -> Answer {
        let reports: [DeliveryFeedback]
        switch SESFeedback.read(notification.message, snsMessageID: notification.messageID) {
        case .ignored(let why):
            return Answer(status: 200, body: "OK\n", log: "SES webhook: ignored \(why) from \(topic).")
        case .unreadable(let why):
            // Signed by SNS, so not forged; retrying cannot help. Acknowledged and logged.
            return Answer(status: 200, body: "OK\n", log: "SES webhook: a notification from \(topic) was not understood: \(why).")
        case .feedback(let feedback):
            reports = feedback
        }
        var lines: [String] = []
        for report in reports {
            let who = Subscriber.visible(report.email ?? "?")
            do {
                switch try store.apply(report, softBounceLimit: softBounceLimit, now: now) {
                case .duplicate:
                    lines.append("\(report.kind.label) for \(who) already applied")
                case .unattributed(let why):
                    lines.append("\(report.kind.label) not applied: \(why)")
                case .applied(let email, let sendID, let newStatus):
                    let onSend = sendID.map { " on send #\($0)" } ?? ""
                    let outcome = newStatus.map { "; now \($0.rawValue)" } ?? ""
                    lines.append("\(report.kind.label)\(onSend) for \(Subscriber.visible(email))\(outcome)")
                }
            } catch {
                return Answer(status: 500, body: "The notification could not be stored; try again.\n",
                              log: "SES webhook: the store refused a \(report.kind.label) for \(who): \(error); SNS will retry.")
            }
        }
        return Answer(status: 200, body: "OK\n", log: "SES webhook: \(lines.joined(separator: "; ")).")
    }
}
