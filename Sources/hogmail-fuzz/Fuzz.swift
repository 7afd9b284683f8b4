import Foundation
import HogMail
import HogMailInbound
import HogMailServer
import HogMailStore

/// Fuzz targets for what HogMail reads from people and files: drafts (front matter + Markdown),
/// the MIME encoder (subjects, names, addresses, long lines), CSV imports and link tokens.
/// Each target checks invariants, not only "no crash": a message is CRLF-only with lines in
/// their limits, a line break never reaches a header, a random token never verifies.
///
/// Two drivers: libFuzzer (`make fuzz`, built with `-sanitize=fuzzer -DHOGMAIL_LIBFUZZER`,
/// coverage-guided) and, without that flag, a plain mutation loop over the corpus.
enum FuzzTargets {
    static let names = ["draft", "frontmatter", "mime", "csv", "token", "form", "returned", "image"]

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "draft": draft(bytes)
        case "frontmatter": frontMatter(bytes)
        case "mime": mime(bytes)
        case "csv": csv(bytes)
        case "token": token(bytes)
        case "form": form(bytes)
        case "returned": returned(bytes)
        case "image": image(bytes)
        default: fatalError("unknown fuzz target \(target); use one of \(names.joined(separator: ", "))")
        }
    }

    static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { fatalError("invariant broken: \(message())") }
    }

    // MARK: - Shared fixtures

    static let configuration: Configuration = {
        let text = Scaffold.commentedConfiguration(anchor: CalendarDate(year: 2026, month: 1, day: 7)!)
        return try! Configuration.parse(text, file: "hogmail.yml").0
    }()
    static let templates: TemplateSet = try! TemplateSet.load(directory: URL(fileURLWithPath: "/nonexistent-hogmail-templates")).0
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()
    static let store: SubscriberStore = try! SubscriberStore(path: scratch.appendingPathComponent("fuzz.sqlite").path)
    static let signer = TokenSigner(secret: String(repeating: "k", count: 40), listID: "news.example.com")

    // MARK: - Targets

    /// A draft file: parse, render, assemble the sample message, lint it (libxml2 and the rule
    /// walks); errors must be HogMail's own. Deep nesting must end in an error, not a crash.
    static func draft(_ bytes: [UInt8]) {
        do {
            let issue = try DraftParser.parse(Data(bytes), path: "issues/001-fuzz.md")
            let rendered = try IssueRenderer(configuration: configuration, templates: templates).render(issue)
            let sample = try SampleMessage(configuration: configuration, rendered: rendered)
            checkMessage(sample.eml)
            _ = try Linter().lint(LintedEmail(issue: issue, configuration: configuration, rendered: rendered, sample: sample, templates: templates))
        } catch is HogMailError {
            // A clear refusal is the right answer to a bad draft.
        } catch {
            fatalError("a draft produced an error that is not a HogMailError: \(error)")
        }
    }

    /// An image file of the project: its header read (a size, when found, is believable), and a
    /// draft showing it built; every `<img>` gets a width within the column, or an error.
    static func image(_ bytes: [UInt8]) {
        if let size = ImageHeader.read(Data(bytes))?.size {
            require((1...ImageHeader.maximumDimension).contains(size.width) && (1...ImageHeader.maximumDimension).contains(size.height),
                    "an unbelievable size \(size) was believed")
        }
        do {
            let issue = try DraftParser.parse(Data("---\ntitle: Images\ndate: 2026-01-07\n---\n\n![A picture](a.png)\n".utf8), path: "issues/001-fuzz.md")
            let rendered = try IssueRenderer(configuration: configuration, templates: templates, files: .memory(["issues/a.png": Data(bytes)])).render(issue)
            let html = rendered.contentHTML
            for match in html.matches(of: #/<img [^>]*?width="(\d+)"/#) {
                require(Int(match.output.1).map { $0 >= 1 && $0 <= Theme.standard.contentWidth } ?? false, "an image is wider than the column: \(match.output.0)")
            }
            require(rendered.imageProblems.isEmpty == html.contains("width=\""), "an image neither sized nor refused")
        } catch is HogMailError {
        } catch {
            fatalError("an image produced an error that is not a HogMailError: \(error)")
        }
    }

    /// The YAML between the `---` lines of a draft: aliases, anchors, deep flow collections and
    /// block scalars must end in a HogMail error naming a line inside the front matter, or parse.
    static func frontMatter(_ bytes: [UInt8]) {
        let yaml = String(decoding: bytes, as: UTF8.self)
        let text = "---\n\(yaml)\n---\n\nBody.\n"
        do {
            let issue = try DraftParser.parse(Data(text.utf8), path: "issues/001-fuzz.md")
            require(!issue.subject.isEmpty, "a draft without a subject parsed")
            require(!issue.subject.contains("\n") && !issue.subject.contains("\r"), "a line break reached the subject")
        } catch let error as HogMailError {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            if let line = error.line { require((1...lines).contains(line), "an error points at line \(line) of a \(lines)-line draft") }
        } catch {
            fatalError("front matter produced an error that is not a HogMailError: \(error)")
        }
    }

    /// Fields split on NUL: subject, display name, address local part, body text.
    static func mime(_ bytes: [UInt8]) {
        let fields = bytes.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let subject = fields.count > 0 ? fields[0] : ""
        let name = fields.count > 1 ? fields[1] : ""
        let local = fields.count > 2 ? fields[2] : "reader"
        let body = fields.count > 3 ? fields[3] : "Hello."
        let injected = [subject, name, local].contains { $0.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" } }
        // Addresses reach a message only from the store, which takes valid ones only.
        if !injected && !Mailbox.isValidAddress("\(local)@example.com") { return }
        let text = PersonalizedText(rendering: body)
        do {
            let template = try MessageTemplate(configuration: configuration, subject: subject, text: text,
                                               html: PersonalizedText(rendering: "<p>\(HTML.escape(body))</p>"), archiveURL: "https://example.com/a/")
            let mailbox = Mailbox(name: name.isEmpty ? nil : name, address: "\(local)@example.com")
            let message = try template.message(for: configuration.recipient(mailbox, token: "t", messageID: "<id@example.com>",
                                                                              date: Date(timeIntervalSince1970: 1_767_000_000)))
            require(!injected, "a line break or NUL in a header field was accepted")
            checkMessage(message)
        } catch is HogMailError {
            require(injected, "a message without a line break in its header fields was refused")
        } catch {
            fatalError("the encoder threw \(error)")
        }
    }

    /// A CSV file, imported as a dry run: every row is counted once, as confirmed, pending or refused.
    static func csv(_ bytes: [UInt8]) {
        let url = scratch.appendingPathComponent("import.csv")
        try! Data(bytes).write(to: url)
        do {
            let report = try store.importCSV(at: url, displayPath: "import.csv", dryRun: true)
            require(report.confirmed >= 0 && report.pending >= 0 && report.refusedTotal >= 0, "negative counts")
        } catch is HogMailError {
            // A file that cannot be imported is refused as a whole, with a reason.
        } catch {
            fatalError("the importer threw \(error)")
        }
        require((try? store.counts().values.reduce(0, +)) == 0, "a dry-run import wrote to the store")
    }

    /// A token verifies only if it is exactly the token the signer makes for the public id it
    /// names (a coverage-guided fuzzer can learn one fixed key's tokens from the comparisons,
    /// which no attacker sees); a real token with any change never verifies.
    static func token(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let publicID = try? signer.verify(text, purpose: .unsubscribe) {
            require(text == signer.unsubscribeToken(publicID: publicID), "a token that the signer never made verified: \(text.debugDescription)")
        }
        if let publicID = try? signer.verify(text, purpose: .confirm) {
            require(text.hasPrefix("c1.\(publicID)."), "a confirmation token for another id verified: \(text.debugDescription)")
        }
        let real = signer.unsubscribeToken(publicID: "p" + String(bytes.count))
        guard !bytes.isEmpty else { return }
        var changed = Array(real.utf8)
        changed[Int(bytes[0]) % changed.count] ^= max(1, bytes.last! & 0x3f)
        let tampered = String(decoding: changed, as: UTF8.self)
        if tampered != real, (try? signer.verify(tampered, purpose: .unsubscribe)) != nil {
            fatalError("a tampered token verified: \(tampered)")
        }
    }

    /// A POST body as the public server reads it: the first line is the Content-Type, the rest
    /// the body. Either a refusal of the form's own kind, or at most 32 fields of at most
    /// 4 KB each, all valid text — whatever the bytes.
    static func form(_ bytes: [UInt8]) {
        let newline = bytes.firstIndex(of: 10) ?? bytes.count
        let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
        let body = Array(bytes[min(newline + 1, bytes.count)...])
        do {
            let fields = try FormBody.fields(body, contentType: contentType)
            require(fields.count <= FormBody.maximumFields, "\(fields.count) fields were accepted")
            for (name, value) in fields {
                require(value.utf8.count <= FormBody.maximumValueBytes, "a field of \(value.utf8.count) bytes was accepted")
                require(!name.unicodeScalars.contains("\u{FFFD}") || body.contains(0xEF), "a field name that was not UTF-8 was accepted")
            }
        } catch is FormBody.Problem {
            // A refusal: the route answers 400.
        } catch {
            fatalError("the form parser threw \(error)")
        }
    }

    /// A message that came back to the bounce or unsubscribe address, whatever its bytes: read
    /// without trapping, and never attributed to a subscriber without a token the signer made.
    static func returned(_ bytes: [UInt8]) {
        let mail = ReturnedMail(bytes: bytes)
        require(mail.detail.utf8.count <= 2000, "a detail of \(mail.detail.utf8.count) bytes")
        require(mail.kind != .complaint || ["arf", "feedback-loop"].contains(mail.evidence), "a complaint recognised by \(mail.evidence)")
        let processor = MailboxProcessor(configuration: configuration, store: store, signer: signer)
        switch processor.attribute(mail) {
        case .verp(let sendID, let publicID):
            let token = signer.bounceToken(sendID: sendID, publicID: publicID)
            require(String(decoding: bytes, as: UTF8.self).contains(token), "a VERP token the bytes do not hold verified")
        case .unsubscribeToken(let publicID, _):
            require(String(decoding: bytes, as: UTF8.self).contains(signer.unsubscribeToken(publicID: publicID)), "an unsubscribe token the bytes do not hold verified")
        case .messageID, .none:
            break
        }
    }

    /// RFC 5322 shape: CRLF only, header lines ≤ 998, quoted-printable body lines ≤ 76, a blank line after the headers.
    static func checkMessage(_ message: String) {
        let bytes = Array(message.utf8)
        var lineStart = 0
        var inHeaders = true
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13 {
                require(index + 1 < bytes.count && bytes[index + 1] == 10, "a bare CR at byte \(index)")
                let length = index - lineStart
                require(length <= (inHeaders ? 998 : 76), "a line of \(length) bytes at byte \(lineStart)")
                if length == 0 { inHeaders = false }
                index += 2
                lineStart = index
                continue
            }
            require(byte != 10, "a bare LF at byte \(index)")
            if !inHeaders { require(byte < 128, "an 8-bit byte in a quoted-printable body at \(index)") }
            index += 1
        }
        require(!inHeaders, "no blank line after the headers")
    }
}
