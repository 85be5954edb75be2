import ByteParsing
import CaptureDecoding
import CaseStore
import CPcap
import Crypto
import Observations
#if canImport(Glibc)
import Glibc
#endif

extension PacketExtract {
    /// Pass 2 of the extract: copies the packets of the planned flows, source by source,
    /// into the package's pcap file(s) through libpcap and their rows into the index,
    /// both streamed and hashed as written (`BagFile`). Nothing is allocated per packet
    /// but the index row's reused buffer.
    final class Extract {
        let layout: Layout
        private let names: [Int32: String]
        /// The first pcap file by name: its index rows go straight into the index; those of
        /// the others (several link types, rare) wait in scratch files until it is done.
        private let firstName: String?
        private let bag: BagWriter
        private let index: BagFile
        private var sinks: [Int32: Sink] = [:]
        /// Link types libpcap could not open a dump for (never expected): their packets are
        /// left out, with a note.
        private var unwritable = Set<Int32>()
        private(set) var packetCount = 0
        private var failures: [String] = []
        /// What the packets written so far need in the pcap header.
        private var written = Needs()
        private var row: [UInt8] = []
        private var flowText: [FlowKey: [UInt8]] = [:]
        private var headerReader = PacketHeaderReader()

        struct Needs {
            var linkTypes = Set<Int32>()
            var fractional = false
            var longest = 0
        }

        init(layout: Layout, bag: BagWriter, index: BagFile) {
            self.layout = layout
            names = layout.fileNames
            firstName = names.values.min()
            self.bag = bag
            self.index = index
            row.reserveCapacity(512)
        }

        /// The layout the packets written need (equal to `layout` unless the first pass
        /// guessed wrong).
        var neededLayout: Layout {
            Layout(linkTypes: written.linkTypes, nanoseconds: written.fractional, longest: written.longest)
        }

        /// One pcap file being written. `@safe`: its libpcap handles are private, opened
        /// before `init`, closed once by `close()`, and used only while open.
        @safe final class Sink {
            let name: String
            let file: BagFile
            private let dead: OpaquePointer
            private let dumper: OpaquePointer
            /// Where its index rows go: the index, or a scratch file.
            let rows: BagFile
            let ownsRows: Bool
            /// `name,` as a CSV field.
            let nameField: [UInt8]
            var count = 0
            private var closed = false

            init(name: String, file: BagFile, dead: OpaquePointer, dumper: OpaquePointer, rows: BagFile, ownsRows: Bool) {
                self.name = name
                self.file = file
                unsafe self.dead = dead
                unsafe self.dumper = dumper
                self.rows = rows
                self.ownsRows = ownsRows
                var field: [UInt8] = []
                SightingsCSV.field(name, into: &field)
                nameField = field + [UInt8(ascii: ",")]
            }

            /// Hands libpcap's buffered bytes to the file.
            func flush() throws {
                // Safe: the dumper is open until `close()`, after which the sink is dropped.
                unsafe pcap_dump_flush(dumper)
                if let error = file.error { throw error }
            }

            /// Writes one packet record: `header`, then `data` (whose count `header.caplen` says).
            func dump(_ header: inout pcap_pkthdr, _ data: Span<UInt8>) {
                // Safe: libpcap reads `header.caplen` (= the span's count) bytes from the
                // span's memory, during the call only; the dumper is open until `close()`,
                // and pcap_dump takes it as u_char*, as libpcap's callbacks do. An empty
                // packet still needs a non-null data pointer: a local byte's, for the call.
                let user = unsafe UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self)
                unsafe data.withUnsafeBufferPointer { buffer in
                    if let base = buffer.baseAddress {
                        unsafe pcap_dump(user, &header, base)
                    } else {
                        var empty: UInt8 = 0
                        unsafe pcap_dump(user, &header, &empty)
                    }
                }
            }

            /// Closes the dump (libpcap flushes and closes its stream).
            func close() throws {
                guard !closed else { return }
                closed = true
                // Safe: both handles are open (closed only here, once).
                unsafe pcap_dump_close(dumper)
                unsafe pcap_close(dead)
                if let error = file.error { throw error }
            }

            deinit { try? close() }
        }

