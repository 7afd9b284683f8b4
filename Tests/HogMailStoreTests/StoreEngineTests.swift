import Foundation
import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailStore

/// The store URL of the PostgreSQL engine: what it accepts, and what it refuses with a sentence.
@Suite struct PostgresLocationTests {
    @Test func aFullURLGivesEachPart() throws {
        let location = try PostgresLocation(url: "postgres://hogmail@db.example.com:6432/news?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem", password: "pw")
        #expect(location.user == "hogmail")
        #expect(location.host == "db.example.com")
        #expect(location.port == 6432)
        #expect(location.database == "news")
        #expect(location.tls == .verifyFull)
        #expect(location.rootCertificate == "/etc/ssl/ca.pem")
        #expect(location.password == "pw")
        #expect(location.displayURL == "postgres://hogmail@db.example.com:6432/news?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem")
    }

    @Test func thePortDefaultsTo5432AndTLSToPreferAsInLibpq() throws {
        let location = try PostgresLocation(url: "postgresql://ada@localhost/hogmail")
        #expect(location.port == 5432)
        #expect(location.tls == .prefer)
        #expect(location.displayURL == "postgres://ada@localhost:5432/hogmail")
    }

    @Test func percentEncodedNamesAndBracketedIPv6HostsAreRead() throws {
        let location = try PostgresLocation(url: "postgres://news%20team@[::1]:5433/my%2Ddb")
        #expect(location.user == "news team")
        #expect(location.host == "::1")
        #expect(location.database == "my-db")
        #expect(location.displayURL.hasPrefix("postgres://news team@[::1]:5433/"))
    }

    @Test func aPasswordInTheURLIsRefusedAndNotRepeated() {
        #expect {
            try PostgresLocation(url: "postgres://hogmail:hunter2@db/news")
        } throws: { error in
            let text = "\(error)"
            return text.contains("store.password_env") && !text.contains("hunter2")
        }
    }

    @Test(arguments: [
        "postgres://hogmail@db/news?password=hunter2",
        "postgres://hogmail@db/news?sslmode=disable&PASSWORD=hunter2",
        "postgres://hogmail:p@ss@hunter2@db/news",
        "mysql://hogmail:hunter2@db/news",
        "postgres://hogmail@db/news?timeout=3&password=hunter2",
    ])
    func aPasswordAnywhereInTheURLIsNeverRepeated(url: String) {
        #expect {
            try PostgresLocation(url: url)
        } throws: { error in
            !"\(error)".contains("hunter2") && !"\(error)".contains("p@ss")
        }
    }

    @Test(arguments: [
        ("mysql://u@h/d", "is not a PostgreSQL URL"),
        ("postgres://h/d", "names no user"),
        ("postgres://u@h", "names no database"),
        ("postgres://u@h/", "names no database"),
        ("postgres://u@h/a/b", "names no database"),
        ("postgres://u@h/d?sslmode=on", "sslmode=on, which is not one of disable"),
        ("postgres://u@h/d?timeout=3", "the parameter timeout"),
        ("postgres://u@h:0/d", "port 0"),
    ])
    func aBadURLIsExplained(url: String, explanation: String) {
        #expect {
            try PostgresLocation(url: url)
        } throws: { error in
            "\(error)".contains(explanation) && "\(error)".contains("postgres://USER@HOST:PORT/DATABASE")
        }
    }
}

/// SQL written once with `?`, numbered for PostgreSQL only where it is a placeholder.
@Suite struct PlaceholderTests {
    @Test func eachQuestionMarkBecomesTheNextNumber() throws {
        let (sql, count) = try PostgresSession.numberingPlaceholders("SELECT * FROM t WHERE a = ? AND b IN (?, ?)")
        #expect(sql == "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)")
        #expect(count == 3)
    }

