import ByteParsing
import Observations

/// Reads one capture file (pcap or pcapng) through libpcap and hands every
/// observation to the caller. CONTRACT STUB.
public final class CaptureReader {
    /// - Parameters:
    ///   - file: the opened input; the reader reads it through (hashing as it goes)
    ///     and drains it at the end so `file.sha256Hex` covers the whole file.
    ///   - filter: a BPF expression applied per packet with `pcap_offline_filter`, so
    ///     packet numbers stay those of the file.
    /// - Throws: `CaptureError` when the file cannot be opened as a capture at all or
    ///   the filter does not compile.
    public init(file: InputFile, filter: String?) throws(CaptureError) {
        fatalError("contract stub")
    }

    /// Reads every packet. `observe` gets each observation (borrowed: valid during the
    /// call only); `progress` is called every few thousand packets with the summary so
    /// far. A truncated or corrupt file ends the read with `damage` set; what came
    /// before is kept.
    public func read(observe: (Observation) -> Void, progress: (ReadSummary) -> Void) -> ReadSummary {
        fatalError("contract stub")
    }
}

/// A capture that cannot be read at all, or a filter that does not compile.
public struct CaptureError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}
