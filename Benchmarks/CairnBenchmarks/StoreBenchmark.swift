#if canImport(Glibc)
import Glibc
#endif
import CaseStore
import Foundation
import GRDBSQLite
import Indicators
import Observations

/// The store stage: how fast sightings reach the case database, against SQLite's own
/// insert rate for the same rows.
///
///     swift build -c release
///     .build/release/cairn-bench store [sightings, default 1000000] [rows per batch]
///
/// Cairn's row: `CaseDatabase.appendSightings` in the batches an ingest uses
/// (`SightingCollector.batchSize`), into a fresh case (every index of the real schema),
/// then `finishSource`. The peer: the same rows read back from that case, inserted into
/// an empty copy of its schema with one prepared statement bound and stepped in a loop,
/// in one transaction, through the SQLite C API with the same pragmas. The rows are
/// those of a dense capture: 1,000 local hosts, 10,000 indicators, times increasing.
enum StoreBenchmark {
    /// `SightingCollector.batchSize` (internal to Ingest); a second argument sets another.
    static let ingestBatchSize = 65_536

    static func run(arguments: [String]) {
        if let url = arguments.first(where: { $0.hasPrefix("postgresql://") }) {
            return runOnPostgres(url: url, arguments: arguments.filter { $0 != url })
        }
        let count = arguments.first.flatMap { Int($0) } ?? 1_000_000
        let batchSize = arguments.count > 1 ? Int(arguments[1]) ?? ingestBatchSize : ingestBatchSize
        let directory = makeDirectory()
        defer { _ = try? removeDirectory(directory) }
        do {
            let cairn = try storeThroughCairn(count: count, batchSize: batchSize, location: directory + "/case.sqlite")
            let peer = try storeThroughPreparedStatement(from: directory + "/case.sqlite", into: directory + "/peer.sqlite")
            print("| store \(count) sightings | wall s | CPU s | sightings/s | × prepared-statement loop |")
            print("|---|---:|---:|---:|---:|")
            print("| SQLite prepared INSERT loop, same rows, same schema and pragmas | \(format(peer.wall)) | "
                  + "\(format(peer.cpu)) | \(Int(Double(count) / peer.wall)) | 1.00 |")
            print("| Cairn `appendSightings` (\(batchSize)-row batches) + `finishSource` | \(format(cairn.wall)) | "
                  + "\(format(cairn.cpu)) | \(Int(Double(count) / cairn.wall)) | \(format(cairn.wall / peer.wall)) |")
        } catch {
            print("store benchmark failed: \(error)")
            exit(1)
        }
    }

    /// The same into a PostgreSQL case (an empty database at `url`). The floors: the same
    /// rows copied by `psql`'s `\copy` (COPY … FROM STDIN through libpq, the server's
    /// fastest way in) into an empty table made `LIKE sightings INCLUDING ALL` (the same
    /// columns, checks and indexes) in the same database, once as it is and once with the
    /// foreign keys of `sightings` too (LIKE does not copy them), which Cairn's table has.
    static func runOnPostgres(url: String, arguments: [String]) {
        let count = arguments.first.flatMap { Int($0) } ?? 1_000_000
        let batchSize = arguments.count > 1 ? Int(arguments[1]) ?? ingestBatchSize : ingestBatchSize
        let directory = makeDirectory()
        defer { _ = try? removeDirectory(directory) }
        do {
            let walBefore = try psqlValue(url, "SELECT pg_current_wal_insert_lsn()")
            let cairn = try storeThroughCairn(count: count, batchSize: batchSize, location: url)
            let walBytes = try psqlValue(url, "SELECT pg_current_wal_insert_lsn() - '\(walBefore)'::pg_lsn")
            let rows = directory + "/sightings.copy"
            try psql(url, "\\copy (SELECT * FROM sightings ORDER BY id) TO '\(rows)'")
            func copyFloor(foreignKeys: Bool) throws -> Double {
                try psql(url, "CREATE TABLE floor_sightings (LIKE sightings INCLUDING ALL)")
                if foreignKeys {
                    try psql(url, """
                        ALTER TABLE floor_sightings ADD FOREIGN KEY (source_id) REFERENCES sources(id) ON DELETE CASCADE,
                            ADD FOREIGN KEY (indicator_id) REFERENCES indicators(id),
                            ADD FOREIGN KEY (derived_from) REFERENCES resolutions(id) ON DELETE CASCADE
                        """)
                }
                let start = Stopwatch()
                try psql(url, "\\copy floor_sightings FROM '\(rows)'")
                let wall = start.elapsed.wall
                try psql(url, "DROP TABLE floor_sightings")
                return wall
            }
            let bare = try copyFloor(foreignKeys: false)
            let keyed = try copyFloor(foreignKeys: true)
            print("| store \(count) sightings in PostgreSQL | wall s | sightings/s | × psql COPY, same keys |")
            print("|---|---:|---:|---:|")
            print("| psql `\\copy … FROM` (COPY through libpq), same rows, checks and indexes, no foreign keys | "
                  + "\(format(bare)) | \(Int(Double(count) / bare)) | \(format(bare / keyed)) |")
            print("| the same with the foreign keys of `sightings` (source, indicator, resolution) | "
                  + "\(format(keyed)) | \(Int(Double(count) / keyed)) | 1.00 |")
            print("| Cairn `appendSightings` (\(batchSize)-row batches) + `finishSource` | \(format(cairn.wall)) | "
                  + "\(Int(Double(count) / cairn.wall)) | \(format(cairn.wall / keyed)) |")
            print("WAL written by Cairn's inserts: \(walBytes) bytes, \((Int(walBytes) ?? 0) / max(count, 1)) a sighting")
        } catch {
            print("store benchmark failed: \(error)")
            exit(1)
        }
    }

