import ByteParsing

/// A point in time, UTC, as nanoseconds since the Unix epoch.
public struct Timestamp: Hashable, Comparable, Sendable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ nanoseconds
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// Where in its source an observation was made, precise enough to find the bytes again.
public enum Locator: Hashable, Sendable {
    /// 1-based packet number, as Wireshark numbers frames (every record of the file counts,
    /// whether or not a filter selected it).
    case packet(UInt64)
    /// 1-based line number and the byte offset of the line's first byte in the
    /// (decompressed) text.
    case line(number: UInt64, offset: UInt64)
}

/// The kind of observable value; every indicator type matches exactly one of these.
public enum ObservableKind: String, Sendable, CaseIterable {
    case ipv4, ipv6, domain, md5, sha1, sha256, url, email
    /// TLS client fingerprints: JA3 (an MD5 in hex) and JA4 (`t13d1516h2_…_…`).
    case ja3, ja4
}

/// Where in a protocol or a log line a value was seen. The raw value is the label
/// shown to users and stored in the case database (Wireshark's field names where
/// there is one).
public enum Field: String, Sendable, CaseIterable {
    case ipSource = "ip.src"
    case ipDestination = "ip.dst"
    case ipv6Source = "ipv6.src"
    case ipv6Destination = "ipv6.dst"
    /// The source of an IPv4 header inside a tunnel (GRE, IP-in-IP, 6in4, VXLAN,
    /// Geneve, GTP-U, Teredo…): every IP header after a packet's first. The outermost
    /// header keeps `ip.src`/`ip.dst` (`ipv6.src`/`ipv6.dst`), so a packet's outer
    /// addresses have the same field whether or not it carries a tunnel.
    case tunnelIPSource = "tunnel.ip.src"
    /// The destination of an IPv4 header inside a tunnel.
    case tunnelIPDestination = "tunnel.ip.dst"
    /// The source of an IPv6 header inside a tunnel.
    case tunnelIPv6Source = "tunnel.ipv6.src"
    /// The destination of an IPv6 header inside a tunnel.
    case tunnelIPv6Destination = "tunnel.ipv6.dst"
    /// The source of the IPv4 header an ICMP error quotes (the packet that caused it).
    case quotedIPSource = "icmp.quoted.ip.src"
    /// The destination of the IPv4 header an ICMP error quotes.
    case quotedIPDestination = "icmp.quoted.ip.dst"
    /// The source of the IPv6 header an ICMPv6 (or ICMP) error quotes.
    case quotedIPv6Source = "icmp.quoted.ipv6.src"
    /// The destination of the IPv6 header an ICMPv6 (or ICMP) error quotes.
    case quotedIPv6Destination = "icmp.quoted.ipv6.dst"
    case dnsQuery = "dns.query"
    /// A name or address in a DNS answer: A and AAAA addresses, the data of CNAME, MX,
    /// NS and PTR records.
    case dnsAnswer = "dns.answer"
    /// The server name of a TLS ClientHello.
    case tlsSNI = "tls.sni"
    /// The server name of the TLS ClientHello in a QUIC v1 or v2 Initial packet.
    case quicSNI = "quic.sni"
    /// The JA3 fingerprint of a TLS (or QUIC) ClientHello.
    case tlsJA3 = "tls.ja3"
    /// The JA4 fingerprint of a TLS (or QUIC) ClientHello.
    case tlsJA4 = "tls.ja4"
    /// The Host header of an HTTP/1.x request.
    case httpHost = "http.host"
    /// The URL of an HTTP/1.x request, `http://host/uri` (tshark's `http.request.full_uri`).
    case httpURL = "http.url"
    /// The User-Agent header of an HTTP/1.x request.
    case httpUserAgent = "http.user_agent"
    /// The digests of a file transferred in an HTTP/1.x body (after any
    /// Content-Encoding is undone).
    case fileMD5 = "file.md5"
    case fileSHA1 = "file.sha1"
    case fileSHA256 = "file.sha256"
    /// An address a DHCP server acknowledged to a client (a DHCPACK, in a capture or in
    /// an ISC dhcpd or dnsmasq log line). The observation's host is the client's host
    /// name: this is how the case learns which address a log's host name has. Not
    /// matched against indicators.
    case dhcpLease = "dhcp.lease"
    /// An address anywhere in a log line.
    case logIP = "log.ip"
    /// An address the line names as the source (`SRC=`, `src_ip`, `from`).
    case logSource = "log.src"
    /// An address the line names as the destination (`DST=`, `dest_ip`).
    case logDestination = "log.dst"
    case logDomain = "log.domain"
    case logURL = "log.url"
    case logEmail = "log.email"
    case logHash = "log.hash"
}

