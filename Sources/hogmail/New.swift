import ArgumentParser
import Foundation
import HogMail

extension Hogmail {
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the next draft: next issue number, next date on the schedule, the section headings.",
            discussion: "Example: hogmail new --title \"Feature flags, explained\"")

        @OptionGroup var project: ProjectOptions

        @Option(help: "The issue's title (it becomes the subject and the file name).")
        var title: String?

        @Option(help: "The send date, YYYY-MM-DD (default: the next date on the cadence).")
        var date: String?

        func validate() throws {
            if let date, CalendarDate(parsing: date) == nil {
                throw ValidationError("--date is `\(date)`, which is not a date (use YYYY-MM-DD).")
            }
        }

        func run() throws {
            try Console.run {
                let project = Project(directory: self.project.directory)
                let (configuration, warnings) = try project.configuration()
                warnings.forEach(Console.warn)
                let today = CalendarDate(Date(), in: configuration.schedule.timeZone)
                let url = try Scaffold.newDraft(in: project, configuration: configuration, today: today,
                                                title: title, date: date.flatMap(CalendarDate.init(parsing:)))
                print("Wrote \(project.display(url)). It is marked `draft: true` until you remove that line.")
            }
        }
    }
}
