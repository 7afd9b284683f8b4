import Foundation
import Testing

@testable import HogMail

/// Every rule's examples are its tests: each triggering example must produce a finding
/// of that rule, each non-triggering example none. Adding a rule means adding examples.
@Suite struct LintRuleExampleTests {
    static let rules: [(String, any Rule.Type)] = Linter.rules.map { ($0.description.identifier, $0) }

    @Test(arguments: Linter.rules.map { $0.description.identifier })
    func examplesBehaveAsDocumented(identifier: String) throws {
        let rule = Linter.rules.first { $0.description.identifier == identifier }!
        let description = rule.description
        #expect(!description.triggeringExamples.isEmpty, "\(identifier) needs a triggering example")
        #expect(!description.nonTriggeringExamples.isEmpty, "\(identifier) needs a non-triggering example")
        for example in description.triggeringExamples {
            let findings = try ExampleRunner.findings(for: example, rule: rule)
            #expect(!findings.isEmpty, "\(identifier) should trigger on:\n\(example.draft)")
            #expect(findings.allSatisfy { $0.rule == identifier && $0.file != nil })
            // A problem written in the draft points at its line (the size of the whole email has none).
            if example.templates.isEmpty && example.configure == nil && identifier != "gmail_clipping" {
                #expect(findings.allSatisfy { $0.file == "issues/1-example.md" && $0.line != nil },
                        "\(identifier) should point at a draft line: \(findings.map(\.description))")
            }
        }
        for example in description.nonTriggeringExamples {
            let findings = try ExampleRunner.findings(for: example, rule: rule)
            #expect(findings.isEmpty, "\(identifier) should not trigger on:\n\(example.draft)\nbut said: \(findings.map(\.message))")
        }
    }

    @Test func identifiersAreUniqueSnakeCase() {
        let identifiers = Linter.descriptions.map(\.identifier)
        #expect(Set(identifiers).count == identifiers.count)
        #expect(identifiers.allSatisfy { $0.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil })
    }

    @Test func everyKindHasRules() {
        for kind in RuleKind.allCases { #expect(Linter.descriptions.contains { $0.kind == kind }) }
    }

    @Test func unsubscribeFamilyCannotBeSilenced() {
        for identifier in ["unsubscribe_link_html", "unsubscribe_link_text", "list_unsubscribe_header", "list_unsubscribe_post_header", "unsubscribe_hidden"] {
            #expect(Linter.description(of: identifier)?.silenceable == false, "\(identifier)")
        }
    }
}

/// Findings point at the draft line they come from.
@Suite struct LintLocationTests {
    func lint(_ draft: String) throws -> [Finding] {
        let project = try TemporaryProject(drafts: ["4-test.md": draft])
        return try BuildPipeline(options: .init(projectDirectory: project.directory, write: false)).run().issues[0].lint.findings
    }

    @Test func urgencyInTheBodyPointsAtItsLine() throws {
        let findings = try lint(draft("Intro.\n\nMore.\n\nHurry: only 2 seats left!"))
        let urgency = findings.filter { $0.rule == "false_urgency" }
        #expect(urgency.map(\.line) == [10, 10])
        #expect(urgency.allSatisfy { $0.file?.hasSuffix("issues/4-test.md") == true })
    }

    @Test func urgencyInTheSubjectPointsAtTheTitle() throws {
        let findings = try lint(draft("Intro.", title: "Last chance to read this"))
        #expect(findings.first { $0.rule == "false_urgency" }?.line == 2)
    }

    @Test func trackerLinkPointsAtItsLine() throws {
        let findings = try lint(draft("Intro.\n\n[Stats](https://www.google-analytics.com/collect?v=1)"))
        #expect(findings.first { $0.rule == "tracker_host" }?.line == 8)
    }

    @Test func relativeImageWithoutAltPointsAtItsLine() throws {
        let findings = try lint(draft("Intro.\n\n![](/img/chart.png)"))
        #expect(findings.first { $0.rule == "image_alt" }?.line == 8)
    }

    @Test func fixedDraftPasses() throws {
        let findings = try lint(draft("Intro.\n\nThe workshop has seats for everyone.", frontMatter: "preheader: The workshop is open.\n"))
        #expect(findings.isEmpty, "\(findings.map(\.description))")
    }
}