/// An observed value, borrowed from the bytes it was read from: a non-escapable value
/// that cannot outlive them, handed to the closure that looks it up. Copy what you keep
/// (`owned`).
public enum ObservedValue: ~Escapable {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    /// A domain name as ASCII bytes, labels joined by `.`, no trailing dot; case as
    /// seen (matching folds case).
    case domain(Span<UInt8>)
    /// A hex digest as seen in text (32, 40 or 64 hex digits, any case).
    case hexDigest(Span<UInt8>)
    /// A URL as seen (`scheme://host[:port]/path?query`), bytes as they are.
    case url(Span<UInt8>)
    /// An e-mail address as seen (`local@domain`).
    case email(Span<UInt8>)
    /// A JA3 fingerprint: 32 lower-case hex digits.
    case ja3(Span<UInt8>)
    /// A JA4 fingerprint, e.g. `t13d1516h2_8daaf6152771_02713d6af862`.
    case ja4(Span<UInt8>)

    /// An owned copy, for the rare case that a hit has to be kept.
    public var owned: OwnedValue {
        switch self {
        case .ipv4(let address): .ipv4(address)
        case .ipv6(let address): .ipv6(address)
        case .domain(let bytes): .domain(bytes.string)
        case .hexDigest(let bytes): .hexDigest(bytes.string)
        case .url(let bytes): .url(bytes.string)
        case .email(let bytes): .email(bytes.string)
        case .ja3(let bytes): .ja3(bytes.string)
        case .ja4(let bytes): .ja4(bytes.string)
        }
    }
}

extension OwnedValue {
    /// Lends this value's bytes to `body` as an `ObservedValue` (to look an owned value
    /// up as the readers' values are).
    public func withObservedValue<R>(_ body: (ObservedValue) -> R) -> R {
        let text: [UInt8] = switch self {
        case .ipv4, .ipv6: []
        case .domain(let text), .hexDigest(let text), .url(let text), .email(let text), .ja3(let text), .ja4(let text):
            Array(text.utf8)
        }
        let bytes = text.span
        let value: ObservedValue = switch self {
        case .ipv4(let address): .ipv4(address)
        case .ipv6(let address): .ipv6(address)
        case .domain: .domain(bytes)
        case .hexDigest: .hexDigest(bytes)
        case .url: .url(bytes)
        case .email: .email(bytes)
        case .ja3: .ja3(bytes)
        case .ja4: .ja4(bytes)
        }
        return body(value)
    }
}

/// An owned observed value.
public enum OwnedValue: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    case domain(String)
    case hexDigest(String)
    case url(String)
    case email(String)
    case ja3(String)
    case ja4(String)

    public var description: String {
        switch self {
        case .ipv4(let address): address.description
        case .ipv6(let address): address.description
        case .domain(let name): name
        case .hexDigest(let digest): digest
        case .url(let url): url
        case .email(let address): address
        case .ja3(let fingerprint): fingerprint
        case .ja4(let fingerprint): fingerprint
        }
    }
}

/// An IP address a packet or a line is attributed to, or none: what a reader keeps of
/// a host (a packet's endpoints, a line's first source and destination).
public enum HostAddress: Hashable, Sendable {
    case none
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)

    /// The address as text; nil for `.none`.
    public var text: String? {
        switch self {
        case .none: nil
        case .ipv4(let address): address.description
        case .ipv6(let address): address.description
        }
    }
}

/// The local host an observation is attributed to: for a packet, the endpoint that is
/// not the observed value (the other address of the packet, or the querier for DNS);
/// for a log line, the host named in its header. Borrowed like `ObservedValue`.
public enum HostReference: ~Escapable {
    case none
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    /// A host name as written in a log header.
    case name(Span<UInt8>)

