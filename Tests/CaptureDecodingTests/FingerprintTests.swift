import ByteParsing
import Crypto
import Foundation
import Observations
import Testing
@testable import CaptureDecoding

/// What a capture yielded, by packet number: fingerprints, server names, anomalies.
struct FingerprintYield {
    var ja3: [UInt64: [String]] = [:]
    var ja4: [UInt64: [String]] = [:]
    var quicSNI: [UInt64: [String]] = [:]
    var tlsSNI: Set<String> = []
    var anomalies: [String: UInt64] = [:]
    var hosts: Set<String> = []

    init(capture path: String) throws {
        let reader = try CaptureReader(file: InputFile(path: path), filter: nil)
        var yield = self
        let summary = reader.read(observe: { observation in
            guard case .packet(let number) = observation.locator else { return }
            switch (observation.value, observation.field) {
            case (.ja3, .tlsJA3):
                yield.ja3[number, default: []].append(observation.value.owned.description)
                yield.hosts.insert(observation.host.text ?? "-")
            case (.ja4, .tlsJA4):
                yield.ja4[number, default: []].append(observation.value.owned.description)
            case (.domain, .quicSNI):
                yield.quicSNI[number, default: []].append(observation.value.owned.description)
                yield.hosts.insert(observation.host.text ?? "-")
            case (.domain, .tlsSNI):
                yield.tlsSNI.insert(observation.value.owned.description)
            default:
                break
            }
        }, progress: { _ in })
        yield.anomalies = summary.anomalies.counts
        self = yield
    }
}

