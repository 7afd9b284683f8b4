import Foundation
import Testing

@testable import HogMail

@Suite struct ConfigurationTests {
    let sample = try! String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)

    func error(_ text: String) -> HogMailError? {
        do {
            _ = try Configuration.parse(text, file: "hogmail.yml")
            return nil
        } catch { return error as? HogMailError }
    }

    func without(_ line: String) -> String {
        sample.components(separatedBy: "\n").filter { !$0.hasPrefix(line) }.joined(separator: "\n")
    }

    @Test func sampleConfigurationReads() throws {
        let (configuration, warnings) = try Configuration.parse(sample, file: "hogmail.yml")
        #expect(warnings.isEmpty)
        #expect(configuration.list.from == Mailbox(name: "HogMail", address: "hogmail@example.com"))
        #expect(configuration.urls.site == "https://example.com")
        #expect(configuration.schedule.timeZone.identifier == "Europe/London")
        #expect(configuration.list.unsubscribeMailbox == "unsubscribe@example.com")
    }

    @Test func missingFromNamesTheSectionAndTheFix() {
        let error = error(without("  from:"))
        #expect(error?.file == "hogmail.yml")
        #expect(error?.message.hasPrefix("`list.from` is missing.") == true)
    }

    @Test func missingPostalAddress() {
        #expect(error(without("  postal_address:"))?.message.contains("CAN-SPAM") == true)
    }

    @Test func missingPublicURL() {
        #expect(error(without("  public:"))?.message.hasPrefix("`urls.public` is missing.") == true)
    }

    @Test func missingListSection() {
        #expect(error("urls:\n  public: https://x.example\n")?.message.contains("`list:` section is missing") == true)
    }

    @Test func fromThatIsNotAnAddressNamesItsLine() {
        let error = error(sample.replacingOccurrences(of: "from: HogMail <hogmail@example.com>", with: "from: HogMail"))
        #expect(error?.line == 7)
    }

    @Test func unknownTimezone() {
        #expect(error(sample.replacingOccurrences(of: "Europe/London", with: "Mars/Olympus"))?.message.contains("not a time zone") == true)
    }

    @Test func yamlErrorNamesTheLine() {
        #expect(error("list:\n  name: [unclosed\n")?.line != nil)
    }

    @Test func unknownKeyIsAWarningNotAnError() throws {
        let (_, warnings) = try Configuration.parse(sample + "\nlsit_typo: 1\n", file: "hogmail.yml")
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.contains("lsit_typo") == true)
    }

    @Test func missingFileSaysHowToCreateOne() {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-empty-\(UUID().uuidString)")
        do {
            _ = try Configuration.load(fromDirectory: folder)
            Issue.record("expected an error")
        } catch let error as HogMailError {
            #expect(error.message.contains("hogmail init"))
        } catch { Issue.record("\(error)") }
    }
}

@Suite struct ConfigurationCommentTests {
    @Test func hashInsideAnUnquotedValueIsPointedOut() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)
            .replacingOccurrences(of: #""2261 Market Street #4008, San Francisco, CA 94114, USA""#, with: "2261 Market Street #4008, San Francisco")
        let (configuration, warnings) = try Configuration.parse(text, file: "hogmail.yml")
        #expect(configuration.list.postalAddress == "2261 Market Street")
        #expect(warnings.map(\.line) == [9])
    }
}

@Suite struct AddressTests {
    @Test func acceptsOrdinaryAddresses() {
        for address in ["ada@example.com", "Ada.Lovelace+news@mail.example.co.uk", "o'brien@example.ie", "x@a-b.example"] {
            #expect(Mailbox.isValidAddress(address), "\(address)")
        }
    }

    @Test func refusesBrokenAddresses() {
        for address in ["", "ada", "@example.com", "ada@", "ada@example", ".ada@example.com", "ada.@example.com", "a..b@example.com",
                        "ada@-example.com", "ada@example-.com", "ada@exa mple.com", "ada@@example.com", "a\r\nb@example.com", "ada@example..com"] {
            #expect(!Mailbox.isValidAddress(address), "\(address)")
        }
    }
}

/// Issue #11, item 12: the outbox was `out/outbox`, inside the folder people publish.
@Suite struct OutboxLocationTests {
    let sample = try! String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)

    func without(_ line: String) -> String {
        sample.components(separatedBy: "\n").filter { !$0.hasPrefix(line) }.joined(separator: "\n")
    }

    @Test func theOutboxDefaultsToAFolderOutsideOut() throws {
        let (configuration, warnings) = try Configuration.parse(without("  outbox:"), file: "hogmail.yml")
        #expect(configuration.outboxPath == "outbox")
        #expect(warnings.isEmpty)
    }

    @Test(arguments: ["out/outbox", "./out/mail", "out", "outbox/../out/x"])
    func anOutboxInsideOutIsWarnedAbout(path: String) throws {
        let text = sample.replacingOccurrences(of: "outbox: { path: outbox }", with: "outbox: { path: \"\(path)\" }")
        let (configuration, warnings) = try Configuration.parse(text, file: "hogmail.yml")
        #expect(configuration.outboxPath == path)
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.hasPrefix("`transport.outbox.path` is `\(path)`, inside out/, the folder `hogmail build` writes for publishing") == true)
        #expect(warnings.first?.line != nil)
    }

    @Test func anAbsoluteOutboxInsideTheProjectsOutIsWarnedAbout() throws {
        let project = URL(fileURLWithPath: "/srv/newsletter")
        let text = sample.replacingOccurrences(of: "outbox: { path: outbox }", with: "outbox: { path: /srv/newsletter/out/outbox }")
        #expect(try Configuration.parse(text, file: "hogmail.yml", projectDirectory: project).1.count == 1)
        let outside = sample.replacingOccurrences(of: "outbox: { path: outbox }", with: "outbox: { path: /var/spool/hogmail }")
        #expect(try Configuration.parse(outside, file: "hogmail.yml", projectDirectory: project).1.isEmpty)
    }

    @Test(arguments: ["outbox", "mail/out", "outgoing", "../out"])
    func anOutboxOutsideOutIsFine(path: String) throws {
        let text = sample.replacingOccurrences(of: "outbox: { path: outbox }", with: "outbox: { path: \"\(path)\" }")
        #expect(try Configuration.parse(text, file: "hogmail.yml").1.isEmpty)
    }
}

