import Observations

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// The size of `text` for lines of up to this many bytes; a longer line gets a buffer
    /// of its own size until `reset()`.
    let capacity: Int
    private(set) var text: UnsafeMutableRawBufferPointer
    private var used = 0
    private(set) var lines: [Line] = []

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        text = .allocate(byteCount: self.capacity, alignment: 16)
    }

    var isEmpty: Bool { lines.isEmpty }

    /// Whether `count` more bytes fit (an empty batch takes any line).
    func fits(_ count: Int) -> Bool { used + count <= text.count || lines.isEmpty }

    /// Copies `line` in; call only when `fits(line.count)`.
    mutating func append(_ line: UnsafeRawBufferPointer, number: UInt64, offset: UInt64, head: LogReader.LineHead) {
        if lines.isEmpty, line.count > text.count {
            text.deallocate()
            text = .allocate(byteCount: line.count, alignment: 16)
        }
        if let source = line.baseAddress, let target = text.baseAddress {
            // Safe: fits(line.count) (or the buffer was just made that large).
            (target + used).copyMemory(from: source, byteCount: line.count)
        }
        lines.append(Line(start: used, length: line.count, number: number, offset: offset, head: head))
        used += line.count
    }

    /// The bytes of `line`.
    func bytes(of line: Line) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(text)[line.start..<line.start + line.length])
    }

    /// Empties the buffer for reuse, keeping its capacity (a buffer grown for a long line
    /// goes back to `capacity`).
    mutating func reset() {
        if text.count > capacity {
            text.deallocate()
            text = .allocate(byteCount: capacity, alignment: 16)
        }
        used = 0
        lines.removeAll(keepingCapacity: true)
    }

    func deallocate() { text.deallocate() }
}

/// A batch of lines (`BatchLines`) for a scanning thread, and what it found in them:
/// the observations a filter passed.
///
/// Ownership moves in a cycle, one owner at a time: the reader's thread fills the lines,
/// `LineScanThreads` hands the batch to one scanning thread, which writes the results,
/// then the reader's thread reads them (handing them on in the file's order) and reuses
/// the batch. The hand-overs go through the scanning threads' lock, which orders one
/// owner's writes before the next owner's reads.
///
/// The results point into the batch: an observation's value and host name are bytes
/// of `lines.text`, its member path a copy in `members`. They are valid until `reset()`.
final class LineBatch: @unchecked Sendable {
    /// Where a line's results end, for handing lines on with their observations.
    struct LineEnd {
        /// `hits.count` after the line.
        var hits: Int
        /// The first source and destination address the line names.
        var source: HostReference
        var destination: HostReference
    }

    /// The lines; nil while the reader's thread fills them (`takeLines()`).
    private var lines: BatchLines?

    // Results, written by the scanning thread.
    /// The observations the filter passed, in the order the scanner found them.
    var hits: [Observation] = []
    /// Per line, when the reader's caller wants lines.
    var lineEnds: [LineEnd] = []
    /// The earliest and latest time of all the observations (passed or not).
    var firstTime = Timestamp(nanoseconds: .max)
    var lastTime = Timestamp(nanoseconds: .min)
    /// Copies of the hits' member paths (the scanner's path buffer is reused).
    private var members = MemberCopies()

    init(capacity: Int) { lines = BatchLines(capacity: capacity) }

    deinit {
        lines?.deallocate()
        members.deallocate()
    }

    /// The lines to fill (emptied); give them back with `give`.
    func takeLines() -> BatchLines {
        guard var taken = lines.take() else { preconditionFailure("the lines of a batch taken twice") }
        taken.reset()
        return taken
    }

    func give(_ filled: BatchLines) { lines = filled }

    /// The filled lines (to scan, or to hand on).
    var filled: BatchLines {
        guard let lines else { preconditionFailure("a batch's lines read while being filled") }
        return lines
    }

    /// Keeps `observation` as a hit, its member path copied.
    func keep(_ observation: Observation) {
        var kept = observation
        if let member = observation.member { kept.member = members.copy(member) }
        hits.append(kept)
    }

