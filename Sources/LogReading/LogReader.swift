import ByteParsing
import Observations

/// Options for reading logs.
public struct LogReadingOptions: Sendable {
    /// The year of the file's first RFC 3164 timestamp (the format has none), used as
    /// given when `yearHint` is nil (the user said `--year`). Later lines whose month
    /// goes back by more than six months (December, then January) move to the next year.
    public var year: Int
    /// When set (to the file's modification time, when the user gave no year), the year
    /// of the first RFC 3164 line is inferred from it instead: the latest year that does
    /// not put that line more than a day after this time. Rollover then works as above.
    public var yearHint: Timestamp?
    /// The offset from UTC, in seconds east, of times written without a zone (RFC 3164,
    /// Apache error log, log4j): 3600 for CET. One fixed offset for the whole file; a
    /// daylight-saving change inside the file is not followed. Formats with a zone
    /// (RFC 5424, RFC 3339, JSON with an offset) ignore it. Default 0: UTC.
    public var utcOffsetSeconds: Int = 0
    /// Lines longer than this are cut (the cut is counted as an anomaly `log.line_too_long`;
    /// the rest up to the next LF is skipped). Values above `LogReader.largestLineLimit`
    /// are taken as that limit; the reader allocates one buffer of this size.
    public var maximumLineLength: Int
    /// The public suffix list that tells domain names from file names (`config.php`);
    /// nil falls back to a syntactic rule (see `TextScanner`). Defaults to the system's list.
    public var publicSuffixes: PublicSuffixList?
    /// The decompression-bomb guard: a gzip file is read up to this many decompressed
    /// bytes; past it reading stops with `ReadSummary.damage` saying so (with the
    /// compressed byte offset), and the lines before it are kept (the last one cut where
    /// the limit fell). Plain files are not limited (their size is their size).
    ///
    /// Default 64 GiB: ten times the largest rotated syslog we expect for one file, and
    /// at inflate speed (about 1 GB/s) a bound of about a minute on what a bomb costs.
    /// An absolute cap rather than a ratio to the compressed size: memory does not grow
    /// with the output (it is streamed), so a bomb costs only time, and deflate cannot
    /// exceed about 1032:1 anyway, so a ratio cap loose enough for very repetitive real
    /// logs (which do reach several hundred to one) would barely stop a bomb at all.
    public var maximumDecompressedBytes: UInt64 = LogReadingOptions.defaultMaximumDecompressedBytes
    /// The gzip decoder: ISA-L (the default: about twice zlib's speed on log text) or
    /// zlib (the reference, kept as the fallback). Both read every member and report
    /// damage alike; tests decode the same files through both and compare.
    public var inflater: Inflater = .isal
    /// For gzip input: inflate on a second thread of the reader's own, so that
    /// decompression overlaps framing and scanning (with a free core, the 1 GB bench
    /// syslog is ingested with 2 M indicators in 8.7 s instead of 9.6 s with ISA-L,
    /// docs/performance.md; without one it costs nothing measurable). Everything read
    /// is the same as without it: lines, offsets, observations, `ReadSummary`, damage
    /// messages. Worth it only with a spare core (more cores than files read at once);
    /// default false. The ingest turns it on for logs read with the scanning pool
    /// (`read(pool:…)`) when it has fewer files than jobs: there it keeps the reading
    /// thread from holding the scanners up.
    ///
    /// Memory: a fixed ring of `InflatedChunkRing.defaultSlotCount` (4) decompressed
    /// chunks of the reader's chunk size (1 MiB by default), allocated when the reader is
    /// made, whatever the file's size. The thread starts in `read` and is joined before
    /// `read` returns, on every path (end of file, damage, the bomb guard); plain input
    /// is read as before, without a thread.
    public var inflatesOnSecondThread = false

    /// 64 GiB; see `maximumDecompressedBytes`.
    public static let defaultMaximumDecompressedBytes: UInt64 = 64 << 30
    /// 1 MiB; see `maximumLineLength`.
    public static let defaultMaximumLineLength = 1 << 20

    /// Which library inflates gzip input.
    public enum Inflater: String, Sendable, CaseIterable {
        /// Intel's ISA-L (`isal_inflate`), streaming with its gzip header and CRC checks.
        case isal
        /// zlib (`inflate` with gzip framing): the reference implementation.
        case zlib
    }

