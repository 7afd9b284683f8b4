import ArgumentParser
import Foundation
import HogMail
import HogMailServer
import Hummingbird

extension Hogmail {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer the subscribe form, the confirm and unsubscribe links (RFC 8058 one-click), the archive, and SES notifications.",
            discussion: """
            Put it behind your HTTPS reverse proxy at `urls.public`.
            Example: HOGMAIL_SECRET=… hogmail serve --port 8080
            """)

        @OptionGroup var project: ProjectOptions
        @Option(help: "The address to listen on.") var host: String = "127.0.0.1"
        @Option(help: "The port to listen on.") var port: Int = 8080
        @Option(help: "The folder `hogmail build` wrote (default: out/ in the project).") var out: String?

        func run() async throws {
            let server = try Console.value {
                let environment = try SubscriberEnvironment(project)
                return PublicServer(service: try environment.service(),
                                    outputDirectory: out.map { URL(fileURLWithPath: $0) } ?? environment.project.directory.appendingPathComponent("out"))
            }
            if !server.clients.trustedProxies.isEmpty {
                Console.say("Trusting X-Forwarded-For from \(server.clients.trustedProxies.map(\.description).joined(separator: ", ")).")
            }
            if let webhook = server.sesWebhook {
                Console.say("SES notifications: POST /webhooks/ses takes signed SNS messages from \(webhook.verifier.topicARNs.joined(separator: ", ")).")
            } else if server.service.configuration.transportKind == "ses" {
                Console.warn(Warning("SES bounces and complaints are not read: POST /webhooks/ses is off until `transport.ses.sns_topic_arns` names your SNS topic (anyone can sign SNS messages through a topic of their own, so the webhook takes only the topics listed)."))
            }
            let name = server.service.configuration.list.name, publicBase = server.service.configuration.urls.publicBase
            let host = self.host
            try await Console.runAsync {
                try await server.run(host: host, port: port) { actual in
                    Console.say("Serving \(name) on http://\(host):\(actual)/ (public address: \(publicBase)). Stop with Ctrl-C.")
                }
            }
        }
    }
}