    /// Forgets the results, keeping the capacity.
    func reset() {
        hits.removeAll(keepingCapacity: true)
        lineEnds.removeAll(keepingCapacity: true)
        firstTime = Timestamp(nanoseconds: .max)
        lastTime = Timestamp(nanoseconds: .min)
        members.reset()
    }
}

/// Byte copies that stay where they are until `reset()`: blocks of 64 KiB (or one of
/// the copy's own size when it is larger), kept for reuse.
struct MemberCopies {
    static let blockSize = 64 << 10
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    /// The block being filled, and bytes used in it.
    private var current = 0
    private var used = 0

    mutating func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if current < blocks.count, used + bytes.count > blocks[current].count {
            current += 1
            used = 0
        }
        if current == blocks.count {
            blocks.append(.allocate(byteCount: max(Self.blockSize, bytes.count), alignment: 1))
        } else if bytes.count > blocks[current].count {
            blocks[current].deallocate()
            blocks[current] = .allocate(byteCount: bytes.count, alignment: 1)
        }
        // Safe: used + bytes.count <= the block's size, by the checks above.
        let target = UnsafeMutableRawBufferPointer(rebasing: blocks[current][used..<used + bytes.count])
        target.copyMemory(from: bytes)
        used += bytes.count
        return UnsafeRawBufferPointer(target)
    }

    mutating func reset() {
        current = 0
        used = 0
    }

    func deallocate() {
        for block in blocks { block.deallocate() }
    }
}

/// Threads that scan the batches of one log (`LogReader.read(scanningThreads:…)`) while
/// the reader's own thread reads, frames and heads the lines.
///
/// Plain threads (pthreads), one mutex, two conditions: scanners wait for a batch, the
/// reader for a batch to be scanned; nobody spins. Batches are taken in the order they
/// were submitted. `stop()` lets the scanners finish what they have taken and joins them.
final class LineScanThreads: @unchecked Sendable {
    private let signals = MutexAndConditions()
    private var lock: UnsafeMutablePointer<pthread_mutex_t> { signals.mutex }
    private var workAvailable: UnsafeMutablePointer<pthread_cond_t> { signals.first }
    private var batchScanned: UnsafeMutablePointer<pthread_cond_t> { signals.second }
    // Guarded by `lock`.
    private var waiting: [LineBatch] = []
    private var scanned: Set<ObjectIdentifier> = []
    private var stopping = false
    // Used by the reader's thread only.
    private var threads: [pthread_t] = []
    /// What a scanning thread does with a batch; made once per thread (it holds the
    /// thread's own buffers).
    private let makeScanner: @Sendable () -> (LineBatch) -> Void

    init(makeScanner: @escaping @Sendable () -> (LineBatch) -> Void) {
        self.makeScanner = makeScanner
    }

    deinit { stop() }

    /// Starts up to `count` threads; returns how many could be made.
    func start(_ count: Int) -> Int {
        for _ in 0..<count {
            // The thread holds a reference to this object until it ends.
            let context = Unmanaged.passRetained(self).toOpaque()
            var created = pthread_t()
            let status = pthread_create(&created, nil, { raw in
                guard let raw else { return nil }
                Unmanaged<LineScanThreads>.fromOpaque(raw).takeRetainedValue().run()
                return nil
            }, context)
            guard status == 0 else {
                Unmanaged<LineScanThreads>.fromOpaque(context).release()
                break
            }
            threads.append(created)
        }
        return threads.count
    }

    /// A scanning thread's loop.
    private func run() {
        let scan = makeScanner()
        pthread_mutex_lock(lock)
        while true {
            while waiting.isEmpty && !stopping { pthread_cond_wait(workAvailable, lock) }
            if waiting.isEmpty { break }
            let batch = waiting.removeFirst()
            pthread_mutex_unlock(lock)
            scan(batch)
            pthread_mutex_lock(lock)
            scanned.insert(ObjectIdentifier(batch))
            pthread_cond_broadcast(batchScanned)
        }
        pthread_mutex_unlock(lock)
    }

