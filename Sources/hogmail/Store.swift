import ArgumentParser
import Foundation
import HogMail
import HogMailStore

extension Hogmail {
    struct Store: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move the subscriber store between an SQLite file and a PostgreSQL server.",
            subcommands: [Copy.self])
    }
}

extension Hogmail.Store {
    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy everything in the project's store into another store: subscribers, consent, events, suppressions, sends and feedback.",
            discussion: """
            Each table is copied in one transaction, then both sides are counted and hashed; any difference is an error.
            Stop `hogmail serve` and any send first: what changes during the copy is not in it. The target must be
            empty unless --replace. Afterwards, point store.url in hogmail.yml at the target.
            Examples:
              HOGMAIL_STORE_PASSWORD=… hogmail store copy --to postgres://hogmail@db.example.com:5432/news --password-env HOGMAIL_STORE_PASSWORD
              hogmail store copy --to sqlite:backup.sqlite
              hogmail store copy --to postgres://hogmail@db.example.com/news --replace --format json
            """)

        @OptionGroup var project: ProjectOptions
        @Option(help: "The target store: postgres://USER@HOST:PORT/DATABASE, or sqlite:FILE (relative to the project).") var to: String
        @Option(help: "The environment variable holding the target server's password.") var passwordEnv: String?
        @Flag(help: "Delete everything in the target store before copying.") var replace = false
        @Option(help: "text or json.") var format: OutputFormat = .text

        func run() throws {
            try Console.run {
                let folder = Project(directory: project.directory)
                let (configuration, warnings) = try folder.configuration()
                warnings.forEach(Console.warn)
                let source = try SubscriberStore.open(folder, configuration)
                let target = try openTarget(folder)
                let reports = try StoreCopy.copy(from: source, to: target, replace: replace) { report in
                    if format == .text { Console.say("\(report.table): \(report.rows) row\(report.rows == 1 ? "" : "s") copied and checked") }
                }
                if format == .json {
                    struct Output: Encodable { var source: String; var target: String; var tables: [StoreCopy.TableReport] }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(Output(source: source.path, target: target.path, tables: reports)), as: UTF8.self))
                } else {
                    let url = target.engineKind == .sqlite ? to : target.path
                    let password = target.engineKind == .postgres && passwordEnv != nil ? ", and `store.password_env: \(passwordEnv!)`" : ""
                    print("Copied \(source.path) to \(target.path). To use it, put `store.url: \(url)`\(password) in hogmail.yml in place of the current store.path or store.url.")
                }
            }
        }

        func openTarget(_ folder: Project) throws -> SubscriberStore {
            let lower = to.lowercased()
            if lower.hasPrefix("sqlite:") {
                let path = String(to.dropFirst("sqlite:".count))
                guard !path.isEmpty else { throw HogMailError("--to sqlite: names no file. Write --to sqlite:FILE.") }
                return try SubscriberStore(path: path.hasPrefix("/") ? path : folder.directory.appendingPathComponent(path).path)
            }
            guard lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") else {
                throw HogMailError("--to names no store HogMail knows. Write --to postgres://USER@HOST:PORT/DATABASE or --to sqlite:FILE.")
            }
            var password: String?
            if let passwordEnv {
                guard let value = ProcessInfo.processInfo.environment[passwordEnv], !value.isEmpty else {
                    throw HogMailError("--password-env names \(passwordEnv), which is not set. Set it to the target server's password first.")
                }
                password = value
            }
            let location: PostgresLocation
            do { location = try PostgresLocation(url: to, password: password) } catch { throw HogMailError("--to: \(error)") }
            return try SubscriberStore(postgres: location, localFolder: folder.directory.appendingPathComponent(".hogmail").path)
        }
    }
}
