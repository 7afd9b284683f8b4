import Foundation
import HogMail
import Testing

@testable import HogMailInbound

/// Messages that come back, in, and what they are, out: one kind of message per test.
@Suite struct ReturnedMailTests {
    static func dsn(action: String, status: String, diagnostic: String, recipient: String = "ada@example.net",
                    encoding: String? = nil) -> String {
        var report = """
            Reporting-MTA: dns; mx.example.net\r
            Arrival-Date: Mon, 30 Nov 2026 10:00:00 +0000\r
            \r
            Final-Recipient: rfc822; \(recipient)\r
            Original-Recipient: rfc822;\(recipient)\r
            Action: \(action)\r
            Status: \(status)\r
            Diagnostic-Code: smtp; \(diagnostic)\r
            \r

            """
        if encoding == "base64" { report = Data(report.utf8).base64EncodedString(options: .lineLength76Characters) + "\r\n" }
        return """
            Return-Path: <>\r
            Delivered-To: bounces+b1.1.abc.def@example.com\r
            From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r
            Subject: Undelivered Mail Returned to Sender\r
            Auto-Submitted: auto-replied\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type=delivery-status;\r
             boundary="B0UND/ARY"\r
            \r
            This is a MIME-encapsulated message.\r
            \r
            --B0UND/ARY\r
            Content-Type: text/plain; charset=us-ascii\r
            \r
            I'm sorry to have to inform you that your message could not be delivered.\r
            \r
            --B0UND/ARY\r
            Content-Type: message/delivery-status\(encoding.map { "\r\nContent-Transfer-Encoding: \($0)" } ?? "")\r
            \r
            \(report)--B0UND/ARY\r
            Content-Type: text/rfc822-headers\r
            \r
            From: News <news@example.com>\r
            Message-ID: <abc@example.com>\r
            \r
            --B0UND/ARY--\r

            """
    }

    func read(_ text: String) -> ReturnedMail { ReturnedMail(bytes: Array(text.utf8)) }

    @Test func aFailedDSNWithA511IsAHardBounceForItsFinalRecipient() {
        let mail = read(Self.dsn(action: "failed", status: "5.1.1", diagnostic: "550 5.1.1 <Ada@example.net>: Recipient address rejected: User unknown",
                                 recipient: "Ada@Example.net"))
        #expect(mail.kind == .hardBounce)
        #expect(mail.recipient == "ada@example.net")
        #expect(mail.statusCode == "5.1.1")
        #expect(mail.detail == "550 5.1.1 <Ada@example.net>: Recipient address rejected: User unknown")
        #expect(mail.evidence == "dsn")
        #expect(mail.originalHeaders.first?.first("Message-ID") == "<abc@example.com>")
    }

    @Test func aFullMailboxIsASoftBounceEvenWhenFinal() {
        #expect(read(Self.dsn(action: "failed", status: "5.2.2", diagnostic: "552 5.2.2 Mailbox full")).kind == .softBounce)
    }

    @Test func aDelayedDSNIsASoftBounce() {
        #expect(read(Self.dsn(action: "delayed", status: "4.4.1", diagnostic: "connect to mx: Connection timed out")).kind == .softBounce)
    }

    @Test func givingUpAfterTemporaryFailuresIsASoftBounce() {
        #expect(read(Self.dsn(action: "failed", status: "4.2.0", diagnostic: "451 4.2.0 try again later")).kind == .softBounce)
    }

    @Test func aDeliveredDSNIsNotAFailure() {
        #expect(read(Self.dsn(action: "delivered", status: "2.0.0", diagnostic: "250 ok")).kind == .notFailure)
    }

    @Test func aBase64DeliveryStatusPartIsDecoded() {
        let mail = read(Self.dsn(action: "failed", status: "5.1.1", diagnostic: "550 no such user", encoding: "base64"))
        #expect(mail.kind == .hardBounce)
        #expect(mail.recipient == "ada@example.net")
    }

    @Test func aTruncatedDSNIsReadAsFarAsItGoes() {
        let whole = Self.dsn(action: "failed", status: "5.1.1", diagnostic: "550 5.1.1 user unknown")
        let cut = String(whole.prefix(upTo: whole.range(of: "Diagnostic-Code")!.lowerBound))
        let mail = read(cut)
        #expect(mail.kind == .hardBounce)
        #expect(mail.statusCode == "5.1.1")
    }