    /// `year` for RFC 3164 timestamps; lines cut at 1 MiB by default.
    public init(year: Int, maximumLineLength: Int = LogReadingOptions.defaultMaximumLineLength) {
        self.year = year
        self.maximumLineLength = maximumLineLength
        publicSuffixes = PublicSuffixList.system
    }
}

extension Int64 {
    /// Days since the epoch for nanoseconds since the epoch, rounding down.
    fileprivate var floorDays: Int64 {
        let day: Int64 = 86_400_000_000_000
        return self >= 0 ? self / day : (self - day + 1) / day
    }
}

/// Streams one log file (plain text, or gzip with any number of members) line by line
/// and hands every observation found in the text to the caller.
///
/// Memory is fixed per reader: one read chunk (two for gzip, and a ring of four more
/// with `inflatesOnSecondThread`) and one line buffer of `maximumLineLength` bytes, all
/// allocated in `init`. Lines that lie inside a chunk are
/// scanned in place; only a line split across chunks is copied into the line buffer.
/// Nothing is allocated per line unless the caller's closure does.
///
/// Not thread-safe: one reader owns its file. With `inflatesOnSecondThread` the reader
/// runs one helper thread of its own during `read`, and joins it before `read` returns.
public final class LogReader {
    /// The read size: large enough to amortise system calls and zlib calls.
    public static let defaultChunkSize = 1 << 20
    /// The largest line buffer a reader allocates, whatever `maximumLineLength` says,
    /// so that a careless option cannot make a reader ask for gigabytes.
    public static let largestLineLimit = 64 << 20
    /// Room for the member paths of one line's held observations; a line with more
    /// (hundreds of JSON values with long paths) has the rest observed without one.
    static let heldMembersCapacity = 64 << 10
    /// `progress` is called every this many lines.
    static let progressInterval: UInt64 = 65_536

    private let file: InputFile
    let options: LogReadingOptions
    private let lineLimit: Int
    let chunkSize: Int
    /// The chunks of text, plain or inflated.
    private let chunks: LogChunks
    /// The chunks of the inflating thread, with `inflatesOnSecondThread` (gzip only).
    var chunkRing: InflatedChunkRing? { chunks.ring }

    /// One line as `read`'s `line` closure sees it; borrowed for the call.
    public struct LineView: ~Escapable {
        /// The line's bytes (without its line end).
        public var bytes: Span<UInt8>
        public var locator: Locator
        /// The line's time (its header's, or the nearest earlier one).
        public var time: Timestamp
        /// The host of its header.
        public var host: HostReference
        /// The first address the line names as its source and as its destination.
        public var source: HostAddress
        public var destination: HostAddress

        /// `bytes` read with `head`, the line's heading.
        @_lifetime(copy bytes)
        init(bytes: Span<UInt8>, head: LineHead, locator: Locator, source: HostAddress, destination: HostAddress) {
            self.bytes = bytes
            self.locator = locator
            time = head.time
            host = if let name = head.host { .name(bytes.extracting(name)) } else { .none }
            self.source = source
            self.destination = destination
        }
    }

    /// A reader for `file`; `compressed` says it is gzip (detected by the caller from
    /// its magic bytes). Opening costs two or three buffer allocations, nothing else.
    public convenience init(file: InputFile, compressed: Bool, options: LogReadingOptions) {
        self.init(file: file, compressed: compressed, options: options, chunkSize: LogReader.defaultChunkSize)
    }

    /// As above with a chosen read size (tests use tiny ones to exercise boundaries).
    public init(file: InputFile, compressed: Bool, options: LogReadingOptions, chunkSize: Int) {
        self.file = file
        self.options = options
        self.chunkSize = max(1, chunkSize)
        lineLimit = min(max(1, options.maximumLineLength), LogReader.largestLineLimit)
        chunks = LogChunks(file: file, compressed: compressed, options: options, chunkSize: self.chunkSize)
    }