        /// The sink of a link type, opened at its first packet; nil when libpcap cannot
        /// write it.
        private func sink(for linkType: Int32) throws -> Sink? {
            if let sink = sinks[linkType] { return sink }
            guard !unwritable.contains(linkType) else { return nil }
            // A link type the layout did not foresee: its own file, named as if it had;
            // `neededLayout` then differs and the extract is written again.
            let name = names[linkType] ?? PacketExtract.fileNames(linkTypes: layout.linkTypes.union([linkType]))[linkType] ?? singleFile
            let precision = UInt32(layout.nanoseconds ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO)
            // Safe (the handles below): each is closed exactly once, here on failure or
            // by the sink that takes it over; none is used after its close.
            guard let dead = unsafe pcap_open_dead_with_tstamp_precision(linkType, layout.snapshotLength, precision) else {
                unwritable.insert(linkType)
                failures.append("\(name): libpcap could not write the extract for link type \(linkType)")
                return nil
            }
            let file: BagFile
            do {
                file = try bag.stream(sinks.values.contains { $0.name == name } ? "evidence-\(linkType).pcap" : name)
            } catch {
                unsafe pcap_close(dead)
                throw error
            }
            guard let stream = unsafe openWriteStream(file) else {
                unsafe pcap_close(dead)
                bag.remove(file)
                throw EvidenceError.cannotWrite(path: file.path, reason: "cannot open a stream for libpcap")
            }
            guard let dumper = unsafe pcap_dump_fopen(dead, stream) else {
                unsafe fclose(stream)
                unsafe pcap_close(dead)
                bag.remove(file)
                unwritable.insert(linkType)
                failures.append("\(name): libpcap could not write the extract for link type \(linkType)")
                return nil
            }
            let ownsRows = name != firstName
            let rows = ownsRows ? try bag.scratch() : index
            let sink = unsafe Sink(name: file.name, file: file, dead: dead, dumper: dumper, rows: rows, ownsRows: ownsRows)
            sinks[linkType] = sink
            return sink
        }

        /// Copies the planned packets of one source. A source whose SHA-256 is not the
        /// recorded one (or that cannot be read) is cut off every file again and returned
        /// as an omission; a write error throws.
        func copy(_ plan: Plan) throws -> Omission? {
            // Where to come back to if the source has to be left out.
            var marks: [(sink: Sink, file: BagFile.Mark, rows: BagFile.Mark?, count: Int)] = []
            for sink in sinks.values {
                try sink.flush()
                marks.append((sink, try sink.file.mark(), sink.ownsRows ? try sink.rows.mark() : nil, sink.count))
            }
            let indexMark = try index.mark()
            let before = (sinks: Set(sinks.keys), packetCount: packetCount, written: written)
            func leaveOut(_ omission: Omission) throws -> Omission {
                for (linkType, sink) in sinks where !before.sinks.contains(linkType) {
                    try? sink.close()
                    bag.remove(sink.file)
                    if sink.ownsRows { sink.rows.abandon() }
                    sinks[linkType] = nil
                }
                for mark in marks {
                    try mark.sink.flush()
                    try mark.sink.file.rollback(to: mark.file)
                    if let rows = mark.rows { try mark.sink.rows.rollback(to: rows) }
                    mark.sink.count = mark.count
                }
                try index.rollback(to: indexMark)
                packetCount = before.packetCount
                written = before.written
                return omission
            }

            var sourceFields: [UInt8] = []
            SightingsCSV.field(plan.path, into: &sourceFields)
            sourceFields.append(UInt8(ascii: ","))
            SightingsCSV.field(plan.sha256, into: &sourceFields)
            sourceFields.append(UInt8(ascii: ","))
            var failure: (any Error)? = nil
            // A sighted packet whose flow is not the one the first pass found: the file
            // changed between the passes.
            var differs: UInt64? = nil
            // Frames come in increasing order: a cursor over the sorted sighted and folded
            // frames answers each packet without hashing its number.
            var sightedFrames = FrameCursor(plan.frames)
            var foldedFrames = FrameCursor(plan.folded)
            let second: (damage: String?, sha256: String)
            do {
                second = try PacketExtract.read(plan.path) { record in
                    let headers = headerReader.locate(packet: record.bytes, linkType: record.linkType)
                    let sighted: Bool
                    let isFolded = foldedFrames.contains(record.frame)
                    if sightedFrames.contains(record.frame) {
                        sighted = true
                        if plan.sightedFlows[record.frame] != headers?.flow { differs = differs ?? record.frame }
                    } else if isFolded {
                        sighted = true
                        if headers.map({ plan.flows.contains($0.flow) }) != true { differs = differs ?? record.frame }
                    } else {
                        sighted = false
                    }
                    guard sighted || headers.map({ plan.flows.contains($0.flow) }) == true else { return true }
                    do {
                        try write(record, headers: headers, sighted: sighted, folded: isFolded, plan: plan,
                                  sourceFields: sourceFields)
                        return true
                    } catch {
                        failure = error
                        return false
                    }
                }
            } catch {
                return try leaveOut(Omission(path: plan.path, "cannot be read now (\(error))"))
            }
            if let failure { throw failure }
            guard second.sha256 == plan.sha256 else {
                // The first pass found the recorded SHA-256.
                return try leaveOut(Omission(
                    path: plan.path, "its SHA-256 changed while it was read (now \(second.sha256), recorded \(plan.sha256))"))
            }
            if let differs {
                return try leaveOut(Omission(
                    path: plan.path, "it changed while it was read (packet \(differs) is not in the flow read before)"))
            }
            return nil
        }