    /// Hands `batch` to the scanners.
    func submit(_ batch: LineBatch) {
        pthread_mutex_lock(lock)
        waiting.append(batch)
        pthread_cond_signal(workAvailable)
        pthread_mutex_unlock(lock)
    }

    /// Whether `batch` has been scanned; when `wait`, waits until it has. Forgets it
    /// once it has been reported scanned.
    func isScanned(_ batch: LineBatch, wait: Bool) -> Bool {
        let id = ObjectIdentifier(batch)
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        while wait && !scanned.contains(id) { pthread_cond_wait(batchScanned, lock) }
        return scanned.remove(id) != nil
    }

    /// Lets the scanners finish the batches they have, and joins them. Idempotent.
    func stop() {
        guard !threads.isEmpty else { return }
        pthread_mutex_lock(lock)
        stopping = true
        pthread_cond_broadcast(workAvailable)
        pthread_mutex_unlock(lock)
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }
}

extension LogReader {
    /// Batches per scanning thread: one being scanned, one filled or waiting, so that
    /// neither the reader nor a scanner waits for the other in the steady state.
    static let batchesPerScanningThread = 2

    /// `read(observe:line:progress:)` with the text scanned on `scanningThreads` threads
    /// besides the caller's: the caller's thread reads, inflates, frames the lines and
    /// parses their headers (what carries from line to line: the year of RFC 3164 lines,
    /// the time of lines without one), and copies them in batches of about a chunk;
    /// the scanning threads find their observables and keep those that `passes` (called
    /// on those threads: the indicator lookup).
    ///
    /// Everything the caller sees is what the one-thread read gives, on the caller's
    /// thread and in the file's order, except that only the observations `passes`
    /// kept reach `observe`: the others are only counted in `observedTimes(first, last)`,
    /// called with the earliest and latest time of every observation of a batch.
    /// `line` sees every line after its observations when `wantsLines` (without, it is not
    /// called and the scanners keep nothing per line). With no scanning thread (none
    /// asked for, or none could be made) this is the one-thread read, and `observe` sees
    /// every observation.
    ///
    /// Memory: `batchesPerScanningThread` batches per thread of the chunk size each
    /// (a line longer than that gets a buffer of its own size while its batch is in use).
    public func read(
        scanningThreads: Int, passes: @escaping @Sendable (Observation) -> Bool, observe: (Observation) -> Void,
        observedTimes: (Timestamp, Timestamp) -> Void, wantsLines: Bool, line lineHandler: (LineView) -> Void,
        progress: (ReadSummary) -> Void
    ) -> ReadSummary {
        let suffixes = options.publicSuffixes
        let scanners = LineScanThreads {
            let scanner = BatchScanner(suffixes: suffixes, wantsLines: wantsLines, passes: passes)
            return { batch in scanner.scan(batch) }
        }
        let started = scanningThreads > 0 ? scanners.start(scanningThreads) : 0
        guard started > 0 else {
            return read(observe: observe, line: wantsLines ? lineHandler : { _ in }, progress: progress)
        }
        defer { scanners.stop() }

        /// Hands a scanned batch's results on, in order.
        func handOn(_ batch: LineBatch) {
            if batch.firstTime <= batch.lastTime { observedTimes(batch.firstTime, batch.lastTime) }
            guard wantsLines else {
                for hit in batch.hits { observe(hit) }
                return
            }
            let lines = batch.filled
            var hit = 0
            for (line, end) in zip(lines.lines, batch.lineEnds) {
                while hit < end.hits {
                    observe(batch.hits[hit])
                    hit += 1
                }
                let bytes = lines.bytes(of: line)
                lineHandler(LineView(
                    bytes: bytes, locator: .line(number: line.number, offset: line.offset), time: line.head.time,
                    host: line.head.host.map { .name(UnsafeRawBufferPointer(rebasing: bytes[$0])) } ?? .none,
                    source: end.source, destination: end.destination))
            }
        }

        var free = (0..<started * LogReader.batchesPerScanningThread).map { _ in LineBatch(capacity: chunkSize) }
        /// Submitted batches, oldest first: handed on in this order.
        var submitted: [LineBatch] = []
        /// Hands on the oldest submitted batch if it is scanned (when `wait`, once it is)
        /// and frees it; false when there is none, or it is not scanned and `wait` is false.
        func handOnOldest(wait: Bool) -> Bool {
            guard let oldest = submitted.first, scanners.isScanned(oldest, wait: wait) else { return false }
            submitted.removeFirst()
            handOn(oldest)
            oldest.reset()
            free.append(oldest)
            return true
        }
        /// The batch being filled, and its lines (a local, appended to without touching
        /// the batch).
        var current = free.removeLast()
        var lines = current.takeLines()
        func submitCurrent() {
            current.give(lines)
            scanners.submit(current)
            submitted.append(current)
        }

        var lastTime = Timestamp(seconds: 0)
        var years = YearTracker(options: options)
        let summary = readLines(progress: progress) { line, number, offset in
            let head = headLine(line, lastTime: &lastTime, years: &years)
            if !lines.fits(line.count) {
                submitCurrent()
                while handOnOldest(wait: false) {}
                if free.isEmpty { _ = handOnOldest(wait: true) }
                current = free.removeLast()
                lines = current.takeLines()
            }
            lines.append(line, number: number, offset: offset, head: head)
        }
        if lines.isEmpty {
            current.give(lines)
        } else {
            submitCurrent()
        }
        while handOnOldest(wait: true) {}
        return summary
    }