    @Test func anARFAbuseReportIsAComplaint() {
        // RFC 5965 Appendix B.1, shortened.
        let mail = read("""
            From: <abusedesk@example.com>\r
            Date: Thu, 8 Mar 2005 17:40:36 EDT\r
            Subject: FW: Earn money\r
            To: <abuse@example.net>\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type=feedback-report;\r
                 boundary="part1_13d.2e68ed54_boundary"\r
            \r
            --part1_13d.2e68ed54_boundary\r
            Content-Type: text/plain; charset="US-ASCII"\r
            Content-Transfer-Encoding: 7bit\r
            \r
            This is an email abuse report for an email message received from IP\r
            192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.\r
            \r
            --part1_13d.2e68ed54_boundary\r
            Content-Type: message/feedback-report\r
            \r
            Feedback-Type: abuse\r
            User-Agent: SomeGenerator/1.0\r
            Version: 1\r
            Original-Rcpt-To: <Reader@example.org>\r
            \r
            --part1_13d.2e68ed54_boundary\r
            Content-Type: message/rfc822\r
            Content-Disposition: inline\r
            \r
            From: <somespammer@example.net>\r
            Received: from mailserver.example.net (mailserver.example.net [192.0.2.1]) by example.com with ESMTP id M63d4137594e46; Thu, 08 Mar 2005 14:00:00 -0400\r
            To: <Undisclosed Recipients>\r
            Subject: Earn money\r
            Message-ID: 8787KJKJ3K4J3K4J3K4J3.mail@example.net\r
            \r
            Spam Spam Spam\r
            --part1_13d.2e68ed54_boundary--\r

            """)
        #expect(mail.kind == .complaint)
        #expect(mail.recipient == "reader@example.org")
        #expect(mail.evidence == "arf")
        #expect(mail.originalHeaders.first?.first("Subject") == "Earn money")
    }

    @Test func aNotSpamReportIsNotAComplaint() {
        let mail = read("Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: not-spam\r\n\r\n--x--\r\n")
        #expect(mail.kind == .notFailure)
    }

    @Test func anAutoSubmittedReplyIsAnAutoReply() {
        let mail = read("From: Ada <ada@example.net>\r\nSubject: Re: Issue 3\r\nAuto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n")
        #expect(mail.kind == .autoReply)
    }

    @Test func anOutOfOfficeSubjectIsAnAutoReply() {
        #expect(read("From: Ada <ada@example.net>\r\nSubject: Automatic reply: Issue 3\r\n\r\nAway.\r\n").kind == .autoReply)
        #expect(read("From: Ada <ada@example.net>\r\nSubject: Out of Office: Issue 3\r\n\r\nAway.\r\n").kind == .autoReply)
    }

    @Test func aQmailBounceInWordsIsAHardBounceForTheAddressItNames() {
        let mail = read("""
            From: MAILER-DAEMON@mail.example.net\r
            To: bounces+b1.1.abc.def@example.com\r
            Subject: failure notice\r
            \r
            Hi. This is the qmail-send program at mail.example.net.\r
            I'm afraid I wasn't able to deliver your message to the following addresses.\r
            This is a permanent error; I've given up. Sorry it didn't work out.\r
            \r
            <grace@example.net>:\r
            Sorry, no mailbox here by that name. (#5.1.1)\r

            """)
        #expect(mail.kind == .hardBounce)
        #expect(mail.recipient == "grace@example.net")
        #expect(mail.evidence == "heuristic")
    }

    @Test func anEximBounceNamesItsRecipientInXFailedRecipients() {
        let mail = read("""
            From: Mail Delivery System <Mailer-Daemon@mx.example.net>\r
            Subject: Mail delivery failed: returning message to sender\r
            X-Failed-Recipients: grace@example.net\r
            Auto-Submitted: auto-replied\r
            \r
            This message was created automatically by mail delivery software.\r
            \r
            A message that you sent could not be delivered to one or more of its\r
            recipients. This is a permanent error. The following address(es) failed:\r
            \r
              grace@example.net\r
                mailbox is full: retry timeout exceeded\r

            """)
        #expect(mail.kind == .softBounce)
        #expect(mail.recipient == "grace@example.net")
    }

    @Test func aPersonsReplyIsNeitherBounceNorAutoReply() {
        let mail = read("From: Ada <ada@example.net>\r\nSubject: Re: Issue 3\r\n\r\nLoved the piece on undeliverable mail. Does the user unknown case happen often?\r\n")
        #expect(mail.kind == .other)
    }

    @Test func aVacationReplyFromPostmasterIsStillAnAutoReply() {
        #expect(read("From: postmaster@example.net\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway.\r\n").kind == .autoReply)
    }

    @Test func brokenInputNeverTraps() {
        for text in ["", "\r\n\r\n", "Content-Type: multipart/report; boundary=\r\n\r\n--\r\n--\r\n",
                     "Content-Type: multipart/report; boundary=\"x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction:\r\n",
                     "Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n"] {
            _ = read(text)
        }
        // Nested a thousand deep: the parser stops at its depth limit.
        let nested = String(repeating: "Content-Type: message/rfc822\r\n\r\n", count: 1000)
        #expect(read(nested).kind == .other)
        _ = ReturnedMail(bytes: [0xFF, 0xFE, 0x00, 0x0D, 0x0A, 0x0D, 0x0A, 0xC3])
    }
}
