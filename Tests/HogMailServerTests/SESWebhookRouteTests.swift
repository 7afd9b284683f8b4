import Foundation
import HogMail
import HogMailStore
import Hummingbird
import HummingbirdTesting
import SNSTestSupport
import Testing

@testable import HogMailServer

/// `POST /webhooks/ses` as SNS calls it: the route reads the body and hands it to
/// HogMailInbound's `SESWebhook` (whose checks SESWebhookTests covers); here, what the route adds.
@Suite struct SESWebhookRouteTests {
    static let scaffold = Scaffold.commentedConfiguration(anchor: CalendarDate(year: 2026, month: 1, day: 7)!)

    /// The scaffold's hogmail.yml (transport.kind outbox) with the SES topic named and the
    /// local SNS stand-in allowed, as a list sending through SES from elsewhere configures it.
    static func configuration(allowing sns: FakeSNS) -> String {
        scaffold.replacingOccurrences(of: "\n    region: eu-west-1\n", with: """

            region: eu-west-1
            sns_cert_hosts: ["\(sns.host)"]
            sns_topic_arns: [\(FakeSNS.topicARN)]

        """)
    }

    static let snsHeaders: HTTPFields = [.contentType: "text/plain; charset=UTF-8", .init("x-amz-sns-message-type")!: "Notification"]

    @Test func aSignedBounceIsAppliedThroughTheRoute() async throws {
        let sns = try FakeSNS()
        let fixture = try ServerFixture(configurationText: Self.configuration(allowing: sns))
        _ = try fixture.confirmedSubscriber("grace@example.net")
        // No send: the address alone names her (SES's signature vouches for it).
        let bounce = FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: "<unknown@example.com>")
        try await fixture.live { client in
            try await client.execute(uri: "/webhooks/ses", method: .post, headers: Self.snsHeaders,
                                     body: ByteBuffer(bytes: FakeSNS.body(sns.notification(bounce)))) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
            }
        }
        #expect(try fixture.store.subscriber(email: "grace@example.net")?.status == .bounced)
    }

    @Test func anUnsignedNotificationIsA403InPlainText() async throws {
        let sns = try FakeSNS()
        let fixture = try ServerFixture(configurationText: Self.configuration(allowing: sns))
        _ = try fixture.confirmedSubscriber("grace@example.net")
        var notification = sns.notification(FakeSNS.sesBounce("Permanent", recipient: "grace@example.net", messageIDHeader: "<x@example.com>"))
        notification["Signature"] = nil
        let body = FakeSNS.body(notification)
        try await fixture.live { client in
            try await client.execute(uri: "/webhooks/ses", method: .post, headers: Self.snsHeaders,
                                     body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body) == "Forbidden: not a valid SNS message.\n")
            }
        }
        #expect(try fixture.store.subscriber(email: "grace@example.net")?.status == .confirmed)
    }

    @Test func theRouteTakesBodiesLargerThanAFormUpTo256KB() async throws {
        let sns = try FakeSNS()
        let fixture = try ServerFixture(configurationText: Self.configuration(allowing: sns))
        // 100 KB of SES headers is an ordinary notification; the forms' 16 KB limit must not apply.
        let large = sns.notification(String(repeating: "x", count: 100_000))
        try await fixture.live { client in
            try await client.execute(uri: "/webhooks/ses", method: .post, headers: Self.snsHeaders,
                                     body: ByteBuffer(bytes: FakeSNS.body(large))) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/webhooks/ses", method: .post, headers: Self.snsHeaders,
                                     body: ByteBuffer(string: String(repeating: "x", count: 300_000))) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
    }

    @Test func aListThatDoesNotUseSESHasNoWebhook() async throws {
        // `hogmail init`'s hogmail.yml: a transport.ses section, but transport.kind outbox and no topic.
        let fixture = try ServerFixture(configurationText: Self.scaffold)
        #expect(fixture.server.sesWebhook == nil)
        try await fixture.live { client in
            try await client.execute(uri: "/webhooks/ses", method: .post, headers: Self.snsHeaders, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
