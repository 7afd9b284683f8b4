import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailInbound
@testable import HogMailStore

/// A send whose messages went out, and a Maildir for what comes back.
struct ReturnFixture {
    let send: SendFixture
    let maildir: URL
    let processor: MailboxProcessor
    let transport = RecordingTransport()
    var store: SubscriberStore { send.store }

    init(subscribers: [String] = ["ada@example.net", "grace@example.net"]) throws {
        send = try SendFixture()
        for email in subscribers { try send.confirmed(email) }
        maildir = send.folder.appendingPathComponent("Maildir")
        for folder in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(at: maildir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        processor = MailboxProcessor(configuration: send.configuration, store: send.store, signer: send.signer)
    }

    /// Sends the issue; returns the messages with their VERP return paths.
    func sendIssue() async throws -> [OutgoingMessage] {
        let job = send.job(transport)
        _ = try await job.run(send.issue, decision: try job.decide(send.issue, newSend: false))
        return transport.delivered
    }

    func message(to email: String) -> OutgoingMessage { transport.delivered.first { $0.to == email }! }

    func deliver(_ text: String, as name: String) throws {
        try Data(text.utf8).write(to: maildir.appendingPathComponent("new/\(name)"))
    }

    func files(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: maildir.appendingPathComponent(folder).path).sorted()
    }

    @discardableResult
    func process() throws -> (MailboxProcessor.Totals, [MailboxProcessor.Line]) {
        var lines: [MailboxProcessor.Line] = []
        let totals = try processor.process(maildir: maildir) { lines.append($0) }
        return (totals, lines)
    }

    /// A Postfix-like DSN sent back to `verp`.
    static func dsn(to verp: String, recipient: String, status: String = "5.1.1", action: String = "failed",
                    diagnostic: String = "550 5.1.1 User unknown", id: String = UUID().uuidString) -> String {
        ReturnedMailTests.dsn(action: action, status: status, diagnostic: diagnostic, recipient: recipient)
            .replacingOccurrences(of: "bounces+b1.1.abc.def@example.com", with: verp)
            .replacingOccurrences(of: "Return-Path: <>\r\n", with: "Return-Path: <>\r\nMessage-ID: <\(id)@mx.example.net>\r\n")
    }
}

