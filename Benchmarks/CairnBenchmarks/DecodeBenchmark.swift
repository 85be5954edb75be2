#if canImport(Glibc)
import Glibc
#endif
import ByteParsing
import CaptureDecoding
import CPcap
import Indicators
import Ingest
import Observations

/// The capture stage on one core: Cairn's decode and match of every packet, against a
/// bare libpcap `pcap_next_ex` loop over the same file in the same process.
///
///     swift build -c release
///     .build/release/cairn-bench decode [CAPTURE] [--rules PATH]... [--rounds N]
///
/// CAPTURE defaults to `$CAIRN_BENCH_DATA/traffic.pcap`; the rules default to one IPv4
/// address (the work tcpdump's `host X` filter is given). The decode runs through
/// `CaptureReader` as `cairn ingest` does, with the derived observables the rules can
/// match, and counts the hits of `IndicatorTable.match`; no case database is written.
/// It runs twice: on the memory-mapped file, as `cairn ingest` reads it, and with
/// `read(2)` into the input's ring instead (the fallback where a file cannot be mapped).
/// The figure that matters is the reading thread's CPU time
/// (`CLOCK_THREAD_CPUTIME_ID`): the input's SHA-256 runs on a thread of its own and is
/// shown apart, as the wall time of the whole read.
enum DecodeBenchmark {
    static func run(arguments: [String]) {
        var capture = IndicatorBenchmark.dataDirectory + "/traffic.pcap"
        var rulePaths: [String] = []
        var rounds = 3
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch argument {
            case "--rules":
                guard let value else { usage("--rules needs a path") }
                rulePaths.append(value)
                index += 1
            case "--rounds":
                guard let value, let number = Int(value), number > 0 else { usage("--rounds needs a positive number") }
                rounds = number
                index += 1
            default:
                if argument.hasPrefix("-") { usage("unknown option \(argument)") }
                capture = argument
            }
            index += 1
        }
        let table: IndicatorTable
        let rulesLabel: String
        if rulePaths.isEmpty {
            table = RuleSet(indicators: [Indicator(type: .ipv4, value: "98.236.139.189", ruleFile: "bench", line: 1)])
                .compile()
            rulesLabel = "1 indicator"
        } else {
            let rules = RuleSet.load(paths: rulePaths)
            table = rules.compile()
            rulesLabel = "\(rules.indicators.count) indicators"
        }
        var options = DecodingOptions()
        options.derivedObservables = DerivedObservables(matchableBy: table)

        var floorRuns: [Run] = []
        var mappedRuns: [Run] = []
        var readRuns: [Run] = []
        for _ in 0..<rounds {
            floorRuns.append(libpcapLoop(capture))
            mappedRuns.append(decode(capture, table: table, options: options, memoryMapped: true))
            readRuns.append(decode(capture, table: table, options: options, memoryMapped: false))
        }
        func median(_ runs: [Run]) -> Run { runs.sorted { $0.threadCPU < $1.threadCPU }[rounds / 2] }
        let floor = median(floorRuns)
        let cairn = median(mappedRuns)
        print("| \(capture.split(separator: "/").last ?? ""), \(cairn.packets) packets, \(rulesLabel) "
              + "| reading thread CPU s | ns per packet | wall s | hits | × floor (CPU) |")
        print("|---|---:|---:|---:|---:|---:|")
        for (name, run) in [
            ("libpcap `pcap_next_ex` loop (floor)", floor), ("Cairn decode + match", cairn),
            ("Cairn decode + match, `read(2)` instead of `mmap`", median(readRuns)),
        ] {
            print("| \(name) | \(format(run.threadCPU)) | \(Int(run.threadCPU * 1e9 / Double(max(run.packets, 1)))) | "
                  + "\(format(run.wall)) | \(run.hits) | \(format(run.threadCPU / floor.threadCPU)) |")
        }
        print("(median of \(rounds) rounds by CPU time; Cairn's wall time includes waiting for the SHA-256 thread)")
    }

    struct Run {
        var threadCPU: Double
        var wall: Double
        var packets: UInt64
        var hits: Int
    }

    static func decode(_ path: String, table: IndicatorTable, options: DecodingOptions, memoryMapped: Bool) -> Run {
        let clock = ContinuousClock()
        let start = clock.now
        let cpu = threadCPUSeconds()
        var hits = 0
        var packets: UInt64 = 0
        do {
            let file = try InputFile(
                path: path, ringSlotSize: InputFile.ringSlotSize, ringSlotCount: InputFile.ringSlotCount,
                memoryMapped: memoryMapped)
            let reader = try CaptureReader(file: file, filter: nil, options: options)
            let summary = reader.read(observe: { observation in
                if table.match(observation.value, at: observation.time) != nil { hits += 1 }
            }, progress: { _ in })
            packets = summary.packets
            if let damage = summary.damage { print("\(path): \(damage)") }
        } catch {
            print("\(path): \(error)")
            exit(1)
        }
        return Run(threadCPU: threadCPUSeconds() - cpu, wall: (clock.now - start).inSeconds,
                   packets: packets, hits: hits)
    }

    static func libpcapLoop(_ path: String) -> Run {
        let clock = ContinuousClock()
        let start = clock.now
        let cpu = threadCPUSeconds()
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline(path, &errorBuffer) else {
            print("\(path): \(String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
            exit(1)
        }
        defer { pcap_close(handle) }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        var packets: UInt64 = 0
        while pcap_next_ex(handle, &header, &data) == 1 {
            packets += 1
        }
        return Run(threadCPU: threadCPUSeconds() - cpu, wall: (clock.now - start).inSeconds,
                   packets: packets, hits: 0)
    }

    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func format(_ value: Double) -> String { StoreBenchmark.format(value) }

    static func usage(_ problem: String) -> Never {
        print("cairn-bench decode: \(problem)")
        print("usage: cairn-bench decode [CAPTURE] [--rules PATH]... [--rounds N]")
        exit(2)
    }
}