@Suite struct BounceAddressTests {
    @Test func theBounceAddressDefaultsToBouncesAtTheFromDomain() throws {
        #expect(sampleConfiguration.list.bounceAddress == "bounces@example.com")
    }

    @Test func aBounceAddressWithAPlusIsRefusedNamingTheLine() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)
            .replacingOccurrences(of: "list:\n", with: "list:\n  bounce_address: bounces+x@example.com\n")
        #expect { try Configuration.parse(text, file: "hogmail.yml") } throws: { error in
            (error as? HogMailError).map { $0.line != nil && $0.message.contains("`+`") } ?? false
        }
    }
}

/// The SES webhook's settings, read with the configuration tests' sample and helpers.
extension ConfigurationTests {
    func withSES(_ lines: String) -> String {
        sample.replacingOccurrences(of: "    region: eu-west-1\n", with: "    region: eu-west-1\n\(lines)")
    }

    @Test func theSESWebhookSettingsAreRead() throws {
        let text = withSES("    sns_cert_hosts: [\"127.0.0.1:8081\", SNS.Test]\n    sns_topic_arns: [arn:aws:sns:eu-west-1:123456789012:hogmail-feedback]\n")
        let (configuration, warnings) = try Configuration.parse(text, file: "hogmail.yml")
        #expect(warnings.isEmpty)
        #expect(configuration.ses?.snsCertificateHosts == ["127.0.0.1:8081", "sns.test"])
        #expect(configuration.ses?.snsTopicARNs == ["arn:aws:sns:eu-west-1:123456789012:hogmail-feedback"])
    }

    @Test func aCertificateHostWithASchemeIsRefusedNamingTheLine() {
        let error = error(withSES("    sns_cert_hosts: [\"http://127.0.0.1:8081/\"]\n"))
        #expect(error?.line != nil && error?.message.contains("without a scheme or path") == true)
    }

    @Test func aTopicThatIsNotAnARNIsRefused() {
        #expect(error(withSES("    sns_topic_arns: [hogmail-feedback]\n"))?.message.contains("not an SNS topic ARN") == true)
    }

    @Test func anUnknownSESSettingIsAWarning() throws {
        let (_, warnings) = try Configuration.parse(withSES("    sns_topic: x\n"), file: "hogmail.yml")
        #expect(warnings.map(\.message).contains { $0.hasPrefix("`transport.ses.sns_topic` is not a setting HogMail knows") })
    }
}

/// `store.url` and `store.password_env`: which engine, and the mistakes said on their line.
@Suite struct StoreURLConfigurationTests {
    let sample = try! String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)

    func with(_ store: String) -> String {
        sample.replacingOccurrences(of: "store:\n  path: hogmail.sqlite\n", with: "store:\n" + store)
    }

    func error(_ text: String) -> HogMailError? {
        do {
            _ = try Configuration.parse(text, file: "hogmail.yml")
            return nil
        } catch { return error as? HogMailError }
    }

    @Test func aSqliteURLIsTheFile() throws {
        let configuration = try Configuration.parse(with("  url: sqlite:data/news.sqlite\n"), file: "hogmail.yml").0
        #expect(configuration.storePath == "data/news.sqlite")
        #expect(configuration.storeServerURL == nil)
    }

    @Test func aPostgresURLNamesTheServerAndItsPasswordVariable() throws {
        let configuration = try Configuration.parse(with("  url: postgres://hogmail@db.example.com:5432/news\n  password_env: HOGMAIL_STORE_PASSWORD\n"),
                                                    file: "hogmail.yml").0
        #expect(configuration.storeServerURL == "postgres://hogmail@db.example.com:5432/news")
        #expect(configuration.storePasswordEnvironmentVariable == "HOGMAIL_STORE_PASSWORD")
        #expect(configuration.storeURLLine != nil)
    }

    @Test func pathAndURLTogetherAreRefusedOnTheURLsLine() throws {
        let problem = try #require(error(with("  path: hogmail.sqlite\n  url: postgres://u@h/d\n")))
        #expect(problem.message.contains("Both `store.path` and `store.url`"))
        #expect(problem.line != nil)
    }

    @Test func anUnknownEngineIsRefusedWithoutRepeatingItsCredentials() throws {
        let problem = try #require(error(with("  url: mysql://root:hunter2@db/news\n")))
        #expect(problem.message.contains("names no engine HogMail knows"))
        #expect(!problem.message.contains("hunter2"))
    }

    @Test func anEmptySqliteURLAndAPasswordForAFileAreRefused() throws {
        #expect(try #require(error(with("  url: \"sqlite:\"\n"))).message.contains("with no file"))
        #expect(try #require(error(with("  path: hogmail.sqlite\n  password_env: PW\n"))).message.contains("has no password"))
    }
}
