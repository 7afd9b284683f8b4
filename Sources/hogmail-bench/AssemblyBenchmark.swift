import Foundation
import HogMail
import HogMailDelivery
import HogMailStore

/// `make bench`, assembly part: per-recipient messages produced in memory (token, Message-ID,
/// personalise, encode; no network, no store), on the one thread it runs on; `scripts/bench.sh`
/// pins it to one core. Beside it, the same messages made the naive way, re-rendering the
/// Markdown for every recipient, as the baseline.
///
/// Usage: hogmail-bench PROJECT_DIR [MESSAGES] [RUNS]
@main struct AssemblyBenchmark {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: hogmail-bench PROJECT_DIR [MESSAGES] [RUNS]\n".utf8))
            exit(2)
        }
        let project = URL(fileURLWithPath: arguments[1])
        let messages = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000
        let runs = arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5
        let report = try BuildPipeline(options: .init(projectDirectory: project, drafts: ["1"], write: false)).run()
        let built = report.issues[0]
        let (configuration, _) = try Project(directory: project).configuration()
        let (templates, _) = try TemplateSet.load(directory: Project(directory: project).templatesDirectory)
        let signer = TokenSigner(secret: String(repeating: "b", count: 40), listID: configuration.list.id)
        let assembler = MessageAssembler(configuration: configuration, signer: signer, message: built.message, sendKey: "send:1:" + built.message.contentHash)
        let recipients = (0..<1000).map { i in
            (email: "reader\(i)@example.com", name: i % 3 == 0 ? "Reader \(i)" : nil, publicID: TokenSigner.newPublicID())
        }
        let date = Date()

        var rates: [Double] = []
        var bytes = 0
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<messages {
                let recipient = recipients[i % recipients.count]
                let outgoing = try assembler.outgoing(email: recipient.email, name: recipient.name, publicID: recipient.publicID, at: date)
                bytes &+= outgoing.wire.count
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(messages) / seconds)
        }
        // Baseline: render the issue again for each recipient (what "render once" avoids).
        let renderer = IssueRenderer(configuration: configuration, templates: templates)
        let baselineMessages = max(200, messages / 200)
        var baseline: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<baselineMessages {
                let rendered = try renderer.render(built.issue)
                let recipient = recipients[i % recipients.count]
                let token = signer.unsubscribeToken(publicID: recipient.publicID)
                let data = try rendered.message.message(for: configuration.recipient(
                    Mailbox(name: recipient.name, address: recipient.email), token: token,
                    messageID: MessageTemplate.messageID(sendKey: "send:1", recipient: recipient.email, domain: "example.com"), date: date))
                bytes &+= data.utf8.count
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            baseline.append(Double(baselineMessages) / seconds)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let size = try assembler.outgoing(email: recipients[0].email, name: recipients[0].name, publicID: recipients[0].publicID, at: date).wire.count
        print("Assembling per-recipient messages of \(size / 1024) KB in memory on one core, median of \(runs) runs (checksum \(bytes % 997)):")
        print(String(format: "  hogmail (issue rendered once, per-recipient fill-in)   %9.0f messages/s  (%d per run; target 100,000)", median(rates), messages))
        print(String(format: "  re-rendering the Markdown for each recipient         %9.0f messages/s  (%d per run)", median(baseline), baselineMessages))
        print(String(format: "  ratio: %.0f×", median(rates) / median(baseline)))
    }
}
