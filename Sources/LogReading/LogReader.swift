import ByteParsing
import Observations

/// Options for reading logs.
public struct LogReadingOptions: Sendable {
    /// The year given to RFC 3164 timestamps, which have none.
    public var year: Int
    /// Lines longer than this are cut (the cut is counted as an anomaly).
    public var maximumLineLength: Int

    public init(year: Int, maximumLineLength: Int = 1 << 20) {
        self.year = year
        self.maximumLineLength = maximumLineLength
    }
}

/// Streams one log file (plain text, or gzip with any number of members) line by line
/// and hands every observation found in the text to the caller. CONTRACT STUB.
public final class LogReader {
    public init(file: InputFile, compressed: Bool, options: LogReadingOptions) {
        fatalError("contract stub")
    }

    /// Reads every line. Observations carry `.line(number:offset:)` locators, the line's
    /// header time (or the nearest earlier one), and the header's host. A truncated or
    /// corrupt gzip stream ends the read with `damage` set (naming the compressed byte
    /// offset); the lines before it are kept. The file is drained to its end.
    public func read(observe: (Observation) -> Void, progress: (ReadSummary) -> Void) -> ReadSummary {
        fatalError("contract stub")
    }
}