    /// The reference to `address` (which borrows nothing).
    @_lifetime(immortal)
    public init(_ address: HostAddress) {
        switch address {
        case .none: self = .none
        case .ipv4(let address): self = .ipv4(address)
        case .ipv6(let address): self = .ipv6(address)
        }
    }

    /// The text stored as an incident's host; nil for `.none`.
    public var text: String? {
        switch self {
        case .none: nil
        case .ipv4(let address): address.description
        case .ipv6(let address): address.description
        case .name(let bytes): bytes.string
        }
    }
}

/// One observable found in the input, with where and when: a non-escapable value
/// borrowing the reader's bytes, handed to a non-escaping closure. Nothing of it can be
/// kept beyond that call but copies (`ObservedValue.owned`, `HostReference.text`).
public struct Observation: ~Escapable {
    public var value: ObservedValue
    public var field: Field
    public var host: HostReference
    public var locator: Locator
    public var time: Timestamp
    /// For a value of a JSON log line, the name of the member it was the value of
    /// (`id.resp_h`, `dest_ip`, with nested names joined by `.`); nil elsewhere. Stored
    /// as the sighting's field in place of `field`'s name.
    public var member: Optional<Span<UInt8>>
    /// For an IP address seen in a packet's IP header, the packet's length on the wire
    /// (its original length, however much was captured); 0 elsewhere. IP sightings of
    /// one conversation add these up.
    public var packetLength: UInt32

    @_lifetime(copy value, copy host, copy member)
    public init(
        value: ObservedValue, field: Field, host: HostReference, locator: Locator, time: Timestamp,
        member: Optional<Span<UInt8>>, packetLength: UInt32 = 0
    ) {
        self.value = value
        self.field = field
        self.host = host
        self.locator = locator
        self.time = time
        self.member = member
        self.packetLength = packetLength
    }

    /// An observation that names no JSON member (every packet observation).
    @_lifetime(copy value, copy host)
    public init(
        value: ObservedValue, field: Field, host: HostReference, locator: Locator, time: Timestamp,
        packetLength: UInt32 = 0
    ) {
        self.value = value
        self.field = field
        self.host = host
        self.locator = locator
        self.time = time
        self.member = nil
        self.packetLength = packetLength
    }
}

/// A malformed or unsupported piece of input, counted by kind per source; decoding goes on.
public struct Anomaly: Hashable, Sendable {
    /// What was wrong, e.g. `.ipv4Truncated`, `.dnsMalformedName`, `.linkUnsupported`.
    public var kind: AnomalyKind
    /// An anomaly of `kind`.
    public init(_ kind: AnomalyKind) { self.kind = kind }
}

/// Counts of anomalies by kind; cheap to update on the hot path only when something
/// is wrong.
///
/// Counts are kept by the kind's name (`AnomalyKind.rawValue`), the form the case
/// database stores and `cairn sources` prints, so counts read back from a case whose
/// kinds this version no longer records (`init(counts:)`) are kept alike.
public struct AnomalyCounts: Sendable, Equatable {
    /// Each kind's count, by the kind's name.
    public private(set) var counts: [String: UInt64] = [:]

    /// No anomalies.
    public init() {}

    /// Counts read back by name (a stored case's): any name is kept, including one no
    /// `AnomalyKind` has (a case written by another version of Cairn).
    public init(counts: [String: UInt64]) { self.counts = counts }

    /// Counts `count` anomalies of `kind`. O(1): one dictionary update keyed by the
    /// raw value, a string literal that costs no allocation.
    public mutating func record(_ kind: AnomalyKind, count: UInt64 = 1) {
        counts[kind.rawValue, default: 0] += count
    }

    /// Adds `other`'s counts to these.
    public mutating func merge(_ other: AnomalyCounts) {
        for (kind, count) in other.counts { counts[kind, default: 0] += count }
    }

    /// All anomalies counted, whatever their kind.
    public var total: UInt64 { counts.values.reduce(0, +) }
}

/// What kind of file a source is, detected from its first bytes.
public enum SourceKind: String, Sendable, CaseIterable {
    case pcap, pcapng, gzip, text

