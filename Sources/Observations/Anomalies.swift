/// Every kind of malformed or unsupported input Cairn counts, by the layer that finds
/// it. The raw value is the kind's stable name (`layer.what`): the case database
/// stores counts under it and `cairn sources` prints it, so a raw value is never
/// renamed. docs/fields.md lists each with its meaning for analysts; a test keeps the
/// two in step.
public enum AnomalyKind: String, CaseIterable, Sendable {
    // MARK: Capture files and link types

    /// A packet of a link type Cairn does not decode: counted, not inspected.
    case linkUnsupported = "link.unsupported"
    /// A pcapng block option whose length runs past its block: the block's other options are skipped.
    case pcapngBadOption = "pcapng.bad_option"
    /// A pcapng `if_tsresol` option out of range: the interface keeps microseconds.
    case pcapngBadTsresol = "pcapng.bad_tsresol"

    // MARK: Link layers

    /// An Ethernet header cut short.
    case ethernetTruncated = "ethernet.truncated"
    /// An 802.1Q/802.1ad tag (or VNTag, 802.1ah) cut short.
    case vlanTruncated = "vlan.truncated"
    /// More than 128 stacked VLAN tags.
    case vlanTooManyTags = "vlan.too_many_tags"
    /// An MPLS label stack cut short.
    case mplsTruncated = "mpls.truncated"
    /// More than 16 MPLS labels without the bottom-of-stack bit.
    case mplsTooManyLabels = "mpls.too_many_labels"
    /// A PPPoE session header cut short.
    case pppoeTruncated = "pppoe.truncated"
    /// A PPPoE length shorter than its PPP protocol field.
    case pppoeBadLength = "pppoe.bad_length"
    /// A PPP frame (link type 9, 50, 204, or in PPTP's GRE) ending before its protocol field.
    case pppTruncated = "ppp.truncated"
    /// A Cisco HDLC header cut short.
    case chdlcTruncated = "chdlc.truncated"
    /// An FDDI header cut short.
    case fddiTruncated = "fddi.truncated"
    /// An LLC/SNAP header (FDDI, 802.11) cut short.
    case llcTruncated = "llc.truncated"
    /// An 802.11 header shorter than its frame control says (addresses, QoS, HT Control).
    case wlanTruncated = "wlan.truncated"
    /// A radiotap header cut short or longer than the packet.
    case radiotapTruncated = "radiotap.truncated"
    /// A radiotap version other than 0 or a length under 8.
    case radiotapBadHeader = "radiotap.bad_header"
    /// A Prism capture header cut short, longer than the packet or shorter than its fixed fields.
    case prismTruncated = "prism.truncated"
    /// An AVS capture header cut short, longer than the packet or shorter than its fixed fields.
    case avsTruncated = "avs.truncated"
    /// A PPI capture header cut short, longer than the packet or shorter than its fixed fields.
    case ppiTruncated = "ppi.truncated"
    /// An Apple PKTAP header cut short, longer than the packet or shorter than its fixed fields.
    case pktapTruncated = "pktap.truncated"
    /// A Solaris ipnet header (24 bytes) cut short.
    case ipnetTruncated = "ipnet.truncated"
    /// An IP-over-InfiniBand pseudo-header and header (40 + 4 bytes) cut short.
    case ipoibTruncated = "ipoib.truncated"
    /// A Linux ARCNET header cut short.
    case arcnetTruncated = "arcnet.truncated"
    /// A Linux NFLOG header or attribute cut short.
    case nflogTruncated = "nflog.truncated"
    /// An NFLOG attribute length under 4.
    case nflogBadLength = "nflog.bad_length"
    /// More than 64 NFLOG attributes before the payload.
    case nflogTooManyAttributes = "nflog.too_many_attributes"
    /// A BSD loopback family field cut short.
    case loopbackTruncated = "loopback.truncated"
    /// A Linux cooked (SLL) header cut short.
    case sllTruncated = "sll.truncated"
    /// A Linux cooked v2 (SLL2) header cut short.
    case sll2Truncated = "sll2.truncated"
    /// A raw IP packet too short to hold its version.
    case rawTruncated = "raw.truncated"
    /// A raw IP packet that is neither IPv4 nor IPv6.
    case rawBadVersion = "raw.bad_version"

    // MARK: Decoder

    /// A packet with more layers than the decoder follows (28): the rest is not read.
    case decoderTooManyLayers = "decoder.too_many_layers"

    // MARK: Tunnels and sampling