    /// Reads every line. Observations carry `.line(number:offset:)` locators, the line's
    /// header time (or the nearest earlier one), and the header's host. A message that is
    /// a JSON object (Zeek, Suricata EVE) takes its time from `ts`/`timestamp`, its host
    /// from `host`/`hostname` when the header gives none, and tags `id.orig_h`/`src_ip`
    /// as `log.src` and `id.resp_h`/`dest_ip` as `log.dst`, and sets `member` to the
    /// member path of every value (`http.hostname`); other addresses are tagged
    /// from the words around them (see `AddressRoles`). A truncated or
    /// corrupt gzip stream ends the read with `damage` set (naming the compressed byte
    /// offset); the lines before it are kept. The file is drained to its end.
    /// O(file size); `progress` is called every 65 536 lines.
    /// `line` is called once per line after its observations (for correlation rules
    /// that select log lines by their text).
    public func read(
        observe: (Observation) -> Void, line lineHandler: (LineView) -> Void = { _ in },
        progress: (ReadSummary) -> Void
    ) -> ReadSummary {
        var lastTime = Timestamp(seconds: 0)
        var years = YearTracker(options: options)
        // A local, not a stored property: the closures below then borrow it with static
        // exclusivity checks instead of dynamic ones on every observation.
        var held = HeldLine()
        let suffixes = options.publicSuffixes
        var paths = [UInt8](repeating: 0, count: JSONScanner.maximumMemberPathLength)
        var summary = readLines(progress: progress) { line, number, offset in
            held.start()
            let head = headLine(line, lastTime: &lastTime, years: &years)
            let locator = Locator.line(number: number, offset: offset)
            LogReader.scanLine(line, head, locator: locator, suffixes: suffixes, paths: &paths) { found, member in
                if !held.hold(found, member: member) { observe(found.lent(from: line, member: member)) }
            }
            let (source, destination) = held.attributeToTheOtherSide()
            held.forEach { observe($0.lent(from: line, member: $1)) }
            lineHandler(LineView(bytes: line, head: head, locator: locator, source: source, destination: destination))
        }
        if let note = years.inferenceNote { summary.notes.append(note) }
        return summary
    }

    /// The observations of the line being scanned, held until its end so that an
    /// address the line names as source or destination is attributed to the other side.
    /// Only those from the line's first source or destination on are held (so none is
    /// held while the line has named neither): the others are never changed, so they
    /// are passed on at once, in the same order, without a copy (most lines name no
    /// source or destination). Kept between lines (capacity only), so holding allocates
    /// nothing per line.
    struct HeldLine {
        private(set) var observations: [LineObservation] = []
        /// Copies of the member paths of the held observations (the scanner's path
        /// buffer is reused for every JSON value), up to `heldMembersCapacity` bytes.
        private(set) var members = MemberCopies()

        init() { observations.reserveCapacity(64) }

        /// Forgets the last line's observations, keeping the capacity.
        mutating func start() {
            if !observations.isEmpty { observations.removeAll(keepingCapacity: true) }
            members.removeAll()
        }

        /// Keeps an observation of the current line, with its member path copied, once the
        /// line has named a source or destination; false (keeping nothing) before that.
        @inline(__always)
        mutating func hold(_ observation: LineObservation, member: Optional<Span<UInt8>>) -> Bool {
            guard !observations.isEmpty || observation.field == .logSource || observation.field == .logDestination else {
                return false
            }
            var kept = observation
            kept.member = if let member, members.bytes.count + member.count <= LogReader.heldMembersCapacity {
                members.copy(member)
            } else {
                nil
            }
            observations.append(kept)
            return true
        }

        /// Gives the addresses a line names as its source (`log.src`) the first destination
        /// address of the line as their host, and the destinations the first source: the
        /// local host of a firewall or server line is the side that is not the remote
        /// address (an indicator, when one matches). Other values keep the header's host.
        /// Returns the first source and destination.
        mutating func attributeToTheOtherSide() -> (source: HostAddress, destination: HostAddress) {
            var source = HostAddress.none
            var destination = HostAddress.none
            // Most lines name no source or destination: nothing to attribute.
            guard !observations.isEmpty else { return (source, destination) }
            for observation in observations {
                if source == .none, observation.field == .logSource { source = observation.address }
                if destination == .none, observation.field == .logDestination { destination = observation.address }
            }
            for index in observations.indices {
                switch observations[index].field {
                case .logSource where destination != .none: observations[index].host = .address(destination)
                case .logDestination where source != .none: observations[index].host = .address(source)
                default: break
                }
            }
            return (source, destination)
        }

        /// Calls `body` with each held observation and its member path's copy.
        func forEach(_ body: (LineObservation, Optional<Span<UInt8>>) -> Void) {
            for observation in observations { body(observation, members.span(of: observation.member)) }
        }
    }

