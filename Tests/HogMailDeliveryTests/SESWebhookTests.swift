import Foundation
import HogMail
import SNSTestSupport
import Testing

@testable import HogMailDelivery
@testable import HogMailInbound
@testable import HogMailStore

/// A send whose messages went out (real Message-IDs in the journal), Amazon SNS played by
/// `FakeSNS` on 127.0.0.1, and the webhook as `hogmail serve` hands it the body.
struct WebhookFixture {
    let returns: ReturnFixture
    let sns: FakeSNS
    let webhook: SESWebhook
    var store: SubscriberStore { returns.store }

    init(topicARNs: [String] = [FakeSNS.topicARN], fetch: (@Sendable (String) async throws -> Data)? = nil) async throws {
        returns = try ReturnFixture()
        sns = try FakeSNS()
        var configuration = returns.send.configuration
        configuration.transportKind = "ses"
        configuration.ses?.snsCertificateHosts = [sns.host]
        configuration.ses?.snsTopicARNs = topicARNs
        webhook = try #require(SESWebhook(configuration: configuration, store: returns.store, fetch: fetch))
        _ = try await returns.sendIssue()
    }

    /// The Message-ID header HogMail wrote on the message to `email`, as SES reports it.
    func messageIDHeader(to email: String) -> String {
        MessageHeaders(parsing: returns.message(to: email).data).first("Message-ID")!
    }

    func post(_ fields: [String: String]) async -> SESWebhook.Answer {
        await webhook.handle(body: FakeSNS.body(fields), messageType: fields["Type"])
    }

    func status(_ email: String) throws -> Subscriber.Status? { try store.subscriber(email: email)?.status }
    func report() throws -> SendReport { try store.report(of: store.sends()[0]) }
}

@Suite struct SESWebhookTests {
    @Test func withoutNamedTopicsThereIsNoWebhookEvenForAListOnSES() throws {
        // SNS signs for every AWS account: a webhook that took any topic could be fed signed
        // "bounces" from a stranger's topic.
        let returns = try ReturnFixture()
        var configuration = returns.send.configuration
        configuration.transportKind = "ses"
        configuration.ses?.snsTopicARNs = []
        #expect(SESWebhook(configuration: configuration, store: returns.store) == nil)
    }