@Suite struct ProcessMailTests {
    @Test func aHardBounceToTheVERPAddressMarksTheSubscriberBouncedAndTheSendRow() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let verp = fixture.message(to: "grace@example.net").returnPath!
        try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "grace@example.net"), as: "1.mx:2,")
        let (totals, lines) = try fixture.process()
        #expect(totals.bounced == 1)
        #expect(lines.first?.message.contains("Hard bounce on send #1 for grace@example.net: 5.1.1 550 5.1.1 User unknown") == true)
        #expect(try fixture.store.subscriber(email: "grace@example.net")?.status == .bounced)
        #expect(try fixture.store.subscriber(email: "ada@example.net")?.status == .confirmed)
        let report = try fixture.store.report(of: fixture.store.sends()[0])
        #expect(report.hardBounced == 1 && report.delivered == 1 && report.accepted == 2)
        #expect(try fixture.files("new").isEmpty)
        #expect(try fixture.files("cur") == ["1.mx:2,S"])
        let events = try fixture.store.events(of: fixture.store.subscriber(email: "grace@example.net")!)
        #expect(events.last?.to == .bounced && events.last?.sendID == 1 && events.last?.actor == "mail")
    }

    @Test func theVERPTokenDecidesEvenWhenTheReportNamesAForwardedAddress() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let verp = fixture.message(to: "ada@example.net").returnPath!
        try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "ada.old@forwarded.example"), as: "1")
        try fixture.process()
        #expect(try fixture.store.subscriber(email: "ada@example.net")?.status == .bounced)
    }

    @Test func anAliasThatKeepsTheExtensionButChangesTheLocalPartStillAttributes() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        // Postfix's virtual_alias_maps to a local user: bounces+TOKEN@example.com arrives as hogmail+TOKEN@host.
        let verp = fixture.message(to: "grace@example.net").returnPath!.replacingOccurrences(of: "bounces+", with: "hogmail+")
            .replacingOccurrences(of: "@example.com", with: "@mx.example.com")
        try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "grace@example.net"), as: "1")
        #expect(try fixture.process().0.bounced == 1)
    }

    @Test func readingTheSameReportAgainChangesNothing() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let text = ReturnFixture.dsn(to: fixture.message(to: "grace@example.net").returnPath!, recipient: "grace@example.net",
                                     status: "4.2.2", action: "delayed", diagnostic: "452 4.2.2 over quota", id: "same")
        try fixture.deliver(text, as: "1")
        #expect(try fixture.process().0.softBounced == 1)
        // Delivered twice by the mail server, and the first copy put back in new/ by hand.
        try fixture.deliver(text, as: "2")
        try FileManager.default.moveItem(at: fixture.maildir.appendingPathComponent("cur/1:2,S"), to: fixture.maildir.appendingPathComponent("new/1"))
        let (totals, _) = try fixture.process()
        #expect(totals.duplicates == 2 && totals.softBounced == 0)
        let grace = try fixture.store.subscriber(email: "grace@example.net")!
        #expect(try fixture.store.events(of: grace).filter { $0.reason.contains("soft bounce") }.count == 1)
        #expect(try fixture.process().0.processed == 0)
    }

    @Test func aForgedVERPTokenIsLeftInNewAndChangesNothing() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let real = fixture.message(to: "grace@example.net").returnPath!
        let forged = real.replacingOccurrences(of: #"\.[A-Za-z0-9_-]+@"#, with: ".AAAAAAAAAAAAAAAAAAAAAA@", options: .regularExpression)
        try fixture.deliver(ReturnFixture.dsn(to: forged, recipient: "grace@example.net"), as: "1")
        let (totals, lines) = try fixture.process()
        #expect(totals.left == 1)
        #expect(lines[0].message.contains("damaged or forged"))
        #expect(try fixture.store.subscriber(email: "grace@example.net")?.status == .confirmed)
        #expect(try fixture.files("new") == ["1"])
    }

    @Test func aBounceWithNoSignedTokenIsNotActedOnWhateverAddressItNames() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        // Anyone can mail bounces@ a fake DSN naming a subscriber: without a token it does nothing.
        try fixture.deliver(ReturnFixture.dsn(to: "bounces@example.com", recipient: "grace@example.net"), as: "1")
        let (totals, lines) = try fixture.process()
        #expect(totals.left == 1)
        #expect(lines[0].message.contains("cannot be attributed"))
        #expect(try fixture.store.subscriber(email: "grace@example.net")?.status == .confirmed)
    }

    @Test func aReportForSomeoneNoLongerInTheStoreIsReported() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let verp = fixture.message(to: "grace@example.net").returnPath!
        try fixture.store.forget(email: "grace@example.net")
        try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "grace@example.net"), as: "1")
        let (totals, lines) = try fixture.process()
        #expect(totals.left == 1)
        #expect(lines[0].message.contains("no longer in the store"))
    }

    @Test func softBouncesOnThreeSendsInARowMakeASubscriberBounced() async throws {
        let fixture = try ReturnFixture(subscribers: ["ada@example.net"])
        let store = fixture.store
        let signer = fixture.send.signer
        let ada = try store.subscriber(email: "ada@example.net")!
        for number in 1...3 {
            let send = try store.freezeSend(issue: "issue-\(number)", contentHash: "hash-\(number)")
            let row = try store.dueRecipients(of: send, limit: 10)[0]
            try store.recordSent([(row, "<m\(number)@example.com>")])
            try store.setState(of: send, to: .completed)
            let verp = TokenSigner.verpAddress("bounces@example.com", token: signer.bounceToken(sendID: send.id, publicID: ada.publicID))
            try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "ada@example.net", status: "5.2.2", diagnostic: "552 5.2.2 Mailbox full"),
                                as: "\(number)")
            let (totals, _) = try fixture.process()
            if number < 3 {
                #expect(totals.softBounced == 1)
                #expect(try store.subscriber(email: "ada@example.net")?.status == .confirmed)
            } else {
                #expect(totals.bounced == 1)
                #expect(try store.subscriber(email: "ada@example.net")?.status == .bounced)
            }
        }
    }

    @Test func aSoftBounceBetweenGoodSendsDoesNotAddUp() async throws {
        let fixture = try ReturnFixture(subscribers: ["ada@example.net"])
        let store = fixture.store
        let ada = try store.subscriber(email: "ada@example.net")!
        for number in 1...4 {
            let send = try store.freezeSend(issue: "issue-\(number)", contentHash: "hash-\(number)")
            try store.recordSent([(try store.dueRecipients(of: send, limit: 10)[0], "<m\(number)@example.com>")])
            try store.setState(of: send, to: .completed)
            guard number != 3 else { continue }
            let verp = TokenSigner.verpAddress("bounces@example.com", token: fixture.send.signer.bounceToken(sendID: send.id, publicID: ada.publicID))
            try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "ada@example.net", status: "4.2.2", action: "delayed", diagnostic: "full"),
                                as: "\(number)")
        }
        try fixture.process()
        #expect(try store.subscriber(email: "ada@example.net")?.status == .confirmed)
    }

    @Test func aComplaintFoundThroughTheEnclosedUnsubscribeLinkMarksComplained() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let original = fixture.message(to: "ada@example.net").text
        let head = String(original[..<original.range(of: "\r\n\r\n")!.lowerBound])
        #expect(MessageHeaders(parsing: Array(head.utf8)).values("List-Unsubscribe")[0].contains("&s=1>"))
        // Feedback loops mail the list's abuse or postmaster address, and often redact the reader's address.
        try fixture.deliver("""
            From: feedbackloop@isp.example\r
            To: postmaster@example.com\r
            Subject: Abuse report\r
            Message-ID: <arf-1@isp.example>\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r
            \r
            --b\r
            Content-Type: text/plain\r
            \r
            A user reported this message as spam.\r
            --b\r
            Content-Type: message/feedback-report\r
            \r
            Feedback-Type: abuse\r
            User-Agent: ISP-FBL/2.0\r
            Version: 1\r
            \r
            --b\r
            Content-Type: text/rfc822-headers\r
            \r
            \(head.replacingOccurrences(of: "ada@example.net", with: "redacted@example.net"))\r
            \r
            --b--\r

            """, as: "1")
        let (totals, lines) = try fixture.process()
        #expect(totals.complained == 1)
        #expect(lines[0].sendID == 1)
        #expect(try fixture.store.subscriber(email: "ada@example.net")?.status == .complained)
        #expect(try fixture.store.isSuppressed("ada@example.net"))
        #expect(try fixture.store.report(of: fixture.store.sends()[0]).complained == 1)
    }

    @Test func autoRepliesAreMovedAndIgnored() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        try fixture.deliver("From: Ada <ada@example.net>\r\nTo: \(fixture.message(to: "ada@example.net").returnPath!)\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nBack Monday.\r\n", as: "1")
        let (totals, _) = try fixture.process()
        #expect(totals.ignored == 1)
        #expect(try fixture.files("cur") == ["1:2,S"])
        #expect(try fixture.store.subscriber(email: "ada@example.net")?.status == .confirmed)
    }

    @Test func aPersonsReplyStaysInNewForAPerson() async throws {
        let fixture = try ReturnFixture()
        try fixture.deliver("From: Ada <ada@example.net>\r\nSubject: Re: Issue 1\r\n\r\nThanks!\r\n", as: "1")
        let (totals, lines) = try fixture.process()
        #expect(totals.left == 1)
        #expect(lines[0].message.hasPrefix("Left in new/ for a person to read"))
        #expect(try fixture.files("new") == ["1"])
    }

    @Test func messagesToTheUnsubscribeAddressUnsubscribe() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let header = MessageHeaders(parsing: fixture.message(to: "ada@example.net").data).values("List-Unsubscribe")[0]
        let address = String(header[header.range(of: "mailto:")!.upperBound...].prefix { $0 != "?" })
        try fixture.deliver("Delivered-To: \(address)\r\nFrom: ada@example.net\r\nSubject: unsubscribe\r\n\r\n", as: "1")
        try fixture.deliver("To: unsubscribe+u1.forged.AAAA@example.com\r\nSubject: x\r\n\r\n", as: "2")
        let (totals, lines) = try fixture.process()
        #expect(totals.unsubscribed == 1 && totals.left == 1)
        #expect(lines[1].message.contains("not valid"))
        #expect(try fixture.store.subscriber(email: "ada@example.net")?.status == .unsubscribed)
    }

    @Test func aFiftyMegabyteMessageIsJudgedOnItsBeginningInBoundedTime() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        var text = Array(ReturnFixture.dsn(to: fixture.message(to: "grace@example.net").returnPath!, recipient: "grace@example.net").utf8)
        text.removeLast("--B0UND/ARY--\r\n".utf8.count)
        text += Array("--B0UND/ARY\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".utf8)
        let line = Array(String(repeating: "QUJD", count: 19).utf8) + [13, 10]
        for _ in 0..<(50 * 1024 * 1024 / line.count) { text += line }
        try Data(text).write(to: fixture.maildir.appendingPathComponent("new/huge"))
        let started = Date()
        let (totals, lines) = try fixture.process()
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(totals.bounced == 1)
        #expect(lines[0].message.contains("Hard bounce"))
    }

    @Test func twoThousandMessagesAreEachReportedOnceAndNoneIsLost() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let verp = fixture.message(to: "grace@example.net").returnPath!
        for number in 0..<2_000 {
            let text = number == 1_999 ? ReturnFixture.dsn(to: verp, recipient: "grace@example.net")
                : "From: reader\(number)@example.net\r\nSubject: Re: issue\r\n\r\nThanks!\r\n"
            try Data(text.utf8).write(to: fixture.maildir.appendingPathComponent("new/\(1_700_000_000 + number).M\(number).mx"))
        }
        var reported = Set<String>()
        let totals = try fixture.processor.process(maildir: fixture.maildir) { reported.insert($0.file) }
        #expect(reported.count == 2_000)
        #expect(totals.left == 1_999 && totals.bounced == 1)
        #expect(try fixture.files("new").count == 1_999)
        #expect(try fixture.files("cur").count == 1)
    }

    @Test func notAMaildirIsAClearError() throws {
        let fixture = try ReturnFixture()
        #expect(throws: HogMailError.self) { try fixture.processor.process(maildir: fixture.send.folder.appendingPathComponent("nowhere")) }
    }

    @Test func aConfirmationThatBouncesMarksThePendingAddressBounced() async throws {
        let fixture = try ReturnFixture()
        let consent = Subscriber.Consent(at: Date(), method: .form, source: "test form")
        let (pending, _) = try fixture.store.requestSubscription(email: "typo@example.nte", name: nil, consent: consent, actor: "test")
        // What `SubscriptionService.sendConfirmation` puts in MAIL FROM: a token with send 0.
        let verp = TokenSigner.verpAddress("bounces@example.com", token: fixture.send.signer.bounceToken(sendID: 0, publicID: pending.publicID))
        try fixture.deliver(ReturnFixture.dsn(to: verp, recipient: "typo@example.nte", status: "5.1.2", diagnostic: "Host or domain name not found"), as: "1")
        #expect(try fixture.process().0.bounced == 1)
        #expect(try fixture.store.subscriber(email: "typo@example.nte")?.status == .bounced)
    }
}

