import Foundation
import Testing

@testable import HogMail

@Suite struct MIMETests {
    @Test func asciiSubjectStaysReadable() {
        #expect(MIME.unstructured("Feature flags, explained") == "Feature flags, explained")
    }

    @Test func nonASCIISubjectBecomesEncodedWords() {
        #expect(MIME.unstructured("Café ☕") == "=?utf-8?B?Q2Fmw6kg4piV?=")
    }

    @Test func encodedWordsAreAtMost75CharactersAndSplitBetweenCharacters() {
        let subject = String(repeating: "Grüße 👩‍💻 ", count: 12)
        let words = MIME.encodedWords(subject).split(separator: " ")
        #expect(words.count > 1)
        for word in words {
            #expect(word.count <= 75)
            let base64 = word.dropFirst("=?utf-8?B?".count).dropLast(2)
            #expect(Data(base64Encoded: String(base64)).flatMap { String(data: $0, encoding: .utf8) } != nil)
        }
        let decoded = words.map { word -> String in
            let base64 = word.dropFirst("=?utf-8?B?".count).dropLast(2)
            return String(data: Data(base64Encoded: String(base64))!, encoding: .utf8)!
        }.joined()
        #expect(decoded == subject)
    }

    @Test func displayNameWithCommaIsQuoted() {
        #expect(MIME.mailbox(Mailbox(name: "Hog, Inc.", address: "a@example.com")) == #""Hog, Inc." <a@example.com>"#)
    }

    @Test func nonASCIIDisplayNameIsEncoded() {
        #expect(MIME.mailbox(Mailbox(name: "Zoë", address: "z@example.com")) == "=?utf-8?B?Wm/Dqw==?= <z@example.com>")
    }

