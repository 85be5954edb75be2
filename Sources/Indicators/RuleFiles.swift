import ByteParsing
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding and reading rule files.
enum RuleFiles {
    /// Directory nesting deeper than this is reported rather than followed: it guards
    /// against symbolic-link loops, and no real rules tree is anywhere near this deep.
    static let maximumDepth = 32

    /// The rule files named by `paths`: files as given (even `*.md`), directories walked
    /// recursively skipping hidden entries and `*.md`. Sorted bytewise, without
    /// duplicates. Paths that do not exist or cannot be listed become errors (line 0).
    ///
    /// `allow`: the files that are allow lists: found below a directory named `allow`
    /// inside a directory argument, or named directly with a parent directory `allow`.
    static func collect(_ paths: [String]) -> (files: [String], allow: Set<String>, errors: [RuleError]) {
        var files: [String] = []
        var allow: Set<String> = []
        var errors: [RuleError] = []
        for path in paths {
            guard let kind = FileKind(of: path) else {
                errors.append(RuleError(file: path, line: 0, message: "no such file or directory"))
                continue
            }
            if kind == .directory {
                walk(path, depth: 0, underAllow: false, into: &files, allow: &allow, errors: &errors)
            } else {
                files.append(path)
                let components = path.split(separator: "/")
                if components.count >= 2, components[components.count - 2] == "allow" { allow.insert(path) }
            }
        }
        files.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var unique: [String] = []
        for file in files where unique.last != file { unique.append(file) }
        return (unique, allow, errors)
    }

    /// The subdirectory of a rules directory that holds correlation rules, not
    /// indicators.
    static let correlationDirectory = "correlation"

