import Foundation
import HogMail
import Testing

/// What a person sees when something that is not HogMail's own fails: a sentence with the fix,
/// never a Swift value such as `temporary("…")` or an SQLite statement.
@Suite struct CLIErrorTests {
    func run(_ arguments: [String], in folder: URL) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = KillResumeTests.binary
        process.arguments = arguments + ["--project", folder.path]
        process.environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func project() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-cli-\(UUID().uuidString)")
        _ = try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 1, day: 7)!)
        return folder
    }

    @Test func aRelayThatIsDownIsASentenceWithTheFix() throws {
        let folder = try project()
        let file = folder.appendingPathComponent("hogmail.yml")
        var text = try String(contentsOf: file, encoding: .utf8)
        text = text.replacingOccurrences(of: "kind: outbox", with: "kind: smtp")
            .replacingOccurrences(of: "smtp://127.0.0.1:2525", with: "smtp://127.0.0.1:1")
            .replacingOccurrences(of: "tls: required", with: "tls: none")
            .replacingOccurrences(of: "    username:", with: "    # username:")
        try Data(text.utf8).write(to: file)
        let (status, stderr) = try run(["subscribers", "add", "ada@example.com"], in: folder)
        #expect(status == 1)
        #expect(stderr.hasPrefix("error: The mail server could not take the message now"), "\(stderr)")
        #expect(stderr.contains("check that the server named in hogmail.yml's `transport` is up"))
        #expect(!stderr.contains("temporary("))
    }

    @Test func aDamagedStoreIsASentenceWithTheFix() throws {
        let folder = try project()
        try Data(repeating: 0x41, count: 8192).write(to: folder.appendingPathComponent("hogmail.sqlite"))
        let (status, stderr) = try run(["subscribers", "count"], in: folder)
        #expect(status == 1)
        #expect(stderr.hasPrefix("error: "), "\(stderr)")
        #expect(stderr.contains("hogmail.sqlite"))
        #expect(!stderr.contains("SQLite error") && !stderr.contains("DatabaseError"))
    }

    @Test func helpAndVersionAreTheParsersOwnAnswers() throws {
        let folder = try project()
        for arguments in [["--help"], ["--version"], ["subscribers", "--help"]] {
            let process = Process()
            process.executableURL = KillResumeTests.binary
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(arguments)")
            #expect(!text.contains("could not finish"), "\(arguments)")
        }
        _ = folder
    }
}
