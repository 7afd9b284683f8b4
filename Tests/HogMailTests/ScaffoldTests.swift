import Foundation
import Testing

@testable import HogMail

@Suite struct ScaffoldTests {
    @Test func cadenceFindsTheNextBiweeklyDate() {
        let anchor = CalendarDate(year: 2026, month: 1, day: 7)!
        #expect(Cadence.biweekly.firstDate(onOrAfter: CalendarDate(year: 2026, month: 1, day: 8)!, anchor: anchor) == CalendarDate(year: 2026, month: 1, day: 21))
        #expect(Cadence.biweekly.firstDate(onOrAfter: CalendarDate(year: 2026, month: 1, day: 21)!, anchor: anchor) == CalendarDate(year: 2026, month: 1, day: 21))
        #expect(Cadence.biweekly.firstDate(onOrAfter: CalendarDate(year: 2025, month: 12, day: 30)!, anchor: anchor) == CalendarDate(year: 2026, month: 1, day: 7))
    }

    @Test func calendarDatesRejectImpossibleDays() {
        #expect(CalendarDate(parsing: "2026-02-29") == nil)
        #expect(CalendarDate(parsing: "2028-02-29") != nil)
        #expect(CalendarDate(parsing: "2026-1-7") == nil)
    }

    @Test func newDraftTakesTheNextNumberAndDate() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        let url = try Scaffold.newDraft(in: Project(directory: project.directory), configuration: sampleConfiguration,
                                        today: CalendarDate(year: 2026, month: 1, day: 10)!, title: "Flags: part two!", date: nil)
        #expect(url.lastPathComponent == "003-flags-part-two.md")
        let issue = try DraftParser.parse(contentsOf: url, displayPath: "issues/003-flags-part-two.md")
        #expect(issue.number == 3)
        #expect(issue.sendTime.date == CalendarDate(year: 2026, month: 2, day: 4))  // the slot after issue 2 (21 Jan)
        #expect(issue.subject == "Flags: part two!")
        #expect(issue.isDraft)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("## News") && text.contains("## Tutorials") && text.contains("## Good reads"))
    }

    @Test func newDraftIsNeverInThePast() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        let url = try Scaffold.newDraft(in: Project(directory: project.directory), configuration: sampleConfiguration,
                                        today: CalendarDate(year: 2026, month: 11, day: 28)!, title: nil, date: nil)
        let issue = try DraftParser.parse(contentsOf: url, displayPath: "x.md")
        #expect(issue.sendTime.date == CalendarDate(year: 2026, month: 12, day: 9))
    }

    @Test func newFilesNeverReplaceExistingOnes() throws {
        let project = try TemporaryProject()
        try project.write("keep me", to: "issues/004-flags.md")
        #expect(throws: HogMailError.self) {
            try Scaffold.writeNew("new text", to: project.directory.appendingPathComponent("issues/004-flags.md"))
        }
        #expect(try project.read("issues/004-flags.md") == "keep me")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: project.directory.appendingPathComponent("issues").path)
        #expect(leftovers == ["004-flags.md"])
    }

    @Test func initWritesAProjectThatBuilds() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-init-\(UUID().uuidString)")
        let written = try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 3, day: 4)!)
        #expect(written.contains("hogmail.yml") && written.contains("issues/001-welcome.md"))
        let report = try BuildPipeline(options: .init(projectDirectory: folder)).run()
        #expect(report.issues.count == 1)
        #expect(report.warnings.isEmpty)
    }

    @Test func initRefusesToOverwrite() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-init-\(UUID().uuidString)")
        _ = try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 3, day: 4)!)
        #expect(throws: HogMailError.self) { try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 3, day: 4)!) }
    }

    @Test func initConfigurationReadsWithoutWarnings() throws {
        let text = Scaffold.commentedConfiguration(anchor: CalendarDate(year: 2026, month: 1, day: 7)!)
        let (configuration, warnings) = try Configuration.parse(text, file: "hogmail.yml")
        #expect(warnings.isEmpty)
        #expect(configuration.schedule.cadence == .biweekly)
    }
}