    private static func walk(_ directory: String, depth: Int, underAllow: Bool, into files: inout [String],
                             allow: inout Set<String>, errors: inout [RuleError])
    {
        guard depth < maximumDepth else {
            errors.append(RuleError(
                file: directory, line: 0,
                message: "directories nested more than \(maximumDepth) deep (a symbolic-link loop?); not read"))
            return
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            errors.append(RuleError(file: directory, line: 0, message: "cannot list directory: \(reason(error))"))
            return
        }
        for name in names {
            if name.hasPrefix(".") || name.hasSuffix(".md") { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            guard let kind = FileKind(of: path) else {
                // A dangling symbolic link: say so rather than silently drop a rule file.
                errors.append(RuleError(file: path, line: 0, message: "cannot read: broken symbolic link"))
                continue
            }
            if kind == .directory {
                // Correlation rules (YAML) live beside the indicators; the Correlation
                // module reads them.
                if name == correlationDirectory, depth == 0 { continue }
                walk(path, depth: depth + 1, underAllow: underAllow || name == "allow", into: &files,
                     allow: &allow, errors: &errors)
            } else {
                files.append(path)
                if underAllow { allow.insert(path) }
            }
        }
    }

    /// How many bytes are read at a time: large enough that a 2 GiB file takes a few
    /// thousand system calls, small enough not to matter next to the tables.
    static let chunkSize = 1 << 20

    /// How many leading bytes decide the format (`RuleFormat.detect` looks at no more
    /// than 64 KiB after a byte order mark), so that streaming detects exactly what
    /// reading the whole file would.
    static let detectionLength = 65536 + 3

    /// Plain lists are parsed in segments of about this many bytes of whole lines, so
    /// that their text is never held whole: a 1 GB block list needs 8 MiB of text at a
    /// time, not 1 GB.
    static let segmentLength = 8 << 20

    /// Streams one rule file: reads it in `chunkSize` chunks, feeds every byte to
    /// `digest` (path, NUL, byte length in decimal, NUL, bytes; left unchanged when the
    /// file cannot be read), detects the format from the first `detectionLength` bytes
    /// and hands the text to `body` as (format, bytes, lines before them):
    ///
    /// - plain lists: in segments of whole lines of about `segmentLength` bytes;
    /// - other line-based formats: once, the whole text;
    /// - JSON: once, the whole file, without a line-length limit (minified JSON is one
    ///   line);
    /// - binary files (`.unrecognised`): once, only the leading bytes that tell so.
    ///
    /// In the text formats a line longer than `maximumLineLength` bytes (not counting
    /// its line end) is never held in memory: it is reported as an error at its line,
    /// column 1, and replaced by an empty line (so the lines after it keep their numbers
    /// and still load). Returns those errors, or the reason the file cannot be read.
    ///
    /// With `body` nil the file is only hashed (the compiled rule cache's key): the same
    /// reads and the same `digest` updates, no detection and no text kept.
    static func stream(
        _ path: String, digest: inout SHA256, maximumLineLength: Int = PlainListParser.maximumLineLength,
        _ body: ((RuleFormat, [UInt8], Int) -> Void)?
    ) -> Result<[RuleError], RuleError> {
        var hasher = digest
        var reader = LineCappedText(path: path, maximumLineLength: maximumLineLength)
        do throws(InputFileError) {
            let file = try InputFile(path: path)
            hasher.update(data: Array(path.utf8))
            hasher.update(data: [0])
            hasher.update(data: Array(String(file.size).utf8))
            hasher.update(data: [0])
            var chunk: [UInt8] = []
            chunk.reserveCapacity(chunkSize)
            var format: RuleFormat? = nil
            var prefix: [UInt8] = []
            while true {
                chunk.removeAll(keepingCapacity: true)
                try file.read(upTo: chunkSize, appendingTo: &chunk)
                let count = chunk.count
                let bytes = chunk.span
                hasher.update(span: bytes)
                guard let body else {
                    if count == 0 { break }
                    continue
                }
                if format == nil {
                    // Undecided: gather the bytes detection looks at.
                    prefix.append(span: bytes)
                    guard prefix.count >= detectionLength || count == 0 else { continue }
                    let detected = RuleFormat.detect(prefix)
                    format = detected
                    switch detected {
                    case .unrecognised:
                        prefix.removeSubrange(min(prefix.count, detectionLength)...)
                    case .stixBundle:
                        prefix.reserveCapacity(Int(clamping: file.size))
                    default:
                        reader.text.reserveCapacity(
                            Int(clamping: min(file.size, detected == .plainList ? UInt64(segmentLength) * 2 : 1 << 30)))
                        reader.append(prefix.span)
                        prefix = []
                    }
                } else if count > 0 {
                    switch format {
                    case .unrecognised: break  // hashed, not kept
                    case .stixBundle: prefix.append(span: bytes)
                    default: reader.append(bytes)
                    }
                }
                if format == .plainList, reader.text.count >= segmentLength || count == 0 {
                    if count == 0 { reader.finish() }
                    let (segment, linesBefore) = reader.takeWholeLines()
                    if !segment.isEmpty { body(.plainList, segment, linesBefore) }
                }
                if count == 0 { break }
            }
            guard file.bytesRead == file.size else {
                return .failure(RuleError(
                    file: path, line: 0,
                    message: "cannot read: the file changed while it was read (\(file.size) bytes when opened, \(file.bytesRead) read)"))
            }
            switch format {
            case .plainList: break
            case .unrecognised?, .stixBundle?: body?(format ?? .unrecognised, prefix, 0)
            case let other?:
                reader.finish()
                body?(other, reader.text, 0)
            case nil: break
            }
            digest = hasher
            return .success(reader.errors)
        } catch {
            return .failure(RuleError(file: path, line: 0, message: "cannot read: \(error.reason)"))
        }
    }

    /// What `RuleSet.load` would read, found without parsing: the files, which are allow
    /// lists, the errors of the walk and of files that cannot be read, and the digest of
    /// the files read. `collect` and `stream` as `load` runs them, so the digest is the
    /// one `load` computes for the same files.
    struct Scan: Sendable {
        var files: [String]
        var allow: Set<String>
        var walkErrors: [RuleError]
        var readErrors: [RuleError]
        var digest: String
        /// The files' sizes added up, as they were when the scan began.
        var bytes: Int
    }

    static func scan(_ paths: [String]) -> Scan {
        let (candidates, allow, walkErrors) = collect(paths)
        var hasher = SHA256()
        var readErrors: [RuleError] = []
        var bytes = 0
        for path in candidates {
            // stat(2) follows a symbolic link to the file (FileManager's attributes do not).
            var status = stat()
            // Safe: the path is a NUL-terminated copy valid for the call; stat fills the one struct given.
            if unsafe stat(path, &status) == 0 { bytes += Int(status.st_size) }
            if case .failure(let error) = stream(path, digest: &hasher, nil) { readErrors.append(error) }
        }
        return Scan(files: candidates, allow: allow, walkErrors: walkErrors, readErrors: readErrors,
                    digest: Hex.string(hasher.finalize()), bytes: bytes)
    }

    private static func reason(_ error: any Error) -> String {
        let text = (error as NSError).localizedDescription
        return text.isEmpty ? String(describing: error) : text
    }
}

/// The text of a rule file built chunk by chunk, each line capped at a length: a line
/// longer than the cap is dropped as soon as it passes it (memory does not grow with
/// the line) and becomes an empty line plus one error.
struct LineCappedText {
    let path: String
    let maximumLineLength: Int
    /// Whole lines (each with its LF) and the start of the current one.
    var text: [UInt8] = []
    /// Errors for the lines dropped, in line order.
    var errors: [RuleError] = []
    /// Lines completed before `text` starts (segments already handed out).
    private var linesHandedOut = 0
    /// Lines completed in `text`.
    private var linesInText = 0
    /// Where the current line starts in `text`.
    private var lineStart = 0
    /// Bytes of the current line so far (kept or not).
    private var lineLength = 0
    private var lineIsTooLong = false
    private var lastByteWasCR = false
    /// Whether a byte order mark at the very start has been looked for.
    private var startChecked = false

