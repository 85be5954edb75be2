import ByteParsing
import LogReading
import Observations

extension FuzzTargets {
    /// The options every log target reads with: a fixed year (RFC 3164 headers have
    /// none) so that runs are deterministic, and a short line limit so that the
    /// over-long-line path is reached with fuzzer-sized inputs.
    static var logOptions: LogReadingOptions {
        var options = LogReadingOptions(year: 2024, maximumLineLength: 2048)
        options.utcOffsetSeconds = 0
        return options
    }

    /// The input as a plain-text log: line framing (LF, CRLF, CR, NUL), syslog headers
    /// (RFC 3164, RFC 5424), JSON lines and the text scanner. Read twice: in one chunk,
    /// and in chunks of 7 bytes so that lines cross chunk boundaries.
    public static func logLines(_ data: [UInt8]) {
        _ = withTemporaryFile(data) { path in
            readLog(path, compressed: false, chunkSize: LogReader.defaultChunkSize)
            readLog(path, compressed: false, chunkSize: 7)
        }
    }

    /// The input as a gzip-compressed log (members, headers, trailers, inflate), then
    /// the lines it inflates to.
    public static func gzipLog(_ data: [UInt8]) {
        _ = withTemporaryFile(data) { path in
            readLog(path, compressed: true, chunkSize: 64)
        }
    }

    static func readLog(_ path: String, compressed: Bool, chunkSize: Int) {
        guard let file = try? InputFile(path: path) else { return }
        let reader = LogReader(file: file, compressed: compressed, options: logOptions, chunkSize: chunkSize)
        _ = reader.read(observe: { touch($0) }, progress: { _ in })
    }
}