    @Test func longHeaderFoldsAtSpacesBelow78() {
        let folded = MIME.header("List-Unsubscribe", "<https://newsletter.example.com/unsubscribe?token=abc>, <mailto:unsubscribe@example.com?subject=unsubscribe>")
        let lines = folded.components(separatedBy: "\r\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 })
        #expect(lines[1].hasPrefix(" "))
    }

    @Test func headerValueWithLineBreakIsRefused() {
        #expect(throws: HogMailError.self) { try MIME.checkHeaderValue("Hi\r\nBcc: x@example.com", header: "Subject") }
        #expect(throws: HogMailError.self) { try MIME.checkHeaderValue("nul\0", header: "To") }
    }

    @Test func headerValueWithALoneCROrLFIsRefused() {
        #expect(throws: HogMailError.self) { try MIME.checkHeaderValue("Hi\rBcc: x@example.com", header: "Subject") }
        #expect(throws: HogMailError.self) { try MIME.checkHeaderValue("Hi\nBcc: x@example.com", header: "Subject") }
        // A string bridged from NSString (on Darwin its UTF-8 need not be contiguous) is checked all the same.
        let bridged = NSString(string: "Ünïcödé\nBcc: x@example.com") as String
        #expect(throws: HogMailError.self) { try MIME.checkHeaderValue(bridged, header: "Subject") }
    }

    @Test func headerValueWithOtherControlsAndNonASCIIPasses() throws {
        // Tab, vertical tab and form feed are not line breaks in a header (RFC 5322 folds on CRLF only).
        try MIME.checkHeaderValue("a\tb\u{0B}c\u{0C}d Ünïcödé 🦔", header: "Subject")
    }

    @Test func dateIsRFC5322InTheZone() {
        let instant = Date(timeIntervalSince1970: 1_784_649_600)  // 2026-07-21 16:00 UTC
        #expect(MIME.date(instant, in: TimeZone(identifier: "Europe/London")!) == "Tue, 21 Jul 2026 17:00:00 +0100")
    }

    @Test func quotedPrintableKeepsLinesAt76AndRoundTrips() {
        let text = String(repeating: "Ünïcödé and = signs, trailing space \n", count: 3) + String(repeating: "x", count: 300) + "\nend"
        let encoded = MIME.quotedPrintable(text)
        #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 })
        #expect(!encoded.contains(" \r\n"))
        #expect(decodeQuotedPrintable(encoded) == text)
    }

    /// Found by `make fuzz` (mime target): the character before a bare CR took the last column,
    /// then the CR's =0D needed a soft break, and the line grew to 77 bytes.
    @Test func aBareCarriageReturnIsEncodedWithinTheLineLimit() {
        let text = String(repeating: "x", count: 75) + "\rxx\n" + String(repeating: "y", count: 74) + "\r"
        let encoded = MIME.quotedPrintable(text, softBreakAtEnd: true)
        #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 }, "\(encoded.components(separatedBy: "\r\n").map(\.utf8.count))")
        #expect(encoded.contains("=0D"))
        #expect(decodeQuotedPrintable(encoded) == text)
    }

    /// Found by `make fuzz` (mime target): a display name of 1,000 characters without a space
    /// could not be folded, and the To line passed RFC 5322's 998-byte limit.
    @Test func aWordTooLongToFoldIsWrittenAsEncodedWords() {
        let long = String(repeating: "!", count: 1000)
        let header = MIME.header("To", MIME.mailbox(Mailbox(name: long, address: "a@example.com")))
        #expect(header.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(header.hasPrefix("To: =?utf-8?B?"))
        let subject = MIME.header("Subject", MIME.unstructured("Look " + String(repeating: "x", count: 200)))
        #expect(subject.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(MIME.unstructured("An ordinary subject") == "An ordinary subject")
    }

    @Test func quotedPrintableNeverSplitsAnEscape() {
        let text = String(repeating: "é", count: 100)
        let encoded = MIME.quotedPrintable(text)
        for line in encoded.components(separatedBy: "\r\n") {
            #expect(line.range(of: #"=[0-9A-F]?$"#, options: .regularExpression) == nil || line.hasSuffix("="))
        }
        #expect(decodeQuotedPrintable(encoded) == text)
    }

    @Test func quotedPrintableGuardsDotAndFromAtLineStart() {
        #expect(MIME.quotedPrintable(".\nFrom here") == "=2E\r\n=46rom here")
    }

    /// Fields (URLs, addresses) take a shorter path through the encoder: it must write exactly
    /// what the general path writes, for dots at line starts, "=" across the line limit, any length.
    @Test func theFieldPathWritesWhatTheGeneralPathWrites() {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array("abc.=F-_~%?&/:@XYZ019".utf8)
        var words = ["https://newsletter.example.com/unsubscribe?token=u1.AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB",
                     String(repeating: ".", count: 200), String(repeating: "=", count: 200), "x", "."]
        // Runs that end exactly at the line limit, with a "." or "=" just after it.
        for length in [73, 74, 75, 76, 149, 150, 151] {
            words += [String(repeating: "a", count: length), String(repeating: "a", count: length) + ".b",
                      String(repeating: "a", count: length) + "=b", String(repeating: "a", count: length) + "..="]
        }
        for _ in 0..<2_000 {
            let length = Int.random(in: 1...240, using: &generator)
            words.append(String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self))
        }
        for word in words {
            var bytes = Array(word.utf8)
            var field: [UInt8] = [], general: [UInt8] = []
            bytes.withUnsafeMutableBufferPointer { buffer in
                MIME.appendQuotedPrintableWord(bytes: UnsafeBufferPointer(buffer), to: &field)
                MIME.appendQuotedPrintableText(bytes: UnsafeBufferPointer(buffer), to: &general, softBreakAtEnd: true)
            }
            #expect(field == general, "\(word)")
            #expect(decodeQuotedPrintable(String(decoding: field, as: UTF8.self)) == word)
        }
    }

    @Test func piecesWithSoftBreaksJoinToTheWhole() {
        let pieces = ["Unsubscribe: ", "https://example.com/u?token=abc", " and more text"]
        let joined = pieces.map { MIME.quotedPrintable($0, softBreakAtEnd: true) }.joined()
        #expect(decodeQuotedPrintable(joined) == pieces.joined())
    }

    @Test func messageIDIsStablePerSendAndRecipient() {
        let a = MessageTemplate.messageID(sendKey: "send-1", recipient: "Ada@example.com", domain: "example.com")
        #expect(a == MessageTemplate.messageID(sendKey: "send-1", recipient: "ada@example.com", domain: "example.com"))
        #expect(a != MessageTemplate.messageID(sendKey: "send-2", recipient: "ada@example.com", domain: "example.com"))
        #expect(a.hasPrefix("<") && a.hasSuffix("@example.com>"))
    }