    /// The year for RFC 3164 lines as a file goes on. Unless the year was given
    /// (`--year`), it is inferred: from the nearest earlier line of the file that carries
    /// a full date (RFC 3339, RFC 5424, a JSON record's time, Apache, log4j), taking the
    /// year that puts the RFC 3164 time nearest that date; before any such line, from
    /// the file's modification time (`hint`). After that it goes up where the month goes
    /// back by more than six months (December to January).
    struct YearTracker {
        /// The year of the current line; nil until the first RFC 3164 line fixes it.
        var year: Int?
        var hint: Timestamp?
        var lastMonth = 0
        let offset: Int64
        /// The last RFC 3164 timestamp read (see `SyslogHeaderParser.parse(_:year:memo:)`).
        var timestampMemo = BSDTimestampMemo()
        /// The last day whose civil year was asked for, and that year: the lines of a
        /// day all ask for it, and the conversion is a few divisions.
        private var lastDay: (days: Int64, year: Int)?
        /// The time of the last line with a full date since the last RFC 3164 line (in
        /// inference mode only).
        private var datedSinceLastYearless: Timestamp?
        /// Where the first RFC 3164 line's year came from, and that year; nil when the
        /// year was given (`--year`) or no line needed one.
        private(set) var inference: (year: Int, from: YearSource)?
        /// The times the year went up, where the month went back by more than six months.
        private(set) var rollovers = 0
        /// The times a later line with a full date changed the year.
        private(set) var changesFromDatedLines = 0

        enum YearSource {
            case modificationTime(Timestamp)
            case datedLine(Timestamp)
        }

        /// Half a year: an RFC 3164 time this close to a full date is taken in its year
        /// without trying the years around it.
        private static let halfYear: Int64 = 183 * 86_400_000_000_000

        init(options: LogReadingOptions) {
            hint = options.yearHint
            year = hint == nil ? options.year : nil
            offset = Int64(options.utcOffsetSeconds) * 1_000_000_000
        }

        /// The header's time in UTC, with the year fixed for an RFC 3164 header.
        mutating func time(of header: SyslogHeader, line: Span<UInt8>) -> Timestamp? {
            guard var time = header.time else { return nil }
            if let month = header.yearlessMonth {
                let parsedYear = civilYear(ofDay: time.nanoseconds.floorDays)
                var wanted = year ?? parsedYear
                if let dated = datedSinceLastYearless {
                    wanted = nearestYear(line, parsed: time, parsedYear: parsedYear, to: dated)
                    if year == nil {
                        inference = (wanted, .datedLine(dated))
                    } else if wanted != year {
                        changesFromDatedLines += 1
                    }
                    datedSinceLastYearless = nil
                } else if year == nil, let hint {
                    // The first line: the latest year that does not put it after the hint.
                    let hintYear = Int(Timestamp.civil(fromDays: hint.nanoseconds.floorDays).year)
                    wanted = hintYear
                    if let candidate = reparse(line, year: hintYear),
                       candidate.nanoseconds - offset > hint.nanoseconds + 86_400_000_000_000
                    {
                        wanted = hintYear - 1
                    }
                    inference = (wanted, .modificationTime(hint))
                } else if lastMonth - month > 6 {
                    wanted += 1
                    rollovers += 1
                }
                year = wanted
                lastMonth = month
                if wanted != parsedYear, let again = reparse(line, year: wanted) { time = again }
            }
            if header.zoneless { time.nanoseconds &-= offset }
            if header.yearlessMonth == nil { noteDated(time) }
            return time
        }

        /// A time read with its full date (a header's, or a JSON record's): in inference
        /// mode, the next RFC 3164 line takes the year that puts it nearest.
        mutating func noteDated(_ time: Timestamp) {
            if hint != nil { datedSinceLastYearless = time }
        }

