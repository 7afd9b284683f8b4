import Testing

@testable import HogMail

/// Markdown in, exact email HTML out.
@Suite struct MarkdownHTMLTests {
    let renderer = HTMLRenderer(links: LinkResolver(site: "https://example.com"))

    func html(_ markdown: String) -> String { renderer.html(from: try! .parse(markdown)).html }

    @Test func paragraphGetsInlineStyle() {
        #expect(html("Hello *world*") == #"<p style="margin:0 0 16px 0;font-size:16px;line-height:1.6;color:#1d1f27;">Hello <em>world</em></p>"#)
    }

    @Test func relativeLinkBecomesAbsoluteAgainstSite() {
        #expect(html("[docs](/docs/flags)").contains(#"<a href="https://example.com/docs/flags""#))
    }

    @Test func pathRelativeLinkResolvesUnderSite() {
        #expect(html("[x](guide/start.html)").contains(#"href="https://example.com/guide/start.html""#))
    }

    @Test func relativeLinkWithoutSiteIsReportedWithItsLine() {
        let result = HTMLRenderer(links: LinkResolver(site: nil)).html(from: try! .parse("Intro\n\nSee [docs](/docs)."))
        #expect(result.unresolved == [.init(url: "/docs", line: 3)])
    }

    @Test func imageWithoutAltGetsEmptyAlt() {
        #expect(html("![](/a.png)").contains(#"<img src="https://example.com/a.png" alt="""#))
    }

    @Test func imageAltIsKept() {
        #expect(html("![A hedgehog](https://cdn.example.com/h.png)").contains(#"alt="A hedgehog""#))
    }

    @Test func rawInlineHTMLIsKeptAndItsLinksResolved() {
        #expect(html(#"A <a href="/x">raw</a> link"#).contains(#"<a href="https://example.com/x">raw</a>"#))
    }

    @Test func scriptTagIsFilteredLikeGitHub() {
        #expect(html("<script>alert(1)</script>").contains("&lt;script>"))
    }

    @Test func strikethroughAndAutolink() {
        let output = html("~~old~~ see https://example.org/x")
        #expect(output.contains("<del>old</del>"))
        #expect(output.contains(#"<a href="https://example.org/x""#))
    }

    @Test func tableKeepsHeadersForScreenReaders() {
        let output = html("| a | b |\n|---|--:|\n| 1 | 2 |")
        #expect(output.contains("<th style="))
        #expect(output.contains("text-align:right;"))
        #expect(!output.contains("role="))
    }

    @Test func codeBlockIsEscaped() {
        #expect(html("```swift\nlet a = b < c\n```").contains(#"<code class="language-swift">let a = b &lt; c"#))
    }

    @Test func longCodeLinesWrapWithOverflowWrapNotTheDeprecatedWordBreak() {
        let output = html("```\nlet url = \"https://example.com/a-very-long-path\"\n```")
        #expect(output.contains("white-space:pre-wrap;overflow-wrap:break-word;word-wrap:break-word;"))
        #expect(!output.contains("word-break"))
    }

    @Test func outlookGetsCodeAsWrappingLinesBecauseItIgnoresPreWrap() {
        let output = html("```\nif a  {\n\treturn <b>\n}\n```")
        #expect(output.hasPrefix("<!--[if mso]><div style=\""))
        #expect(output.contains(">if a &nbsp;{<br>&nbsp;&nbsp;&nbsp;&nbsp;return &lt;b&gt;<br>}</div><![endif]-->\n<!--[if !mso]><!--><pre style=\""))
        #expect(output.hasSuffix("</code></pre><!--<![endif]-->"))
    }

    @Test func withoutAThemeTheHTMLIsSemanticAndHasNoColours() {
        let semantic = HTMLRenderer(links: LinkResolver(site: "https://example.com"), theme: nil)
        let markdown = "## News\n\nSee [docs](/docs) and `x`.\n\n> quoted\n\n```sh\nmake\n```\n\n---\n\n| a |\n|---|\n| b |"
        #expect(semantic.html(from: try! .parse(markdown)).html == """
            <h2>News</h2>
            <p>See <a href="https://example.com/docs">docs</a> and <code>x</code>.</p>
            <blockquote>
            <p>quoted</p>
            </blockquote>
            <pre><code class="language-sh">make
            </code></pre>
            <hr>
            <table>
            <thead><tr><th>a</th></tr></thead>
            <tbody>
            <tr><td>b</td></tr>
            </tbody>
            </table>
            """)
    }

    @Test func emojiWithJoinersSurvive() {
        #expect(html("Team 👩‍💻👨‍💻").contains("👩‍💻👨‍💻"))
    }

    @Test func nestedListAndBlockquote() {
        let output = html("- one\n  - inner\n\n> quoted")
        #expect(output.components(separatedBy: "<ul").count == 3)
        #expect(output.contains("<blockquote"))
    }
}