    @Test func aPermanentBounceMarksTheSubscriberBouncedAndTheSendRow() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        let answer = await fixture.post(fixture.sns.notification(bounce, version: "1"))
        #expect(answer.status == 200, "\(answer.log)")
        #expect(try fixture.status("grace@example.net") == .bounced)
        #expect(try fixture.status("ada@example.net") == .confirmed)
        let report = try fixture.report()
        #expect(report.hardBounced == 1 && report.delivered == 1)
        let events = try fixture.store.events(of: fixture.store.subscriber(email: "grace@example.net")!)
        #expect(events.last?.to == .bounced && events.last?.actor == "ses" && events.last?.sendID == 1)
        #expect(events.last?.reason.contains("5.1.1 smtp; 550 5.1.1 user unknown") == true)
    }

    @Test func aTransientBounceCountsAsSoftAndTheSubscriberStays() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Transient", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"),
                                       status: "4.2.2", diagnostic: "smtp; 452 4.2.2 mailbox full")
        let answer = await fixture.post(fixture.sns.notification(bounce, version: "2"))
        #expect(answer.status == 200, "\(answer.log)")
        #expect(try fixture.status("grace@example.net") == .confirmed)
        #expect(try fixture.report().softBounced == 1)
    }

    @Test func aComplaintMarksTheSubscriberComplained() async throws {
        let fixture = try await WebhookFixture()
        let complaint = FakeSNS.sesComplaint(recipient: "ada@example.net", messageIDHeader: fixture.messageIDHeader(to: "ada@example.net"))
        let answer = await fixture.post(fixture.sns.notification(complaint))
        #expect(answer.status == 200, "\(answer.log)")
        #expect(try fixture.status("ada@example.net") == .complained)
        #expect(try fixture.report().complained == 1)
    }

    @Test func aNotSpamReportChangesNothing() async throws {
        let fixture = try await WebhookFixture()
        let report = FakeSNS.sesComplaint(recipient: "ada@example.net", messageIDHeader: fixture.messageIDHeader(to: "ada@example.net"), type: "not-spam")
        let answer = await fixture.post(fixture.sns.notification(report))
        #expect(answer.status == 200)
        #expect(answer.log.contains("not-spam"))
        #expect(try fixture.status("ada@example.net") == .confirmed)
    }

    @Test func anEventPublishingBounceIsReadLikeANotification() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "ada@example.net", messageIDHeader: fixture.messageIDHeader(to: "ada@example.net"),
                                       eventPublishing: true)
        #expect(await fixture.post(fixture.sns.notification(bounce)).status == 200)
        #expect(try fixture.status("ada@example.net") == .bounced)
    }

    @Test func theMessageIDHeaderDecidesWhoBouncedNotTheAddressInTheReport() async throws {
        let fixture = try await WebhookFixture()
        // Forwarded mail: SES names the address the forwarder refused; our Message-ID names Ada.
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "ada.old@forwarded.example", messageIDHeader: fixture.messageIDHeader(to: "ada@example.net"))
        #expect(await fixture.post(fixture.sns.notification(bounce)).status == 200)
        #expect(try fixture.status("ada@example.net") == .bounced)
    }

    @Test func theSameNotificationTwiceIsAppliedOnce() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Transient", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"),
                                       status: "4.2.2", diagnostic: "smtp; 452 4.2.2 mailbox full")
        // SNS retries with the same MessageId.
        let notification = fixture.sns.notification(bounce)
        #expect(await fixture.post(notification).status == 200)
        let again = await fixture.post(notification)
        #expect(again.status == 200)
        #expect(again.log.contains("already applied"))
        let grace = try #require(try fixture.store.subscriber(email: "grace@example.net"))
        #expect(try fixture.store.events(of: grace).filter { $0.reason.contains("soft bounce") }.count == 1)
    }

    @Test func aSubscriptionConfirmationIsConfirmedByFetchingItsSubscribeURL() async throws {
        let fixture = try await WebhookFixture()
        let answer = await fixture.post(fixture.sns.subscriptionConfirmation(token: "token-123"))
        #expect(answer.status == 200, "\(answer.log)")
        #expect(fixture.sns.requests().contains { $0.hasPrefix("/?Action=ConfirmSubscription") && $0.contains("Token=token-123") })
    }

    @Test func aForgedNotificationIsRefusedAndChangesNothing() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        var notification = fixture.sns.notification(bounce)
        // One byte of the signed Message changed: Grace's bounce made Ada's.
        notification["Message"] = bounce.replacingOccurrences(of: "grace@", with: "grade@")
        let answer = await fixture.post(notification)
        #expect(answer.status == 403)
        #expect(answer.log.contains("forged or altered"))
        #expect(try fixture.status("grace@example.net") == .confirmed)
        #expect(try fixture.report().hardBounced == 0)
    }

    @Test func anExpiredNotificationIsRefused() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        // Correctly signed, two hours ago: a replay.
        let answer = await fixture.post(fixture.sns.notification(bounce, timestamp: Date(timeIntervalSinceNow: -7200)))
        #expect(answer.status == 403)
        #expect(answer.log.contains("expired"))
        #expect(try fixture.status("grace@example.net") == .confirmed)
    }

    @Test func anUnsignedNotificationIsRefused() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        var notification = fixture.sns.notification(bounce)
        notification["Signature"] = nil
        let answer = await fixture.post(notification)
        #expect(answer.status == 403)
        #expect(answer.log.contains("no Signature"))
        #expect(try fixture.status("grace@example.net") == .confirmed)
        #expect(fixture.sns.requests().isEmpty)
    }

    @Test func aCertificateOnAHostNotAllowedIsRefusedWithoutAFetch() async throws {
        let fetched = Recorder()
        let fixture = try await WebhookFixture(fetch: { url in
            fetched.append(url)
            throw DeliveryError.temporary("no network in this test")
        })
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        for url in ["http://evil.example/SimpleNotificationService-test.pem", "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
                    "http://sns.eu-west-1.amazonaws.com/cert.pem"] {
            // Signed with the key the attacker holds, pointing at the attacker's certificate.
            let answer = await fixture.post(fixture.sns.notification(bounce, certificateURL: url))
            #expect(answer.status == 403, "\(url)")
            #expect(answer.log.contains("not on an SNS host"))
        }
        #expect(fetched.values.isEmpty)
        #expect(try fixture.status("grace@example.net") == .confirmed)
    }

    @Test func aCertificateURLWithNoCertificateIsRefused() async throws {
        let fixture = try await WebhookFixture()
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        let answer = await fixture.post(fixture.sns.notification(bounce, certificateURL: "http://\(fixture.sns.host)/missing.pem"))
        #expect(answer.status == 403)
        #expect(answer.log.contains("HTTP 404"))
        #expect(try fixture.status("grace@example.net") == .confirmed)
    }

    @Test func aTopicNotListedIsRefused() async throws {
        let fixture = try await WebhookFixture(topicARNs: ["arn:aws:sns:eu-west-1:123456789012:ours"])
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: fixture.messageIDHeader(to: "grace@example.net"))
        // Anyone can sign through a topic of their own: a valid signature proves only that SNS sent it.
        let answer = await fixture.post(fixture.sns.notification(bounce))
        #expect(answer.status == 403)
        #expect(answer.log.contains("not in transport.ses.sns_topic_arns"))
        #expect(try fixture.status("grace@example.net") == .confirmed)
        #expect(fixture.sns.requests().isEmpty)
    }

    @Test func theSigningCertificateIsFetchedOnceAndCached() async throws {
        let fixture = try await WebhookFixture()
        for email in ["ada@example.net", "grace@example.net"] {
            let bounce = FakeSNS.sesBounce("Transient", recipient: email, messageIDHeader: fixture.messageIDHeader(to: email), status: "4.2.2")
            #expect(await fixture.post(fixture.sns.notification(bounce)).status == 200)
        }
        #expect(fixture.sns.requests() == ["/SimpleNotificationService-test.pem"])
    }

    @Test func aHeaderThatDisagreesWithTheBodyIsRefused() async throws {
        let fixture = try await WebhookFixture()
        let confirmation = fixture.sns.subscriptionConfirmation()
        let answer = await fixture.webhook.handle(body: FakeSNS.body(confirmation), messageType: "Notification")
        #expect(answer.status == 403)
        #expect(fixture.sns.requests().isEmpty)
    }
}

@Suite struct SNSCertificateHostTests {
    @Test func onlyHTTPSOnAnSNSHostOrAListedHostIsAllowed() {
        let verifier = SNSVerifier(extraHosts: ["127.0.0.1:8081", "sns.test"])
        for allowed in ["https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
                        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
                        "https://SNS.US-EAST-1.AMAZONAWS.COM/x.pem", "http://127.0.0.1:8081/cert.pem", "http://sns.test:9000/cert.pem"] {
            #expect(verifier.isAllowed(allowed), "\(allowed)")
        }
        for refused in ["http://sns.eu-west-1.amazonaws.com/x.pem", "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
                        "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem", "https://user@sns.eu-west-1.amazonaws.com/x.pem",
                        "https://sns.eu-west-1.amazonaws.com:8443/x.pem", "https://s3.amazonaws.com/x.pem", "ftp://sns.eu-west-1.amazonaws.com/x.pem",
                        "http://127.0.0.1:8082/cert.pem", "file:///etc/passwd", "not a url"] {
            #expect(!verifier.isAllowed(refused), "\(refused)")
        }
    }
}

final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ value: String) { lock.withLock { list.append(value) } }
    var values: [String] { lock.withLock { list } }
}