@Suite struct LintSilencingTests {
    @Test func silencedFindingIsKeptWithItsReasonAndDoesNotFail() throws {
        let project = try TemporaryProject(drafts: ["4-x.md": draft("See [the old site](http://legacy.example.org/).",
                                                                   frontMatter: "preheader: Old site.\nlint:\n  allow:\n    http_link: \"The vendor's site has no HTTPS.\"\n")])
        let issue = try project.build().issues[0]
        let finding = issue.lint.findings.first { $0.rule == "http_link" }
        #expect(finding?.silencedReason == "The vendor's site has no HTTPS.")
        #expect(finding?.description.contains("warning (silenced: The vendor's site has no HTTPS.)") == true)
        #expect(issue.lint.warningCount == 0)
    }

    @Test func silencingAnErrorLetsTheBuildThrough() throws {
        let project = try TemporaryProject(drafts: ["4-x.md": draft("Ends tonight.",
                                                                   frontMatter: "preheader: Sale.\nlint: { allow: { false_urgency: \"Quoting a spam email we received.\" } }\n")])
        #expect(try project.build().issues[0].lint.errorCount == 0)
    }

    @Test func unsubscribeRulesCannotBeSilenced() throws {
        let project = try TemporaryProject(drafts: ["4-x.md": draft("Hi.", frontMatter: "lint:\n  allow:\n    unsubscribe_hidden: \"design\"\n")])
        let error = project.buildError()
        #expect(error?.line == 6)
        #expect(error?.message.contains("cannot be silenced") == true)
    }

    @Test func unknownRuleIsAnError() throws {
        let project = try TemporaryProject(drafts: ["4-x.md": draft("Hi.", frontMatter: "lint:\n  allow:\n    htp_link: \"typo\"\n")])
        #expect(project.buildError()?.message.contains("`htp_link`, which is not a rule") == true)
    }

    @Test func unusedAllowanceIsReported() throws {
        let project = try TemporaryProject(drafts: ["4-x.md": draft("Hi.", frontMatter: "preheader: Hi.\nlint:\n  allow:\n    http_link: \"no longer needed\"\n")])
        #expect(try project.build().issues[0].lint.unusedAllowances.map(\.rule) == ["http_link"])
    }
}

@Suite struct LintOutputTests {
    @Test func jsonHasTheDocumentedFields() throws {
        let finding = Finding(rule: "http_link", severity: .warning, message: "m", file: "issues/1-a.md", line: 3, excerpt: "http://x")
        let object = try JSONSerialization.jsonObject(with: LintOutput.json([finding])) as! [String: Any]
        let row = (object["findings"] as! [[String: Any]])[0]
        #expect(row["rule"] as? String == "http_link")
        #expect(row["severity"] as? String == "warning")
        #expect(row["file"] as? String == "issues/1-a.md")
        #expect(row["line"] as? Int == 3)
        #expect(row["excerpt"] as? String == "http://x")
        #expect(row["silenced"] as? Bool == false)
        #expect(object["warnings"] as? Int == 1)
    }

    @Test func textFormatIsPathLineSeverityMessageRule() {
        let finding = Finding(rule: "http_link", severity: .error, message: "Broken.", file: "issues/1-a.md", line: 3)
        #expect(finding.description == "issues/1-a.md:3: error: Broken. [http_link]")
    }

    @Test func buildWritesLintJSON() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        try project.build()
        let object = try JSONSerialization.jsonObject(with: Data(project.read("out/1/lint.json").utf8)) as! [String: Any]
        #expect(object["errors"] as? Int == 0)
    }

    @Test func readmeListsEveryRule() throws {
        // The README's rule table is `hogmail rules --format markdown`; HOGMAIL_UPDATE_README=1 rewrites it.
        let url = repositoryRoot.appendingPathComponent("README.md")
        var readme = try String(contentsOf: url, encoding: .utf8)
        let start = "<!-- rules:start (generated by `hogmail rules --format markdown`) -->\n", end = "<!-- rules:end -->"
        let generated = LintOutput.rulesMarkdown()
        if ProcessInfo.processInfo.environment["HOGMAIL_UPDATE_README"] == "1",
           let from = readme.range(of: start), let to = readme.range(of: end) {
            readme.replaceSubrange(from.upperBound..<to.lowerBound, with: generated + "\n")
            try readme.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(readme.contains(start + generated + "\n" + end), "README's rule list is out of date: HOGMAIL_UPDATE_README=1 swift test")
    }
}
