import Foundation
import Testing

@testable import HogMail

@Suite struct BuildPipelineTests {
    @Test func buildsEveryFileOfEveryIssue() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        let report = try project.build()
        #expect(report.issues.map(\.folder) == ["1", "2"])
        for file in ["1/email.html", "1/email.txt", "1/email.eml", "1/web.html", "2/email.eml", "index.html", "feed.xml"] {
            #expect(project.exists("out/\(file)"), "out/\(file) is missing")
        }
    }

    @Test func buildingTwiceGivesTheSameBytes() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        let first = try ["1/email.eml", "1/email.html", "2/email.txt", "index.html", "feed.xml"].map { try project.read("out/\($0)") }
        try project.build()
        let second = try ["1/email.eml", "1/email.html", "2/email.txt", "index.html", "feed.xml"].map { try project.read("out/\($0)") }
        #expect(first == second)
    }

    @Test func sampleMessageIsDatedFromTheDraft() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        #expect(try project.read("out/1/email.eml").contains("Date: Wed, 07 Jan 2026 16:00:00 +0000\r\n"))
    }

    @Test func emailHasEverythingAClientNeeds() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        let eml = try project.read("out/1/email.eml")
        let head = eml.components(separatedBy: "\r\n\r\n")[0]
        for header in ["Date", "From", "Reply-To", "To", "Subject", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version"] {
            #expect(head.components(separatedBy: "\r\n").filter { $0.hasPrefix("\(header):") }.count == 1, "\(header) must appear once")
        }
        #expect(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
        #expect(eml.range(of: "text/plain")!.lowerBound < eml.range(of: "text/html")!.lowerBound)
        #expect(!eml.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let (headerLines, bodyLines) = (head.components(separatedBy: "\r\n"), eml.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n").components(separatedBy: "\r\n"))
        #expect(headerLines.allSatisfy { $0.utf8.count <= 78 })
        #expect(bodyLines.allSatisfy { $0.utf8.count <= 76 })
    }

    @Test func htmlFollowsTheRenderingRules() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        for issue in ["1", "2"] {
            let html = try project.read("out/\(issue)/email.html")
            #expect(html.utf8.count < 90 * 1024)
            #expect(html.contains("<html lang=\"en\""))
            #expect(html.components(separatedBy: "<table").count - 1 == html.components(separatedBy: "role=\"presentation\"").count - 1)
            #expect(html.range(of: #"<img(?![^>]*\balt=)"#, options: .regularExpression) == nil)
            #expect(html.range(of: #"(href|src)="(?!https?://|mailto:|#)"#, options: .regularExpression) == nil)
            #expect(html.contains("2261 Market Street"))
            #expect(html.contains("https://newsletter.example.com/unsubscribe?token=sample"))
            // Fluid hybrid: fits a phone without <style>; a fixed 600 px table for Outlook alone.
            #expect(html.contains("style=\"width:100%;max-width:600px;"))
            #expect(html.range(of: #"[^-]width:600px"#, options: .regularExpression) == nil)
            #expect(html.contains("<!--[if mso]><table role=\"presentation\" width=\"600\""))
            #expect(html.contains("<div role=\"article\" aria-label=\"HogMail #\(issue): "))
        }
    }

    @Test func textPartHasReferencesFooterAndShortLines() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        let text = try project.read("out/1/email.txt")
        #expect(text.contains("[1] https://example.com/docs/hogmail/drafts"))
        #expect(text.contains("Unsubscribe with one click, no login: https://newsletter.example.com/unsubscribe?token=sample"))
        #expect(text.contains("2261 Market Street #4008"))
        #expect(text.contains("\n-- \nYou get this because"), "the signature separator is \"-- \", with its space")
        for line in text.components(separatedBy: "\n") where !line.hasPrefix("    ") && !line.contains("://") {
            #expect(line.unicodeScalars.count <= 78, "too long: \(line)")
        }
    }

    @Test func draftsAreBuiltOutsideThePublishedFolderAndLeftOutOfTheArchive() throws {
        let project = try TemporaryProject(drafts: ["1-out.md": draft("Sent one", title: "Published"),
                                                    "2-wip.md": draft("Not yet", title: "Work in progress", frontMatter: "draft: true\n")])
        let report = try project.build()
        #expect(report.issues.map(\.isDraft) == [false, true])
        #expect(report.issues.map(\.isPublished) == [true, false])
        #expect(!project.exists("out/2"))
        #expect(try project.read(".hogmail/unpublished/2/web.html").contains("Draft: this issue has not been sent"))
        let index = try project.read("out/index.html")
        #expect(index.contains("Published") && !index.contains("Work in progress"))
        #expect(!(try project.read("out/feed.xml")).contains("Work in progress"))
    }

    @Test func anIssueWhoseTimeHasNotComeIsUnpublishedUntilItHas() throws {
        let project = try TemporaryProject(drafts: ["1-out.md": draft("Sent one", title: "Published"),
                                                    "2-next.md": draft("Coming", title: "Next fortnight", date: "2026-02-04")])
        let before = try Date("2026-02-04T15:59:00Z", strategy: .iso8601)
        try BuildPipeline(options: .init(projectDirectory: project.directory, now: before)).run()
        #expect(!project.exists("out/2"))
        #expect(project.exists(".hogmail/unpublished/2/email.eml"))
        #expect(!(try project.read("out/index.html")).contains("Next fortnight"))
        #expect(!(try project.read("out/feed.xml")).contains("Next fortnight"))
        // Its send time (16:00 Europe/London) has come: published at the next build.
        try BuildPipeline(options: .init(projectDirectory: project.directory, now: before.addingTimeInterval(120))).run()
        #expect(project.exists("out/2/web.html"))
        #expect(try project.read("out/index.html").contains("Next fortnight"))
    }

    @Test func anIssueThatWasSentIsPublishedWhateverItsDate() throws {
        let project = try TemporaryProject(drafts: ["1-out.md": draft("Early", title: "Sent early", date: "2026-02-04")])
        let before = try Date("2026-01-30T12:00:00Z", strategy: .iso8601)
        try BuildPipeline(options: .init(projectDirectory: project.directory, now: before, sentIssues: ["1"])).run()
        #expect(try project.read("out/index.html").contains("Sent early"))
    }

    @Test func includeFuturePublishesIssuesNotYetDueButNeverDrafts() throws {
        let project = try TemporaryProject(drafts: ["1-next.md": draft("Coming", title: "Next fortnight", date: "2099-01-07"),
                                                    "2-wip.md": draft("Not yet", title: "Work in progress", frontMatter: "draft: true\n")])
        try BuildPipeline(options: .init(projectDirectory: project.directory, includeFuture: true)).run()
        #expect(project.exists("out/1/web.html") && !project.exists("out/2"))
        #expect(try project.read("out/index.html").contains("Next fortnight"))
    }

    @Test func anIssueMadeADraftAgainLeavesThePublishedFolder() throws {
        let project = try TemporaryProject(drafts: ["1-out.md": draft("Sent one", title: "Published"), "2-two.md": draft("Two", title: "Second")])
        try project.build()
        #expect(project.exists("out/2/web.html"))
        try project.write(draft("Two", title: "Second", frontMatter: "draft: true\n"), to: "issues/2-two.md")
        try project.build()
        #expect(!project.exists("out/2"))
        #expect(!(try project.read("out/index.html")).contains("Second"))
    }

    @Test func archiveIsNewestFirst() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        let index = try project.read("out/index.html")
        #expect(index.range(of: "HogMail #2")!.lowerBound < index.range(of: "HogMail #1")!.lowerBound)
        let feed = try project.read("out/feed.xml")
        #expect(feed.contains("<updated>2026-01-21T16:00:00Z</updated>"))
        // The feed's content is semantic HTML: a feed reader shows it in its own colours.
        #expect(feed.contains("<content type=\"html\">&lt;p&gt;"))
        #expect(!feed.contains("color:") && !feed.contains("role=&quot;presentation&quot;"))
    }

    @Test func existingBlogPostsBuildAsTheyAre() throws {
        let project = try TemporaryProject()
        let posts = fixtures.appendingPathComponent("blog-posts")
        for name in try FileManager.default.contentsOfDirectory(atPath: posts.path) {
            try FileManager.default.copyItem(at: posts.appendingPathComponent(name), to: project.directory.appendingPathComponent("issues/\(name)"))
        }
        let report = try project.build()
        #expect(Set(report.issues.map(\.folder)) == ["flag-pitfalls", "year-in-review", "release-notes"])
        for folder in report.issues.map(\.folder) {
            let html = try project.read("out/\(folder)/email.html")
            #expect(html.range(of: #"(href|src)="(?!https?://|mailto:|#)"#, options: .regularExpression) == nil, "relative link left in \(folder)")
            #expect(!html.contains("NewsletterForm") && !html.contains("TeamMember"))
        }
        #expect(try project.read("out/flag-pitfalls/email.html").contains("href=\"https://example.com/blog/what-is-a-product-engineer\""))
        #expect(try project.read("out/year-in-review/email.html").contains("<a href=\"https://example.com/newsletter/communication-mistakes\">What engineers get wrong"))
        #expect(try project.read("out/release-notes/email.eml").contains("Date: Tue, 05 Mar 2024 08:30:00 +0000"))
        #expect(report.warnings.contains { $0.message.contains("`rootPage` is not used") })
    }

    @Test func oneBadDraftMeansNoOutputAtAll() throws {
        let project = try TemporaryProject(drafts: ["1-good.md": draft("Fine"), "2-bad.md": draft("Body", date: "someday")])
        let error = project.buildError()
        #expect(error?.file?.hasSuffix("issues/2-bad.md") == true)
        #expect(error?.step == "Parsing drafts")
        #expect(!project.exists("out"))
    }

    @Test func failedBuildLeavesThePreviousOutputAlone() throws {
        let project = try TemporaryProject(drafts: ["1-a.md": draft("First version")])
        try project.build()
        let before = try project.read("out/1/email.html")
        try project.write(draft("Second version", date: "2026-02-30"), to: "issues/1-a.md")
        _ = project.buildError()
        #expect(try project.read("out/1/email.html") == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: project.directory.appendingPathComponent("out").path)
        #expect(leftovers.sorted() == ["1", "feed.xml", "index.html"])
    }

    @Test func unwritableOutputFolderIsAClearError() throws {
        let project = try TemporaryProject(drafts: ["1-a.md": draft("Body")])
        // A file where the output folder should be: cannot be created, whoever runs the test.
        try project.write("not a folder", to: "blocked")
        do {
            try project.build(out: project.directory.appendingPathComponent("blocked/out"))
            Issue.record("expected an error")
        } catch let error as HogMailError {
            #expect(error.message.contains("--out"))
            #expect(error.step == "Writing files")
        }
    }

    @Test func twoDraftsWithTheSameNumberAreRefused() throws {
        let project = try TemporaryProject(drafts: ["3-a.md": draft("A"), "3-b.md": draft("B")])
        #expect(project.buildError()?.message.contains("are both issue 3") == true)
    }

    @Test func relativeLinkWithoutSiteNamesTheDraftLine() throws {
        let config = try String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)
            .replacingOccurrences(of: "  site: https://example.com", with: "")
        let project = try TemporaryProject(configuration: config, drafts: ["1-a.md": draft("Intro.\n\nSee [docs](/docs).")])
        let error = project.buildError()
        #expect(error?.message.contains("1-a.md:8: error: The link `/docs` is relative") == true)
        #expect(error?.message.contains("urls.site") == true)
    }

    @Test func missingConfigurationValueStopsTheBuild() throws {
        let config = try String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)
            .components(separatedBy: "\n").filter { !$0.hasPrefix("  postal_address:") }.joined(separator: "\n")
        let project = try TemporaryProject(configuration: config, drafts: ["1-a.md": draft("Body")])
        let error = project.buildError()
        #expect(error?.file == project.directory.appendingPathComponent("hogmail.yml").path || error?.file?.hasSuffix("hogmail.yml") == true)
        #expect(error?.step == "Reading configuration")
    }

    @Test func buildingOneDraftStillRebuildsTheArchive() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        let report = try project.build([project.directory.appendingPathComponent("issues/002-feature-flags-explained.md").path])
        #expect(report.issues.map(\.folder) == ["2"])
        #expect(!project.exists("out/1"))
        #expect(try project.read("out/index.html").contains("HogMail #1"))
    }

    @Test func goldenEmailsOfTheSampleProject() throws {
        // Whole emails, reviewed when they change: HOGMAIL_UPDATE_GOLDEN=1 swift test rewrites them.
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        let golden = fixtures.appendingPathComponent("golden")
        let update = ProcessInfo.processInfo.environment["HOGMAIL_UPDATE_GOLDEN"] == "1"
        for file in ["1/email.eml", "2/email.eml", "2/email.txt", "feed.xml"] {
            let actual = try project.read("out/\(file)")
            let url = golden.appendingPathComponent(file)
            if update {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(actual.utf8).write(to: url)
            }
            let expected = try String(contentsOf: url, encoding: .utf8)
            #expect(actual == expected, "out/\(file) differs from Fixtures/golden/\(file)")
        }
    }
}
