import Concurrency
import Observations

/// Lines of one log copied out of the read chunks, with what the reader's own thread
/// learnt of each (`LogReader.LineHead`): a buffer of their bytes, back to back, and a
/// table of where each is. Filled by the reader's thread as a local value (no class
/// property is touched per line), then moved into a `LineBatch`.
struct BatchLines {
    /// One line: its bytes `text[start ..< start + length]`, and its place in the file.
    struct Line {
        var start: Int
        var length: Int
        var number: UInt64
        var offset: UInt64
        var head: LogReader.LineHead
    }

    /// The bytes `text` keeps room for; a longer line is taken alone (and the room it
    /// grew is given back at `reset()`).
    let capacity: Int
    private(set) var text: [UInt8] = []
    private(set) var lines: [Line] = []

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        text.reserveCapacity(self.capacity)
    }

    /// No lines and no buffer: what a reader holds once it has given its lines to their
    /// batch, so that the batch's buffers have one owner (and are reused, not copied).
    private init() { capacity = 1 }
    static let none = BatchLines()

    var isEmpty: Bool { lines.isEmpty }

    /// Whether `count` more bytes fit (an empty batch takes any line).
    func fits(_ count: Int) -> Bool { text.count + count <= capacity || lines.isEmpty }

    /// Copies `line` in; call only when `fits(line.count)`.
    mutating func append(_ line: Span<UInt8>, number: UInt64, offset: UInt64, head: LogReader.LineHead) {
        lines.append(Line(start: text.count, length: line.count, number: number, offset: offset, head: head))
        text.append(span: line)
    }

    /// Where `line`'s bytes are in `text`.
    func range(of line: Line) -> Range<Int> { line.start..<line.start + line.length }

    /// Empties the buffer for reuse, keeping its capacity (a buffer grown for a long line
    /// goes back to `capacity`).
    mutating func reset() {
        // Only a line longer than `capacity`, taken alone, makes `text` longer than that.
        if text.count > capacity {
            text = []
            text.reserveCapacity(capacity)
        }
        text.removeAll(keepingCapacity: true)
        lines.removeAll(keepingCapacity: true)
    }
}

/// A batch of lines (`BatchLines`) for a scanning thread, and what it found in them:
/// the observations a filter passed.
///
/// Ownership moves in a cycle, one owner at a time: a reader's thread takes the batch
/// from the `LineScanPool` and fills the lines, the pool hands it to one of its scanning
/// threads, which writes the results, then the reader's thread reads them (handing them
/// on in the file's order) and gives the batch back to the pool. The hand-overs go
/// through the pool's lock, which orders one owner's writes before the next owner's
/// reads. (A reader may also scan a batch on its own thread: then it never leaves it.)
///
/// The results are ranges of the batch's own bytes: an observation's value and host name
/// of `lines.text`, its member path of `members`; `reset()` forgets them.
final class LineBatch: @unchecked Sendable {
    /// Where a line's results end, for handing lines on with their observations.
    struct LineEnd {
        /// `hits.count` after the line.
        var hits: Int
        /// The first source and destination address the line names.
        var source: HostAddress
        var destination: HostAddress
    }

    /// The lines; nil while the reader's thread fills them (`takeLines()`).
    private var lines: BatchLines?
    /// How to scan the lines: set by the reader that fills them.
    var task: LogReader.ScanTask?
    /// Whether the results are written; guarded by the pool's lock while the batch is
    /// in the pool.
    var isScanned = false

    // Results, written by the scanning thread.
    /// The observations the filter passed, in the order the scanner found them, their
    /// ranges of `lines.text`.
    private(set) var hits: [LineObservation] = []
    /// Per line, when the reader's caller wants lines.
    var lineEnds: [LineEnd] = []
    /// The earliest and latest time of all the observations (passed or not).
    var firstTime = Timestamp(nanoseconds: .max)
    var lastTime = Timestamp(nanoseconds: .min)
    /// Copies of the hits' member paths (the scanner's path buffer is reused).
    private(set) var members = MemberCopies()

