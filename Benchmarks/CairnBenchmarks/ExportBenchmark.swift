#if canImport(Glibc)
import Glibc
#endif
import ByteParsing
import CaptureDecoding
import CaseStore
import Correlation
import Indicators
import Observations

/// The evidence export of a very large incident, end to end, through the `cairn`
/// executable: builds a case whose one incident holds a sighting on every `stride`-th
/// packet of a capture (100,000 sightings on the 2 M-packet bench capture; their flows
/// cover most of the file), then times `cairn export` and `cairn verify` of it and
/// prints each one's wall time and peak RSS (the child's `ru_maxrss`).
///
///     swift build -c release
///     .build/release/cairn-bench export [CAPTURE] [--stride N] [--cairn PATH] [--keep DIR]
///
/// CAPTURE defaults to `$CAIRN_BENCH_DATA/traffic.pcap` (`<package root>/../bench-data`).
/// `--cairn` runs another build of `cairn` (e.g. an older one, for before/after figures);
/// the default is the `cairn` next to this executable. `--keep DIR` builds the case and
/// the package under DIR and leaves them there; otherwise a temporary directory is used
/// and removed. An existing `DIR/case.sqlite` is reused (the case is built once).
enum ExportBenchmark {
    static let indicatorValue = "152.7.114.94"
    static let host = "10.1.148.255"

    static func run(arguments: [String]) {
        var capture = IndicatorBenchmark.dataDirectory + "/traffic.pcap"
        var stride = 20
        var cairn = siblingExecutable("cairn")
        var keep: String? = nil
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch argument {
            case "--stride":
                guard let value, let number = Int(value), number > 0 else { usage("--stride needs a positive number") }
                stride = number
                index += 1
            case "--cairn":
                guard let value else { usage("--cairn needs a path") }
                cairn = value
                index += 1
            case "--keep":
                guard let value else { usage("--keep needs a directory") }
                keep = value
                index += 1
            default:
                if argument.hasPrefix("-") { usage("unknown option \(argument)") }
                capture = argument
            }
            index += 1
        }
        guard access(cairn, X_OK) == 0 else {
            print("\(cairn) is not an executable: build it first (swift build -c release)")
            exit(2)
        }
        let directory: String
        if let keep {
            mkdir(keep, 0o750)
            directory = keep
        } else {
            var template = Array("/tmp/cairn-bench-export-XXXXXX".utf8CString)
            guard template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) != nil else {
                print("cannot make a temporary directory")
                exit(2)
            }
            directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        defer { if keep == nil { _ = spawn("/bin/rm", ["-rf", directory]) } }

        let database = directory + "/case.sqlite"
        let clock = ContinuousClock()
        if access(database, F_OK) != 0 {
            let start = clock.now
            do {
                let count = try buildCase(capture: capture, stride: stride, directory: directory, database: database)
                print("case: \(count) sightings on every \(stride)th packet of \(capture), built in \(format1((clock.now - start).inSeconds)) s")
            } catch {
                print("cannot build the case: \(error)")
                exit(1)
            }
        } else {
            print("case: reusing \(database)")
        }

        let package = directory + "/package-\(getpid())"
        print("command                 wall time   peak RSS    status")
        let export = spawn(cairn, ["export", "--db", database, "--out", package, "1"])
        report("cairn export", export)
        let verify = spawn(cairn, ["verify", package])
        report("cairn verify", verify)
        var status = stat()
        if stat(package + "/data/evidence.pcap", &status) == 0 {
            print("evidence.pcap: \(status.st_size) bytes")
        }
        if stat(package + "/data/evidence-index.csv", &status) == 0 {
            print("evidence-index.csv: \(status.st_size) bytes")
        }
        if keep == nil { _ = spawn("/bin/rm", ["-rf", package]) }
    }

    static func report(_ name: String, _ outcome: (seconds: Double, peakKB: Int, status: Int32)) {
        let name = name.padding(20)
        let time = String(format1(outcome.seconds) + " s").padding(12)
        let memory = String(format1(Double(outcome.peakKB) / 1024) + " MB").padding(12)
        print("\(name)    \(time)\(memory)exit \(outcome.status)")
    }

    /// One sighting (of one indicator, from one host) on every `stride`-th packet, in one
    /// incident; the first also folds a conversation (a `last_time`), as ingest records
    /// IP conversations, so the extract checks every packet against it.
    static func buildCase(capture: String, stride: Int, directory: String, database path: String) throws -> Int {
        let rules = directory + "/bench-rules.txt"
        guard let file = fopen(rules, "w") else { throw BenchmarkError("cannot write \(rules)") }
        fputs(indicatorValue + "\n", file)
        fclose(file)

        let database = try CaseDatabase(location: path)
        let run = try database.beginRun(version: "bench", rulesDigest: "", commandLine: "cairn-bench export")
        let indicatorIDs = try database.storeIndicators([Indicator(type: .ipv4, value: indicatorValue, ruleFile: rules, line: 1)])
        guard let indicatorID = indicatorIDs.first else { throw BenchmarkError("indicator not stored") }

        let input = try InputFile(path: capture)
        let reader = try CaptureRecordReader(file: input)
        let sourceID = try database.beginSource(path: capture, size: input.size, kind: .pcap, runID: run)
        var sightings: [NewSighting] = []
        var summary = ReadSummary()
        summary.damage = reader.forEachPacket { record in
            summary.packets += 1
            guard record.frame % UInt64(stride) == 0 else { return true }
            var sighting = NewSighting(
                sourceID: sourceID, locator: .packet(record.frame), time: record.time, indicatorID: indicatorID,
                observed: indicatorValue, field: .ipDestination, host: host)
            if sightings.isEmpty {
                sighting.packets = 88
                sighting.bytes = 75_944
                sighting.lastTime = Timestamp(nanoseconds: record.time.nanoseconds + 250_000_000)
            }
            sightings.append(sighting)
            return true
        }
        summary.bytes = input.size
        _ = try database.finishSource(sourceID, sha256: input.sha256Hex, summary: summary, lastSightings: sightings)
        // One host, sightings seconds apart: correlation makes one incident, id 1.
        guard try database.correlateIncidents() == 1 else {
            throw BenchmarkError("the sightings did not make exactly one incident")
        }
        try database.finishRun(run, succeeded: true)
        return sightings.count
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs a program to completion; its wall time, peak RSS (kB) and exit status.
    static func spawn(_ program: String, _ arguments: [String]) -> (seconds: Double, peakKB: Int, status: Int32) {
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The child's output would interleave with the table: it goes to /dev/null.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let clock = ContinuousClock()
        let start = clock.now
        guard posix_spawn(&pid, program, &actions, nil, argv, environ) == 0 else {
            print("cannot run \(program)")
            return (0, 0, -1)
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let elapsed = clock.now - start
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -(status & 0x7f)
        return (elapsed.inSeconds, Int(usage.ru_maxrss), exitStatus)
    }

    static func format1(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// An executable in the same directory as this one.
    static func siblingExecutable(_ name: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let own = count > 0 ? String(cString: Array(buffer[0..<count]) + [0]) : CommandLine.arguments[0]
        guard let slash = own.lastIndex(of: "/") else { return name }
        return String(own[...slash]) + name
    }

    static func usage(_ problem: String) -> Never {
        print("cairn-bench export: \(problem)")
        print("usage: cairn-bench export [CAPTURE] [--stride N] [--cairn PATH] [--keep DIR]")
        exit(2)
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
