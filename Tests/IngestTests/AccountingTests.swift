import CaseStore
import Foundation
import Observations
import Testing
@testable import Ingest
import TestSupport

/// The read account of every source, as stored in the case database, adds up:
/// packets = decoded + anomalous + undecodable + filtered; bytes consumed + unread =
/// the file's size; for logs, line bytes + line ends + cut bytes = the (decompressed)
/// content size. Checked on every file of ../shared/corpus and on crafted damage.
@Suite struct AccountingTests {
    /// One stored source and its account (which must exist for a file that was opened).
    struct Stored {
        var row: SourceRow
        var account: SourceAccount
    }

    /// A rule directory with one indicator: the account does not depend on the rules,
    /// and a small rule set keeps the run fast.
    static func rules(in directory: URL) throws -> String {
        let rules = directory.appendingPathComponent("rules")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        try "203.0.113.7\n".write(to: rules.appendingPathComponent("ips.txt"), atomically: true, encoding: .utf8)
        return rules.path
    }

    /// Ingests `paths` into a new case and returns the report and the stored sources.
    static func ingest(
        _ paths: [String], in directory: URL, filter: String? = nil, name: String = "case.sqlite"
    ) throws -> (IngestReport, [SourceRow]) {
        let database = directory.appendingPathComponent(name).path
        let options = IngestOptions(
            rulePaths: [try rules(in: directory)], databasePath: database, jobs: 2, filter: filter, year: 2024,
            commandLine: "test", version: "test")
        let report = try Ingestor(options: options).run(paths: paths)
        return (report, try CaseDatabase(location: database).sources())
    }