    init(capacity: Int) { lines = BatchLines(capacity: capacity) }

    /// The lines to fill (emptied); give them back with `give`.
    func takeLines() -> BatchLines {
        guard var taken = lines.take() else { preconditionFailure("the lines of a batch taken twice") }
        taken.reset()
        return taken
    }

    /// Gives the filled lines back, leaving `filled` empty (`BatchLines.none`).
    func give(_ filled: inout BatchLines) {
        lines = filled
        filled = .none
    }

    /// The filled lines (to scan, or to hand on).
    var filled: BatchLines {
        guard let lines else { preconditionFailure("a batch's lines read while being filled") }
        return lines
    }

    /// Keeps `observation` of the line starting at `lineStart` in `lines.text` as a hit,
    /// its member path copied.
    func keep(_ observation: LineObservation, lineStart: Int, member: Optional<Span<UInt8>>) {
        var kept = observation.shifted(by: lineStart)
        kept.member = if let member { members.copy(member) } else { nil }
        hits.append(kept)
    }

    /// Forgets the results and the task, keeping the capacity.
    func reset() {
        task = nil
        isScanned = false
        hits.removeAll(keepingCapacity: true)
        lineEnds.removeAll(keepingCapacity: true)
        firstTime = Timestamp(nanoseconds: .max)
        lastTime = Timestamp(nanoseconds: .min)
        members.removeAll()
    }
}

/// Threads that scan batches of log lines (`LineBatch`) for the readers of a run
/// (`LogReader.read(pool:…)`), while each reader's own thread reads, frames and heads
/// its lines: one pool for all the logs of a run, so that when one log ends, its share
/// of the threads goes on to the logs still being read.
///
/// Threads of its own (`WorkerThreads`), one lock, two conditions: scanners wait for a batch,
/// readers for one of their batches to be scanned; nobody spins. Batches are scanned in
/// the order they were submitted, whichever reader submitted them. The pool also keeps
/// the batches: at most `maximumInFlight` are submitted and not yet given back at a
/// time (`submit` refuses more), so their memory is bounded by the thread count and the
/// number of readers, not by the size of the logs. `stop()` (or `deinit`) lets the
/// scanners finish what they have taken and joins them.
public final class LineScanPool: @unchecked Sendable {
    /// Batches submitted per scanning thread: one being scanned, one waiting, so that
    /// neither the readers nor a scanner waits for the other in the steady state.
    static let batchesPerThread = 2

    /// What the readers and the scanners share, under the lock (which also guards the
    /// `isScanned` of the batches in the pool).
    private struct Shared {
        var waiting: [LineBatch] = []
        var free: [LineBatch] = []
        var inFlight = 0
        /// Readers using the pool now (`read(pool:…)`).
        var readers = 0
        var stopping = false
        var batchesMade = 0
        var batchesScanned = 0
    }

    private let shared = Lock(Shared())
    private let workAvailable = Condition()
    private let batchScanned = Condition()
    /// Batches made so far, and scanned by the pool's threads (for tests).
    var batchesMade: Int { shared.withLock { $0.batchesMade } }
    var batchesScanned: Int { shared.withLock { $0.batchesScanned } }
    // Set by `init`, then joined by `stop()` on the thread that owns the pool.
    private var threads: WorkerThreads?
    /// The byte capacity of a batch's lines.
    let batchCapacity: Int
    /// The number of scanning threads running (fewer than asked when some could not be made).
    public private(set) var threadCount = 0
    /// Batches that may be submitted and not yet given back, over all readers.
    var maximumInFlight: Int { threadCount * LineScanPool.batchesPerThread }
    /// The cores the readers share with the pool's threads: with as many readers, each
    /// keeps one busy, and scans its own lines best there (they stay in its cache).
    let cores: Int

