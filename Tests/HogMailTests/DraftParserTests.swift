import Foundation
import Testing

@testable import HogMail

@Suite struct DraftParserTests {
    func parse(_ text: String, path: String = "issues/7-hello.md") throws -> HogMail.Issue {
        try DraftParser.parse(Data(text.utf8), path: path)
    }

    func error(_ text: String, path: String = "issues/7-hello.md") -> HogMailError? {
        do {
            _ = try parse(text, path: path)
            return nil
        } catch { return error as? HogMailError }
    }

    @Test func titleBecomesTheSubject() throws {
        #expect(try parse(draft("Body")).subject == "Hello")
    }

    @Test func subjectWinsOverTitle() throws {
        let issue = try parse(draft("Body", frontMatter: "subject: Inbox line\n"))
        #expect(issue.subject == "Inbox line")
        #expect(issue.title == "Hello")
    }

    @Test func numberComesFromTheFileName() throws {
        #expect(try parse(draft("Body"), path: "issues/007-hello.md").number == 7)
    }

    @Test func issueFieldWinsOverFileName() throws {
        #expect(try parse(draft("Body", frontMatter: "issue: 12\n")).number == 12)
    }

    @Test func jekyllDatePrefixIsNotAnIssueNumber() throws {
        let issue = try parse(draft("Body"), path: "issues/2023-05-10-product-engineers.md")
        #expect(issue.number == nil)
        #expect(issue.folderName == "product-engineers")
    }

    @Test func preheaderFallsBackToDescriptionThenFirstParagraph() throws {
        #expect(try parse(draft("First words.\n\nSecond.", frontMatter: "description: From description\n")).preheader == "From description")
        #expect(try parse(draft("First *words*.\n\nSecond.")).preheader == "First words.")
    }

    @Test func unknownFieldsAreKeptAndWarnedAboutWithTheirLine() throws {
        let issue = try parse(draft("Body", frontMatter: "featuredImage: /img/a.png\ntags:\n  - news\n  - flags\n"))
        #expect(issue.extraFields["featuredImage"] == "/img/a.png")
        #expect(issue.extraFields["tags"] == "news, flags")
        #expect(issue.warnings.map(\.line) == [4, 5])
        #expect(issue.warnings.first?.message.contains("featuredImage") == true)
    }

    @Test func draftFlagIsRead() throws {
        #expect(try parse(draft("Body", frontMatter: "draft: true\n")).isDraft)
    }

    @Test func dateWithTimeAndZoneIsExact() throws {
        let issue = try parse(draft("Body", date: "2026-01-07T10:30:00+01:00"))
        #expect(issue.sendTime.instant(schedule: sampleConfiguration.schedule) == Date(timeIntervalSince1970: 1_767_778_200))
    }

    @Test func dateAloneUsesTheScheduleTimeAndZone() throws {
        // 16:00 in London in January is 16:00 UTC.
        let issue = try parse(draft("Body", date: "2026-01-07"))
        #expect(issue.sendTime.instant(schedule: sampleConfiguration.schedule) == Date(timeIntervalSince1970: 1_767_801_600))
    }

    @Test func mdxComponentsAreDroppedKeepingTheirText() throws {
        let body = """
        import { SignupForm } from "components/SignupForm"

        Intro.

        <SignupForm />

        <Caption>The *new* dashboard</Caption>

        <ProductScreenshot
          imageLight={screenshotLight}
          alt="x > y"
        />

        Inline `<Code />` stays.
        """
        let issue = try parse(draft(body))
        let html = HTMLRenderer(links: LinkResolver(site: nil)).html(from: issue.document).html
        #expect(!html.contains("SignupForm") && !html.contains("ProductScreenshot") && !html.contains("Caption"))
        #expect(html.contains("The <em>new</em> dashboard"))
        #expect(html.contains("&lt;Code /&gt;"))
        #expect(issue.warnings.map(\.line) == [6, 10, 12, 14])
    }

    @Test func componentsInsideFencedCodeAreLeftAlone() throws {
        let issue = try parse(draft("```jsx\n<SignupForm />\n```"))
        #expect(issue.document.blocks == [.codeBlock(info: "jsx", code: "<SignupForm />\n", line: 2)])
        #expect(issue.warnings.isEmpty)
    }

    // MARK: - Bad input: file, line, fix

    @Test func noFrontMatter() {
        let error = error("# Just markdown\n")
        #expect(error?.line == 1)
        #expect(error?.message.contains("no front matter") == true)
    }

    @Test func unclosedFrontMatter() {
        #expect(error("---\ntitle: x\n\nBody")?.message.contains("never closed") == true)
    }