        private func write(
            _ record: CaptureRecord, headers: PacketHeaders?, sighted: Bool, folded: Bool, plan: Plan,
            sourceFields: [UInt8]
        ) throws {
            guard let sink = try sink(for: record.linkType) else { return }
            let packet = record.bytes
            var count = packet.count
            if let cut = plan.cutSighted, !sighted || folded || cut.contains(record.frame) {
                // A packet without a readable IP header is only here when sighted: kept whole.
                count = min(count, headers?.headersEnd ?? count)
            }
            let bytes = packet.extracting(0..<count)
            let originalLength = max(record.originalLength, UInt32(clamping: packet.count))

            var header = pcap_pkthdr()
            let (seconds, fraction) = record.time.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
            let (wholeSeconds, nanoseconds) = fraction < 0 ? (seconds - 1, fraction + 1_000_000_000) : (seconds, fraction)
            header.ts.tv_sec = Int(wholeSeconds)
            header.ts.tv_usec = Int(layout.nanoseconds ? nanoseconds : nanoseconds / 1000)
            header.caplen = UInt32(count)
            header.len = originalLength
            sink.dump(&header, bytes)
            if let error = sink.file.error { throw error }
            sink.count += 1
            packetCount += 1
            written.linkTypes.insert(record.linkType)
            if record.time.nanoseconds % 1000 != 0 { written.fractional = true }
            written.longest = max(written.longest, count)

            row.removeAll(keepingCapacity: true)
            row += sink.nameField
            Self.appendDecimal(UInt64(sink.count), to: &row)
            row.append(UInt8(ascii: ","))
            row += sourceFields
            Self.appendDecimal(record.frame, to: &row)
            row.append(UInt8(ascii: ","))
            record.time.appendISO8601Nanoseconds(to: &row)
            row.append(UInt8(ascii: ","))
            Self.appendDecimal(UInt64(count), to: &row)
            row.append(UInt8(ascii: ","))
            Self.appendDecimal(UInt64(originalLength), to: &row)
            row.append(UInt8(ascii: ","))
            var digest = SHA256()
            digest.update(span: bytes)
            Self.appendHex(digest.finalize(), to: &row)
            row.append(UInt8(ascii: ","))
            row += sighted ? Self.yes : Self.no
            row.append(UInt8(ascii: ","))
            if let flow = headers?.flow {
                if let text = flowText[flow] {
                    row += text
                } else {
                    var text: [UInt8] = []
                    SightingsCSV.field(flow.description, into: &text)
                    flowText[flow] = text
                    row += text
                }
            } else {
                row += Self.noIPHeader
            }
            row.append(UInt8(ascii: "\r"))
            row.append(UInt8(ascii: "\n"))
            try sink.rows.write(row)
        }

        static let noIPHeader = Array("no IP header".utf8)
        static let yes = Array("yes".utf8)
        static let no = Array("no".utf8)
        private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

