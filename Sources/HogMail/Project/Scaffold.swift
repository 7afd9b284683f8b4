import Foundation

/// `hogmail init` and `hogmail new`: files written for the editor, never over theirs.
public enum Scaffold {
    /// Writes a new project into `directory`: hogmail.yml, templates/, issues/ with a first draft.
    /// Refuses if any of those files exists already. Returns the paths written.
    public static func initProject(at directory: URL, today: CalendarDate) throws -> [String] {
        let manager = FileManager.default
        var files: [(String, String)] = [(Configuration.fileName, Self.commentedConfiguration(anchor: today))]
        files += DefaultTemplates.files.map { ("templates/\($0.name)", $0.text) }
        files.append(("issues/001-welcome.md", Self.welcomeDraft(date: today)))
        for (relative, _) in files where manager.fileExists(atPath: directory.appendingPathComponent(relative).path) {
            throw HogMailError(file: directory.appendingPathComponent(relative).path, "This file exists already, and `hogmail init` never overwrites. Pick an empty folder, or move the file away.")
        }
        for (relative, text) in files {
            try writeNew(text, to: directory.appendingPathComponent(relative))
        }
        return files.map(\.0)
    }

    /// Writes the next draft: next number, next date on the cadence, section headings.
    public static func newDraft(in project: Project, configuration: Configuration, today: CalendarDate,
                                title: String?, date: CalendarDate?) throws -> URL {
        var lastNumber = 0
        var lastDate: CalendarDate?
        for file in try project.draftFiles() {
            // Only the file name and date are needed; a draft that does not parse still counts.
            let name = file.url.deletingPathExtension().lastPathComponent
            if let number = DraftParser.numberAndSlug(fromFileName: name).0 { lastNumber = max(lastNumber, number) }
            if let issue = try? DraftParser.parse(contentsOf: file.url, displayPath: file.display) {
                if let number = issue.number { lastNumber = max(lastNumber, number) }
                lastDate = max(lastDate ?? issue.sendTime.date, issue.sendTime.date)
            }
        }
        let number = lastNumber + 1
        let schedule = configuration.schedule
        let earliest = max(today, lastDate.map { $0.adding(days: 1) } ?? today)
        let sendDate = date ?? schedule.cadence.firstDate(onOrAfter: earliest, anchor: schedule.anchor)
        let heading = title ?? "Issue \(number): a title that says what is inside"
        try checkHeaderSafe(heading, path: "--title", file: nil, line: nil)
        let slug = slugify(title ?? "untitled")
        let url = project.issuesDirectory.appendingPathComponent(String(format: "%03d-%@.md", number, slug))
        let text = """
        ---
        title: \(yamlQuoted(heading))
        date: \(sendDate)
        # preheader: One sentence for the inbox preview; without it, the first paragraph is used.
        draft: true
        ---

        Hello! One or two sentences on what this issue is about.

        ## News

        ## Tutorials

        ## Good reads

        """
        try FileManager.default.createDirectory(at: project.issuesDirectory, withIntermediateDirectories: true)
        try writeNew(text, to: url)
        return url
    }

