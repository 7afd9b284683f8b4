import Testing

@testable import HogMail

@Suite struct HTMLEscapeTests {
    @Test(arguments: [
        ("plain text, é and 🦔", "plain text, é and 🦔", "plain text, é and 🦔"),
        ("a & b < c > d \"e\"", "a &amp; b &lt; c &gt; d \"e\"", "a &amp; b &lt; c &gt; d &quot;e&quot;"),
        ("&<>\"", "&amp;&lt;&gt;\"", "&amp;&lt;&gt;&quot;"),
        ("🦔&🦔", "🦔&amp;🦔", "🦔&amp;🦔"),
        ("", "", ""),
    ])
    func markupCharactersAreEscapedAndTheRestIsKept(text: String, escaped: String, attribute: String) {
        #expect(HTML.escape(text) == escaped)
        #expect(HTML.escapeAttribute(text) == attribute)
    }

    @Test func anUnsubscribeURLsBytesAreItsEscapedAttribute() {
        let url = "https://example.com/unsubscribe?t=abc-_123&s=7"
        #expect(HTML.escapedAttributeBytes(url) == Array("https://example.com/unsubscribe?t=abc-_123&amp;s=7".utf8))
        #expect(HTML.escapedAttributeBytes("https://example.com/u/abc") == nil)
    }
}