@Suite struct ReputationBreakerTests {
    /// 200 subscribers, every tenth refused with 550 during the transaction.
    func fixtureWithBadAddresses() throws -> (SendFixture, RecordingTransport) {
        let fixture = try SendFixture()
        let transport = RecordingTransport()
        for number in 0..<200 {
            let email = "reader\(number)@example.net"
            try fixture.confirmed(email)
            if number % 10 == 5 { transport.failures[email] = [.smtp(code: 550, text: "5.1.1 user unknown")] }
        }
        return (fixture, transport)
    }

    @Test func aListWhereOneInTenIsRefusedPausesTheSend() async throws {
        let (fixture, transport) = try fixtureWithBadAddresses()
        let job = fixture.job(transport)
        let (send, summary) = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))!
        guard case .breaker(let note) = summary.ending else { Issue.record("not paused by the breaker: \(summary.ending)"); return }
        #expect(note.contains("above `delivery.max_bounce_rate` (5%)"))
        #expect(note.contains("hogmail send \(send.issue) --resume --accept-risk"))
        let stored = try fixture.store.sends()[0]
        #expect(stored.state == .paused && stored.pauseKind == .breaker)
        // Judged from 20 messages on (2% of 200 is 4; at least 20): it stopped early.
        #expect(transport.delivered.count < 60)
    }

    @Test func resumingWithoutAcceptingTheRiskSendsNothing() async throws {
        let (fixture, transport) = try fixtureWithBadAddresses()
        let job = fixture.job(transport)
        _ = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))
        let before = transport.delivered.count
        await #expect(throws: BreakerPaused.self) {
            _ = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))
        }
        #expect(transport.delivered.count == before)
    }

    @Test func acceptingTheRiskGoesOnToTheEnd() async throws {
        let (fixture, transport) = try fixtureWithBadAddresses()
        let job = fixture.job(transport)
        _ = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))
        let (_, summary) = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false), acceptRisk: true)!
        #expect(summary.ending == .completed)
        #expect(transport.delivered.count == 180)
        let report = try fixture.store.report(of: fixture.store.sends()[0])
        #expect(report.hardBounced == 20 && report.accepted == 180)
    }

    @Test func bouncesProcessedDuringTheSendCountToo() async throws {
        let fixture = try SendFixture()
        for number in 0..<100 { try fixture.confirmed("reader\(number)@example.net") }
        let store = fixture.store
        // The first 40 went out in an earlier run; 6 of them bounced afterwards (15%).
        let send = try store.freezeSend(issue: fixture.issue.folder, contentHash: fixture.issue.message.contentHash)
        let first = try store.dueRecipients(of: send, limit: 40)
        try store.recordSent(first.map { ($0, "<\($0.id)@example.com>") })
        for row in first.prefix(6) {
            _ = try store.apply(DeliveryFeedback(kind: .hardBounce, sendID: send.id, publicID: row.publicID, detail: "user unknown",
                                                 source: "mail", reference: "r\(row.id)"))
        }
        try store.setState(of: send, to: .paused, note: "stopped by hand")
        let transport = RecordingTransport()
        let job = fixture.job(transport)
        let (_, summary) = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))!
        guard case .breaker = summary.ending else { Issue.record("not paused by the breaker: \(summary.ending)"); return }
        #expect(transport.delivered.count <= 2)
    }

    @Test func aHealthyListIsNotPaused() async throws {
        let fixture = try SendFixture()
        let transport = RecordingTransport()
        for number in 0..<300 {
            let email = "reader\(number)@example.net"
            try fixture.confirmed(email)
            if number == 150 { transport.failures[email] = [.smtp(code: 550, text: "5.1.1 user unknown")] }
        }
        let job = fixture.job(transport)
        let (_, summary) = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))!
        #expect(summary.ending == .completed)
    }
}

