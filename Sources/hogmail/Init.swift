import ArgumentParser
import Foundation
import HogMail

extension Hogmail {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new project: hogmail.yml with every key commented, templates/, and a first draft.",
            discussion: "Example: hogmail init my-newsletter")

        @Argument(help: "The folder to create the project in (created if missing).")
        var directory: String

        func run() throws {
            try Console.run {
                let url = URL(fileURLWithPath: directory, isDirectory: true)
                let today = CalendarDate(Date(), in: .current)
                let written = try Scaffold.initProject(at: url, today: today)
                print("Created a HogMail project in \(directory):")
                for file in written { print("  \(file)") }
                print("Next: edit \(directory)/hogmail.yml, then run `hogmail build --project \(directory)`.")
            }
        }
    }
}