        /// The year that puts the RFC 3164 line (read as `parsed`, in `parsedYear`)
        /// nearest `dated`: its own when within half a year, else the one of the three
        /// around `dated`'s that is nearest.
        private mutating func nearestYear(
            _ line: Span<UInt8>, parsed: Timestamp, parsedYear: Int, to dated: Timestamp
        ) -> Int {
            func distance(_ time: Timestamp) -> Int64 {
                let difference = time.nanoseconds &- offset &- dated.nanoseconds
                return difference < 0 ? 0 &- difference : difference
            }
            if distance(parsed) <= YearTracker.halfYear { return parsedYear }
            let datedYear = civilYear(ofDay: dated.nanoseconds.floorDays)
            var best = (year: parsedYear, distance: distance(parsed))
            for candidate in datedYear - 1...datedYear + 1 {
                if let time = reparse(line, year: candidate), distance(time) < best.distance {
                    best = (candidate, distance(time))
                }
            }
            return best.year
        }

        private mutating func civilYear(ofDay days: Int64) -> Int {
            if let lastDay, lastDay.days == days { return lastDay.year }
            let year = Int(Timestamp.civil(fromDays: days).year)
            lastDay = (days, year)
            return year
        }

        private func reparse(_ line: Span<UInt8>, year: Int) -> Timestamp? {
            SyslogHeaderParser.parse(line, year: year)?.time
        }

        /// For the source's notes, when the year of RFC 3164 times was inferred: which
        /// year, from what, and how often it changed after that. An analyst must be able
        /// to see that the times of such a file rest on a guess.
        var inferenceNote: String? {
            guard let inference else { return nil }
            var note = "RFC 3164 times carry no year: the first was taken to be in \(inference.year), "
            switch inference.from {
            case .modificationTime(let hint):
                note += "the latest year that does not put it after the file's modification time (\(hint.iso8601))"
            case .datedLine(let dated):
                note += "the year that puts it nearest the full date of an earlier line (\(dated.iso8601))"
            }
            if rollovers > 0 {
                note += "; then the year went up \(Self.times(rollovers)), where the month went back by more than "
                    + "six months (as from December to January)"
            }
            if changesFromDatedLines > 0 {
                note += "; a later line's full date changed it \(Self.times(changesFromDatedLines))"
            }
            return note + "; give the year (--year) if that is wrong"
        }

        private static func times(_ count: Int) -> String { count == 1 ? "once" : "\(count) times" }
    }