    /// A scanning thread's work on a batch (`read(scanningThreads:…)`), with the
    /// thread's own buffers: where JSON member paths are built, and the held line.
    final class BatchScanner {
        let paths: UnsafeMutableRawBufferPointer
        var held: HeldLine
        let suffixes: PublicSuffixList?
        let wantsLines: Bool
        let passes: (Observation) -> Bool

        init(suffixes: PublicSuffixList?, wantsLines: Bool, passes: @escaping (Observation) -> Bool) {
            paths = .allocate(byteCount: JSONScanner.maximumMemberPathLength, alignment: 16)
            held = HeldLine(members: .allocate(byteCount: LogReader.heldMembersCapacity, alignment: 16))
            self.suffixes = suffixes
            self.wantsLines = wantsLines
            self.passes = passes
        }

        deinit {
            paths.deallocate()
            held.members.deallocate()
        }

        func scan(_ batch: LineBatch) {
            // Locals, kept in closures passed straight to their callees: the compiler then
            // checks exclusive access statically instead of on every observation.
            var results = Results(batch: batch, passes: passes)
            var held = self.held
            let lines = batch.filled
            for line in lines.lines {
                let bytes = lines.bytes(of: line)
                held.start()
                _ = LogReader.scanLine(
                    bytes, line.head, locator: .line(number: line.number, offset: line.offset), suffixes: suffixes,
                    paths: paths
                ) { found in held.hold(found) { results.note($0) } }
                let (source, destination) = held.attributeToTheOtherSide()
                for observation in held.observations { results.note(observation) }
                if wantsLines {
                    batch.lineEnds.append(LineBatch.LineEnd(hits: batch.hits.count, source: source, destination: destination))
                }
            }
            self.held = held
            batch.firstTime = results.first
            batch.lastTime = results.last
        }

        /// What a scan keeps of the observations of a batch.
        struct Results {
            let batch: LineBatch
            let passes: (Observation) -> Bool
            var first = Timestamp(nanoseconds: .max)
            var last = Timestamp(nanoseconds: .min)

            /// Counts `observation`'s time, and keeps it in the batch when it passes.
            mutating func note(_ observation: Observation) {
                if observation.time < first { first = observation.time }
                if observation.time > last { last = observation.time }
                if passes(observation) { batch.keep(observation) }
            }
        }
    }
}