    static func slugify(_ text: String) -> String {
        let lowered = text.lowercased().folding(options: .diacriticInsensitive, locale: Locale(identifier: "en_US_POSIX"))
        let words = lowered.split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber)) })
        let slug = words.prefix(8).joined(separator: "-")
        return slug.isEmpty ? "untitled" : slug
    }

    static func yamlQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Creates the file only if it does not exist (O_EXCL), through a temporary file and a link,
    /// so a reader never sees half of it and an existing file is never replaced.
    static func writeNew(_ text: String, to url: URL) throws {
        let manager = FileManager.default
        try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        try Data(text.utf8).write(to: temporary)
        defer { unlink(temporary.path) }
        if link(temporary.path, url.path) != 0 {
            if errno == EEXIST {
                throw HogMailError(file: url.path, "This file exists already and was left as it is. Choose another title, or move the file away.")
            }
            throw HogMailError(file: url.path, "The file cannot be written: \(String(cString: strerror(errno))).")
        }
    }

    static func welcomeDraft(date: CalendarDate) -> String {
        """
        ---
        title: "Welcome to our newsletter 👋"
        date: \(date)
        preheader: What this newsletter is, how often it comes, and how to leave if it is not for you.
        ---

        Hello! This is the first issue. Every two weeks we write about what we shipped,
        what we learned, and a few links worth your time.

        ## News

        - We started a newsletter. You are reading it.

        ## Tutorials

        Build this issue yourself:

        ```sh
        hogmail build
        ```

        Read more in [our docs](/docs/newsletter).

        ## Good reads

        - [RFC 8058](https://www.rfc-editor.org/rfc/rfc8058) — one-click unsubscribe, in four pages. Short and worth it.

        """
    }

    public static func commentedConfiguration(anchor: CalendarDate) -> String {
        """
        # hogmail.yml: the project's configuration. Secrets never go here: the
        # `*_env` keys name environment variables that hold them.

        list:
          name: My Newsletter                      # shown in the footer and List-Id
          id: news.example.com                     # List-Id (RFC 2919): a domain you control
          from: My Newsletter <news@example.com>   # the honest sender
          reply_to: hello@example.com              # replies reach a person
          postal_address: 1 Example Street, Example City, 12345, Country   # CAN-SPAM
          why: You get this because you subscribed to My Newsletter at example.com.
          # unsubscribe_mailto: unsubscribe@example.com   # default: unsubscribe@ the From domain
          # language: en                                  # <html lang>

        urls:
          site: https://example.com                # relative links in drafts resolve here
          public: https://newsletter.example.com   # where `hogmail serve` answers (unsubscribe, archive)

        schedule:
          cadence: biweekly                        # weekly | biweekly
          anchor: \(anchor)                        # a date an issue went out (or will)
          time: "09:00"                            # send time, in the timezone below
          timezone: UTC                            # an IANA name, e.g. Europe/London

        store:
          path: hogmail.sqlite                     # subscribers and the send journal (one SQLite file)
          # url: postgres://hogmail@db.example.com:5432/hogmail   # instead of path: a PostgreSQL server several senders and servers share
          # password_env: HOGMAIL_STORE_PASSWORD   # names the variable holding the server's password

        secrets:
          token_key_env: HOGMAIL_SECRET            # names the variable, never the value

        transport:
          kind: outbox                             # outbox | smtp | ses
          outbox: { path: outbox }                 # one .eml file per message; never inside out/ (published)
          smtp:
            url: smtp://127.0.0.1:2525
            tls: required                          # required | implicit | none (loopback only)
            username: newsletter
            password_env: HOGMAIL_SMTP_PASSWORD
            # ca_file: relay-ca.pem                # the CA of a relay with a private CA (PEM), instead of the system's
            connections: 4
          ses:
            region: eu-west-1
            endpoint: https://email.eu-west-1.amazonaws.com
            access_key_id_env: AWS_ACCESS_KEY_ID
            secret_access_key_env: AWS_SECRET_ACCESS_KEY
            # sns_topic_arns: ["arn:aws:sns:eu-west-1:123456789012:hogmail-feedback"]   # bounces via POST /webhooks/ses (README)
          rate: { per_second: 50, per_hour: 100000 }

        test_addresses: [editor@example.com]       # `hogmail send --test` goes here

        lint:
          allow_hosts: []                          # your own analytics hosts, if any
          allow_utm: false

        # links:                                   # `hogmail links add/check` and the check before `hogmail send`
        #   allow_private: false                   # true: also fetch hosts on private or loopback addresses (an intranet)
        #   check_before_send: true                # false: `hogmail send` does not check the issue's links

        build:
          sample_recipient: Sample Reader <reader@example.com>   # addressee of out/<issue>/email.eml
          # content_width: 520                     # the email's column in px; no image is wider (change with the templates' padding)

        """
    }
}