/// A ClientHello handshake message (type 1, 3-byte length, body) with the given fields.
func clientHelloMessage(
    version: UInt16 = 0x0303, ciphers: [UInt16], extensions: [(UInt16, [UInt8])]?
) -> [UInt8] {
    var body: [UInt8] = [UInt8(version >> 8), UInt8(version & 0xFF)]
    body += [UInt8](repeating: 0x11, count: 32)  // random
    body += [0]  // session id
    body += Craft.be16(ciphers.count * 2) + ciphers.flatMap { Craft.be16(Int($0)) }
    body += [1, 0]  // compression: null
    if let extensions {
        let block = extensions.flatMap { Craft.be16(Int($0.0)) + Craft.be16($0.1.count) + $0.1 }
        body += Craft.be16(block.count) + block
    }
    return [1, UInt8(body.count >> 16), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body
}

/// Extension payloads.
func serverNameExtension(_ name: String) -> (UInt16, [UInt8]) {
    let bytes = Array(name.utf8)
    return (0, Craft.be16(bytes.count + 3) + [0] + Craft.be16(bytes.count) + bytes)
}

func list16Extension(_ type: UInt16, _ values: [UInt16], lengthBytes: Int = 2) -> (UInt16, [UInt8]) {
    let data = values.flatMap { Craft.be16(Int($0)) }
    return (type, (lengthBytes == 1 ? [UInt8(data.count)] : Craft.be16(data.count)) + data)
}

func alpnExtension(_ protocols: [[UInt8]]) -> (UInt16, [UInt8]) {
    let list = protocols.flatMap { [UInt8($0.count)] + $0 }
    return (16, Craft.be16(list.count) + list)
}

/// The first 12 hex digits of the SHA-256 of `text`: how the tests state JA4's
/// hashed parts from their plain text.
func sha12(_ text: String) -> String { String(Hex.string(SHA256.hash(data: Array(text.utf8))).prefix(12)) }

func ja3(_ message: [UInt8]) -> String? { TLSFingerprint.ja3(clientHello: message.span) }
func ja3Text(_ message: [UInt8]) -> String? { TLSFingerprint.ja3Text(clientHello: message.span) }
func ja4(_ message: [UInt8], _ transport: TLSFingerprint.Transport = .tcp) -> String? {
    TLSFingerprint.ja4(clientHello: message.span, transport: transport)
}

@Test func ja3TextLeavesOutGREASEAndHashesWithMD5() throws {
    let message = clientHelloMessage(
        ciphers: [0x0A0A, 0x1301, 0xC02F, 0x00FF],
        extensions: [(0x1A1A, []), serverNameExtension("example.com"), list16Extension(10, [0x2A2A, 29, 23]),
                     (11, [1, 0]), list16Extension(13, [0x0403]), (0xFAFA, [0])])
    let text = try #require(ja3Text(message))
    #expect(text == "771,4865-49199-255,0-10-11-13,29-23,0")
    let digest = Hex.string(Insecure.MD5.hash(data: Array(text.utf8)))
    #expect(ja3(message) == digest)
    // No extensions at all: empty fields, trailing commas, as Wireshark's ja3_full.
    #expect(ja3Text(clientHelloMessage(version: 0x0301, ciphers: [0x002F], extensions: nil)) == "769,47,,,")
}

/// Edge cases of JA4_a and the hashed parts, stated from the FoxIO specification.
@Test(arguments: [
    // ALPN: first and last characters; a single one doubles; hex digits when either end
    // is not alphanumeric; 00 without ALPN or with an empty first value.
    ([[UInt8]("h2".utf8)], "h2"), ([[UInt8]("http/1.1".utf8)], "h1"), ([[UInt8]("h".utf8)], "hh"),
    ([[0xAB]], "ab"), ([[0xAB, 0xCD]], "ad"), ([[0x30, 0xAB]], "3b"), ([[0x30, 0x31, 0xAB, 0xCD]], "3d"),
    ([[0x30, 0xAB, 0xCD, 0x31]], "01"), ([[]], "00"), ([], "00"),
] as [([[UInt8]], String)])
func ja4ALPNCharacters(protocols: [[UInt8]], expected: String) throws {
    var extensions: [(UInt16, [UInt8])] = [serverNameExtension("a.example")]
    if !protocols.isEmpty { extensions.append(alpnExtension(protocols)) }
    let fingerprint = try #require(ja4(clientHelloMessage(ciphers: [0x1301], extensions: extensions)))
    #expect(fingerprint.dropFirst(8).prefix(2) == Substring(expected), "\(fingerprint)")
}

@Test func ja4PartsFollowTheSpecification() throws {
    // The specification's own example: 15 ciphers, 16 extensions, h2.
    let ciphers: [UInt16] = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
                             0x009C, 0x009D, 0x002F, 0x0035]
    let order: [UInt16] = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012,
                           0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
    let signatures: [UInt16] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
    var extensions: [(UInt16, [UInt8])] = [(0x5A5A, [])]  // GREASE: not counted
    for type in order {
        switch type {
        case 0x0000: extensions.append(serverNameExtension("example.com"))
        case 0x0010: extensions.append(alpnExtension([Array("h2".utf8), Array("http/1.1".utf8)]))
        case 0x000D: extensions.append(list16Extension(13, [0x3A3A] + signatures))
        case 0x002B: extensions.append(list16Extension(43, [0x7A7A, 0x0304, 0x0303], lengthBytes: 1))
        case 0x000A: extensions.append(list16Extension(10, [0x1A1A, 29, 23]))
        case 0x000B: extensions.append((11, [1, 0]))
        default: extensions.append((type, []))
        }
    }
    let message = clientHelloMessage(ciphers: [0xBABA] + ciphers, extensions: extensions)
    // The values the specification gives for this example.
    #expect(ja4(message) == "t13d1516h2_8daaf6152771_e5627efa2ab1")
    #expect(ja4(message, .quic)?.hasPrefix("q13d1516h2_") == true)
    // Without signature algorithms the text ends without `_` (6d807ffa2a79 in the spec).
    let unsigned = clientHelloMessage(ciphers: ciphers, extensions: extensions.filter { $0.0 != 13 } + [(13, [0, 0])])
    #expect(ja4(unsigned) == "t13d1516h2_8daaf6152771_6d807ffa2a79")
}

@Test func ja4MarksMissingValuesWithZeros() throws {
    // No ciphers, no extensions: TLS 1.0 by legacy_version, no SNI, counts 00.
    #expect(ja4(clientHelloMessage(version: 0x0301, ciphers: [], extensions: nil)) == "t10i000000_000000000000_000000000000")
    // Only SNI: the extension text is empty, so zeros too (FoxIO's reference).
    #expect(ja4(clientHelloMessage(ciphers: [0x002F], extensions: [serverNameExtension("x.example")]))
        == "t12d010100_\(sha12("002f"))_000000000000")
    // Unknown versions are 00; counts cap at 99.
    let many = (1...120).map { UInt16($0) }
    #expect(ja4(clientHelloMessage(version: 0x7F1C, ciphers: many, extensions: [(0x0017, [])]))?.hasPrefix("t00i9901") == true)
    // The highest supported_versions entry wins over legacy_version.
    let message = clientHelloMessage(ciphers: [0x1301], extensions: [list16Extension(43, [0x0303, 0x0304], lengthBytes: 1)])
    #expect(ja4(message) == "t13i010100_\(sha12("1301"))_\(sha12("002b"))")
}

