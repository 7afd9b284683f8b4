import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// Sends through servers that misbehave on purpose, by a fixed seed per (address, attempt):
/// every deliverable message arrives exactly once (twice only where the server stored it and
/// then dropped the connection, with the same Message-ID), every permanent failure is in the
/// journal, and the journal agrees with what the server holds.
@Suite(.serialized) struct FaultTests {
    static let subscriberCount = 60

    /// Options for a faulty server: short backoff, patient retries, no pause.
    static func options() -> IssueSender.Options {
        var options = IssueSender.Options(perSecond: 0, perHour: 0)
        options.baseBackoff = 0.02
        options.maxBackoff = 0.2
        options.maxAttempts = 40
        options.maxWaitForRetries = 10
        options.pauseAfterConsecutiveFailures = 1000
        // 5% of answers are 554 on purpose: this test is about faults, not the reputation breaker.
        options.maxBounceRate = 1
        options.slowDownInterval = 0.005
        options.slowestInterval = 0.05
        options.successesToSpeedUp = 3
        return options
    }

    /// Each journal row as (address, state, last response).
    static func journal(_ store: SubscriberStore, _ send: SendRecord) throws -> [(email: String, state: String, response: String?)] {
        try store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT email, state, last_response FROM send_recipient WHERE send_id = ? ORDER BY id", arguments: [send.id])
                .map { ($0["email"], $0["state"], $0["last_response"]) }
        }
    }

    static func faults(_ folder: URL) -> [(fault: String, address: String)] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("faults.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    @Test func smtpFaultsEndWithEveryDeliverableMessageDeliveredOnce() async throws {
        let server = try SMTPTestServer(["--faults", "421=0.05,451=0.08,452=0.05,554=0.05,stall=0.03,drop=0.05,dropstored=0.05",
                                         "--stall-seconds", "4", "--seed", "11", "--reject-550", "nobody"])
        let fixture = try SendFixture()
        var addresses = try (1...Self.subscriberCount).map { try fixture.confirmed("f\($0)@example.com").email }
        addresses += try (1...3).map { try fixture.confirmed("nobody\($0)@example.com").email }
        var settings = SMTPTransport.Settings(url: "smtp://127.0.0.1:\(server.port)", tls: .none, username: nil, password: nil,
                                              connections: 4, heloDomain: "example.com")
        settings.timeout = 1.5
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        let sender = IssueSender(configuration: fixture.configuration, store: fixture.store, signer: fixture.signer,
                                 transport: try SMTPTransport(settings: settings), message: fixture.issue.message, options: Self.options())
        let summary = try await sender.run(send)
        #expect(summary.ending == .completed, "\(summary)")

        let faults = Self.faults(server.folder)
        let kinds = Set(faults.map(\.fault))
        #expect(kinds.isSuperset(of: ["421", "451", "452", "554", "stall", "drop", "dropstored"]), "the seed exercises every fault: \(kinds)")
        let rejected = Set(faults.filter { $0.fault == "554" }.map(\.address)).union(addresses.filter { $0.hasPrefix("nobody") })
        let storedTwiceAllowed = Set(faults.filter { $0.fault == "dropstored" }.map(\.address))
        let received = try server.received()
        let journal = try Self.journal(fixture.store, send)

        for address in addresses {
            let copies = received[address] ?? []
            let row = try #require(journal.first { $0.email == address })
            if rejected.contains(address) {
                #expect(copies.isEmpty, "\(address) was rejected, yet delivered")
                #expect(row.state == "failed", "\(address): \(row)")
                #expect(row.response?.contains(address.hasPrefix("nobody") ? "550" : "554") == true, "\(address): \(row)")
            } else {
                #expect(row.state == "sent", "\(address): \(row)")
                #expect(copies.count == 1 || (copies.count == 2 && storedTwiceAllowed.contains(address)),
                        "\(address) arrived \(copies.count) times; faults: \(faults.filter { $0.address == address }.map(\.fault))")
                let ids = Set(copies.compactMap { $0.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } })
                #expect(ids.count == 1, "\(address) got different messages")
            }
        }
        // Bounced only where the mailbox does not exist; a policy rejection is not a bounce.
        for address in addresses {
            let status = try fixture.store.subscriber(email: address)?.status
            #expect(status == (address.hasPrefix("nobody") ? .bounced : .confirmed), "\(address): \(String(describing: status))")
        }
        #expect(Set(received.keys).isSubset(of: Set(addresses)))
        #expect(try fixture.store.progress(of: send) == SendProgress(total: addresses.count, sent: addresses.count - rejected.count,
                                                                     pending: 0, retrying: 0, failed: rejected.count))
    }

    @Test func sesFaultsEndWithEveryMessageDeliveredOnce() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-ses-faults-\(UUID().uuidString).log")
        let process = Process()
        let port = try startServerScript("ses_server.py", ["--faults", "429=0.12,500=0.1,503=0.06,timeout=0.04", "--seed", "5",
                                                            "--stall-seconds", "4", "--log", log.path],
                                         process: process, hint: "is moto[server] installed? `make test` installs it")
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var settings = SESTransport.Settings(region: "eu-west-1", endpoint: "http://127.0.0.1:\(port)", accessKeyID: "AKIDEXAMPLE",
                                             secretAccessKey: "test-secret", connections: 3)
        // moto loads its service models on the first call, which takes over a second on a busy
        // machine: that call gets a patient transport, the send the short timeout the stalls need.
        var setup = settings
        setup.timeout = 30
        #expect(try await SESTransport(settings: setup).request(path: "/v2/email/identities", json: ["EmailIdentity": "example.com"]).status == 200)
        settings.timeout = 1.5
        let transport = try SESTransport(settings: settings)
        let fixture = try SendFixture()
        let addresses = try (1...40).map { try fixture.confirmed("s\($0)@example.com").email }
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        let sender = IssueSender(configuration: fixture.configuration, store: fixture.store, signer: fixture.signer,
                                 transport: transport, message: fixture.issue.message, options: Self.options())
        let summary = try await sender.run(send)
        #expect(summary.ending == .completed, "\(summary)")

        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let kinds = Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(kinds.isSuperset(of: ["429", "500", "503", "timeout"]), "the seed exercises every fault: \(kinds)")
        let received = try await SESTestServer.received(port: port)
        // moto lists a raw message's destinations from the request and from its To header: count messages, not entries.
        let counts = Dictionary(received.flatMap { Set($0.to) }.map { ($0, 1) }, uniquingKeysWith: +)
        for address in addresses {
            #expect(counts[address] == 1, "\(address) arrived \(counts[address] ?? 0) times; faults: \(text.split(separator: "\n").filter { $0.hasSuffix(" " + address) })")
        }
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 40, sent: 40, pending: 0, retrying: 0, failed: 0))
        #expect(try Self.journal(fixture.store, send).allSatisfy { $0.state == "sent" })
    }
}