        static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
            var divisor: UInt64 = 1
            while divisor <= value / 10 { divisor *= 10 }
            var remaining = value
            while divisor > 0 {
                bytes.append(UInt8(truncatingIfNeeded: 48 + remaining / divisor))
                remaining %= divisor
                divisor /= 10
            }
        }

        static func appendHex(_ digest: SHA256.Digest, to bytes: inout [UInt8]) {
            // Safe: the digest's own bytes, read only in the closure (iterating the digest
            // instead would copy it into an array per packet).
            unsafe digest.withUnsafeBytes { raw in
                for unsafe byte in unsafe raw {
                    bytes.append(hexDigits[Int(byte >> 4)])
                    bytes.append(hexDigits[Int(byte & 0x0F)])
                }
            }
        }

        /// Closes the pcap files (sorted by name) and the index (its scratch rows appended
        /// in the same order) and lists them in the manifest.
        func finish() throws -> (files: [CustodyFile], packetCount: Int, failures: [String]) {
            let ordered = sinks.values.sorted { $0.name < $1.name }
            var files: [CustodyFile] = []
            for sink in ordered {
                try sink.close()
                files.append(try bag.finish(sink.file))
            }
            for sink in ordered where sink.ownsRows {
                try index.append(contentsOf: sink.rows)
                sink.rows.abandon()
            }
            files.append(try bag.finish(index))
            sinks = [:]
            return (files, packetCount, failures)
        }

        /// Removes every pcap file written (to write them again with another layout).
        func discard() {
            for sink in sinks.values {
                try? sink.close()
                bag.remove(sink.file)
                if sink.ownsRows { sink.rows.abandon() }
            }
            sinks = [:]
            packetCount = 0
            written = Needs()
        }
    }
}

// The one unsafe spot of the extract writer: a C `FILE*` for libpcap's `pcap_dump`
// whose bytes go to a `BagFile`, so that the pcap file is hashed as it is written.
// CPcap's shim declares glibc's `fopencookie`.

private typealias CookieWrite = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> Int
private typealias CookieClose = @convention(c) (UnsafeMutableRawPointer?) -> Int32

// Safe: the cookie is the `Unmanaged` reference made in `openWriteStream`, retained
// until `cookieClose`; `buffer` holds `count` bytes (glibc's own stream buffer).
// fopencookie's write returns the bytes taken, 0 on error (never negative).
private let cookieWrite: CookieWrite = { cookie, buffer, count in
    guard let cookie = unsafe cookie, let buffer = unsafe buffer, count > 0 else { return 0 }
    let file = unsafe Unmanaged<BagFile>.fromOpaque(cookie).takeUnretainedValue()
    do {
        try file.write(unsafe Span<UInt8>(_unsafeBytes: UnsafeRawBufferPointer(start: buffer, count: count)))
        return count
    } catch {
        errno = EIO
        return 0
    }
}

// Called once by `fclose` (which `pcap_dump_close` calls): drops the reference taken at open.
// Safe: the cookie is that reference, released once.
private let cookieClose: CookieClose = { cookie in
    if let cookie = unsafe cookie { unsafe Unmanaged<BagFile>.fromOpaque(cookie).release() }
    return 0
}

/// A write-only `FILE*` into `file`, with a stdio buffer as large as the file's own
/// so that full buffers pass straight through. The stream holds a reference to `file`
/// until it is closed.
private func openWriteStream(_ file: BagFile) -> UnsafeMutablePointer<FILE>? {
    // No read and no seek: libpcap writes a dump front to back.
    let functions = unsafe cairn_cookie_io_functions(read: nil, write: cookieWrite, seek: nil, close: cookieClose)
    // Safe: the stream keeps this retained reference until `cookieClose` releases it;
    // if no stream is made, it is released here.
    let cookie = unsafe Unmanaged.passRetained(file).toOpaque()
    guard let stream = unsafe cairn_fopencookie(cookie, "w", functions) else {
        unsafe Unmanaged<BagFile>.fromOpaque(cookie).release()
        return nil
    }
    // Before any write, as setvbuf requires; on failure the default buffer is used.
    // Safe: a nil buffer: glibc allocates (and frees) the stream's own.
    _ = unsafe setvbuf(stream, nil, _IOFBF, BagFile.bufferSize)
    return unsafe stream
}

/// Membership of increasing frame numbers in a set, by walking the set's sorted
/// elements once: each query must be at least the previous one.
struct FrameCursor {
    private let frames: [UInt64]
    private var position = 0

    init(_ frames: Set<UInt64>) {
        self.frames = frames.sorted()
    }

    mutating func contains(_ frame: UInt64) -> Bool {
        while position < frames.count, frames[position] < frame { position += 1 }
        return position < frames.count && frames[position] == frame
    }
}
