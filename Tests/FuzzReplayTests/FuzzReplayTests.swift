import Foundation
import FuzzTargets
import Testing

/// Replays the kept fuzz inputs (docs/fuzzing.md) through the targets, without
/// sanitizers: every file under `Fuzz/corpus/<target>/` (the minimised corpora) and
/// `Fuzz/crashes/<target>/` (inputs that once crashed, kept as regression tests) must
/// go through its target without trapping. Not a fuzzing campaign: seconds, no mutation.
/// Serialized: some tests count what the targets observe (`FuzzTargets.namesSeen`).
@Suite(.serialized)
struct FuzzReplayTests {
    /// The package root: three levels up from Tests/FuzzReplayTests/FuzzReplayTests.swift.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The kept input files of `target` under `Fuzz/<kind>/<target>/`, sorted.
    static func inputs(_ kind: String, _ target: String) -> [URL] {
        let directory = root.appendingPathComponent("Fuzz/\(kind)/\(target)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test("every kept input directory names a target")
    func directoriesNameTargets() throws {
        for kind in ["corpus", "crashes"] {
            let directory = Self.root.appendingPathComponent("Fuzz/\(kind)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names where !name.hasPrefix(".") {
                #expect(FuzzTargets.all[name] != nil, "Fuzz/\(kind)/\(name) is not a fuzz target")
            }
        }
    }

    @Test("every target has a kept corpus")
    func everyTargetHasACorpus() {
        for name in FuzzTargets.names {
            #expect(!Self.inputs("corpus", name).isEmpty, "Fuzz/corpus/\(name) is empty")
        }
    }

    @Test("kept inputs replay without a crash", arguments: FuzzTargets.names)
    func replay(target: String) throws {
        let run = try #require(FuzzTargets.all[target])
        for url in Self.inputs("corpus", target) + Self.inputs("crashes", target) {
            let data = try Data(contentsOf: url)
            run([UInt8](data))
        }
    }

    @Test("targets take empty and one-byte input", arguments: FuzzTargets.names)
    func tinyInputs(target: String) throws {
        let run = try #require(FuzzTargets.all[target])
        for bytes: [UInt8] in [[], [0], [0xFF], [0x0A]] {
            run(bytes)
        }
    }

    @Test("targets leave no temporary files behind")
    func noTemporaryFiles() throws {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        func leftovers() -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("cairn-fuzz-") })
        }
        let before = leftovers()
        for name in FuzzTargets.names {
            let run = try #require(FuzzTargets.all[name])
            run(Array("example.com\n10.0.0.1\n".utf8))
        }
        #expect(leftovers().subtracting(before).isEmpty)
    }

    /// Non-address observations made while `body` runs.
    static func namesSeen(_ target: String, _ bytes: [UInt8]) throws -> Int {
        let run = try #require(FuzzTargets.all[target])
        let before = FuzzTargets.namesSeen.load(ordering: .relaxed)
        run(bytes)
        return FuzzTargets.namesSeen.load(ordering: .relaxed) - before
    }

    static let request = Array("GET /gate.php HTTP/1.1\r\nHost: update-check.example\r\n\r\n".utf8)

    @Test("tcp-stream reassembles an HTTP request cut into one-byte segments, in order or swapped")
    func tcpStreamReachesHTTP() throws {
        let cuts = [UInt8](repeating: 1, count: 30)
        for flags: UInt8 in [0x01 | 0x04 | 0x20, 0x01 | 0x04 | 0x08, 0x01 | 0x40] {
            // Port 80, 31 segments: 30 of one byte, then the rest.
            let input = [flags, 30] + cuts + Self.request
            #expect(try Self.namesSeen("tcp-stream", input) >= 2, "flags \(flags): no Host or URL observed")
        }
        // The same bytes that are not HTTP give nothing but addresses.
        let garbage = [UInt8(0x01 | 0x04), 0] + Self.request.map { $0 ^ 0x80 }
        #expect(try Self.namesSeen("tcp-stream", garbage) == 0)
    }

    @Test("log-lines and gzip-log reach the text scanner")
    func logTargetsReachTheScanner() throws {
        let line = Array("Feb  1 10:00:00 fw01 sshd[1]: lookup update-check.example from 203.0.113.45\n".utf8)
        #expect(try Self.namesSeen("log-lines", line) >= 2, "one chunk and 7-byte chunks: a name each")
        #expect(try Self.namesSeen("gzip-log", line) == 0, "plain text is not gzip")
    }

    @Test("packet targets wrap the bytes as a packet of their link type")
    func packetTargetsReachDNS() throws {
        // An IPv4/UDP DNS query for update-check.example.
        let name: [UInt8] = [6] + Array("update".utf8) + [5] + Array("check".utf8) + [7] + Array("example".utf8) + [0]
        let dns: [UInt8] = [0xAB, 0xCD, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0] + name + [0, 1, 0, 1]
        let udp: [UInt8] = [0xC0, 0x00, 0, 53, 0, UInt8(8 + dns.count), 0, 0] + dns
        let total = 20 + udp.count
        let ip: [UInt8] = [0x45, 0, 0, UInt8(total), 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2] + udp
        let ethernet: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + ip
        #expect(try Self.namesSeen("dns-message", dns) == 1)
        #expect(try Self.namesSeen("packet-raw-ip", ip) == 1)
        #expect(try Self.namesSeen("packet-ethernet", ethernet) == 1)
        #expect(try Self.namesSeen("packet-ethernet", ip) == 0, "an IP packet is not an Ethernet frame")
        // Selector 4: DLT_IPV4.
        #expect(try Self.namesSeen("packet-other-link", [4] + ip) == 1)
        // Selector 7: PPP; 14: radiotap, then 802.11 and LLC/SNAP; 20: NFLOG.
        #expect(try Self.namesSeen("packet-other-link", [7, 0xFF, 0x03, 0x00, 0x21] + ip) == 1)
        let wlan: [UInt8] = [0x08, 0x01, 0, 0] + [UInt8](repeating: 2, count: 18) + [0, 0]
        #expect(try Self.namesSeen("packet-other-link", [14, 0, 0, 8, 0, 0, 0, 0, 0] + wlan + [0xAA, 0xAA, 3, 0, 0, 0, 8, 0] + ip) == 1)
        let payload = ip + [UInt8](repeating: 0, count: (4 - ip.count % 4) % 4)
        #expect(try Self.namesSeen("packet-other-link", [20, 2, 0, 0, 0, UInt8(4 + ip.count), 0, 9, 0] + payload) == 1)
        // Selector 22: USB, which carries no IP.
        #expect(try Self.namesSeen("packet-other-link", [22] + ip) == 0)
    }
}