@Test func malformedAndCutClientHellosYieldNothing() throws {
    let message = clientHelloMessage(
        ciphers: [0x1301, 0x1302],
        extensions: [serverNameExtension("example.com"), list16Extension(10, [29]), alpnExtension([Array("h2".utf8)]),
                     list16Extension(13, [0x0403]), list16Extension(43, [0x0304], lengthBytes: 1)])
    #expect(ja3(message) != nil)
    // Every prefix is cut: no fingerprint, no trap.
    for count in 0..<message.count {
        #expect(ja3(Array(message[0..<count])) == nil, "prefix \(count)")
        #expect(ja4(Array(message[0..<count])) == nil, "prefix \(count)")
    }
    // Odd-length lists, lengths past their extension: malformed.
    let bad: [[(UInt16, [UInt8])]] = [
        [(10, [0, 3, 0, 29, 0])],  // odd group list
        [(10, [0, 8, 0, 29])],  // group list past the extension
        [(0, [0, 9, 0, 0, 20, 0x61])],  // name past the list
        [(16, [0, 4, 9, 0x68, 0x32, 0])],  // protocol past the list
        [(43, [5, 3, 4, 3, 3, 0])],  // odd version list
    ]
    for extensions in bad {
        #expect(ja3(clientHelloMessage(ciphers: [0x1301], extensions: extensions)) == nil, "\(extensions)")
    }
    // An extension block that does not tile (a dangling byte), and an odd cipher list.
    var dangling = clientHelloMessage(ciphers: [0x1301], extensions: [(23, [])])
    dangling += [0]
    dangling[3] += 1
    dangling[dangling.count - 6] += 1  // extensions length now claims the dangling byte
    #expect(ja3(dangling) == nil)
    // Random corruption never traps.
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<2_000 {
        var mutated = message
        for _ in 0..<3 { mutated[Int.random(in: 4..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
        _ = ja3(mutated)
        _ = ja4(mutated)
    }
}

@Test func tcpClientHelloYieldsFingerprintsWithTheClientAsHost() throws {
    let message = clientHelloMessage(ciphers: [0x1301], extensions: [serverNameExtension("fp.example")])
    let record: [UInt8] = [0x16, 0x03, 0x01] + Craft.be16(message.count) + message
    var tcp = Craft.be16(50000) + Craft.be16(443) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18] + Craft.be16(65535) + [0, 0, 0, 0]
    tcp += record
    let ip = Craft.ipv4(proto: 6, payload: tcp)
    let (seen, anomalies) = decodeOne(Craft.ethernet(type: 0x0800, payload: ip), link: .ethernet)
    let ja3Seen = seen.filter { $0.field == .tlsJA3 }
    let ja4Seen = seen.filter { $0.field == .tlsJA4 }
    #expect(ja3Seen.count == 1 && ja4Seen.count == 1, "\(seen)")
    #expect(ja3Seen.first?.value == .ja3(try #require(ja3(message))))
    #expect(ja4Seen.first?.value == .ja4(try #require(ja4(message))))
    #expect(ja3Seen.first?.host == Craft.client.description)
    #expect(seen.contains { $0.field == .tlsSNI && $0.value == .domain("fp.example") })
    #expect(anomalies.isEmpty, "\(anomalies)")
}

/// Reference values for the corpus: JA3 is tshark 4.0.17's, computed with
/// `tshark -r CAPTURE -Y 'tls.handshake.type==1' -T fields -e frame.number -e tls.handshake.ja3`.
/// tshark 4.0 has no JA4 field: JA4 was computed from tshark's dissected fields
/// (`tls.handshake.ciphersuite`, `.extension.type`, `.sig_hash_alg` of extension 13,
/// `.extensions_alpn_str`, `.extensions.supported_version`, `.version`) by a short
/// script following the FoxIO specification and its reference implementation (empty
/// text hashes to zeros). The sv-ja4-tls-quic values are also those published by
/// FoxIO's reference tool for that capture (suricata-verify tests/ja4-tls-quic).
let corpusFingerprints: [(capture: String, frame: UInt64, ja3: String, ja4: String)] = [
    ("sv-ja4-tls-quic.pcap", 4, "cd08e31494f9531f560d64c695473da9", "t13d1516h2_8daaf6152771_e5627efa2ab1"),
    ("sv-ja4-tls-quic.pcap", 47, "3cbc33c648fe331404456f48a5a27170", "q13d0310h3_55b375c5d22e_cd85d2d88918"),
    ("mt-tls_sni.pcap", 1, "1e7c622032b0cb79401b0f7be3793a1a", "t12d010100_0f2cb44170f4_000000000000"),
    ("rpp-err-buffertoosmall.pcapng", 4, "4ea056e63b7910cbf543f0c095064dfe", "t13d3113h1_e8f1e7e78f70_ce5650b735ce"),
    ("sv-community-id-ipv6.pcap", 4, "7a15285d4efc355608b304698cd7f9ab", "t13d1911h2_9dc949149365_e7c285222651"),
    ("sv-community-id-ipv6.pcap", 38, "e690df036922288311144cc96acf6515", "t13d3613h2_018971650b2c_e7e754ef087b"),
    ("sv-tls-pre-1970.pcap", 4, "f271b89dfd3fc1647182ed19a5c37285", "t10d050200_0d2501948096_e78b541c01a9"),
    ("sv-tls13-draft28-tls13_draft28.pcap", 4, "43202faa1c8c1760d6f7f4bd9adde4ab", "t00d291200_723694b0fccc_aaaa04918165"),
    ("zk-tls-chrome-34-google.pcap", 4, "a607f3a5c94c2ee592af1456f36c8367", "t12d2011s3_8dd61975155f_06a4338d0495"),
    ("zk-tls-google-cert-repeat.pcap", 4, "fbe7e189e37a07ee33706f86bc746344", "t12i280600_d943125447b4_e7e480e5a997"),
    ("zk-tls-tls-conn-with-extensions.pcap", 4, "62351d5ea3cd4f21f697965b10a9bbbe", "t10d360600_b06c425f59b5_eb0e26099a3f"),
    ("zk-tls-tls13-ech.pcap", 7, "2fcbf8655473005933c5869b2b5d8044", "t13d1517h2_8daaf6152771_b1ff8ab2d16f"),
    ("zk-tls-openjdk-25.0.2-zeek.org.pcap", 4, "bddb16608b241c89053080cf80771423", "t13d3113h2_1d947a95fc68_7e1102d2036b"),
    ("zk-quic-curl-8.1.2-dev-http3-www-google-de.pcap", 1, "f75253b5e2b4dcb3fdae9b78ce8c6e49", "q13d0308h3_55b375c5d22e_f0736a66fa6b"),
    ("zk-quic-firefox-102.13.0esr-blog-cloudflare-com.pcap", 1, "b719940c5ab9a3373cb4475d8143ff88", "q13d0314h3_55b375c5d22e_2d2a40a25571"),
    ("zk-quic-merlinc2_Zeek_example.pcapng", 1, "203c2306834e5bf5ace01fb74ad1badf", "q13i0311h3_55b375c5d22e_c183556c78e2"),
]

@Test(.enabled(if: corpusPresent, "../shared/corpus is absent"))
func corpusFingerprintsMatchTshark() throws {
    let corpus = try #require(corpusDirectory)
    var yields: [String: FingerprintYield] = [:]
    for expected in corpusFingerprints {
        let path = corpus + "/pcap/" + expected.capture
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(expected.capture) is missing from the corpus")
            continue
        }
        if yields[expected.capture] == nil { yields[expected.capture] = try FingerprintYield(capture: path) }
        let yield = try #require(yields[expected.capture])
        #expect(yield.ja3[expected.frame] == [expected.ja3], "\(expected.capture) frame \(expected.frame): JA3")
        #expect(yield.ja4[expected.frame] == [expected.ja4], "\(expected.capture) frame \(expected.frame): JA4")
    }
}

private let fingerprintChoices: [(DerivedObservables, Int, Int)] = [
    (.all, 1, 1), ([.ja3], 1, 0), ([.ja4], 0, 1), ([.fileSHA256], 0, 0),
]

@Test(arguments: fingerprintChoices)
func onlyTheWantedFingerprintsAreComputed(_ wanted: DerivedObservables, _ ja3Count: Int, _ ja4Count: Int) {
    let message = clientHelloMessage(ciphers: [0x1301], extensions: [serverNameExtension("fp.example")])
    let record: [UInt8] = [0x16, 0x03, 0x01] + Craft.be16(message.count) + message
    var tcp = Craft.be16(50000) + Craft.be16(443) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18] + Craft.be16(65535) + [0, 0, 0, 0]
    tcp += record
    var options = DecodingOptions()
    options.derivedObservables = wanted
    let (seen, anomalies) = decodePackets([Craft.ipv4(proto: 6, payload: tcp)], options: options)
    #expect(seen.filter { $0.field == .tlsJA3 }.count == ja3Count)
    #expect(seen.filter { $0.field == .tlsJA4 }.count == ja4Count)
    // The server name is read whatever is wanted.
    #expect(seen.contains { $0.field == .tlsSNI && $0.value == .domain("fp.example") })
    #expect(anomalies.isEmpty, "\(anomalies)")
}
