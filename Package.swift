// swift-tools-version: 6.2
// Cairn: match captures and syslogs against indicator files, correlate the hits
// into incidents, keep them in an SQLite case database. One module per pipeline
// stage; docs/architecture.md says which may import which.
import PackageDescription

/// Every Swift target is checked for memory safety (SE-0458): each use of raw memory is
/// marked `unsafe` and carries a `// Safe:` line saying why (docs/architecture.md lists
/// where they are). In the targets of `Sources/` an unmarked use is an error, so none
/// comes back unnoticed. `Lifetimes` lets a function returning a `Span` say what the
/// span depends on (`@_lifetime`).
let checked: [SwiftSetting] = [.strictMemorySafety(), .enableExperimentalFeature("Lifetimes")]
let unmarkedIsAnError: [SwiftSetting] = [.treatWarning("StrictMemorySafety", as: .error)]

let package = Package(
    name: "Cairn",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cairn", targets: ["cairn"]),
        .executable(name: "cairn-bench", targets: ["CairnBenchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // Correlation rules are YAML, like the Sigma rules rule authors already write.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        // HTTP/2 header blocks (HPACK) in captures are decoded by SwiftNIO's decoder.
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.82.0"),
        // A case in PostgreSQL (issue 24): a Swift client, no libpq; TLS through
        // swift-nio-ssl, its logs through swift-log (both postgres-nio's own).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // `cairn serve` (issue 25): the HTTP server, and HTML templates that escape every
        // value they insert (text and quoted attributes alike).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // The web interface's Export button sends the evidence package as one ZIP file,
        // which every investigator's system opens without installing anything.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        .systemLibrary(
            name: "SystemZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // Content codings browsers decode that zlib does not: brotli (`br`) and zstd.
        .systemLibrary(
            name: "CBrotli",
            pkgConfig: "libbrotlidec",
            providers: [.apt(["libbrotli-dev"]), .brew(["brotli"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .systemLibrary(
            name: "CIsal",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"]), .brew(["isa-l"])]
        ),
        // The SIGBUS guard of memory-mapped input files: C, since a signal handler must
        // not run anything the Swift runtime might (allocate, retain, take locks).
        .target(name: "CGuardedMapping"),
        // The one lock, condition and worker-thread type (STYLE.md, "Concurrency"): below
        // ByteParsing, whose hashing ring is the lowest module that hands work between threads.
        .target(name: "Concurrency"),
        .target(
            name: "ByteParsing",
            dependencies: ["Concurrency", "CGuardedMapping", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "Observations", dependencies: ["ByteParsing"]),
        .target(
            name: "Indicators",
            dependencies: ["Observations", "ByteParsing", "Concurrency", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "CaptureDecoding",
            dependencies: [
                "Observations", "ByteParsing", "CPcap", "SystemZlib", "CBrotli", "CZstd", "CGuardedMapping",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(name: "LogReading", dependencies: ["Concurrency", "Observations", "ByteParsing", "SystemZlib", "CIsal"]),
        .target(
            name: "CaseStore",
            dependencies: [
                "Observations", "ByteParsing", "Indicators", "Correlation", "Concurrency",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Correlation",
            dependencies: ["Observations", "ByteParsing", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "Evidence",
            dependencies: [
                "Observations", "ByteParsing", "CaseStore", "Correlation", "Indicators",
                "CaptureDecoding", "CPcap",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Ingest",
            dependencies: [
                "Concurrency", "Observations", "ByteParsing", "Indicators", "CaptureDecoding", "LogReading",
                "Correlation", "CaseStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Serve",
            dependencies: [
                "Ingest", "Indicators", "CaseStore", "Correlation", "Observations", "Evidence", "Concurrency", "ByteParsing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "cairn",
            dependencies: [
                "Ingest", "Indicators", "CaseStore", "Correlation", "Observations", "Evidence", "LogReading", "Serve",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "CairnBenchmarks",
            dependencies: [
                "Indicators", "Observations", "ByteParsing", "LogReading", "CaptureDecoding", "CaseStore", "Correlation",
                "Ingest", "CPcap",
                // The store benchmark's peer calls the SQLite C API directly.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/CairnBenchmarks"
        ),
        // Fuzz targets (docs/fuzzing.md): public entry points that feed bytes to the real
        // readers and parsers; scripts/fuzz.sh links them into libFuzzer, and
        // FuzzReplayTests replays the kept corpora through them in the normal test run.
        .target(
            name: "FuzzTargets",
            dependencies: ["Observations", "ByteParsing", "CaptureDecoding", "LogReading", "Indicators"]
        ),
        // What several test targets share (a seeded generator, gzip); test targets
        // cannot import one another.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ConcurrencyTests", dependencies: ["Concurrency"]),
        .testTarget(name: "ByteParsingTests", dependencies: ["ByteParsing"]),
        .testTarget(name: "ObservationsTests", dependencies: ["Observations", "TestSupport"]),
        .testTarget(name: "IndicatorsTests", dependencies: ["Indicators", "Observations", "TestSupport"]),
        .testTarget(
            name: "CaptureDecodingTests",
            dependencies: [
                "CaptureDecoding", "Observations", "ByteParsing", "TestSupport",
                // The HTTP/2 tests encode their header blocks with SwiftNIO's HPACK encoder.
                .product(name: "NIOHPACK", package: "swift-nio-http2"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "LogReadingTests", dependencies: ["LogReading", "Observations", "ByteParsing", "TestSupport"]),
        .testTarget(
            name: "CaseStoreTests", dependencies: ["CaseStore", "Concurrency", "Correlation", "Indicators", "Observations", "TestSupport"]
        ),
        .testTarget(name: "CorrelationTests", dependencies: ["Correlation", "Observations", "ByteParsing", "TestSupport"]),
        .testTarget(name: "EvidenceTests", dependencies: ["Evidence", "CaseStore", "Ingest", "Observations", "TestSupport"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "CaseStore", "Concurrency", "Observations", "Indicators", "TestSupport"]),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzTargets"]),
        .testTarget(
            name: "ServeTests",
            dependencies: [
                "Serve", "CaseStore", "Ingest", "Observations", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        // What issue 24's PostgreSQL case and work queue rely on, checked against a
        // throwaway server the tests start themselves (TestSupport's ThrowawayPostgres).
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system && target.name != "CGuardedMapping" {
    let inSources = target.type != .test && target.path == nil  // the benchmarks and tests have paths of their own
    target.swiftSettings = (target.swiftSettings ?? []) + checked + (inSources ? unmarkedIsAnError : [])
}