    /// The one value `query` returns, as `psql` prints it unaligned.
    static func psqlValue(_ url: String, _ query: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", query]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ExportBenchmark.BenchmarkError("psql failed: \(query)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs one `psql` command on `url`, stopping at the first error.
    static func psql(_ url: String, _ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", command]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ExportBenchmark.BenchmarkError("psql failed: \(command)") }
    }

    static func storeThroughCairn(count: Int, batchSize: Int, location: String) throws -> (wall: Double, cpu: Double) {
        let database = try CaseDatabase(location: location)
        let run = try database.beginRun(version: "bench", rulesDigest: "", commandLine: "cairn-bench store")
        let indicators = (0..<10_000).map { index in
            Indicator(type: .ipv4, value: IPv4Address(0x5D00_0000 | UInt32(index)).description, ruleFile: "bench.txt", line: index + 1)
        }
        let indicatorIDs = try database.storeIndicators(indicators)
        let sourceID = try database.beginSource(path: "/bench/capture.pcap", size: 0, kind: .pcap, runID: run)
        var random = IndicatorBenchmark.Random(state: 7)
        var sightings: [NewSighting] = []
        sightings.reserveCapacity(count)
        var time: Int64 = 1_709_251_200_000_000_000
        for index in 0..<count {
            time += Int64(random.below(2_000_000))
            let which = random.below(indicators.count)
            var sighting = NewSighting(
                sourceID: sourceID, locator: .packet(UInt64(index) * 1000 + 1), time: Timestamp(nanoseconds: time),
                indicatorID: indicatorIDs[which], observed: indicators[which].value,
                field: index % 2 == 0 ? .ipDestination : .ipSource,
                host: IPv4Address(0x0A01_0000 | UInt32(random.below(1000))).description)
            sighting.packets = UInt64(1 + random.below(100))
            sighting.bytes = sighting.packets * 800
            sighting.lastTime = Timestamp(nanoseconds: time + 1_000_000)
            sightings.append(sighting)
        }
        let start = Stopwatch()
        var next = 0
        while count - next > batchSize {
            try database.appendSightings(Array(sightings[next..<next + batchSize]))
            next += batchSize
        }
        var summary = ReadSummary()
        summary.packets = UInt64(count) * 1000
        _ = try database.finishSource(
            sourceID, sha256: String(repeating: "0", count: 64), summary: summary,
            lastSightings: Array(sightings[next...]))
        let elapsed = start.elapsed
        try database.finishRun(run, succeeded: true)
        return elapsed
    }

    /// Copies the schema of `source` into `target` and inserts every sighting row of
    /// `source` into it with one prepared statement; the time of the inserts and commit.
    static func storeThroughPreparedStatement(from source: String, into target: String) throws -> (wall: Double, cpu: Double) {
        let input = try Connection(path: source)
        let output = try Connection(path: target)
        try output.execute("PRAGMA journal_mode = WAL")
        try output.execute("PRAGMA synchronous = NORMAL")
        try output.execute("PRAGMA cache_size = -262144")
        try output.execute("PRAGMA mmap_size = 1073741824")
        try output.execute("PRAGMA foreign_keys = OFF")
        for sql in try input.column("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
                                      + "AND type IN ('table', 'index') ORDER BY type = 'index', rowid") {
            try output.execute(sql)
        }
        let columns = "source_id, locator_kind, locator, byte_offset, time_ns, time, indicator_id, observed, field, "
            + "host, suppressed_by, context, packets, bytes, last_time_ns, last_time"
        // The rows, in memory before the clock starts: SQLite's cost alone is measured.
        let rows = try input.rows("SELECT \(columns) FROM sightings ORDER BY id", width: 16)
        let insert = try output.prepare("INSERT INTO sightings (\(columns)) VALUES (\(Array(repeating: "?", count: 16).joined(separator: ", ")))")
        defer { sqlite3_finalize(insert) }
        let start = Stopwatch()
        try output.execute("BEGIN")
        for row in rows {
            for (index, value) in row.enumerated() {
                let position = Int32(index + 1)
                switch value {
                case .integer(let number): sqlite3_bind_int64(insert, position, number)
                case .text(let text): sqlite3_bind_text(insert, position, text, -1, transient)
                case .null: sqlite3_bind_null(insert, position)
                }
            }
            guard sqlite3_step(insert) == SQLITE_DONE else { throw output.error("insert") }
            sqlite3_reset(insert)
        }
        try output.execute("COMMIT")
        return start.elapsed
    }

    /// Wall and CPU time (user + system, this process) since it was made.
    struct Stopwatch {
        let clock = ContinuousClock()
        let wallStart: ContinuousClock.Instant
        let cpuStart: Double

        init() {
            wallStart = clock.now
            cpuStart = Stopwatch.cpuSeconds()
        }

        var elapsed: (wall: Double, cpu: Double) {
            ((clock.now - wallStart).inSeconds, Stopwatch.cpuSeconds() - cpuStart)
        }

        static func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
    }

    /// SQLite's SQLITE_TRANSIENT: bind copies the text.
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    enum Value { case integer(Int64), text(String), null }

    /// A bare SQLite connection, for the peer: no GRDB between the loop and SQLite.
    final class Connection {
        let handle: OpaquePointer

        init(path: String) throws {
            var handle: OpaquePointer?
            guard sqlite3_open(path, &handle) == SQLITE_OK, let handle else {
                throw ExportBenchmark.BenchmarkError("cannot open \(path)")
            }
            self.handle = handle
        }

        deinit { sqlite3_close(handle) }

        func error(_ what: String) -> ExportBenchmark.BenchmarkError {
            ExportBenchmark.BenchmarkError("\(what): \(String(cString: sqlite3_errmsg(handle)))")
        }

        func execute(_ sql: String) throws {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
        }

        func prepare(_ sql: String) throws -> OpaquePointer {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
                throw error(sql)
            }
            return statement
        }

        func column(_ sql: String) throws -> [String] {
            try rows(sql, width: 1).compactMap { row in
                if case .text(let text) = row[0] { return text }
                return nil
            }
        }

        func rows(_ sql: String, width: Int) throws -> [[Value]] {
            let statement = try prepare(sql)
            defer { sqlite3_finalize(statement) }
            var rows: [[Value]] = []
            while sqlite3_step(statement) == SQLITE_ROW {
                rows.append((0..<Int32(width)).map { index in
                    switch sqlite3_column_type(statement, index) {
                    case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, index))
                    case SQLITE_NULL: .null
                    default: .text(String(cString: sqlite3_column_text(statement, index)))
                    }
                })
            }
            return rows
        }
    }

    static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func makeDirectory() -> String {
        var template = Array("/tmp/cairn-store-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return "/tmp" }
        return String(cString: made)
    }

    static func removeDirectory(_ path: String) throws {
        for name in ["case.sqlite", "case.sqlite-wal", "case.sqlite-shm", "peer.sqlite", "peer.sqlite-wal",
                     "peer.sqlite-shm"] {
            unlink(path + "/" + name)
        }
        rmdir(path)
    }
}
