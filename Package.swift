// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "HogMail",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "hogmail", targets: ["hogmail"]),
        .library(name: "HogMail", targets: ["HogMail"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // X.509 parsing for the SNS signing certificate (SES notifications).
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Already in the graph through Hummingbird; named here because the server uses them directly.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        // The shared store's second engine: PostgreSQL, for several senders and servers.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Named because the store uses them directly (postgres-nio's TLS and logging).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C at the edge: system libraries from Debian's -dev packages, wrapped once in Swift.
        .systemLibrary(
            name: "CCmarkGFM",
            providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]
        ),
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // libxml2's HTML parser behind a three-callback C API (its headers clash with Foundation's ICU in Swift).
        .target(name: "CHTMLParser", dependencies: ["CLibXML2"]),
        // curl_easy_setopt is variadic, which Swift cannot call: typed wrappers.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // The SMTP client's byte stream: a TCP socket, OpenSSL's TLS over it (Debian's libssl-dev).
        .target(name: "CSMTPStream", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // SHA-256 with a state that copies without allocating: Message-IDs, tokens, address hashes.
        .target(name: "CSHA256", linkerSettings: [.linkedLibrary("crypto")]),
        .target(
            name: "HogMail",
            dependencies: [
                "CCmarkGFM",
                "CHTMLParser",
                "CSHA256",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Compiled in by the EmbedResources plugin, not copied as a bundle: an installed
            // binary has no .build folder beside it.
            exclude: ["Lint/Data"],
            plugins: ["EmbedResources"]
        ),
        .executableTarget(name: "hogmail-embed"),
        .plugin(name: "EmbedResources", capability: .buildTool(), dependencies: ["hogmail-embed"]),
        // Subscribers, consent, tokens, suppressions (GRDB / SQLite).
        .target(
            name: "HogMailStore",
            dependencies: ["HogMail", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log")]
        ),
        // Transports: outbox; SMTP with a client of its own; SES over libcurl.
        .target(name: "HogMailDelivery", dependencies: ["HogMail", "HogMailStore", "CCurlShim", "CSMTPStream"]),
        // Inbound delivery: what comes back after a send (bounces, complaints, unsubscribe
        // requests by mail, SES notifications). No web server in it: `process-mail` needs none.
        .target(
            name: "HogMailInbound",
            dependencies: [
                "HogMail", "HogMailStore", "HogMailDelivery", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"), .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // The HTTP side: subscribe, confirm, unsubscribe (RFC 8058), archive; the SES webhook route.
        .target(
            name: "HogMailServer",
            dependencies: [
                "HogMail", "HogMailStore", "HogMailDelivery", "HogMailInbound", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ]
        ),
        .executableTarget(
            name: "hogmail",
            dependencies: [
                "HogMail", "HogMailStore", "HogMailDelivery", "HogMailServer", "HogMailInbound",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzz targets (`make fuzz`): libFuzzer with -sanitize=fuzzer -DHOGMAIL_LIBFUZZER, else a plain mutation loop.
        .executableTarget(name: "hogmail-fuzz", dependencies: ["HogMail", "HogMailStore", "HogMailServer", "HogMailInbound"]),
        // `make bench`: message assembly in memory on one core.
        .executableTarget(name: "hogmail-bench", dependencies: ["HogMail", "HogMailStore", "HogMailDelivery"]),
        // The tests' stand-in for Amazon SNS (a throwaway signing key and certificate, a local
        // server for it), shared by the delivery and server tests; no product ships it.
        .target(
            name: "SNSTestSupport",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Tests/SNSTestSupport"
        ),
        // The PostgreSQL test server of scripts/with-postgres.sh, as the store, delivery and
        // server tests find it (a fresh database per store); no product ships it.
        .target(name: "PostgresTestSupport", dependencies: ["HogMailStore"], path: "Tests/PostgresTestSupport"),
        .testTarget(name: "HogMailTests", dependencies: ["HogMail"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CCurlShimTests", dependencies: ["CCurlShim"]),
        .testTarget(name: "HogMailStoreTests", dependencies: ["HogMailStore", "HogMailDelivery", "PostgresTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                                                            .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "HogMailDeliveryTests",
            dependencies: ["HogMailDelivery", "HogMailStore", "HogMailInbound", "CSMTPStream", "SNSTestSupport", "PostgresTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "HogMailServerTests",
            dependencies: [
                "HogMailServer", "HogMailStore", "HogMailDelivery", "HogMailInbound", "SNSTestSupport", "PostgresTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