    /// Starts up to `threads` scanning threads (`threadCount` says how many started),
    /// sharing `cores` cores (by default as many) with the readers.
    public init(threads count: Int, cores: Int? = nil, batchCapacity: Int = LogReader.defaultChunkSize) {
        self.batchCapacity = max(1, batchCapacity)
        self.cores = max(1, cores ?? count)
        // The threads read only what the lock guards, and nothing before a batch is
        // submitted; `threadCount` is set before any reader sees the pool. Each holds a
        // reference to the pool until it ends.
        let started = WorkerThreads(count: count) { [self] _ in run() }
        threads = started
        threadCount = started.count
    }

    deinit { stop() }

    /// A scanning thread's loop.
    private func run() {
        let scanner = LogReader.BatchScanner()
        while true {
            let next = shared.withLock(waitingOn: workAvailable, until: { !$0.waiting.isEmpty || $0.stopping }) {
                $0.waiting.isEmpty ? nil : $0.waiting.removeFirst()
            }
            guard let batch = next else { return }
            scanner.scan(batch)
            shared.withLock {
                batch.isScanned = true
                $0.batchesScanned += 1
                batchScanned.broadcast()
            }
        }
    }

    /// Counts a reader in while it reads: `read(pool:…)` does, and so should a reader
    /// of another kind of file (a capture) that takes a core meanwhile.
    public func enter() { shared.withLock { $0.readers += 1 } }
    public func leave() { shared.withLock { $0.readers -= 1 } }

    /// Whether there are as many readers as cores: each reader then keeps a core busy
    /// of its own, and scans its lines best on it.
    var hasAReaderPerCore: Bool { shared.withLock { $0.readers >= cores } }

    /// An empty batch for a reader to fill (a kept one, or a new one).
    func takeBatch() -> LineBatch {
        shared.withLock {
            if let kept = $0.free.popLast() { return kept }
            $0.batchesMade += 1
            return LineBatch(capacity: batchCapacity)
        }
    }

    /// Hands `batch` to the scanners; false (and the batch stays the caller's) when
    /// `maximumInFlight` batches are already submitted and not given back.
    func submit(_ batch: LineBatch) -> Bool {
        shared.withLock {
            guard $0.inFlight < maximumInFlight, !$0.stopping else { return false }
            $0.inFlight += 1
            $0.waiting.append(batch)
            workAvailable.signal()
            return true
        }
    }

    /// Whether the submitted `batch` has been scanned; when `wait`, waits until it has.
    func isScanned(_ batch: LineBatch, wait: Bool) -> Bool {
        shared.withLock(waitingOn: batchScanned, until: { _ in !wait || batch.isScanned }) { _ in batch.isScanned }
    }

    /// Takes `batch` back for reuse once its reader is done with it; `submitted` says
    /// whether it went through `submit` (and counts in flight until now).
    func giveBack(_ batch: LineBatch, submitted: Bool) {
        batch.reset()
        shared.withLock {
            if submitted { $0.inFlight -= 1 }
            $0.free.append(batch)
        }
    }

    /// Lets the scanners finish the batches they have, and joins them. Idempotent; call
    /// it from the thread that made the pool, once no reader uses it.
    public func stop() {
        guard let threads, threads.isStarted else { return }
        shared.withLock {
            $0.stopping = true
            workAvailable.broadcast()
        }
        threads.join()
    }
}

extension LogReader {
    /// How a reader's batches are scanned (`read(pool:…)`): the public suffix list for
    /// names, whether lines are wanted (then the scanner notes where each line's hits
    /// end), and the filter that decides which observations are kept.
    struct ScanTask {
        let suffixes: PublicSuffixList?
        let wantsLines: Bool
        let passes: @Sendable (Observation) -> Bool
    }