    /// The freeze's byte path gives the same id as the `String` one: capitals, non-ASCII
    /// (lower-cased by Unicode's rules either way), empty.
    @Test(arguments: ["Ada@Example.COM", "ada@example.com", "ZOË@exämple.com", "İstanbul@example.com", "", "a\u{0}b@example.com"])
    func messageIDsWrittenFromBytesAreTheStringOnes(recipient: String) {
        let ids = MessageIDs(sendKey: "send-7", domain: "example.com")
        var out: [UInt8] = Array("left over from the last id".utf8)
        var bytes = Array(recipient.utf8)
        bytes.withUnsafeMutableBytes { ids.write(recipient: UnsafeRawBufferPointer($0), to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == ids.messageID(recipient: recipient))
    }

    @Test func recipientWithLineBreakInNameIsRefused() throws {
        let template = try MessageTemplate(configuration: sampleConfiguration, subject: "Hi",
                                           text: PersonalizedText(rendering: "t \(PersonalizedText.Field.unsubscribeURL.placeholder)"),
                                           html: PersonalizedText(rendering: "<p>h</p>"), archiveURL: "https://x.example/archive")
        let recipient = MessageTemplate.Recipient(mailbox: Mailbox(name: "Eve\r\nBcc: all@example.com", address: "eve@example.com"),
                                                  unsubscribeURL: "https://x.example/u", unsubscribeMailto: "mailto:u+t@x.example", messageID: "<a@b>", date: Date(), timeZone: .gmt)
        #expect(throws: HogMailError.self) { try template.message(for: recipient) }
    }

    @Test func personalizedFieldsAreFilledPerRecipient() throws {
        let template = try MessageTemplate(configuration: sampleConfiguration, subject: "Hi",
                                           text: PersonalizedText(rendering: "Leave: \(PersonalizedText.Field.unsubscribeURL.placeholder)\n"),
                                           html: PersonalizedText(rendering: "<a href=\"\(PersonalizedText.Field.unsubscribeURL.placeholder)\">x</a>\n"),
                                           archiveURL: "https://x.example/archive")
        func message(_ url: String) throws -> String {
            try template.message(for: .init(mailbox: Mailbox(address: "a@example.com"), unsubscribeURL: url, unsubscribeMailto: "mailto:u+t@x.example",
                                            messageID: "<1@example.com>", date: Date(timeIntervalSince1970: 0), timeZone: .gmt))
        }
        let one = try message("https://x.example/u?token=one&x=1")
        #expect(one.contains("List-Unsubscribe: <https://x.example/u?token=one&x=1>"))
        let parts = one.components(separatedBy: "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        #expect(decodeQuotedPrintable(parts[1]).hasPrefix("Leave: https://x.example/u?token=one&x=1\n"))
        #expect(decodeQuotedPrintable(parts[2]).hasPrefix("<a href=\"https://x.example/u?token=one&amp;x=1\">x</a>\n"))
        #expect(try message("https://x.example/u?token=two").contains("token=3Dtwo"))
    }
}

@Suite struct MIMEDateTests {
    @Test func agreesWithTheCalendarAcrossZonesAndYears() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        for zone in ["UTC", "Europe/London", "America/Los_Angeles", "Asia/Kolkata"] {
            formatter.timeZone = TimeZone(identifier: zone)!
            for seconds in stride(from: -86_400 * 400, to: 86_400 * 30_000, by: 86_400 * 37 + 3_671) {
                let instant = Date(timeIntervalSince1970: TimeInterval(seconds))
                #expect(MIME.date(instant, in: TimeZone(identifier: zone)!) == formatter.string(from: instant))
            }
        }
    }

    /// A change of standard time is a transition too: Almaty moved from +06 to +05 on
    /// 1 March 2024 (in the time zone data since 2024a).
    @Test func aChangeOfStandardTimeEndsTheKeptOffset() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let zone = TimeZone(identifier: "Asia/Almaty")!
        formatter.timeZone = zone
        for hour in 0..<72 {
            let instant = Date(timeIntervalSince1970: 1_709_164_800 + Double(hour * 3600) + 0.25)
            #expect(MIME.date(instant, in: zone) == formatter.string(from: instant), "\(instant)")
        }
    }

    /// The offset is kept until the zone's next transition: minute by minute across both of
    /// 2026's changes (Lord Howe moves by half an hour), forwards and then backwards in time,
    /// and alternating between zones, each Date line is the zone's own.
    @Test func theOffsetChangesAtEachTransitionWhateverTheOrder() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let zones = ["Europe/London", "America/New_York", "Australia/Lord_Howe"].map { TimeZone(identifier: $0)! }
        for zone in zones {
            for transition in [zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: 1_767_225_600))!,
                               zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: 1_767_225_600 + 86_400 * 200))!] {
                let minutes = Array(-90...90)
                for minute in minutes + minutes.reversed() {
                    let instant = transition.addingTimeInterval(Double(minute * 60) + 0.5)
                    formatter.timeZone = zone
                    #expect(MIME.date(instant, in: zone) == formatter.string(from: instant), "\(zone.identifier) \(instant)")
                    let other = zones[(zones.firstIndex(of: zone)! + 1) % zones.count]
                    formatter.timeZone = other
                    #expect(MIME.date(instant, in: other) == formatter.string(from: instant), "\(other.identifier) \(instant)")
                }
            }
        }
    }
}
