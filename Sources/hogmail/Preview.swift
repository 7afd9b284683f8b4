import ArgumentParser
import Foundation
import HogMail
import HogMailServer
import Hummingbird

extension Hogmail {
    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show drafts in the browser as subscribers will get them, updated on every save.",
            discussion: """
            The page shows the email at desktop and phone width and in dark mode, the plain-text part, the headers and size, and the lint findings; it updates within a second when a draft, a template or hogmail.yml changes. A button sends a test to `test_addresses`.

            Examples:
              hogmail preview                 # the list of drafts
              hogmail preview 3 --open        # issue 3, opened in the browser
            """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "A draft (path or issue number); without one, the list of all drafts.") var draft: String?
        @Option(help: "The address to listen on. Keep 127.0.0.1: the preview shows unpublished drafts and can send tests.") var host: String = "127.0.0.1"
        @Option(help: "The port to listen on (0: any free port).") var port: Int = 4040
        @Flag(help: "Open the page in the browser.") var open = false

        func run() async throws {
            let project = Project(directory: self.project.directory)
            let (path, listName) = try Console.value { () throws -> (String, String) in
                let listName = try project.configuration().0.list.name
                guard let draft else { return ("/", listName) }
                let file = try project.draftFile(forArgument: draft)
                guard file.url.deletingLastPathComponent().standardizedFileURL.path == project.issuesDirectory.standardizedFileURL.path else {
                    throw HogMailError(file: draft, "The preview shows the drafts in the project's issues/ folder. Move the draft there, or run the preview from its project with --project.")
                }
                return ("/drafts/" + (file.url.lastPathComponent.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? file.url.lastPathComponent), listName)
            }
            let loopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
            if !loopback {
                Console.warn(Warning("The preview listens on \(host): anyone who can reach it sees unpublished drafts and can send tests. Prefer 127.0.0.1."))
            }
            let server = PreviewServer(project: project, host: host, port: port, testSender: PreviewServer.projectTestSender(project))
            let host = self.host
            let open = self.open
            try await server.application { actual in
                let shownHost = host.contains(":") ? "[\(host)]" : host
                let url = "http://\(shownHost):\(actual)\(path)"
                // Written straight to the file descriptor: a script waiting for this line must not wait for a buffer.
                FileHandle.standardOutput.write(Data("Previewing \(listName) at \(url) (stop with Ctrl-C).\n".utf8))
                if open { Self.openBrowser(url) }
            }.runService()
        }

        static func openBrowser(_ url: String) {
            let candidates = ["/usr/bin/xdg-open", "/usr/bin/sensible-browser", "/usr/bin/open"]
            guard let opener = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                Console.warn(Warning("No browser opener (xdg-open) was found; open \(url) yourself."))
                return
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: opener)
            process.arguments = [url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { Console.warn(Warning("\(opener) could not be started (\(error)); open \(url) yourself.")) }
        }
    }
}
