import Foundation
import Testing

@testable import HogMail

@Suite struct LinkTextTests {
    // MARK: Tracking parameters

    @Test func trackingParametersGoAndTheRestStayInOrder() {
        #expect(TrackingParameters.stripped(from: "https://example.com/a?utm_source=x&id=3&fbclid=y&b=%20c&gclid=z#part")
            == "https://example.com/a?id=3&b=%20c#part")
        #expect(TrackingParameters.stripped(from: "https://example.com/a?utm_medium=email&mc_eid=1&ref_src=twsrc") == "https://example.com/a")
        #expect(TrackingParameters.stripped(from: "https://example.com/a?UTM_Campaign=x&igshid=1&_hsenc=2&msclkid=3&dclid=4&yclid=5&page=2") == "https://example.com/a?page=2")
        #expect(TrackingParameters.stripped(from: "https://example.com/search?q=utm_source") == "https://example.com/search?q=utm_source")
        #expect(TrackingParameters.stripped(from: "https://example.com/plain") == "https://example.com/plain")
    }

    // MARK: Titles

    func title(_ html: String, contentType: String? = "text/html; charset=utf-8", url: String = "https://blog.example.com/post") -> String? {
        PageTitle.extract(from: Array(html.utf8), contentType: contentType, url: url)
    }

    @Test func ogTitleWinsOverTheTitleElement() {
        #expect(title("<head><title>Home</title><meta content='Real &amp; true' property=og:title></head>") == "Real & true")
        #expect(title("<head><meta property=\"og:title\" content=\"\"><TITLE>Fallback</TITLE></head>") == "Fallback")
    }

    @Test func whitespaceAndEntitiesAreCleaned() {
        #expect(title("<title>\n  A&#160;tale\tof &#x201C;two&#x201D;\r\n cities &hellip; </title>") == "A tale of “two” cities …")
        #expect(title("<title>AT&T &unknown; &#0;</title>") == "AT&T &unknown; \u{FFFD}")
        #expect(title("<title>Soft\u{AD}hyphen for 👩\u{200D}💻 coders</title>") == "Softhyphen for 👩\u{200D}💻 coders")
    }

    @Test func siteNamesAfterABarAreTrimmed() {
        #expect(title("<title>How flags work | The Example Blog</title>") == "How flags work")
        #expect(title("<title>How flags work · Example</title>") == "How flags work")
        #expect(PageTitle.trimmingSiteName("Feature flags - explained", siteName: nil, host: "blog.example.com") == "Feature flags - explained")
        #expect(PageTitle.trimmingSiteName("Feature flags — Example Blog", siteName: nil, host: "blog.example.com") == "Feature flags")
        #expect(PageTitle.trimmingSiteName("Feature flags - The Daily", siteName: "The Daily", host: "thedaily.news") == "Feature flags")
        #expect(PageTitle.trimmingSiteName("A | B", siteName: nil, host: nil) == "A | B")
    }

    @Test func charsetsComeFromTheHeaderThenTheMetaTags() {
        let sjis: [UInt8] = Array("<meta charset=\"Shift_JIS\"><title>".utf8) + [0x93, 0xFA, 0x96, 0x7B] + Array("</title>".utf8)
        #expect(PageTitle.extract(from: sjis, contentType: "text/html", url: "https://a.example") == "日本")
        let latin: [UInt8] = Array("<title>Caf".utf8) + [0xE9] + Array("</title>".utf8)
        #expect(PageTitle.extract(from: latin, contentType: "text/html; charset=iso-8859-1", url: "https://a.example") == "Café")
        #expect(PageTitle.extract(from: latin, contentType: nil, url: "https://a.example") == "Café")
        let equiv: [UInt8] = Array("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"><title>".utf8) + [0x93, 0x68, 0x69, 0x94] + Array("</title>".utf8)
        #expect(PageTitle.extract(from: equiv, contentType: "text/html", url: "https://a.example") == "“hi”")
    }

    @Test func aLongTitleIsCutAtAWord() {
        let long = String(repeating: "lorem ipsum ", count: 1000)
        let result = title("<title>\(long)</title>")!
        #expect(result.count <= PageTitle.maximumLength && result.hasSuffix("…"))
        #expect(result.dropLast().hasSuffix("lorem") || result.dropLast().hasSuffix("ipsum"))
    }

    @Test func noTitleIsNil() {
        #expect(title("<p>nothing</p>") == nil)
        #expect(title("<titlebar>x</titlebar>") == nil)
    }

    // MARK: Writing bullets

    @Test func titlesAreEscapedForMarkdown() {
        #expect(DraftLinks.bullet(title: "[Draft] *bold* _x_ `code` <b>", url: "https://e.com/a_(b)", take: "Line\none")
            == "- [\\[Draft\\] \\*bold\\* \\_x\\_ \\`code\\` \\<b\\>](https://e.com/a_(b)) – Line one")
        #expect(DraftLinks.bullet(title: "T", url: "https://e.com/a)b", take: nil) == "- [T](<https://e.com/a)b>)")
    }

    @Test func aBulletJoinsTheListOfItsSection() {
        let text = "---\ntitle: x\n---\n\n## News\n\n- one\n\n## Good reads\n\n- two\n  more of two\n\n## End\n"
        let (result, line) = DraftLinks.appending("- new", toSection: "good reads", in: text)
        #expect(result == "---\ntitle: x\n---\n\n## News\n\n- one\n\n## Good reads\n\n- two\n  more of two\n- new\n\n## End\n")
        #expect(line == 13)
    }

    @Test func aBulletStartsAListUnderAnEmptyHeadingOrAParagraph() {
        #expect(DraftLinks.appending("- new", toSection: "News", in: "## News\n\n## Next\n").text == "## News\n\n- new\n\n## Next\n")
        #expect(DraftLinks.appending("- new", toSection: "News", in: "## News\nSome words.\n").text == "## News\nSome words.\n\n- new\n")
        #expect(DraftLinks.appending("- new", toSection: "News", in: "```\n## News\n```\n") == ("```\n## News\n```\n\n## News\n\n- new\n", 7))
    }

    @Test func linksAreFoundWithTheirLines() throws {
        let text = "---\ntitle: T\ndate: 2026-01-07\n---\n\nA paragraph that\nspans [lines](https://a.example/x) and <https://b.example>.\n\n```\nhttps://not.a.link\n```\n\n- ![chart](/img/c.png)\n"
        let issue = try DraftParser.parse(Data(text.utf8), path: "issues/1-t.md")
        let links = DraftLinks.links(of: issue, site: "https://example.com")
        #expect(links.map { "\($0.line) \($0.kind.rawValue) \($0.url)" } == [
            "7 link https://a.example/x", "7 link https://b.example", "13 image https://example.com/img/c.png",
        ])
    }

    @Test func theSameLinkIsTheSameWithoutTrackingOrTrailingSlash() {
        #expect(DraftLinks.comparisonKey("HTTPS://Example.com/a/?utm_source=x#top") == DraftLinks.comparisonKey("https://example.com/a"))
        #expect(DraftLinks.comparisonKey("https://example.com/a?id=1") != DraftLinks.comparisonKey("https://example.com/a?id=2"))
    }

    @Test func aRedirectedURLIsRewrittenOnItsLineOnly() {
        let text = "- [a](https://old.example/x) – see https://old.example/x\n- [b](https://old.example/x)\n"
        #expect(DraftLinks.replacing("https://old.example/x", with: "https://new.example/x", onLine: 2, in: text)
            == "- [a](https://old.example/x) – see https://old.example/x\n- [b](https://new.example/x)\n")
    }

    @Test func linksAllowPrivateIsReadAndChecked() throws {
        let base = "list:\n  name: N\n  id: n.example.com\n  from: N <n@example.com>\n  postal_address: 1 Street\nurls:\n  public: https://n.example.com\n"
        #expect(try Configuration.parse(base, file: "hogmail.yml").0.links.allowPrivate == false)
        #expect(try Configuration.parse(base + "links:\n  allow_private: true\n", file: "hogmail.yml").0.links.allowPrivate == true)
        #expect(throws: HogMailError(file: "hogmail.yml", line: 9, "`links.allow_private` is `maybe`, which is not true or false.")) {
            try Configuration.parse(base + "links:\n  allow_private: maybe\n", file: "hogmail.yml")
        }
    }

    @Test func aBodyCutInsideACharacterIsStillUTF8() {
        let cut = Array(Array("<title>Caf\u{E9}</title><p>\u{E9}".utf8).dropLast())
        #expect(PageTitle.extract(from: cut, contentType: "text/html", url: "https://a.example") == "Caf\u{E9}")
        let euro = Array(Array("<title>5 \u{20AC}</title>\u{20AC}".utf8).dropLast(2))
        #expect(PageTitle.extract(from: euro, contentType: nil, url: "https://a.example") == "5 \u{20AC}")
    }

    /// HTML's prescan: a UTF-16 label on a page read as bytes means UTF-8.
    @Test func aUTF16MetaCharsetMeansUTF8() {
        let page = Array("<meta charset=\"utf-16\"><title>Caf\u{E9}</title>".utf8)
        #expect(PageTitle.extract(from: page, contentType: "text/html", url: "https://a.example") == "Caf\u{E9}")
    }

    @Test func onlyDigitsMakeANumericReference() {
        #expect(title("<title>a&#+65;b &#x+41; &#-1; &#65;</title>") == "a&#+65;b &#x+41; &#-1; A")
    }

    @Test func aRewriteTakesOnlyTheWholeAddress() {
        let text = "See [v2](https://x.example/docs/v2) and [old](https://x.example/docs) or https://x.example/docs.\n"
        #expect(DraftLinks.replacing("https://x.example/docs", with: "https://x.example/new", onLine: 1, in: text)
            == "See [v2](https://x.example/docs/v2) and [old](https://x.example/new) or https://x.example/docs.\n")
        #expect(DraftLinks.replacing("https://x.example/docs", with: "https://x.example/new", onLine: 1, in: "Bare https://x.example/docs. and https://x.example/docs/v2\n")
            == "Bare https://x.example/new. and https://x.example/docs/v2\n")
        #expect(DraftLinks.replacing("https://x.example/d", with: "https://x.example/new", onLine: 1, in: text) == nil)
        #expect(DraftLinks.replacing("https://x.example/docs", with: "https://x.example/new", onLine: 2, in: "x\r\n[https://x.example/docs](https://x.example/docs)\r\n")
            == "x\r\n[https://x.example/docs](https://x.example/new)\r\n")
    }

    @Test func aLinkIsLookedForOnlyOnItsBlocksLines() throws {
        let text = "---\ntitle: T\ndate: 2026-01-07\n---\n\n[a](https://e.example/?a=1&amp;b=2)\n\nLater <https://e.example/?a=1&b=2>\n"
        let issue = try DraftParser.parse(Data(text.utf8), path: "issues/1-t.md")
        #expect(DraftLinks.links(of: issue, site: nil).map(\.line) == [6, 8])
    }

    @Test func aRedirectedAddressIsEscapedForMarkdown() {
        #expect(DraftLinks.linkDestination("https://s.example/new)*https://evil.example/* \"x\"<b>\\") == "https://s.example/new%29*https://evil.example/*%20%22x%22%3Cb%3E%5C")
    }
}