    /// Whether the source holds packets (as opposed to log lines).
    public var isCapture: Bool { self == .pcap || self == .pcapng }
}

/// What a reader did with one source.
public struct ReadSummary: Sendable, Equatable {
    /// Packets read (every record, including those a filter skipped).
    public var packets: UInt64 = 0
    /// Lines read.
    public var lines: UInt64 = 0
    /// Bytes of content processed: file bytes for captures, decompressed bytes for logs.
    public var bytes: UInt64 = 0
    /// Malformed or unsupported input, by kind; decoding went on past each.
    public var anomalies = AnomalyCounts()
    /// Things worth telling the user once per source (e.g. an undecoded link type).
    public var notes: [String] = []
    /// Why reading stopped before the end of the file (a truncated or corrupt file),
    /// with where; nil when the whole file was read. What was read before it is kept.
    public var damage: String? = nil
    /// For a gzip log that stopped inside a member (damage, truncation, the decompressed-
    /// size limit): the first line holding bytes of that member. Its CRC-32 and length
    /// were never checked against them, so the text from that line on is unverified.
    public var unverifiedFromLine: UInt64? = nil

    /// How the analyst and the investigator are told of `unverifiedFromLine`: `lines 12
    /// to 40 are unverified: …`, `line 12 is …` when it is the last, or `lines from 12
    /// on …` when the last is not at hand.
    public static func unverifiedLinesText(from first: UInt64, to last: UInt64?) -> String {
        if last == first { return "line \(first) is unverified: reading stopped inside its gzip member, whose CRC-32 was never checked" }
        let lines = last.map { "lines \(first) to \($0)" } ?? "lines from \(first) on"
        return lines + " are unverified: reading stopped inside their gzip member, whose CRC-32 was never checked"
    }

    // The read account. Each group adds up exactly (docs/schema.md, "The read account"):
    //   packets = packetsDecoded + packetsAnomalous + packetsUndecodable + packetsFiltered
    //   bytesConsumed + bytesUnread = the file's size
    //   lineBytes + separatorBytes + cutBytes = bytes (logs: the decompressed size)

    /// Packets of a decoded link type during whose decoding no anomaly was counted: every
    /// layer Cairn decodes was read as far as it goes (a frame of an EtherType Cairn does
    /// not decode, such as ARP, ends at its link header and counts here; so do the
    /// packets of a link type that carries no IP, such as USB, which a note names).
    public var packetsDecoded: UInt64 = 0
    /// Packets of a decoded link type during whose decoding at least one anomaly was
    /// counted (a malformed header, a cap reached, a bad DNS name in the stream data the
    /// packet completed…). Anomalies counted when the capture ends (streams and fragments
    /// left open) and pcapng block anomalies belong to no packet.
    public var packetsAnomalous: UInt64 = 0
    /// Packets whose link type Cairn does not decode (`link.unsupported`): counted, not
    /// inspected.
    public var packetsUndecodable: UInt64 = 0
    /// Packets the `--filter` BPF expression left out: counted, not inspected (0 without
    /// a filter).
    public var packetsFiltered: UInt64 = 0
    /// File bytes the reader took apart: for a capture, up to the end of the last whole
    /// record (pcap) or block (pcapng); for a gzip log, compressed bytes up to where
    /// inflating stopped (the whole file at a clean end; at damage, the offset its
    /// message names: the start of trailing garbage, where a data error was found; the
    /// inflater's position at the decompressed-size limit); for a plain log, every byte
    /// read.
    public var bytesConsumed: UInt64 = 0
    /// File bytes after `bytesConsumed`: what a truncation, corruption or limit left
    /// unread (they are still hashed). 0 when the whole file was read.
    public var bytesUnread: UInt64 = 0
    /// Logs: the bytes of all lines as handed on (without their line ends, and without
    /// what was cut from over-long lines).
    public var lineBytes: UInt64 = 0
    /// Logs: line-end bytes: each LF, and the CR before it (a CR ending the last line
    /// without an LF too: the reader drops it alike).
    public var separatorBytes: UInt64 = 0
    /// Logs: bytes cut from over-long lines (`log.line_too_long`), up to their line end.
    public var cutBytes: UInt64 = 0

    public init() {}
}
