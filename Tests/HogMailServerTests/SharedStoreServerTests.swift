import Foundation
import HogMail
import HogMailStore
import Hummingbird
import HummingbirdTesting
import PostgresTestSupport
import Testing

@testable import HogMailServer

/// Two servers on one store, each with its own store handle, as two `hogmail serve` processes
/// behind a load balancer: the limits and the confirmation queue are the store's, not a process's.
/// On SQLite the two share a file on one host; on PostgreSQL they could be on two hosts.
@Suite struct SharedStoreServerTests {
    @Test(arguments: PostgresTestServer.engines)
    func thirtySubscribesFromOneClientSpreadOverTwoServersGetTheSame429sAsOne(engine: StoreEngineKind) async throws {
        let first = try ServerFixture(perAddress: 100, perClient: 20, engine: engine)
        let second = try ServerFixture(perAddress: 100, perClient: 20, sharing: first)
        let recorded = Statuses()
        try await first.live { one in
            try await second.live { two in
                for index in 0..<30 {
                    let client = index.isMultiple(of: 2) ? one : two
                    await recorded.add(try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded,
                                                                body: form("email=reader\(index)%40example.com")) { $0.status })
                }
            }
        }
        let statuses = await recorded.all
        #expect(statuses.prefix(20).allSatisfy { $0 == .ok })
        #expect(statuses.suffix(10).allSatisfy { $0 == .tooManyRequests })
    }

    @Test(arguments: PostgresTestServer.engines)
    func thePerAddressLimitHoldsAcrossServers(engine: StoreEngineKind) async throws {
        let first = try ServerFixture(perAddress: 2, engine: engine)
        let second = try ServerFixture(perAddress: 2, sharing: first)
        let recorded = Statuses()
        try await first.live { one in
            try await second.live { two in
                for client in [one, two, one] {
                    await recorded.add(try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded,
                                                                body: form("email=Ada%40example.com")) { $0.status })
                }
            }
        }
        let statuses = await recorded.all
        #expect(statuses == [.ok, .ok, .tooManyRequests])
    }

    @Test(arguments: PostgresTestServer.engines)
    func bothWorkersTogetherSendEachConfirmationOnce(engine: StoreEngineKind) async throws {
        let first = try ServerFixture(perAddress: 100, perClient: 100, engine: engine)
        let second = try ServerFixture(perAddress: 100, perClient: 100, sharing: first)
        for index in 0..<40 {
            try first.store.enqueueSubscriptionRequest(email: "reader\(index)@example.com", name: nil, consent: formConsentForServer)
        }
        async let a = first.sendConfirmations()
        async let b = second.sendConfirmations()
        let (reportA, reportB) = await (a, b)

        #expect(reportA.sent + reportB.sent == 40)
        let recipients = try first.outboxMessages().compactMap { message in
            message.components(separatedBy: "\r\n").first { $0.hasPrefix("To: ") }
        }
        #expect(recipients.count == 40 && Set(recipients).count == 40)
        #expect(try first.store.subscriptionRequestCount() == 0)
    }

    @Test(arguments: PostgresTestServer.engines)
    func subscribeOnOneConfirmOnTheOtherLeaveThroughEither(engine: StoreEngineKind) async throws {
        let first = try ServerFixture(engine: engine)
        let second = try ServerFixture(sharing: first)
        try await first.live { client in
            try await client.execute(uri: "/subscribe", method: .post, headers: urlEncoded, body: form("email=ada%40example.com")) {
                #expect($0.status == .ok)
            }
        }
        await second.sendConfirmations()
        let link = try #require(unfoldQuotedPrintable(try first.outboxMessages().joined())
            .firstMatch(of: /\/confirm\?token=([A-Za-z0-9._~-]+)/)?.1)
        try await second.live { client in
            try await client.execute(uri: "/confirm?token=\(link)", method: .post, headers: urlEncoded, body: form("")) {
                #expect($0.status == .ok)
            }
        }
        let ada = try #require(try first.store.subscriber(email: "ada@example.com"))
        #expect(ada.status == .confirmed)
        let token = first.service.signer.unsubscribeToken(publicID: ada.publicID)
        try await first.live { client in
            try await client.execute(uri: "/unsubscribe?token=\(token)", method: .post, headers: urlEncoded,
                                     body: form("List-Unsubscribe=One-Click")) { #expect($0.status == .ok) }
        }
        #expect(try second.store.subscriber(email: "ada@example.com")?.status == .unsubscribed)
    }
}

/// The statuses of requests made inside the servers' test closures, in order.
private actor Statuses {
    var all: [HTTPResponse.Status] = []
    func add(_ status: HTTPResponse.Status) { all.append(status) }
}