    /// A GRE header cut short, or shorter than its flags announce.
    case greTruncated = "gre.truncated"
    /// A GRE header with source routing (RFC 1701's R bit), which is not decoded.
    case greRoutingUnsupported = "gre.routing_unsupported"
    /// A GRE version 1 (PPTP) header without its key or not carrying PPP.
    case greBadPPTPHeader = "gre.bad_pptp_header"
    /// A GRE version other than 0 or 1.
    case greBadVersion = "gre.bad_version"
    /// An ERSPAN type II or III header cut short.
    case erspanTruncated = "erspan.truncated"
    /// A VXLAN header (8 bytes) cut short.
    case vxlanTruncated = "vxlan.truncated"
    /// A VXLAN-GPE header (8 bytes) cut short.
    case vxlanGPETruncated = "vxlan_gpe.truncated"
    /// A VXLAN-GPE version other than 0.
    case vxlanGPEBadVersion = "vxlan_gpe.bad_version"
    /// A Geneve header, or the options its length announces, cut short.
    case geneveTruncated = "geneve.truncated"
    /// A Geneve version other than 0.
    case geneveBadVersion = "geneve.bad_version"
    /// An AYIYA header, or the identity and signature its lengths announce, cut short.
    case ayiyaTruncated = "ayiya.truncated"
    /// An NSH header cut short, or longer than the packet.
    case nshTruncated = "nsh.truncated"
    /// An NSH version other than 0.
    case nshBadVersion = "nsh.bad_version"
    /// An NSH length under 2 words.
    case nshBadLength = "nsh.bad_length"
    /// A Cisco MetaData header (8 bytes, with its EtherType) cut short.
    case cmdTruncated = "cmd.truncated"
    /// An sFlow datagram header, sample, record or sampled header cut short, or fewer samples or records than counted.
    case sflowTruncated = "sflow.truncated"
    /// An sFlow agent address type other than 1 (IPv4) or 2 (IPv6).
    case sflowBadAddressType = "sflow.bad_address_type"
    /// More IP headers in one packet than the decoder follows (4): the innermost are not read.
    case tunnelTooDeep = "tunnel.too_deep"

    // MARK: IP

    /// An IPv4 header cut short (its source is still observed when present).
    case ipv4Truncated = "ipv4.truncated"
    /// A packet handed to IPv4 whose version field is not 4.
    case ipv4BadVersion = "ipv4.bad_version"
    /// An IPv4 header length under 20 bytes.
    case ipv4BadHeaderLength = "ipv4.bad_header_length"
    /// An IPv4 total length shorter than its header.
    case ipv4BadTotalLength = "ipv4.bad_total_length"
    /// An IPv6 header or extension header cut short.
    case ipv6Truncated = "ipv6.truncated"
    /// A packet handed to IPv6 whose version field is not 6.
    case ipv6BadVersion = "ipv6.bad_version"
    /// More than 8 IPv6 extension headers: the payload is not read.
    case ipv6TooManyExtensionHeaders = "ipv6.too_many_extension_headers"
    /// A fragment overlapping earlier ones (the first data is kept).
    case ipFragmentOverlap = "ip.fragment_overlap"
    /// An overlapping fragment with different bytes, or a last fragment contradicting the datagram's length.
    case ipFragmentConflict = "ip.fragment_conflict"
    /// Fragments reaching past 65 535 bytes of payload.
    case ipFragmentTooLarge = "ip.fragment_too_large"
    /// More than 128 fragments for one datagram.
    case ipFragmentsTooMany = "ip.fragments_too_many"
    /// A datagram dropped because it was not complete 30 seconds after its first fragment.
    case ipFragmentsTimeout = "ip.fragments_timeout"
    /// A datagram dropped to make room under the cap on datagrams being reassembled.
    case ipFragmentsEvicted = "ip.fragments_evicted"
    /// A fragment dropped because all fragment buffers together would pass their byte cap.
    case ipFragmentsMemoryCap = "ip.fragments_memory_cap"
    /// Datagrams still missing fragments at the end of the capture.
    case ipFragmentsIncomplete = "ip.fragments_incomplete"

    // MARK: ICMP

    /// An ICMP or ICMPv6 header cut short.
    case icmpTruncated = "icmp.truncated"
    /// An ICMP error's quoted IP header cut before its addresses.
    case icmpQuoteTruncated = "icmp.quote_truncated"
    /// An ICMP error quoting an IP header of another version than 4 or 6.
    case icmpQuoteBadVersion = "icmp.quote_bad_version"

    // MARK: UDP and TCP

    /// A UDP header cut short.
    case udpTruncated = "udp.truncated"
    /// A UDP length field under 8 (and not 0).
    case udpBadLength = "udp.bad_length"
    /// A TCP header cut short, or shorter than its data offset says.
    case tcpTruncated = "tcp.truncated"
    /// A TCP data offset under 5 words (20 bytes).
    case tcpBadHeaderLength = "tcp.bad_header_length"
    /// A segment whose bytes differ from bytes already held for the same stream offsets (the first data is kept).
    case tcpOverlapConflict = "tcp.overlap_conflict"
    /// A hole in a stream was skipped: data beyond it passed the per-stream cap, or the stream ended.
    case tcpGap = "tcp.gap"
    /// A stream needed more than `maxBytesPerStream`: what it held is parsed as far as it goes and it stops.
    case tcpStreamCap = "tcp.stream_cap"
    /// All streams together would pass `maxBytesTotal`: the stream that asked stops.
    case tcpMemoryCap = "tcp.memory_cap"
    /// A stream evicted to make room in the flow table.
    case tcpFlowEvicted = "tcp.flow_evicted"
    /// A stream timed out holding an incomplete unit.
    case tcpIdleWithData = "tcp.idle_with_data"