    /// Checks the three sums of one stored source against its row and the file on disk;
    /// returns the account.
    @discardableResult
    static func expectBalanced(_ row: SourceRow) throws -> SourceAccount? {
        let name = URL(fileURLWithPath: row.path).lastPathComponent
        guard let size = row.size else {
            // Never opened: no account is claimed.
            #expect(row.account == nil, "\(name)")
            return nil
        }
        let account = try #require(row.account, "\(name): an opened source has an account")
        let onDisk = try FileManager.default.attributesOfItem(atPath: row.path)[.size] as? NSNumber
        #expect(size == onDisk?.uint64Value, "\(name): stored size is the file's size")
        #expect(account.bytesConsumed + account.bytesUnread == size,
                "\(name): \(account.bytesConsumed) consumed + \(account.bytesUnread) unread != \(size)")
        #expect(account.packetsAccounted == row.packets, "\(name): packet buckets \(account) != \(row.packets)")
        if row.status == "complete" {
            #expect(account.bytesUnread == 0, "\(name): complete, yet \(account.bytesUnread) bytes unread")
        }
        if row.kind?.isCapture == true {
            #expect(row.lines == 0 && account.lineBytesAccounted == 0, "\(name): a capture has no lines")
        } else if row.kind != nil {
            #expect(account.lineBytesAccounted == row.bytes,
                    "\(name): \(account.lineBytes) + \(account.separatorBytes) + \(account.cutBytes) != \(row.bytes)")
            #expect(row.packets == 0, "\(name): a log has no packets")
        }
        return account
    }

    /// Lines and line-end bytes of a plain text counted here, independently of the
    /// reader: an LF ends a line; a CR before an LF, or ending the text, is a line end.
    static func plainCount(_ bytes: Data) -> (lines: UInt64, separators: UInt64) {
        var lines: UInt64 = 0
        var separators: UInt64 = 0
        var previous: UInt8 = 0
        var inLine = false
        for byte in bytes {
            if byte == 0x0A {
                lines += 1
                separators += previous == 0x0D ? 2 : 1
                inLine = false
            } else {
                inLine = true
            }
            previous = byte
        }
        if inLine {
            lines += 1
            if previous == 0x0D { separators += 1 }
        }
        return (lines, separators)
    }

    // MARK: the corpus

    @Test(.enabled(if: Fixtures.corpusPresent, "../shared/corpus is absent")) func everyCorpusSourceAddsUp() throws {
        let corpus = Fixtures.corpusURL
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let groups = ["pcap", "syslog"].map { corpus.appendingPathComponent($0).path }
        let (report, rows) = try Self.ingest(groups, in: directory)
        let files = InputDiscovery.entries(for: groups)
        #expect(report.sources.count == files.count)
        #expect(report.sources.count > 300, "the corpus has some 380 files")

        // Every file is a stored source, or the duplicate of one.
        let stored = Set(rows.map(\.path))
        for source in report.sources {
            if case .duplicate = source.status { continue }
            #expect(stored.contains(source.path), "\(source.path) is stored")
        }

        var totals = (packets: UInt64(0), decoded: UInt64(0), anomalous: UInt64(0), undecodable: UInt64(0))
        var unread: [(String, UInt64)] = []
        var plainChecked = 0
        var byPath: [String: (SourceRow, SourceAccount)] = [:]
        for row in rows {
            guard let account = try Self.expectBalanced(row) else { continue }
            byPath[row.path] = (row, account)
            totals.packets += row.packets
            totals.decoded += account.packetsDecoded
            totals.anomalous += account.packetsAnomalous
            totals.undecodable += account.packetsUndecodable
            #expect(account.packetsFiltered == 0, "no filter, nothing filtered out")
            if account.bytesUnread > 0 { unread.append((URL(fileURLWithPath: row.path).lastPathComponent, account.bytesUnread)) }
            // Plain logs: the reader's lines and line ends match an independent count.
            if row.kind == .text, row.status == "complete", account.cutBytes == 0 {
                let counted = Self.plainCount(try Data(contentsOf: URL(fileURLWithPath: row.path)))
                #expect(row.lines == counted.lines, "\(row.path): lines")
                #expect(account.separatorBytes == counted.separators, "\(row.path): line ends")
                plainChecked += 1
            }
        }
        #expect(plainChecked > 20, "most plain logs are checked against an independent count")

        // A gzip log beside its plain twin (x.log.gz, x.log) frames the same lines.
        var twins = 0
        for (path, (row, account)) in byPath where row.kind == .gzip && row.status == "complete" && path.hasSuffix(".gz") {
            guard let (plainRow, plainAccount) = byPath[String(path.dropLast(3))], plainRow.status == "complete"
            else { continue }
            #expect(row.lines == plainRow.lines, "\(path)")
            #expect(row.bytes == plainRow.bytes, "\(path)")
            #expect(account.lineBytes == plainAccount.lineBytes, "\(path)")
            #expect(account.separatorBytes == plainAccount.separatorBytes, "\(path)")
            twins += 1
        }
        #expect(twins > 20, "the corpus has a gzip twin of most plain logs")
        #expect(totals.decoded > 0 && totals.anomalous > 0 && totals.undecodable > 0, "every bucket is used: \(totals)")
        print("corpus account: \(rows.count) sources; packets \(totals.packets) = \(totals.decoded) decoded + "
              + "\(totals.anomalous) anomalous + \(totals.undecodable) undecodable; "
              + "\(unread.count) sources with bytes unread: "
              + unread.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
    }

    // MARK: crafted damage

    static func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    /// A little-endian microsecond pcap of `linkType`.
    static func pcap(linkType: UInt32 = 1, _ packets: [[UInt8]]) -> [UInt8] {
        var bytes = le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65535) + le32(linkType)
        for (index, packet) in packets.enumerated() {
            bytes += le32(1_700_000_000 + UInt32(index)) + le32(0) + le32(UInt32(packet.count))
                + le32(UInt32(packet.count)) + packet
        }
        return bytes
    }

    static let ethernetIPv4: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]

    /// Ethernet, IPv4 (header length `ihl` words, protocol `proto`), UDP 10.0.0.1:1234 →
    /// 10.0.0.2:40000 (a port no decoder above UDP claims).
    static func udpPacket(ihl: UInt8 = 5, proto: UInt8 = 17) -> [UInt8] {
        let udp = be16(1234) + be16(40000) + be16(12) + be16(0) + [1, 2, 3, 4]
        let ip = [0x40 | ihl, 0] + be16(20 + udp.count) + be16(1) + be16(0) + [64, proto, 0, 0]
            + [10, 0, 0, 1] + [10, 0, 0, 2]
        return ethernetIPv4 + ip + udp
    }

    /// An ARP request: a link type Cairn decodes, an EtherType it does not.
    static let arp: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 0, 1, 0x08, 0x06]
        + [0, 1, 0x08, 0x00, 6, 4, 0, 1] + [2, 0, 0, 0, 0, 1, 10, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 10, 0, 0, 2]

    /// What one crafted file must store.
    struct Expected {
        var status = "complete"
        var packets: [UInt64] = [0, 0, 0, 0]  // decoded, anomalous, undecodable, filtered
        var unread: UInt64 = 0
        var lines: UInt64 = 0
        var lineBytes: UInt64 = 0
        var separators: UInt64 = 0
        var cut: UInt64 = 0
    }

    @Test func craftedDamageIsAccountedExactly() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = directory.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)

        let good = Self.udpPacket()
        // A good datagram, an IPv4 header too short (anomalous; TCP, so `udp` filters it
        // out), an ARP frame (decoded as far as Cairn decodes).
        let whole = Self.pcap([good, Self.udpPacket(ihl: 4, proto: 6), Self.arp])
        let three = Self.pcap([good, good, good])
        let lastRecord = 16 + good.count
        let garbageMember = try gzipCompressed(Array("x\ny\n".utf8))
        let longLine = 1 << 20 + 300_000  // past the 1 MiB line limit, across read chunks
        var files: [(String, [UInt8], Expected)] = [
            ("mixed.pcap", whole, Expected(packets: [2, 1, 0, 0])),
            // Cut in the middle of the last record's data: that record is unread.
            ("cut-mid-record.pcap", Array(three.dropLast(5)),
             Expected(status: "failed", packets: [2, 0, 0, 0], unread: UInt64(lastRecord - 5))),
            // Cut inside the next record's header.
            ("cut-mid-header.pcap", Self.pcap([good]) + [1, 2, 3, 4, 5, 6, 7],
             Expected(status: "failed", packets: [1, 0, 0, 0], unread: 7)),
            // USER0: counted, not decoded.
            ("unsupported.pcap", Self.pcap(linkType: 147, [good, good]), Expected(packets: [0, 0, 2, 0])),
            ("crlf.log", Array("a\r\nbb\r\n".utf8), Expected(lines: 2, lineBytes: 3, separators: 4)),
            ("no-final-newline.log", Array("one\ntwo".utf8), Expected(lines: 2, lineBytes: 6, separators: 1)),
            ("cut-line.log", [UInt8](repeating: 0x78, count: longLine) + Array("\r\ntail\n".utf8),
             Expected(lines: 2, lineBytes: 1 << 20 + 4, separators: 3, cut: UInt64(longLine - 1 << 20))),
            ("garbage.log.gz", garbageMember + Array("GARBAGE!".utf8),
             Expected(status: "failed", unread: 8, lines: 2, lineBytes: 2, separators: 2)),
        ]
        files.sort { $0.0 < $1.0 }
        for (name, bytes, _) in files { try Data(bytes).write(to: inputs.appendingPathComponent(name)) }

        let (_, rows) = try Self.ingest([inputs.path], in: directory)
        #expect(rows.count == files.count)
        for (name, _, expected) in files {
            let row = try #require(rows.first { $0.path.hasSuffix("/" + name) }, "\(name) is stored")
            let account = try #require(try Self.expectBalanced(row))
            #expect(row.status == expected.status, "\(name): \(row.error ?? "")")
            #expect([account.packetsDecoded, account.packetsAnomalous, account.packetsUndecodable,
                     account.packetsFiltered] == expected.packets, "\(name): \(account)")
            #expect(account.bytesUnread == expected.unread, "\(name)")
            #expect(row.lines == expected.lines, "\(name)")
            #expect(account.lineBytes == expected.lineBytes, "\(name)")
            #expect(account.separatorBytes == expected.separators, "\(name)")
            #expect(account.cutBytes == expected.cut, "\(name)")
        }

        // With --filter, packets the filter leaves out are their own bucket.
        let (_, filtered) = try Self.ingest(
            [inputs.appendingPathComponent("mixed.pcap").path], in: directory, filter: "udp", name: "filtered.sqlite")
        let row = try #require(filtered.first)
        let account = try #require(try Self.expectBalanced(row))
        #expect([account.packetsDecoded, account.packetsAnomalous, account.packetsUndecodable, account.packetsFiltered]
                == [1, 0, 0, 2], "\(account)")
    }

    /// `cairn sources` shows the account in a line an analyst reads at a glance, and
    /// in its TSV and JSON forms.
    @Test func sourcesCommandShowsTheAccount() throws {
        guard let cairn = Fixtures.cairnExecutable else {
            Issue.record("the cairn executable was not found beside the test bundle")
            return
        }
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("mixed.pcap")
        let bytes = Self.pcap([Self.udpPacket(), Self.udpPacket(ihl: 4, proto: 6), Self.arp])
        try Data(bytes).write(to: capture)
        let log = directory.appendingPathComponent("crlf.log")
        try Data("a\r\nbb\r\nlast".utf8).write(to: log)
        let database = directory.appendingPathComponent("case.sqlite").path
        func run(_ arguments: [String]) throws -> String {
            String(decoding: try Fixtures.run(cairn, arguments).output, as: UTF8.self)
        }
        _ = try run(["ingest", "--rules", try Self.rules(in: directory), "--db", database, capture.path, log.path])
        let table = try run(["sources", "--db", database])
        #expect(table.contains(
            "packets 3 = 2 decoded + 1 anomalous + 0 undecodable; bytes \(bytes.count) read + 0 unread of \(bytes.count)"),
            "\(table)")
        #expect(table.contains("lines 3: 7 in lines + 4 line ends + 0 cut = 11 read; bytes 11 read + 0 unread of 11"),
                "\(table)")

        let tsv = try run(["sources", "--db", database, "--format", "tsv"]).split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        let header = try #require(tsv.first)
        // The account's nine columns follow `finished_at` (column 12); the run's log settings follow them.
        #expect(Array(header[13..<22]) == ["packets_decoded", "packets_anomalous", "packets_undecodable",
                                              "packets_filtered", "bytes_consumed", "bytes_unread", "line_bytes",
                                              "separator_bytes", "cut_bytes"])
        let logRow = try #require(tsv.first { $0.count > 1 && $0[1] == log.path })
        #expect(Array(logRow[13..<22]) == ["0", "0", "0", "0", "11", "0", "7", "4", "0"])
        #expect(Array(header.suffix(from: 22))
                    == ["log_timezone", "log_year", "line_limit", "decompressed_limit", "unverified_from_line"])
        #expect(Array(logRow.suffix(from: 22)) == ["+00:00", "", "1048576", "68719476736", ""])
        let captureRow = try #require(tsv.first { $0.count > 1 && $0[1] == capture.path })
        #expect(Array(captureRow.suffix(from: 22)) == ["", "", "", "", ""])

        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(run(["sources", "--db", database, "--format", "json"]).utf8))
                as? [[String: Any]])
        let captureJSON = try #require(json.first { $0["path"] as? String == capture.path })
        let account = try #require(captureJSON["account"] as? [String: Any])
        #expect(account["packets_anomalous"] as? Int == 1)
        #expect(account["bytes_consumed"] as? Int == bytes.count)
    }
}
