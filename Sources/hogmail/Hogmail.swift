import ArgumentParser
import Foundation
import HogMail
import HogMailDelivery
import HogMailStore

@main
struct Hogmail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hogmail",
        abstract: "Build and send an honest Markdown newsletter.",
        version: HogMailVersion.description,
        subcommands: [Init.self, New.self, Build.self, Lint.self, Rules.self, Preview.self, Links.self, Subscribers.self, Serve.self, Send.self, Status.self, Store.self])

    /// Parses as usual; any error a command throws that is not the argument parser's own is
    /// said as a sentence by `Console`, so no command can print a Swift value.
    static func main() async {
        var command: any ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // The parser's own (help, --version, a bad option, an exit code) it prints itself.
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { exit(withError: error) }
            Console.report(Console.personError(error))
            exit(withError: ExitCode.failure)
        }
    }
}

/// Options every project command takes.
struct ProjectOptions: ParsableArguments {
    @Option(name: .long, help: "The project folder (the one with hogmail.yml).")
    var project: String = "."

    var directory: URL { URL(fileURLWithPath: project, isDirectory: true) }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The one place that prints errors and decides the exit code.
enum Console {
    static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }
    static var useColor: Bool { isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true }

    static func warn(_ warning: Warning) {
        printError(useColor ? warning.description.replacingOccurrences(of: "warning:", with: "\u{1B}[33mwarning:\u{1B}[0m") : warning.description)
    }

    /// A line on standard output, written at once: a script waiting for it (a server's "listening"
    /// line) must not wait for a buffer to fill.
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func runAsync(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch {
            report(personError(error))
            throw ExitCode.failure
        }
    }

    static func value<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ExitCode {
            throw error
        } catch {
            report(personError(error))
            throw ExitCode.failure
        }
    }

    /// Any error as a sentence: HogMail's own as it is, the transports' and the store's said
    /// for people, anything else with what to do next.
    static func personError(_ error: any Error) -> HogMailError {
        switch error {
        case let error as HogMailError: return error
        case let error as DeliveryError: return HogMailError(error.sentence)
        default:
            if let sentence = StoreErrors.sentence(for: error) { return HogMailError(sentence) }
            let text = (error as? LocalizedError)?.errorDescription ?? (error as NSError).localizedDescription
            return HogMailError("HogMail could not finish: \(text). Run the command again; if it fails the same way, report it with the command you ran.")
        }
    }

    static func report(_ error: HogMailError) {
        let prefix = useColor ? "\u{1B}[31merror:\u{1B}[0m " : "error: "
        let step = error.step.map { " (while \($0.lowercased()))" } ?? ""
        printError(prefix + error.description + step)
    }

    /// Runs a command body; a `HogMailError` becomes a message and exit code 1, never a type dump.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ExitCode {
            throw error
        } catch {
            report(personError(error))
            throw ExitCode.failure
        }
    }
}
