import Foundation
import HogMail
import Testing

@testable import HogMailDelivery

@Suite struct LinkAddTests {
    let server: LinkTestServer
    init() throws { server = try LinkTestServer() }

    func collector(_ fixture: LinkProject, allowPrivate: Bool = true) -> LinkCollector {
        // 3 s: an endless page ends the read; every other page here answers at once.
        var options = server.options(timeout: 3)
        options.allowPrivate = allowPrivate
        return LinkCollector(project: fixture.project, configuration: fixture.configuration, options: options)
    }

    @Test func aLinkGoesUnderGoodReadsWithItsTitleAndTakeAndWithoutTracking() async throws {
        let fixture = try LinkProject()
        let added = try await collector(fixture).add(server.url("/utf8?utm_source=news&keep=1&fbclid=abc#top"), take: "Worth it.", today: LinkProject.today)
        let bullet = "- [Café \\& crème: a \\[field\\] guide](\(server.url("/utf8?keep=1#top"))) – Worth it."
        #expect(added.bullet == bullet)
        #expect(fixture.text.hasSuffix("""
            ## Good reads

            - [RFC 8058](https://www.rfc-editor.org/rfc/rfc8058) — one-click unsubscribe, in four pages. Short and worth it.
            \(bullet)

            """))
        #expect(added.line == fixture.text.components(separatedBy: "\n").firstIndex(of: bullet)! + 1)
        #expect(!added.createdDraft)
    }

    @Test func titlesAreReadInTheirCharsets() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let adder = collector(fixture)
        for path in ["/latin1", "/sjis", "/og"] {
            _ = try await adder.add(server.url(path), take: nil, today: LinkProject.today)
        }
        #expect(fixture.text.hasSuffix("""
            Hello.

            ## Good reads

            - [Über die Straße – ein Bericht](\(server.url("/latin1")))
            - [日本語のページ](\(server.url("/sjis")))
            - [The "real" headline](\(server.url("/og")))

            """))
    }

    @Test func aTenThousandCharacterTitleIsCutAtAWord() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let added = try await collector(fixture).add(server.url("/long-title"), take: nil, today: LinkProject.today)
        let title = String(added.bullet.dropFirst(3).prefix { $0 != "]" })
        #expect(title.count <= PageTitle.maximumLength && title.count > 150)
        #expect(title.hasSuffix("word…"))
    }

    /// Only the head is read: a 50 MB page, or one that never ends, is read to its `</head>`.
    @Test func aHugeOrEndlessPageIsReadToTheEndOfItsHead() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let adder = collector(fixture)
        let huge = try await adder.add(server.url("/huge"), take: nil, today: LinkProject.today)
        let endless = try await adder.add(server.url("/never-ends"), take: nil, today: LinkProject.today)
        #expect(huge.bullet == "- [A very large page](\(server.url("/huge")))" && huge.notes.isEmpty)
        #expect(endless.bullet == "- [Endless](\(server.url("/never-ends")))" && endless.notes.isEmpty)
    }

    @Test func aHugePageWithoutAHeadGivesTheTitleFromItsFirstTwoMegabytes() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let added = try await collector(fixture).add(server.url("/huge-no-head"), take: nil, today: LinkProject.today)
        #expect(added.bullet == "- [A very large page](\(server.url("/huge-no-head")))")
        #expect(added.notes == ["The page is larger than 2 MB or never finished; its title was read from the first part."])
    }

    /// The checker's timeout is 3 s here (10 s by default).
    @Test func anEndlessPageWithoutAHeadGivesItsTitleAfterTheTimeout() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let added = try await collector(fixture).add(server.url("/never-ends-no-head"), take: nil, today: LinkProject.today)
        #expect(added.bullet == "- [Endless](\(server.url("/never-ends-no-head")))")
        #expect(added.notes == ["The page is larger than 2 MB or never finished; its title was read from the first part."])
    }

    @Test func aPageWithoutATitleIsNamedByItsAddress() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let added = try await collector(fixture).add(server.url("/no-title"), take: "Odd.", section: "Tutorials", today: LinkProject.today)
        #expect(added.bullet == "- [127.0.0.1/no-title](\(server.url("/no-title"))) – Odd.")
        #expect(fixture.text.hasSuffix("Hello.\n\n## Tutorials\n\n\(added.bullet)\n"))
    }

    @Test func aLinkTheDraftHasIsRefusedWithItsLine() async throws {
        let fixture = try LinkProject(body: "Intro.\n\n## Good reads\n\n- [Café](\(server.url("/utf8")))\n")
        let before = fixture.text
        do {
            _ = try await collector(fixture).add(server.url("/utf8?utm_campaign=x"), take: nil, draft: "1", today: LinkProject.today)
            Testing.Issue.record("the duplicate was added")
        } catch let error as HogMailError {
            #expect(error.file?.hasSuffix("issues/001-welcome.md") == true && error.line == 10)
            #expect(error.message == "This draft links to \(server.url("/utf8")) already, so \(server.url("/utf8?utm_campaign=x")) was not added again. Edit that line instead.")
        }
        #expect(fixture.text == before)
    }

    @Test func deadAndRefusedLinksAreNotAdded() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let before = fixture.text
        for (url, words) in [(server.url("/404"), "dead (404 Not Found)"), (server.url("/loop-a"), "redirect loop"), ("ftp://example.com/file", "only http and https")] {
            do {
                _ = try await collector(fixture).add(url, take: nil, today: LinkProject.today)
                Testing.Issue.record("\(url) was added")
            } catch let error as HogMailError {
                #expect(error.message.contains(words), "\(error)")
            }
        }
        do {
            _ = try await collector(fixture, allowPrivate: false).add(server.url("/utf8"), take: nil, today: LinkProject.today)
            Testing.Issue.record("a loopback address was fetched")
        } catch let error as HogMailError {
            #expect(error.message.contains("127.0.0.1, a loopback address") && error.message.contains("links.allow_private"))
        }
        #expect(fixture.text == before)
        #expect(try await server.stats().requests["GET /utf8"] == nil)
    }

    @Test func withoutAnUnsentDraftANewOneIsWritten() async throws {
        let fixture = try LinkProject(body: "Sent long ago.\n")
        let added = try await collector(fixture).add(server.url("/og"), take: nil, today: CalendarDate(year: 2026, month: 2, day: 1)!)
        #expect(added.createdDraft && added.draft.hasSuffix("issues/002-untitled.md"))
        let text = try String(contentsOf: fixture.folder.appendingPathComponent("issues/002-untitled.md"), encoding: .utf8)
        #expect(text.hasSuffix("## Good reads\n\n- [The \"real\" headline](\(server.url("/og")))\n"))
    }

    /// The preview's form and the command at once: the draft is read again under a lock, so one adds and the other is refused.
    @Test func twoAddsAtOnceAddTheLinkOnce() async throws {
        let fixture = try LinkProject(body: "Hello.\n")
        let adder = collector(fixture)
        let url = server.url("/slow/page?s=0.5")
        @Sendable func attempt() async -> String? {
            do {
                _ = try await adder.add(url, take: nil, draft: "1", today: LinkProject.today)
                return nil
            } catch {
                return (error as? HogMailError)?.message ?? "\(error)"
            }
        }
        async let first = attempt()
        async let second = attempt()
        let refusals = await [first, second].compactMap { $0 }
        #expect(refusals.count == 1 && refusals.first?.hasPrefix("This draft links to \(url) already") == true, "\(refusals)")
        #expect(fixture.text.components(separatedBy: "/slow/page").count == 2, "\(fixture.text)")
    }

    @Test func aFailedAddWritesNoNewDraft() async throws {
        let fixture = try LinkProject(body: "Sent long ago.\n")
        await #expect(throws: HogMailError.self) {
            try await collector(fixture).add(server.url("/404"), take: nil, today: CalendarDate(year: 2026, month: 2, day: 1)!)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.folder.appendingPathComponent("issues").path).sorted() == ["001-welcome.md"])
    }

    @Test func anAddKeepsTheByteOrderMarkAndLineEndings() async throws {
        let fixture = try LinkProject()
        let draft = "---\r\ntitle: Issue one\r\ndate: 2026-01-07\r\n---\r\n\r\nHello.\r\n"
        try Data([0xEF, 0xBB, 0xBF] + Array(draft.utf8)).write(to: fixture.draft)
        let added = try await collector(fixture).add(server.url("/og"), take: nil, today: LinkProject.today)
        let expected = draft + "\r\n## Good reads\r\n\r\n- [The \"real\" headline](\(server.url("/og")))\r\n"
        #expect(try Data(contentsOf: fixture.draft) == Data([0xEF, 0xBB, 0xBF] + Array(expected.utf8)))
        #expect(added.line == 10)
    }
}