    // MARK: DNS and DHCP

    /// A DNS message shorter than its header, a question cut before its type and class, or a TCP length under 12.
    case dnsMalformed = "dns.malformed"
    /// A DNS name that cannot be read (cut short, too long, a pointer not pointing back, a reserved label type): the message stops there.
    case dnsMalformedName = "dns.malformed_name"
    /// A DNS resource record cut short, or whose data runs past the message: the message stops there.
    case dnsMalformedRecord = "dns.malformed_record"
    /// A DNS A, AAAA, CNAME, NS, PTR or MX record whose data is of the wrong length or holds no readable name.
    case dnsBadRdata = "dns.bad_rdata"
    /// A TCP stream ended (or was cut by a hole or a cap) inside a DNS message.
    case dnsTCPSegmented = "dns.tcp_segmented"
    /// A BOOTP/DHCP message shorter than its fixed header, or an option running past the message.
    case dhcpMalformed = "dhcp.malformed"

    // MARK: TLS

    /// A TLS stream ended (or was cut by a hole or a cap) inside a ClientHello.
    case tlsClientHelloSegmented = "tls.client_hello_segmented"
    /// A ClientHello extension running past the extensions' end.
    case tlsBadExtensionLength = "tls.bad_extension_length"
    /// A server_name extension whose list or entry runs past its extension.
    case tlsBadServerName = "tls.bad_server_name"
    /// A server name longer than the name buffer (255 bytes): not observed.
    case tlsServerNameTooLong = "tls.server_name_too_long"

    // MARK: HTTP/1

    /// A request line that is not `METHOD SP target SP HTTP/1.x`.
    case httpBadRequestLine = "http.bad_request_line"
    /// A stream ended (or was cut by a hole or a cap) inside a request head before its Host line.
    case httpSegmented = "http.segmented"
    /// A request head longer than `maxHTTPHeadBytes` (read as far as it goes).
    case httpHeadTooLong = "http.head_too_long"
    /// A URL built from Host and target longer than the URL buffer: not observed.
    case httpURLTooLong = "http.url_too_long"
    /// An unreadable or contradictory Content-Length in a request: taken as no body.
    case httpBadContentLength = "http.bad_content_length"
    /// A chunk size that is not hex, is negative, or reaches 2^40: the stream stops.
    case httpBadChunkSize = "http.bad_chunk_size"
    /// A body cut by the connection's end (hashed as received) or by a hole (not hashed).
    case httpBodyIncomplete = "http.body_incomplete"
    /// A response a strict reader refuses: read every way a browser may.
    case httpBodyAmbiguous = "http.body_ambiguous"
    /// A server's first response without a status line: read as HTTP/0.9.
    case httpResponseWithoutStatus = "http.response_without_status"
    /// Compressed body data that does not decode: not hashed.
    case httpBodyDecodeError = "http.body_decode_error"
    /// A body past `maxDecodedBodyBytes` after decoding: not hashed.
    case httpBodyTooLarge = "http.body_too_large"

    // MARK: HTTP/2 and DNS over HTTPS

    /// An HTTP/2 frame breaking the rules of header blocks: the connection's direction is not read further.
    case http2Malformed = "http2.malformed"
    /// An HTTP/2 frame other than DATA longer than 4 × `maxHTTPHeadBytes`: the direction is not read further.
    case http2FrameTooLong = "http2.frame_too_long"
    /// An HTTP/2 connection ended inside a frame header or frame.
    case http2Truncated = "http2.truncated"
    /// An HTTP/2 stream's body not hashed: 64 others were in progress on the connection's direction.
    case http2TooManyStreams = "http2.too_many_streams"
    /// A DNS-over-HTTPS `dns` query parameter that is not base64url or is shorter than a DNS header.
    case dohBadParameter = "doh.bad_parameter"

    // MARK: QUIC

    /// A QUIC header or packet cut short.
    case quicTruncated = "quic.truncated"
    /// A QUIC connection ID longer than 20 bytes.
    case quicBadConnectionID = "quic.bad_connection_id"
    /// A QUIC Initial whose authentication failed: a damaged or forged packet.
    case quicInitialUndecryptable = "quic.initial_undecryptable"
    /// A frame a QUIC Initial may not carry, or one cut short.
    case quicBadFrame = "quic.bad_frame"
    /// QUIC CRYPTO data past 16 KiB for one connection.
    case quicCryptoTooLong = "quic.crypto_too_long"
    /// An unfinished ClientHello dropped for a newer QUIC connection.
    case quicClientHelloIncomplete = "quic.client_hello_incomplete"
    /// A ClientHello in QUIC CRYPTO data that cannot be read.
    case quicBadClientHello = "quic.bad_client_hello"
    /// A server name in a QUIC ClientHello longer than the name buffer: not observed.
    case quicServerNameTooLong = "quic.server_name_too_long"

    // MARK: Logs

    /// A log line longer than the line limit (1 MiB, `--line-limit`): cut, the rest up to its line end dropped.
    case logLineTooLong = "log.line_too_long"
}
