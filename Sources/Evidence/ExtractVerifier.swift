import ByteParsing
import CaptureDecoding
import Crypto
import Foundation
import Observations

/// Checks that the pcap extract agrees with `evidence-index.csv`: every pcap file the
/// index names exists, holds exactly the packets the index lists (count, and per packet
/// timestamp, captured and original length, SHA-256 of the bytes), and no
/// `evidence*.pcap` file is left out of the index.
///
/// A disagreement is reported against the pcap file, unless the payload manifest shows
/// that the index changed and the pcap file did not (`changed`: the payload files whose
/// SHA-256 differs from the manifest's).
enum ExtractVerifier {
    static func verify(root: String, changed: Set<String> = [], problem: (String, String) -> Void) -> String? {
        let indexPath = BagIt.payloadDirectory + "/" + PacketExtract.indexFile
        guard let bytes = PackageVerifier.read(root, indexPath) else {
            // Packages made before the extract existed have no index; nothing to check.
            return nil
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            problem(indexPath, "is not UTF-8 text")
            return nil
        }
        let rows = CSVReader.rows(text)
        guard let header = rows.first, header == PacketExtract.indexColumns else {
            problem(indexPath, "does not start with the header line \(PacketExtract.indexColumns.joined(separator: ","))")
            return nil
        }
        func column(_ name: String) -> Int { PacketExtract.indexColumns.firstIndex(of: name) ?? 0 }
        var byFile: [String: [(line: Int, row: [String])]] = [:]
        for (offset, row) in rows.dropFirst().enumerated() {
            let line = offset + 2
            guard row.count == header.count else {
                problem(indexPath, "line \(line) has \(row.count) fields, the header \(header.count)")
                continue
            }
            byFile[row[column("evidence_file")], default: []].append((line, row))
        }
        var checkedPackets = 0
        var problems = 0
        for (name, entries) in byFile.sorted(by: { $0.key < $1.key }) {
            let relative = BagIt.payloadDirectory + "/" + name
            let blamed = changed.contains(indexPath) && !changed.contains(relative) ? indexPath : relative
            let about = blamed == relative ? "" : "\(relative) "
            guard BagIt.isPlainName(name), name.hasPrefix("evidence"), name.hasSuffix(".pcap") else {
                problem(indexPath, "line \(entries[0].line) names \(name), not an evidence pcap file of the package")
                problems += 1
                continue
            }
            var listed: [UInt64: (line: Int, row: [String])] = [:]
            for entry in entries {
                guard let number = UInt64(entry.row[column("evidence_packet")]), listed[number] == nil else {
                    problem(indexPath, "line \(entry.line): evidence_packet \(entry.row[column("evidence_packet")]) is not a new packet number")
                    problems += 1
                    continue
                }
                listed[number] = entry
            }
            let file: InputFile
            let reader: CaptureRecordReader
            do {
                file = try InputFile(path: root + "/" + relative)
                reader = try CaptureRecordReader(file: file)
            } catch {
                problem(blamed, "\(about)cannot be read as a capture (\(error)); \(indexPath) lists \(entries.count) packets in it")
                problems += 1
                continue
            }
            var count: UInt64 = 0
            var differences = 0
            let damage = reader.forEachPacket { record in
                count += 1
                guard let entry = listed[record.frame] else { return true }
                let row = entry.row
                var what: [String] = []
                if row[column("time")] != record.time.iso8601Nanoseconds {
                    what.append("time is \(record.time.iso8601Nanoseconds), the index says \(row[column("time")])")
                }
                let captured = record.bytes.count
                if row[column("captured_length")] != String(captured) {
                    what.append("captured length is \(captured), the index says \(row[column("captured_length")])")
                }
                if row[column("original_length")] != String(record.originalLength) {
                    what.append("original length is \(record.originalLength), the index says \(row[column("original_length")])")
                }
                var hasher = SHA256()
                hasher.update(span: record.bytes)
                let digest = Hex.string(hasher.finalize())
                if row[column("packet_sha256")] != digest {
                    what.append("SHA-256 of its bytes is \(digest), the index says \(row[column("packet_sha256")])")
                }
                if !what.isEmpty {
                    differences += 1
                    // A few lines name the packets; a flood of them says nothing more.
                    if differences <= 5 {
                        problem(blamed, "\(about)packet \(record.frame) (\(indexPath) line \(entry.line)): " + what.joined(separator: "; "))
                    }
                }
                return true
            }
            if differences > 5 { problem(blamed, "\(about)\(differences - 5) more packets differ from \(indexPath)") }
            if let damage { problem(relative, "is damaged: \(damage)") }
            if count != UInt64(listed.count) || listed.keys.contains(where: { $0 > count }) {
                problem(blamed, "\(about)holds \(count) packets, \(indexPath) lists \(listed.count)")
                differences += 1
            }
            problems += differences + (damage == nil ? 0 : 1)
            checkedPackets += Int(count)
        }
        // Every evidence pcap in the payload is indexed.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + BagIt.payloadDirectory)) ?? []
        for name in names.sorted() where name.hasPrefix("evidence") && name.hasSuffix(".pcap") && byFile[name] == nil {
            let relative = BagIt.payloadDirectory + "/" + name
            if changed.contains(indexPath) && !changed.contains(relative) {
                problem(indexPath, "does not list \(relative)")
            } else {
                problem(relative, "is not listed in \(indexPath)")
            }
            problems += 1
        }
        guard problems == 0 else { return nil }
        return "\(indexPath): \(checkedPackets) packets in \(byFile.count) pcap file(s), each with the timestamp, lengths and SHA-256 the index lists"
    }
}

/// RFC 4180 records: fields separated by commas, records by CRLF (LF accepted),
/// double-quoted fields may hold commas, quotes (doubled) and line breaks.
enum CSVReader {
    static func rows(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        var fieldStarted = false
        while index < utf8.endIndex {
            let byte = utf8[index]
            index = utf8.index(after: index)
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index < utf8.endIndex, utf8[index] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index = utf8.index(after: index)
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                quoted = true
                fieldStarted = true
            case UInt8(ascii: ","):
                row.append(String(decoding: field, as: UTF8.self))
                field.removeAll()
                fieldStarted = true
            case UInt8(ascii: "\r"):
                continue
            case UInt8(ascii: "\n"):
                row.append(String(decoding: field, as: UTF8.self))
                rows.append(row)
                row = []
                field.removeAll()
                fieldStarted = false
            default:
                field.append(byte)
                fieldStarted = true
            }
        }
        if fieldStarted || !field.isEmpty || !row.isEmpty {
            row.append(String(decoding: field, as: UTF8.self))
            rows.append(row)
        }
        return rows
    }
}