    @Test func questionMarksInStringsNamesAndCommentsStay() throws {
        let (sql, count) = try PostgresSession.numberingPlaceholders("""
            SELECT 'why?', "odd?name", 'it''s ?' -- really?
            FROM t /* what? */ WHERE a = ?
            """)
        #expect(sql == """
            SELECT 'why?', "odd?name", 'it''s ?' -- really?
            FROM t /* what? */ WHERE a = $1
            """)
        #expect(count == 1)
    }

    @Test(arguments: ["SELECT 'open", "SELECT 1 /* open", "SELECT $1", "SELECT $$body$$"])
    func whatOnlyOneEngineReadsIsRefused(sql: String) {
        #expect(throws: StoreEngineError.self) { try PostgresSession.numberingPlaceholders(sql) }
    }
}

/// The engine layer itself, written once and run on SQLite and on PostgreSQL.
@Suite struct StoreEngineTests {
    static let table = "CREATE TABLE sample (id BIGINT PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, t TEXT, b BYTEA)"
    static func sqliteTable(_ sql: String) -> String { sql.replacingOccurrences(of: "BYTEA", with: "BLOB") }

    func create(_ session: any StoreSession) throws {
        try session.execute(session.engine == .sqlite ? Self.sqliteTable(Self.table) : Self.table, [])
    }

    @Test(arguments: PostgresTestServer.engines)
    func everyKindOfValueRoundTrips(engine: StoreEngineKind) throws {
        try PostgresTestServer.withFreshDatabase(engine) { database in
            let values: [SQLValue] = [.integer(Int64.max), .real(0.1 + 0.2), .text("Zoë <ada@example.com> 'quoted' ?"), .blob([0, 255, 13, 10])]
            try database.write { session in
                try create(session)
                try session.execute("INSERT INTO sample (id, n, x, t, b) VALUES (?, ?, ?, ?, ?)", [.integer(1)] + values)
                try session.execute("INSERT INTO sample (id, n, x, t, b) VALUES (?, ?, ?, ?, ?)", [.integer(2), .null, .null, .null, .null])
            }
            let rows = try database.read { session in try session.rows("SELECT n, x, t, b FROM sample ORDER BY id", []) }
            #expect(rows.map(\.values) == [values, [.null, .null, .null, .null]])
            #expect(rows[0].columns == ["n", "x", "t", "b"])
            #expect(try rows[0].get("t", as: String.self) == "Zoë <ada@example.com> 'quoted' ?")
            #expect(try rows[1].get("n", as: Int64?.self) == nil)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func aWriteThatThrowsLeavesNothing(engine: StoreEngineKind) throws {
        struct Stop: Error {}
        try PostgresTestServer.withFreshDatabase(engine) { database in
            try database.write { session in try create(session) }
            #expect(throws: Stop.self) {
                try database.write { session in
                    try session.execute("INSERT INTO sample (id, n) VALUES (?, ?)", 1, 10)
                    throw Stop()
                }
            }
            #expect(try database.read { session in try session.value(Int.self, "SELECT COUNT(*) FROM sample") } == 0)
            // The connection is usable afterwards.
            try database.write { session in try session.execute("INSERT INTO sample (id, n) VALUES (?, ?)", 1, 10) }
            #expect(try database.read { session in try session.value(Int.self, "SELECT SUM(n) FROM sample") } == 10)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func executeCountsTheRowsItChanged(engine: StoreEngineKind) throws {
        try PostgresTestServer.withFreshDatabase(engine) { database in
            let changed = try database.write { session in
                try create(session)
                for id in 1...5 { try session.execute("INSERT INTO sample (id, n) VALUES (?, ?)", id, id % 2) }
                return try session.execute("UPDATE sample SET n = n + 1 WHERE n = ?", 1)
            }
            #expect(changed == 3)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func aValueOfTheWrongTypeIsAnErrorNamingTheColumn(engine: StoreEngineKind) throws {
        try PostgresTestServer.withFreshDatabase(engine) { database in
            let row = try database.write { session in
                try create(session)
                try session.execute("INSERT INTO sample (id, t) VALUES (?, ?)", 1, "ada@example.com")
                return try session.row("SELECT t, n FROM sample")!
            }
            #expect {
                try row.get("t", as: Int64.self)
            } throws: { error in
                // The kind of value, never the address itself.
                "\(error)".contains("Column t holds text") && !"\(error)".contains("ada@")
            }
            #expect(throws: StoreEngineError.self) { try row.get("n", as: Int64.self) }
            #expect(throws: StoreEngineError.self) { try row.get("missing", as: Int64.self) }
        }
    }
}

/// What only a server can do wrong.
@Suite(.enabled(if: PostgresTestServer.url != nil || PostgresTestServer.required))
struct PostgresEngineTests {
    @Test func aRefusedStatementCarriesTheServersMessageAndCode() throws {
        try PostgresTestServer.withFreshDatabase(.postgres) { database in
            try database.write { session in try session.execute("CREATE TABLE u (id BIGINT PRIMARY KEY)", []) }
            try database.write { session in try session.execute("INSERT INTO u (id) VALUES (?)", 1) }
            #expect {
                try database.write { session in try session.execute("INSERT INTO u (id) VALUES (?)", 1) }
            } throws: { error in
                guard let error = error as? StoreEngineError else { return false }
                return error.isUniqueViolation && "\(error)".contains("duplicate key")
            }
            // The failed transaction was rolled back and its connection went back usable.
            #expect(try database.read { session in try session.value(Int.self, "SELECT COUNT(*) FROM u") } == 1)
        }
    }

    @Test func aStatementWithoutAnAnswerInTimeFailsAndItsConnectionIsNotReused() throws {
        try PostgresTestServer.withFreshDatabase { location in
            let database = PostgresStoreDatabase(location: location, answerTimeout: 0.5)
            let started = Date()
            #expect {
                try database.single { session in try session.execute("SELECT pg_sleep(5)", []) }
            } throws: { error in
                guard case .connection(let sentence)? = error as? StoreEngineError else { return false }
                return sentence.contains("gave no answer to a statement in 0.5 seconds")
            }
            #expect(Date().timeIntervalSince(started) < 4)
            // The next statement gets a new connection and works.
            let one = try database.read { session in try session.value(Int.self, "SELECT 1") }
            #expect(one == 1)
        }
    }

    @Test func anUnreachableServerIsExplainedWithoutThePassword() throws {
        // A port nothing listens on (bound, then closed).
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        close(socket)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let database = PostgresStoreDatabase(location: try PostgresLocation(url: "postgres://hogmail@127.0.0.1:\(port)/news?sslmode=disable", password: "s3cret-pw"))
        #expect {
            try database.ping()
        } throws: { error in
            let text = "\(error)"
            return text.contains("cannot connect to the PostgreSQL store at postgres://hogmail@127.0.0.1:\(port)/news") && !text.contains("s3cret-pw")
        }
    }

    @Test func aWrongPasswordIsRefusedByTheServerWithItsReason() throws {
        guard let url = PostgresTestServer.url else { return }
        // The test cluster trusts every login, so a user that does not exist is what it refuses.
        var location = try PostgresLocation(url: url)
        location.user = "nobody_here"
        #expect {
            try PostgresStoreDatabase(location: location).ping()
        } throws: { error in
            "\(error)".contains("nobody_here")
        }
    }
}

/// Opening the store hogmail.yml names.
@Suite struct StoreOpeningTests {
    @Test func aPasswordVariableThatIsNotSetIsExplainedBeforeAnyConnection() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-open-\(UUID().uuidString)")
        try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 1, day: 7)!)
        let config = folder.appendingPathComponent("hogmail.yml")
        let text = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "  path: hogmail.sqlite ", with: "  url: postgres://hogmail@127.0.0.1:1/news\n  password_env: HOGMAIL_TEST_NO_SUCH_VARIABLE #")
        try Data(text.utf8).write(to: config)
        let project = Project(directory: folder)
        let configuration = try project.configuration().0
        #expect {
            try SubscriberStore.open(project, configuration, environment: [:])
        } throws: { error in
            "\(error)".contains("HOGMAIL_TEST_NO_SUCH_VARIABLE, which is not set")
        }
    }
}