    /// `read(pool:…)` with a pool of `scanningThreads` threads of its own (and a core
    /// for each and for this reader), stopped when the read ends; with no thread (none
    /// asked for, or none could be made) this is the one-thread read, and `observe` sees
    /// every observation.
    public func read(
        scanningThreads: Int, passes: @escaping @Sendable (Observation) -> Bool, observe: (Observation) -> Void,
        observedTimes: (Timestamp, Timestamp) -> Void, wantsLines: Bool, line lineHandler: (LineView) -> Void,
        progress: (ReadSummary) -> Void
    ) -> ReadSummary {
        let pool = LineScanPool(threads: scanningThreads, cores: scanningThreads + 1, batchCapacity: chunkSize)
        defer { pool.stop() }
        return read(
            pool: pool, passes: passes, observe: observe, observedTimes: observedTimes, wantsLines: wantsLines,
            line: lineHandler, progress: progress)
    }

    /// `read(observe:line:progress:)` with the text scanned by the threads of `pool`
    /// besides the caller's: the caller's thread reads, inflates, frames the lines and
    /// parses their headers (what carries from line to line: the year of RFC 3164 lines,
    /// the time of lines without one), and copies them in batches; the pool's threads
    /// find their observables and keep those that `passes` (called on those threads:
    /// the indicator lookup). The caller's thread scans a batch itself when the pool
    /// has as many readers as cores (each then has a core of its own), or has as
    /// many batches in flight as it takes; it first hands on its batches in the pool,
    /// waiting for them, so the order holds and it never holds more than its share.
    ///
    /// Everything the caller sees is what the one-thread read gives, on the caller's
    /// thread and in the file's order, except that only the observations `passes`
    /// kept reach `observe`: the others are only counted in `observedTimes(first, last)`,
    /// called with the earliest and latest time of every observation of a batch.
    /// `line` sees every line after its observations when `wantsLines` (without, it is not
    /// called and the scanners keep nothing per line). With a pool without threads this
    /// is the one-thread read, and `observe` sees every observation.
    public func read(
        pool: LineScanPool, passes: @escaping @Sendable (Observation) -> Bool, observe: (Observation) -> Void,
        observedTimes: (Timestamp, Timestamp) -> Void, wantsLines: Bool, line lineHandler: (LineView) -> Void,
        progress: (ReadSummary) -> Void
    ) -> ReadSummary {
        guard pool.threadCount > 0 else {
            return read(observe: observe, line: wantsLines ? lineHandler : { _ in }, progress: progress)
        }
        let task = ScanTask(suffixes: options.publicSuffixes, wantsLines: wantsLines, passes: passes)
        pool.enter()
        defer { pool.leave() }

        /// Hands a scanned batch's results on, in order.
        func handOn(_ batch: LineBatch) {
            if batch.firstTime <= batch.lastTime { observedTimes(batch.firstTime, batch.lastTime) }
            let lines = batch.filled
            let text = lines.text.span
            let members = batch.members
            let hits = batch.hits
            func handOnHits(_ range: Range<Int>) {
                for hit in hits[range] { observe(hit.lent(from: text, member: members.span(of: hit.member))) }
            }
            guard wantsLines else { return handOnHits(hits.indices) }
            var handedOn = 0
            for (line, end) in zip(lines.lines, batch.lineEnds) {
                handOnHits(handedOn..<end.hits)
                handedOn = end.hits
                lineHandler(LineView(
                    bytes: text.extracting(lines.range(of: line)), head: line.head,
                    locator: .line(number: line.number, offset: line.offset), source: end.source, destination: end.destination))
            }
        }

        /// This reader's batches handed to the pool (or scanned here), oldest first:
        /// handed on in this order.
        var submitted: [(batch: LineBatch, pooled: Bool)] = []
        /// Hands on the oldest submitted batch if it is scanned (when `wait`, once it is)
        /// and gives it back; false when there is none, or it is not scanned and `wait`
        /// is false.
        func handOnOldest(wait: Bool) -> Bool {
            guard let oldest = submitted.first,
                  !oldest.pooled || pool.isScanned(oldest.batch, wait: wait) else { return false }
            submitted.removeFirst()
            handOn(oldest.batch)
            pool.giveBack(oldest.batch, submitted: oldest.pooled)
            return true
        }
        /// Scans batches on this thread (every core has a reader, or the pool is full);
        /// made when first needed.
        var ownScanner: BatchScanner?
        /// The batch being filled, and its lines (a local, appended to without touching
        /// the batch).
        var current = pool.takeBatch()
        var lines = current.takeLines()
        func submitCurrent() {
            current.give(&lines)
            current.task = task
            let scansHere = pool.hasAReaderPerCore
            while scansHere || !pool.submit(current) {
                // Hand on this reader's batches in the pool (freeing places), then, with
                // none left there, scan here: nothing is older, so it is handed on next.
                guard handOnOldest(wait: true) else {
                    let scanner = ownScanner ?? BatchScanner()
                    ownScanner = scanner
                    scanner.scan(current)
                    submitted.append((current, false))
                    return
                }
            }
            submitted.append((current, true))
        }

        var lastTime = Timestamp(seconds: 0)
        var years = YearTracker(options: options)
        var summary = readLines(progress: progress) { line, number, offset in
            let head = headLine(line, lastTime: &lastTime, years: &years)
            if !lines.fits(line.count) {
                submitCurrent()
                while handOnOldest(wait: false) {}
                current = pool.takeBatch()
                lines = current.takeLines()
            }
            lines.append(line, number: number, offset: offset, head: head)
        }
        if lines.isEmpty {
            current.give(&lines)
            pool.giveBack(current, submitted: false)
        } else {
            submitCurrent()
        }
        while handOnOldest(wait: true) {}
        if let note = years.inferenceNote { summary.notes.append(note) }
        return summary
    }