    /// The framing loop: hands every line (LF and a CR before it removed, cut at the
    /// limit) with its 1-based number and decompressed byte offset to `body`.
    func readLines(
        progress: (ReadSummary) -> Void, _ body: (Span<UInt8>, UInt64, UInt64) -> Void
    ) -> ReadSummary {
        var summary = ReadSummary()
        /// Decompressed bytes before the current chunk.
        var streamOffset: UInt64 = 0
        /// A line split across chunks: at most `lineLimit` bytes plus one for a CR before LF.
        var pending: [UInt8] = []
        pending.reserveCapacity(lineLimit + 1)
        /// Offset of the first byte of the pending line.
        var pendingOffset: UInt64 = 0
        /// The pending line outgrew the buffer; the rest up to LF is skipped.
        var pendingCut = false
        /// Bytes of the pending line that did not fit the buffer (skipped), for the account.
        var pendingDropped: UInt64 = 0
        /// Whether the last byte of the pending line so far (kept or skipped) is a CR.
        var pendingEndsWithCR = false

        /// Hands on one line: `bytes` are its bytes as held, `dropped` more bytes of it
        /// were skipped (only when `alreadyCut`), `endsWithCR` says whether its last byte
        /// (held or skipped) is a CR, and `terminated` whether an LF ended it.
        func emit(
            _ bytes: Span<UInt8>, offset: UInt64, alreadyCut: Bool, dropped: UInt64 = 0,
            endsWithCR: Bool = false, terminated: Bool
        ) {
            var length = bytes.count
            var cut = alreadyCut
            /// A CR before the line end, dropped as part of it.
            var carriageReturn = false
            if cut {
                length = min(length, lineLimit)
                // The line ran past the buffer, so its last byte lies beyond `length`.
                carriageReturn = endsWithCR
            } else {
                if length > 0, bytes[length - 1] == UInt8(ascii: "\r") {
                    length -= 1
                    carriageReturn = true
                }
                if length > lineLimit {
                    length = lineLimit
                    cut = true
                }
            }
            // The account: every byte of the line is handed on, cut, or its line end.
            let separator: UInt64 = (carriageReturn ? 1 : 0) + (terminated ? 1 : 0)
            summary.lineBytes += UInt64(length)
            summary.separatorBytes += separator
            summary.cutBytes += UInt64(bytes.count) + dropped - UInt64(length) - (carriageReturn ? 1 : 0)
            summary.lines += 1
            if cut { summary.anomalies.record(.logLineTooLong) }
            body(bytes.extracting(0..<length), summary.lines, offset)
            if summary.lines % LogReader.progressInterval == 0 { progress(summary) }
        }

        /// Appends to the pending line, keeping at most `lineLimit + 1` bytes.
        func append(_ bytes: Span<UInt8>, offset: UInt64) {
            if pending.isEmpty && !pendingCut { pendingOffset = offset }
            let count = min(lineLimit + 1 - pending.count, bytes.count)
            pending.append(span: bytes.extracting(0..<count))
            if count < bytes.count {
                pendingCut = true
                pendingDropped += UInt64(bytes.count - count)
            }
            if !bytes.isEmpty { pendingEndsWithCR = bytes[bytes.count - 1] == UInt8(ascii: "\r") }
        }
        /// Hands on the pending line and empties it.
        func emitPending(terminated: Bool) {
            emit(pending.span, offset: pendingOffset, alreadyCut: pendingCut, dropped: pendingDropped,
                 endsWithCR: pendingEndsWithCR, terminated: terminated)
            pending.removeAll(keepingCapacity: true)
            pendingCut = false
            pendingDropped = 0
            pendingEndsWithCR = false
        }

        /// The gzip member of the last chunk, and the number of the first line holding a
        /// byte of it (the line running into it from the member before counts).
        var chunkMember = 0
        var memberFirstLine: UInt64 = 1

        chunks.start()
        // Reading below always runs to the end, damage or the limit; this is for safety.
        defer { chunks.stop() }
        /// Frames the lines of one chunk.
        func frame(_ chunk: Span<UInt8>, member: Int) {
            if member != chunkMember {
                chunkMember = member
                memberFirstLine = summary.lines + 1
            }
            summary.bytes += UInt64(chunk.count)
            var index = 0
            while index < chunk.count {
                let found = chunk.firstIndex(of: UInt8(ascii: "\n"), from: index, to: chunk.count)
                let lineEnd = found ?? chunk.count
                let segment = chunk.extracting(index..<lineEnd)
                let offset = streamOffset + UInt64(index)
                if found == nil {
                    append(segment, offset: offset)
                } else if pending.isEmpty && !pendingCut {
                    emit(segment, offset: offset, alreadyCut: false, terminated: true)
                } else {
                    append(segment, offset: offset)
                    emitPending(terminated: true)
                }
                index = lineEnd + 1
            }
            streamOffset += UInt64(chunk.count)
        }
        while true {
            guard let ending = chunks.next(frame) else { continue }
            if case .damage(let message) = ending { summary.damage = message }
            break
        }
        // The last line without LF (or the partial line before damage) counts.
        if !pending.isEmpty || pendingCut { emitPending(terminated: false) }
        // The inflating thread is joined before anything here looks at the inflater or
        // the file again, and before `read` returns.
        chunks.stop()
        // Before the drain: where the input stopped being taken apart.
        summary.bytesConsumed = chunks.consumedOffset ?? summary.bytes
        if summary.damage != nil, chunks.handedOutUnverifiedBytes, summary.lines >= memberFirstLine {
            summary.unverifiedFromLine = memberFirstLine
        }
        // The digest must cover the whole file even when reading stopped early.
        do {
            try file.drain()
        } catch {
            if summary.damage == nil { summary.damage = "read error after byte \(file.bytesRead): \(error)" }
        }
        summary.bytesUnread = file.bytesRead >= summary.bytesConsumed ? file.bytesRead - summary.bytesConsumed : 0
        return summary
    }

    /// What is known of a line before its text is scanned: its time, its host and where
    /// its message starts. Found one line after the other (the year of RFC 3164 lines and
    /// the time of lines without one carry over from the lines before), by `headLine`.
    struct LineHead {
        /// The header's time, the JSON record's, or else the nearest earlier line's.
        var time: Timestamp
        /// The header's host, or the JSON record's when the header names none.
        var host: Range<Int>?
        var messageStart: Int
        /// Where the message's JSON object starts, when it is one (a JSON line, or JSON
        /// after a syslog header).
        var jsonStart: Int?
    }

