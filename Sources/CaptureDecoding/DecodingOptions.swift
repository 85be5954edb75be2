/// The bounds of the state a capture reader keeps across packets: the TCP flow table
/// and stream reassembly, and IP fragment reassembly. Every buffer that input can grow
/// has a cap here; hitting one is counted as an anomaly (see docs/fields.md), never
/// fatal. The defaults keep a reader's state under about 100 MiB whatever the capture.
public struct DecodingOptions: Sendable, Equatable {
    /// TCP stream directions tracked at once (a connection takes at most two). When
    /// the table is full, the eighth least recently used are evicted
    /// (`tcp.flow_evicted` each). 65 536 directions cost a few MiB of table.
    public var maxTCPStreams: Int = 65_536
    /// Bytes one stream direction may buffer (in order and out of order): the largest
    /// DNS-over-TCP message (2 + 65 535 bytes) with room to spare. Out-of-order data
    /// beyond this while a hole is open makes the stream skip the hole (`tcp.gap`).
    public var maxBytesPerStream: Int = 72 * 1024
    /// Bytes all streams may buffer together; past it a stream that needs more stops
    /// being reassembled (`tcp.memory_cap`).
    public var maxBytesTotal: Int = 64 * 1024 * 1024
    /// A stream with no packet for this long (in packet time) is finished as if closed
    /// (what it buffered is parsed as far as it goes). Two minutes: longer than the
    /// usual keep-alive gaps of HTTP/1.1 and DNS over TCP.
    public var tcpIdleTimeoutSeconds: Int64 = 120
    /// The most of a TLS ClientHello record kept: a record holds at most 2^14 bytes
    /// (RFC 8446 §5.1), plus its 5-byte header.
    public var maxClientHelloBytes: Int = 16_384 + 5
    /// The most of an HTTP/1.x request head (request line and headers) kept: 16 KiB,
    /// above the 8 KiB default of common servers. A longer head is counted
    /// (`http.head_too_long`) and read as far as it goes.
    public var maxHTTPHeadBytes: Int = 16_384
    /// The most of one HTTP body hashed after its Content-Encoding is undone: a
    /// compression bomb costs at most this much hashing. A longer body is counted
    /// (`http.body_too_large`) and its digests not observed.
    public var maxDecodedBodyBytes: Int64 = 1 << 30
    /// The most of one HTTP response body kept whole when its head is not strict, to
    /// be read every way a browser may (HTTPResponseReadings.swift): 8 MiB. A longer
    /// body is read as far as this (`tcp.stream_cap`).
    public var maxBufferedBodyBytes: Int = 8 << 20
    /// The most one reading of such a body may inflate to (it is held in memory while
    /// it is hashed); a reading past it is dropped (`http.body_too_large`).
    public var maxBufferedDecodedBytes: Int = 64 << 20

    /// IP datagrams being reassembled from fragments at once (IPv4 and IPv6 together);
    /// the oldest is dropped when a new one would exceed it (`ip.fragments_evicted`).
    public var maxFragmentedDatagrams: Int = 1024
    /// Bytes all fragment buffers may hold together (`ip.fragments_memory_cap`).
    public var maxFragmentBytesTotal: Int = 16 * 1024 * 1024
    /// A datagram whose fragments have not all come within this time (in packet time)
    /// is dropped (`ip.fragments_timeout`). 30 s, as Linux's ipfrag_time default.
    public var fragmentTimeoutSeconds: Int64 = 30

    /// The costly derived observables to compute: HTTP body digests and TLS client
    /// fingerprints cost hashing per body or ClientHello, wasted when no loaded indicator
    /// can match them (the ingest sets this from its rule set). Everything by default;
    /// what is left out is never observed, and nothing else changes (bodies are still
    /// framed and decoded, so anomalies are counted the same).
    public var derivedObservables: DerivedObservables = .all

    public init() {}
}

/// Observables a decoder computes rather than reads (digests and fingerprints), which
/// `DecodingOptions.derivedObservables` can turn off.
public struct DerivedObservables: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `file.md5`: the MD5 of each HTTP body.
    public static let fileMD5 = DerivedObservables(rawValue: 1 << 0)
    /// `file.sha1`: the SHA-1 of each HTTP body.
    public static let fileSHA1 = DerivedObservables(rawValue: 1 << 1)
    /// `file.sha256`: the SHA-256 of each HTTP body.
    public static let fileSHA256 = DerivedObservables(rawValue: 1 << 2)
    /// `tls.ja3`: the JA3 fingerprint (an MD5) of each TLS or QUIC ClientHello.
    public static let ja3 = DerivedObservables(rawValue: 1 << 3)
    /// `tls.ja4`: the JA4 fingerprint of each TLS or QUIC ClientHello.
    public static let ja4 = DerivedObservables(rawValue: 1 << 4)

    /// The three body digests.
    public static let fileDigests: DerivedObservables = [.fileMD5, .fileSHA1, .fileSHA256]
    /// Both fingerprints.
    public static let fingerprints: DerivedObservables = [.ja3, .ja4]
    /// Every derived observable (the default).
    public static let all: DerivedObservables = [.fileDigests, .fingerprints]
}
