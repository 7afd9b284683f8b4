import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

@Suite struct SigV4Tests {
    /// The AWS Signature Version 4 test suite, case "get-header-key-duplicate".
    @Test func matchesTheAWSTestSuite() {
        let signer = SigV4(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "us-east-1", service: "service")
        let headers = signer.sign(method: "GET", path: "/", headers: ["host": "example.amazonaws.com", "my-header1": "value2,value2,value1"],
                                  body: Data(), date: Date(timeIntervalSince1970: 1_440_938_160))
        #expect(headers["x-amz-date"] == "20150830T123600Z")
        #expect(headers["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")
    }
}

/// moto's SES (Tests/servers/ses_server.py) on 127.0.0.1, killed with SIGKILL at the end.
final class SESTestServer {
    let process = Process()
    let port: Int

    init(_ arguments: [String] = []) throws {
        port = try startServerScript("ses_server.py", arguments, process: process, hint: "is moto[server] installed? `make test` installs it")
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func transport() throws -> SESTransport {
        try SESTransport(settings: .init(region: "eu-west-1", endpoint: "http://127.0.0.1:\(port)", accessKeyID: "AKIDEXAMPLE",
                                         secretAccessKey: "test-secret", connections: 2))
    }

    /// The raw messages moto received: (destinations, raw data).
    func received() async throws -> [(to: [String], data: String)] {
        try await Self.received(port: port)
    }

    static func received(port: Int) async throws -> [(to: [String], data: String)] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/moto-api/data.json")!)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let messages = ((object?["ses"] as? [String: Any])?["RawMessage"] as? [[String: Any]]) ?? []
        return messages.map { (($0["destinations"] as? [String]) ?? [], ($0["raw_data"] as? String) ?? "") }
    }
}

@Suite(.serialized) struct SESEndToEndTests {
    @Test func everySubscriberGetsTheIssueThroughSES() async throws {
        let server = try SESTestServer()
        let transport = try server.transport()
        let verify = try await transport.request(path: "/v2/email/identities", json: ["EmailIdentity": "example.com"])
        #expect(verify.status == 200)
        let fixture = try SendFixture()
        let subscribers = try (1...12).map { try fixture.confirmed("ses\($0)@example.com") }
        let result = try await fixture.job(transport).run(fixture.issue, decision: .start)
        #expect(result?.1.ending == .completed)
        #expect(result?.1.sent == 12)
        let received = try await server.received()
        #expect(Set(received.flatMap(\.to)) == Set(subscribers.map(\.email)))
        #expect(received.count == 12)
        for subscriber in subscribers {
            let token = fixture.signer.unsubscribeToken(publicID: subscriber.publicID)
            #expect(received.contains { $0.data.contains("<https://newsletter.example.com/unsubscribe?token=\(token)&s=") })
        }
    }

    @Test func unverifiedSenderIsAPermanentFailure() async throws {
        let server = try SESTestServer()
        let fixture = try SendFixture()
        try fixture.confirmed("a@example.com")
        let result = try await fixture.job(try server.transport()).run(fixture.issue, decision: .start)
        #expect(result?.1.failed == 1)
        #expect(try fixture.store.failures(of: result!.0).first?.lastResponse?.contains("MessageRejected") == true)
    }

    @Test func credentialsSESRefusesStopTheSendAndFailNobody() async throws {
        let server = try SESTestServer(["--faults", "403=1"])
        let fixture = try SendFixture()
        for number in 1...5 { try fixture.confirmed("ses\(number)@example.com") }
        let (send, summary) = try await fixture.job(try server.transport()).run(fixture.issue, decision: .start)!
        guard case .misconfigured(let note) = summary.ending else { Issue.record("not stopped: \(summary.ending)"); return }
        #expect(note.contains("`transport.ses.access_key_id_env`"))
        #expect(try fixture.store.progress(of: send).failed == 0)
        #expect(try fixture.store.sends()[0].state == .paused)
    }
}