    /// Parses the header, and reads the time and host of a JSON message (a record's own
    /// time wins over a syslog header's). `lastTime` and `years` carry from line to line.
    func headLine(_ line: Span<UInt8>, lastTime: inout Timestamp, years: inout YearTracker) -> LineHead {
        var host: Range<Int>? = nil
        var messageStart = 0
        if let header = SyslogHeaderParser.parse(line, year: years.year ?? options.year, memo: &years.timestampMemo) {
            if let time = years.time(of: header, line: line) { lastTime = time }
            messageStart = header.messageStart
            host = header.host
        }
        var firstByte = messageStart
        // RFC 5424's empty structured data ("- ") before a JSON message.
        if firstByte + 1 < line.count, line[firstByte] == UInt8(ascii: "-"), line[firstByte + 1] == UInt8(ascii: " ") {
            firstByte += 2
        }
        while firstByte < line.count, line[firstByte] == UInt8(ascii: " ") || line[firstByte] == UInt8(ascii: "\t") {
            firstByte += 1
        }
        if firstByte < line.count, line[firstByte] == UInt8(ascii: "{"),
           let record = JSONRecord.read(line, in: firstByte..<line.count)
        {
            if let time = record.time {
                lastTime = time
                years.noteDated(time)
            }
            if host == nil { host = record.host }
            return LineHead(time: lastTime, host: host, messageStart: messageStart, jsonStart: firstByte)
        }
        return LineHead(time: lastTime, host: host, messageStart: messageStart, jsonStart: nil)
    }

    /// Scans the message of a line `headLine` has read for observables: as a JSON object
    /// when it is one, as text otherwise, handing each to `found` with the member path of
    /// the JSON value it is in (lent for the call). `paths` is where JSON member paths are
    /// built (`JSONScanner.maximumMemberPathLength` bytes, one buffer per scanning
    /// thread). Depends on nothing but its arguments, so the lines of a file can be
    /// scanned on several threads (`LineBatches`).
    static func scanLine(
        _ line: Span<UInt8>, _ head: LineHead, locator: Locator, suffixes: PublicSuffixList?,
        paths: inout [UInt8], found: (LineObservation, Optional<Span<UInt8>>) -> Void
    ) {
        let host: LineObservation.Host = if let name = head.host { .name(name) } else { .address(.none) }
        func observation(_ value: LineObservation.Value, _ field: Field) -> LineObservation {
            LineObservation(value: value, field: field, host: host, locator: locator, time: head.time)
        }
        guard let jsonStart = head.jsonStart else {
            if head.messageStart < line.count, DHCPLogLine.mayStart(with: line[head.messageStart]),
               let lease = DHCPLogLine.lease(line, messageStart: head.messageStart)
            {
                var leased = observation(.ipv4(lease.address), .dhcpLease)
                leased.host = .name(lease.name)
                found(leased, nil)
            }
            TextScanner.scan(line, in: head.messageStart..<line.count, suffixes: suffixes) { observable in
                let field = field(of: observable, in: line, messageStart: head.messageStart)
                found(observation(LineObservation.Value(observable), field), nil)
            }
            return
        }
        var pathSpan = paths.mutableSpan
        _ = JSONScanner.scanObject(line, in: jsonStart..<line.count, paths: &pathSpan) { _, _, member, value in
            guard case .string(let text) = value else { return }
            if let member, let field = JSONRecord.addressField(member) {
                if let address = TextScanner.parseIPv4(line, text) { return found(observation(.ipv4(address), field), member) }
                if let address = TextScanner.parseIPv6(line, text) { return found(observation(.ipv6(address), field), member) }
            }
            TextScanner.scan(line, in: text, suffixes: suffixes) { observable in
                let field = field(of: observable, in: line, messageStart: text.lowerBound)
                found(observation(LineObservation.Value(observable), field), member)
            }
        }
    }

    /// The field of what the text scanner found in a message starting at `messageStart`:
    /// an address's role from the words around it (`AddressRoles`), else its kind's.
    private static func field(of found: TextObservable, in line: Span<UInt8>, messageStart: Int) -> Field {
        switch found {
        case .ipv4(_, let range), .ipv6(_, let range): AddressRoles.field(of: range, in: line, messageStart: messageStart)
        case .url: .logURL
        case .email: .logEmail
        case .domain: .logDomain
        case .hexDigest: .logHash
        }
    }
}