    init(path: String, maximumLineLength: Int) {
        self.path = path
        self.maximumLineLength = maximumLineLength
    }

    /// Appends bytes; complete lines end with LF. Finds them with ByteParsing's
    /// vectorised `firstIndex(of:from:)` (about a byte per cycle even in debug builds)
    /// rather than byte by byte.
    mutating func append(_ bytes: Span<UInt8>) {
        guard !bytes.isEmpty else { return }
        var position = 0
        if !startChecked {
            startChecked = true
            // A byte order mark is not part of the first line's length.
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                text.append(span: bytes.extracting(0..<3))
                lineStart = 3
                position = 3
            }
        }
        while position < bytes.count {
            let found = bytes.firstIndex(of: 0x0A, from: position)
            let end = found ?? bytes.count
            if end > position {
                lineLength += end - position
                lastByteWasCR = bytes[end - 1] == 0x0D
                if !lineIsTooLong {
                    // One byte more than the limit for a CR before the LF.
                    if lineLength > maximumLineLength + 1 {
                        lineIsTooLong = true
                        text.removeSubrange(lineStart...)
                    } else {
                        text.append(span: bytes.extracting(position..<end))
                    }
                }
            }
            guard found != nil else { break }
            endLine(withLineFeed: true)
            position = end + 1
        }
    }

    /// Ends the last line when the file does not end with a line feed.
    mutating func finish() {
        if lineLength > 0 { endLine(withLineFeed: false) }
    }

    private mutating func endLine(withLineFeed: Bool) {
        if lineIsTooLong {
            let length = lineLength - (lastByteWasCR ? 1 : 0)
            errors.append(RuleError(
                file: path, line: linesHandedOut + linesInText + 1, column: 1,
                message: "line is \(length) bytes long; the limit is \(maximumLineLength) "
                    + "(expected one indicator per line; is this a rule file?)"))
        }
        if withLineFeed { text.append(0x0A) }
        linesInText += 1
        lineStart = text.count
        lineLength = 0
        lineIsTooLong = false
        lastByteWasCR = false
    }

    /// Takes the whole lines gathered so far, and how many lines came before them; the
    /// current (unfinished) line stays.
    mutating func takeWholeLines() -> (bytes: [UInt8], linesBefore: Int) {
        let linesBefore = linesHandedOut
        let rest = Array(text[lineStart...])
        text.removeSubrange(lineStart...)
        var taken = rest
        swap(&taken, &text)
        text.reserveCapacity(taken.capacity)
        linesHandedOut += linesInText
        linesInText = 0
        lineStart = 0
        return (taken, linesBefore)
    }
}