    @Test func tomlFrontMatterIsExplained() {
        #expect(error("+++\ntitle = \"x\"\n+++\nBody")?.message.contains("TOML") == true)
    }

    @Test func yamlSyntaxErrorNamesTheLine() {
        let error = error("---\ntitle: Hello\ndate: 2026-01-07\ntags: [a, b\n---\n\nBody\n")
        #expect(error?.file == "issues/7-hello.md")
        #expect(error?.line == 5)
        #expect(error?.message.contains("YAML") == true)
    }

    @Test func dateThatIsNotADate() {
        let error = error(draft("Body", date: "2026-13-01"))
        #expect(error?.description == "issues/7-hello.md:3: `date` is `2026-13-01`, which is not a date (use YYYY-MM-DD, optionally with a time: 2026-01-07T16:00:00+00:00).")
    }

    @Test func missingDate() {
        #expect(error("---\ntitle: Hi\n---\n\nBody\n")?.message.contains("no `date`") == true)
    }

    @Test func noTitleOrSubject() {
        let error = error("---\ndate: 2026-01-07\n---\n\nBody\n")
        #expect(error?.message.contains("no `title`") == true)
    }

    @Test func emptyBody() {
        let error = error("---\ntitle: Hi\ndate: 2026-01-07\n---\n\n   \n")
        #expect(error?.line == 5)
        #expect(error?.message.contains("no content") == true)
    }

    @Test func notUTF8NamesTheLine() {
        var data = Data("---\ntitle: Hi\ndate: 2026-01-07\n---\n\nCaf".utf8)
        data.append(0xE9)  // Latin-1 é
        data.append(contentsOf: Array("\n".utf8))
        #expect(throws: HogMailError.self) { try DraftParser.parse(data, path: "issues/1-x.md") }
        do { _ = try DraftParser.parse(data, path: "issues/1-x.md") } catch let error as HogMailError {
            #expect(error.line == 6)
            #expect(error.message.contains("not UTF-8"))
        } catch {}
    }

    @Test func subjectWithLineBreakIsRefused() {
        let error = error("---\ntitle: \"Hello\\nBcc: victim@example.com\"\ndate: 2026-01-07\n---\n\nBody\n")
        #expect(error?.line == 2)
        #expect(error?.message.contains("line break") == true)
    }

    @Test func reservedMarkerCharacterIsRefused() {
        #expect(error(draft("A \u{E000}unsubscribe_url\u{E000} trick"))?.message.contains("U+E000") == true)
    }

    @Test func lintAllowanceNeedsAReason() {
        #expect(error(draft("Body", frontMatter: "lint:\n  allow:\n    http_link: \"\"\n"))?.line == 6)
        let issue = try? parse(draft("Body", frontMatter: "lint:\n  allow:\n    http_link: \"The vendor has no HTTPS\"\n"))
        #expect(issue?.lintAllowances == [LintAllowance(rule: "http_link", reason: "The vendor has no HTTPS", line: 6)])
    }
}

@Suite struct RealBlogFrontMatterTests {
    func parse(_ text: String, name: String = "7-post.md") throws -> HogMail.Issue {
        try DraftParser.parse(Data(text.utf8), path: "issues/\(name)")
    }

    @Test func generatorsOwnDateFieldsAreTheDate() throws {
        for field in ["pubDate", "publishDate", "published_at", "created_at"] {
            let issue = try parse("---\ntitle: T\n\(field): 2021-11-16\n---\n\nBody.\n")
            #expect(issue.sendTime.date == CalendarDate(year: 2021, month: 11, day: 16), "\(field)")
            #expect(issue.warnings.isEmpty, "\(field)")
        }
    }

    @Test func aDateWithSlashesIsADate() throws {
        #expect(try parse("---\ntitle: T\ndate: 2025/10/01\n---\n\nBody.\n").sendTime.date == CalendarDate(year: 2025, month: 10, day: 1))
    }

    @Test func jekyllsDateInTheFileNameIsTheDateWhenTheFrontMatterHasNone() throws {
        let issue = try parse("---\ntitle: T\n---\n\nBody.\n", name: "2024-12-13-cargo.md")
        #expect(issue.sendTime.date == CalendarDate(year: 2024, month: 12, day: 13))
        #expect(issue.number == nil)
    }

    @Test func mdxCommentsAreDropped() throws {
        let (text, _) = MDXComponents.strip("## Do I need a framework? {/*do-i-need-a-framework*/}\n\nText.\n")
        #expect(text == "## Do I need a framework? \n\nText.\n")
    }
}
