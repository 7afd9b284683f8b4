import Testing

@testable import HogMail

/// Markdown in, exact plain text out.
@Suite struct TextRendererTests {
    let renderer = TextRenderer(links: LinkResolver(site: "https://example.com"))

    func text(_ markdown: String) -> TextRenderer.Output { renderer.text(from: try! .parse(markdown)) }

    @Test func linksBecomeNumberedReferences() {
        let output = text("Read [the guide](/guide) and [RFC 8058](https://www.rfc-editor.org/rfc/rfc8058).")
        #expect(output.body == "Read the guide [1] and RFC 8058 [2].")
        #expect(output.references == ["[1] https://example.com/guide", "[2] https://www.rfc-editor.org/rfc/rfc8058"])
    }

    @Test func sameURLKeepsItsNumber() {
        let output = text("[a](https://x.example) and [b](https://x.example)")
        #expect(output.body == "a [1] and b [1]")
        #expect(output.references.count == 1)
    }

    @Test func autolinkShowsItsAddressWithoutReference() {
        let output = text("Code at <https://github.com/example/demo>.")
        #expect(output.body == "Code at https://github.com/example/demo.")
        #expect(output.references.isEmpty)
    }

    @Test func proseWrapsAt78Columns() {
        let words = Array(repeating: "newsletter", count: 20).joined(separator: " ")
        let lines = text(words).body.components(separatedBy: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.count <= 78 })
    }

    @Test func listItemsHangUnderTheirMarker() {
        let long = Array(repeating: "word", count: 20).joined(separator: " ")
        #expect(text("- \(long)").body == "- word word word word word word word word word word word word word word word\n  word word word word word")
    }

    @Test func orderedListKeepsItsStart() {
        #expect(text("3. three\n4. four").body == "3. three\n4. four")
    }

    @Test func codeBlockIsIndentedAndNeverWrapped() {
        let line = "let x = " + String(repeating: "a", count: 90)
        #expect(text("```\n\(line)\n```").body == "    " + line)
    }

    @Test func headingsAreUnderlined() {
        #expect(text("# Title\n\n## News").body == "Title\n=====\n\nNews\n----")
    }

    @Test func blockquoteIsPrefixed() {
        #expect(text("> one\n> two").body == "> one two")
    }

    @Test func imageShowsItsAlt() {
        #expect(text("![A hedgehog](/h.png)").body == "[Image: A hedgehog]")
    }

    @Test func narrowTableIsAligned() {
        #expect(text("| a | bb |\n|---|---|\n| ccc | d |").body == "a   | bb\n----+---\nccc | d")
    }

    @Test func rawHTMLKeepsItsText() {
        #expect(text("<p>Hello <b>there</b></p>").body == "Hello there")
    }
}
