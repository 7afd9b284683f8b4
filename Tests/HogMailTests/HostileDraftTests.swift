import Foundation
import Testing

@testable import HogMail

/// Drafts written to hurt: every shape ends in an error that names the file and the line, in
/// bounded time and memory, in debug builds too (their deeper stack frames crashed first).
/// The body of `draft(_:)` starts on line 6.
@Suite struct HostileDraftTests {
    /// Generous: these finish in milliseconds; the bound only catches a return of the slow path.
    static let bound = Duration.seconds(5)

    /// The parse error and how long it took; records a failure if the draft parses.
    func refusal(_ text: String, path: String = "issues/3-x.md", sourceLocation: SourceLocation = #_sourceLocation) -> (error: HogMailError?, time: Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            _ = try DraftParser.parse(Data(text.utf8), path: path)
            Issue.record("the draft parsed, but it should have been refused", sourceLocation: sourceLocation)
            return (nil, clock.now - start)
        } catch {
            #expect(error is HogMailError, "\(error)", sourceLocation: sourceLocation)
            return (error as? HogMailError, clock.now - start)
        }
    }

    // MARK: - Markdown nesting

    @Test func listMarkersNestedTenThousandDeepOnOneLineAreRefusedWithTheLine() {
        let (error, time) = refusal(draft(String(repeating: "- ", count: 10_000) + "x"))
        #expect(error?.description == "issues/3-x.md:6: lists and quotes are nested 10000 deep; HogMail accepts at most 32 levels (email clients show little past 5). Flatten the nesting.")
        #expect(time < Self.bound)
    }

    @Test func twoHundredIndentedListLevelsAreRefusedAtTheThirtyThirdLevel() {
        // 200 levels: 2,000 would pass the 2 MB limit on their own (the indentation grows each line).
        let body = (0..<200).map { String(repeating: "  ", count: $0) + "- level \($0)" }.joined(separator: "\n")
        let (error, time) = refusal(draft(body))
        #expect(error?.line == 6 + 32)
        #expect(error?.message.hasPrefix("lists and quotes are nested 33 deep") == true)
        #expect(time < Self.bound)
    }

    @Test func blockQuotesNestedFifteenHundredDeepAreRefused() {
        let (error, time) = refusal(draft("Intro.\n\n" + String(repeating: ">", count: 1500) + " deep"))
        #expect(error?.line == 8)
        #expect(error?.message.hasPrefix("lists and quotes are nested 1500 deep") == true)
        #expect(time < Self.bound)
    }

    @Test func quotesAndListsCountTogether() {
        let (error, _) = refusal(draft(String(repeating: "> - ", count: 17) + "x"))
        #expect(error?.message.hasPrefix("lists and quotes are nested 34 deep") == true)
    }

    @Test func lazyContinuationLinesDoNotHideIndentedNesting() {
        // CommonMark keeps each item open across an unindented paragraph line, so the
        // next, indented marker still nests one deeper.
        let body = (0..<40).map { String(repeating: "  ", count: $0) + "- item\nlazy" }.joined(separator: "\n")
        let (error, _) = refusal(draft(body))
        #expect(error?.message.contains("nested 33 deep") == true)
    }

    @Test func rawHTMLNestedAHundredThousandDeepIsRefused() {
        let (error, time) = refusal(draft("Intro.\n\n" + String(repeating: "<div>", count: 100_000) + "x" + String(repeating: "</div>", count: 100_000)))
        #expect(error?.line == 8)
        #expect(error?.message.hasPrefix("HTML elements are nested more than 64 deep here") == true)
        #expect(time < Self.bound)
    }

    @Test func emphasisNestedFiftyThousandDeepIsRefused() {
        let (error, time) = refusal(draft(String(repeating: "*a ", count: 50_000) + "b" + String(repeating: " c*", count: 50_000)))
        #expect(error?.line == 6)
        #expect(error?.message.hasPrefix("emphasis, links and other inline markup are nested more than 32 deep") == true)
        #expect(time < Self.bound)
    }

    @Test func imagesNestedInImagesAreRefused() {
        let (error, _) = refusal(draft(String(repeating: "![", count: 20_000) + "x" + String(repeating: "](/a.png)", count: 20_000)))
        #expect(error?.message.contains("inline markup are nested more than 32 deep") == true)
    }

    // MARK: - Honest nesting still builds

    @Test func sixLevelsOfListsAndAQuoteStillBuild() throws {
        let body = (0..<6).map { String(repeating: "  ", count: $0) + "- level \($0)" }.joined(separator: "\n")
            + "\n\n> A quote\n>\n> > with a reply inside\n"
        let project = try TemporaryProject(drafts: ["1-honest.md": draft(body, frontMatter: "preheader: Six levels deep.\n")])
        let report = try project.build()
        let html = try #require(String(data: report.issues[0].outputs["email.html"]!, encoding: .utf8))
        #expect(html.components(separatedBy: "<ul").count - 1 == 6)
        #expect(html.contains("level 5"))
    }

    @Test func listMarkersInsideFencedCodeAreNotNesting() throws {
        let code = (0..<100).map { String(repeating: "  ", count: $0) + "- line" }.joined(separator: "\n")
        let issue = try DraftParser.parse(Data(draft("```yaml\n" + code + "\n```\n\n- after").utf8), path: "issues/3-x.md")
        #expect(issue.document.blocks.count == 2)
    }

    @Test func manySiblingListsAndQuotesDoNotAddUp() throws {
        let body = (0..<200).map { "- item \($0)\n\n> quote \($0)\n\n1. step\n\n---\n\n- - -\n" }.joined(separator: "\n")
        _ = try DraftParser.parse(Data(draft(body).utf8), path: "issues/3-x.md")
    }

    @Test func fiftySixHonestHTMLElementsStillParse() throws {
        let html = String(repeating: "<div>", count: 56) + "x" + String(repeating: "</div>", count: 56)
        let siblings = String(repeating: "<p>one<p>two<br><img src=\"/a.png\" alt=\"\"><span>three</span>", count: 500)
        _ = try DraftParser.parse(Data(draft(html + "\n\n" + siblings).utf8), path: "issues/3-x.md")
    }

    // MARK: - Front matter

    @Test func billionLaughsFrontMatterIsRefusedInMilliseconds() {
        var front = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for (previous, name) in zip("abcdefgh", "bcdefghi") {
            front += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        let (error, time) = refusal(draft("Hello.", frontMatter: front))
        #expect(error?.line == 5)
        #expect(error?.message.hasPrefix("This YAML uses the alias `*a`, and HogMail does not expand aliases") == true)
        #expect(time < .milliseconds(500))
    }

    @Test func aliasUsedAsAKeyIsRefusedBeforeItIsHashed() {
        let front = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\n? *b\n: value\n"
        let (error, _) = refusal(draft("Hello.", frontMatter: front))
        #expect(error?.line == 5)
    }

    @Test func asterisksInQuotedAndBlockTextAreNotAliases() throws {
        let front = "subject: \"*New* flags\"\npreheader: 'It''s *here*'\ndescription: |\n  *Bold* start\n  * a list in text\nnote: 2 * 3 = 6\n"
        let issue = try DraftParser.parse(Data(draft("Hello.", frontMatter: front).utf8), path: "issues/3-x.md")
        #expect(issue.subject == "*New* flags")
        #expect(issue.extraFields["note"] == "2 * 3 = 6")
    }

    @Test func flowCollectionsNestedThousandsDeepAreRefused() {
        let (error, time) = refusal(draft("Hello.", frontMatter: "tags: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"))
        #expect(error?.line == 4)
        #expect(error?.message.contains("more than 32 deep") == true)
        #expect(time < Self.bound)
    }

    @Test func blockListsNestedThousandsDeepOnOneLineAreRefused() {
        let (error, time) = refusal(draft("Hello.", frontMatter: "tags:\n  " + String(repeating: "- ", count: 20_000) + "x\n"))
        #expect(error?.line == 5)
        #expect(error?.message.hasPrefix("This YAML nests lists and groups of keys more than 64 deep") == true)
        #expect(time < Self.bound)
    }

    @Test func honestNestedFrontMatterIsRead() throws {
        let front = "author:\n  name: Ada\n  links:\n    - site: https://ada.example\n      tags: [a, [b, {c: d}]]\n"
        let issue = try DraftParser.parse(Data(draft("Hello.", frontMatter: front).utf8), path: "issues/3-x.md")
        #expect(issue.author == "links: site: https://ada.example, tags: a, b, c: d, name: Ada")
    }

    @Test func frontMatterOverSixtyFourKilobytesIsRefused() {
        let (error, _) = refusal(draft("Hello.", frontMatter: "notes: \"" + String(repeating: "a", count: 70_000) + "\"\n"))
        #expect(error?.line == 1)
        #expect(error?.message.contains("HogMail accepts up to 64 KB (65536 bytes)") == true)
    }

    // MARK: - Size

    @Test func draftOverTwoMegabytesIsRefusedWithoutReadingItAll() throws {
        let text = draft(String(repeating: "word ", count: 2_000_000))
        let project = try TemporaryProject(drafts: ["3-x.md": text])
        let clock = ContinuousClock()
        let start = clock.now
        #expect(throws: HogMailError.self) {
            try DraftParser.parse(contentsOf: project.directory.appendingPathComponent("issues/3-x.md"), displayPath: "issues/3-x.md")
        }
        do {
            _ = try DraftParser.parse(contentsOf: project.directory.appendingPathComponent("issues/3-x.md"), displayPath: "issues/3-x.md")
        } catch let error as HogMailError {
            #expect(error.file == "issues/3-x.md")
            #expect(error.message.contains("(\(text.utf8.count) bytes); HogMail accepts drafts up to 2 MB (2097152 bytes)"))
        }
        #expect(clock.now - start < Self.bound)
    }

    @Test func oneMegabyteLineWithFourteenThousandLinksIsLintedInBoundedTime() throws {
        // Each link was looked up in the whole text part, then each finding in the whole draft:
        // minutes for this line. Linear now; the bound leaves room for a debug build.
        let line = (0..<100_000).map { $0 % 7 == 0 ? "[link](https://example.com/\($0))" : "word" }.joined(separator: " ")
        let project = try TemporaryProject(drafts: ["1-long.md": draft(line)])
        // CPU time of this thread (the build runs on it): the wall clock measured the other tests
        // running beside it, 33 s alone and 81 s in a loaded full run.
        func threadCPU() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let start = threadCPU()
        let report = try BuildPipeline(options: .init(projectDirectory: project.directory, write: false)).run()
        #expect(threadCPU() - start < 90, "quadratic again?")
        #expect(report.issues[0].lint.findings.contains { $0.rule == "gmail_clipping" })
    }

    @Test func aLineOfUnclosedComponentTagsIsReadOnce() throws {
        // `<A ` never closes: each `<` used to rescan to the end (90 KB took 2.6 s, release).
        let clock = ContinuousClock()
        let start = clock.now
        let issue = try DraftParser.parse(Data(draft(String(repeating: "<A ", count: 100_000)).utf8), path: "issues/3-x.md")
        #expect(clock.now - start < Self.bound)
        #expect(!issue.document.blocks.isEmpty)
    }

    // MARK: - One bad draft beside good ones

    @Test func buildingAGoodDraftWorksBesideAHostileOne() throws {
        let project = try TemporaryProject(drafts: ["1-good.md": draft("Hello, readers."),
                                                    "2-bad.md": draft(String(repeating: "- ", count: 10_000) + "x")])
        let report = try project.build([project.directory.appendingPathComponent("issues/1-good.md").path])
        #expect(report.issues.map(\.folder) == ["1"])
        #expect(report.warnings.contains { $0.file?.hasSuffix("issues/2-bad.md") == true && $0.message.contains("nested 10000 deep") })
    }

    @Test func leavingOutBrokenDraftsKeepsTheOthersForSendDue() throws {
        let project = try TemporaryProject(drafts: ["1-good.md": draft("Hello, readers."),
                                                    "2-bad.md": draft("Hi.", frontMatter: "x: &x [a]\ny: *x\n")])
        let report = try BuildPipeline(options: .init(projectDirectory: project.directory, write: false, leaveOutBrokenDrafts: true)).run()
        #expect(report.issues.map(\.folder) == ["1"])
        #expect(report.leftOut.count == 1)
        #expect(report.leftOut.first?.location?.hasSuffix("issues/2-bad.md:5") == true)
        #expect(report.warnings.contains { $0.file?.hasSuffix("issues/2-bad.md") == true && $0.line == 5 })
    }

    @Test func withoutLeavingOutABrokenDraftStopsTheWholeBuild() throws {
        let project = try TemporaryProject(drafts: ["1-good.md": draft("Hello, readers."),
                                                    "2-bad.md": draft(String(repeating: ">", count: 1500))])
        #expect(project.buildError()?.location?.hasSuffix("issues/2-bad.md:6") == true)
    }

    // MARK: - The linter's HTML parser

    @Test func htmlNestedPastLibxmlsLimitIsMarkedIncomplete() {
        let deep = HTMLDocument(parsing: "<html><body>" + String(repeating: "<div>", count: 300) + "x" + String(repeating: "</div>", count: 300) + "<a href=\"u\">leave</a></body></html>")
        #expect(!deep.isComplete)
        #expect(deep.elements(named: "a").isEmpty)
    }

    @Test func htmlWithinLibxmlsLimitIsWalkedToTheEnd() {
        let document = HTMLDocument(parsing: "<html><body>" + String(repeating: "<div>", count: 200) + "deep" + String(repeating: "</div>", count: 200) + "<a href=\"u\">leave</a></body></html>")
        #expect(document.isComplete)
        #expect(document.elements(named: "a").count == 1)
        #expect(document.textContent(document.elements(named: "body")[0]) == "deepleave")
    }
}