@Suite struct SendReportTests {
    @Test func unsubscribesThroughASendsLinksAreCountedForThatSend() async throws {
        let fixture = try ReturnFixture()
        try await fixture.sendIssue()
        let send = try fixture.store.sends()[0]
        let ada = try fixture.store.subscriber(email: "ada@example.net")!
        try fixture.store.suppress(publicID: ada.publicID, as: .unsubscribed, actor: "one-click", reason: "test", sendID: send.id)
        // Twice is still one person.
        try fixture.store.suppress(publicID: ada.publicID, as: .unsubscribed, actor: "one-click", reason: "test", sendID: send.id)
        let report = try fixture.store.report(of: send)
        #expect(report.unsubscribed == 1)
        #expect(report.unsubscribeRate == 0.5)
    }
}

/// The breaker through the real binary and a real SMTP server that refuses one address in ten.
@Suite struct BreakerCommandTests {
    func run(_ arguments: [String], in folder: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = KillResumeTests.binary
        process.arguments = arguments + ["--project", folder.path]
        process.environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test func theBreakerPausesTheSendAndOnlyAcceptingTheRiskGoesOn() throws {
        let server = try SMTPTestServer(["--reject-550", "bad"])
        let fixture = try SendFixture()
        for number in 0..<200 { try fixture.confirmed(number % 10 == 3 ? "bad\(number)@example.net" : "reader\(number)@example.net") }
        let file = fixture.folder.appendingPathComponent("hogmail.yml")
        let text = try String(contentsOf: file, encoding: .utf8)
            .replacingOccurrences(of: "kind: outbox", with: "kind: smtp")
            .replacingOccurrences(of: "smtp://127.0.0.1:2525", with: "smtp://127.0.0.1:\(server.port)")
            .replacingOccurrences(of: "tls: required", with: "tls: none")
            .replacingOccurrences(of: "    username:", with: "    # username:")
        try Data(text.utf8).write(to: file)

        let first = try run(["send", "1", "--yes"], in: fixture.folder)
        #expect(first.status == 75, "\(first)")
        #expect(first.stderr.contains("paused by the reputation breaker"))
        #expect(first.stderr.contains("`hogmail send 001-welcome --resume --accept-risk`") || first.stderr.contains("--resume --accept-risk"))
        let sentAtPause = try server.received().count
        #expect(sentAtPause < 150)

        // The scheduled job and a plain resume send nothing more.
        let again = try run(["send", "1"], in: fixture.folder)
        #expect(again.status == 75)
        #expect(try server.received().count == sentAtPause)

        let status = try run(["status", "1", "--format", "json"], in: fixture.folder)
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [[String: Any]]
        #expect(json[0]["state"] as? String == "paused")
        #expect((json[0]["bounceRate"] as? Double ?? 0) > 0.05)

        let resumed = try run(["send", "1", "--resume", "--accept-risk"], in: fixture.folder)
        #expect(resumed.status == 0, "\(resumed)")
        #expect(try server.received().count == 180)
        let text2 = try run(["status", "1"], in: fixture.folder).stdout
        #expect(text2.contains("bounced 20 hard, 0 soft"), "\(text2)")
        #expect(text2.contains("bounce rate 10% (pauses above 5%)"))
    }
}