    /// A scanning thread's work on a batch, with the thread's own buffers: where JSON
    /// member paths are built, and the held line. The batch says how (`ScanTask`).
    final class BatchScanner {
        var paths = [UInt8](repeating: 0, count: JSONScanner.maximumMemberPathLength)
        var held = HeldLine()

        func scan(_ batch: LineBatch) {
            guard let task = batch.task else { preconditionFailure("a batch scanned without its task") }
            // Locals, kept in closures passed straight to their callees: the compiler then
            // checks exclusive access statically instead of on every observation.
            var results = Results(batch: batch, passes: task.passes)
            var held = self.held
            var paths = self.paths
            let lines = batch.filled
            let text = lines.text.span
            for line in lines.lines {
                let bytes = text.extracting(lines.range(of: line))
                held.start()
                LogReader.scanLine(
                    bytes, line.head, locator: .line(number: line.number, offset: line.offset),
                    suffixes: task.suffixes, paths: &paths
                ) { found, member in
                    if !held.hold(found, member: member) { results.note(found, in: bytes, at: line.start, member: member) }
                }
                let (source, destination) = held.attributeToTheOtherSide()
                held.forEach { results.note($0, in: bytes, at: line.start, member: $1) }
                if task.wantsLines {
                    batch.lineEnds.append(LineBatch.LineEnd(hits: batch.hits.count, source: source, destination: destination))
                }
            }
            self.held = held
            self.paths = paths
            batch.firstTime = results.first
            batch.lastTime = results.last
        }

        /// What a scan keeps of the observations of a batch.
        struct Results {
            let batch: LineBatch
            let passes: (Observation) -> Bool
            var first = Timestamp(nanoseconds: .max)
            var last = Timestamp(nanoseconds: .min)

            /// Counts the time of `observation` of `line` (which starts at `lineStart` in the
            /// batch's bytes), and keeps it in the batch when it passes.
            mutating func note(
                _ observation: LineObservation, in line: Span<UInt8>, at lineStart: Int, member: Optional<Span<UInt8>>
            ) {
                if observation.time < first { first = observation.time }
                if observation.time > last { last = observation.time }
                if passes(observation.lent(from: line, member: member)) {
                    batch.keep(observation, lineStart: lineStart, member: member)
                }
            }
        }
    }
}
