import ByteParsing
import Foundation
import Observations
import Synchronization

/// Fuzz targets: one entry point per reader or parser that takes hostile input, each
/// feeding arbitrary bytes to the real code path through the modules' public API (the
/// same path `cairn ingest` takes), so that a crash here is a crash there.
///
/// `scripts/fuzz.sh` links these into a libFuzzer binary (`Fuzz/Driver/main.swift`,
/// built with `-sanitize=fuzzer,address`); `FuzzReplayTests` replays the kept inputs
/// under `Fuzz/corpus/<target>/` and `Fuzz/crashes/<target>/` through `all` in the
/// normal test run. Every target is deterministic (the same bytes take the same path)
/// and removes the temporary file it writes before it returns.
public enum FuzzTargets {
    /// Every target by the name `scripts/fuzz.sh` and the `Fuzz/` directories use.
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "pcap-file": { pcapFile($0) },
        "pcapng-file": { pcapngFile($0) },
        "packet-ethernet": { packetEthernet($0) },
        "packet-raw-ip": { packetRawIP($0) },
        "packet-other-link": { packetOtherLink($0) },
        "tcp-stream": { tcpStream($0) },
        "dns-message": { dnsMessage($0) },
        "log-lines": { logLines($0) },
        "gzip-log": { gzipLog($0) },
        "rules-plain": { rulesPlain($0) },
        "rules-csv": { rulesCSV($0) },
        "rules-zeek": { rulesZeek($0) },
        "rules-stix": { rulesSTIX($0) },
        "rules-misp": { rulesMISP($0) },
    ]

    /// The target names, sorted.
    public static var names: [String] { all.keys.sorted() }

    /// The largest input a target reads: libFuzzer's inputs are far smaller (`-max_len`),
    /// this only keeps a replayed file from making a multi-gigabyte temporary copy.
    static let maximumInput = 16 << 20

    /// Writes `bytes` to a fresh temporary file (a random name under `$TMPDIR` or /tmp),
    /// calls `body` with its path and removes the file before returning, whatever `body`
    /// does short of crashing. Returns nil when the file cannot be written (a full disk
    /// is not a finding).
    static func withTemporaryFile<T>(_ bytes: [UInt8], _ body: (String) -> T) -> T? {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let path = directory + "/cairn-fuzz-" + UUID().uuidString
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes.prefix(maximumInput))) else { return nil }
        defer { try? FileManager.default.removeItem(atPath: path) }
        return body(path)
    }

    /// Reads every byte an observation borrows, so that AddressSanitizer sees a value
    /// pointing outside live memory, and checks the shape promises `ObservedValue`
    /// makes. A broken promise traps: that is the finding.
    static func touch(_ observation: Observation) {
        var sum: UInt8 = 0
        func read(_ bytes: Span<UInt8>) {
            for index in bytes.indices { sum &+= bytes[index] }
        }
        switch observation.value {
        case .ipv4, .ipv6: break
        case .domain(let bytes):
            precondition(!bytes.isEmpty, "empty domain observed")
            read(bytes)
        case .hexDigest(let bytes):
            precondition([32, 40, 64].contains(bytes.count), "hex digest of \(bytes.count) digits observed")
            read(bytes)
        case .ja3(let bytes):
            precondition(bytes.count == 32, "JA3 of \(bytes.count) bytes observed")
            read(bytes)
        case .url(let bytes), .email(let bytes), .ja4(let bytes):
            read(bytes)
        }
        if case .name(let bytes) = observation.host { read(bytes) }
        if let member = observation.member { read(member) }
        sink.store(sum, ordering: .relaxed)
        if case .ipv4 = observation.value {} else if case .ipv6 = observation.value {} else {
            namesSeen.add(1, ordering: .relaxed)
        }
    }

    /// How many observations other than addresses (domains, URLs, digests, e-mail
    /// addresses, fingerprints) the targets have handed out in this process: lets a
    /// test check that a target's bytes reach the decoder they are meant for.
    public static let namesSeen = Atomic<Int>(0)

    /// Where `touch` leaves its sum, so that the reads are not optimised away.
    static let sink = Atomic<UInt8>(0)
}
