import ByteParsing
import Crypto
import Foundation
import Observations
import Testing
import _CryptoExtras
@testable import CaptureDecoding

/// Bytes from hex text (whitespace ignored).
func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count - 1, by: 2).map {
        UInt8(String(decoding: digits[$0...($0 + 1)], as: UTF8.self), radix: 16) ?? 0
    }
}

private extension UInt8 {
    var isWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x09 }
}

/// RFC 9001 Appendix A.2: the client's first Initial packet (1200 bytes), carrying a
/// ClientHello for example.com; its Destination Connection ID is 8394c8f03e515708.
let rfc9001ClientInitial = hexBytes(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    + "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    + "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    + "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    + "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    + "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    + "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    + "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    + "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    + "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    + "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    + "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    + "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    + "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    + "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    + "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    + "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    + "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    + "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    + "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    + "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    + "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    + "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    + "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    + "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    + "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    + "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    + "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    + "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    + "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    + "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    + "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    + "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    + "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    + "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    + "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    + "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    + "e221af44860018ab0856972e194cd934"
)

/// RFC 9369 Appendix A.2: the same ClientHello in a QUIC version 2 Initial packet.
let rfc9369ClientInitial = hexBytes(
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    + "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    + "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    + "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    + "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    + "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    + "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    + "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    + "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    + "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    + "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    + "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    + "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    + "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    + "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    + "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    + "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    + "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    + "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    + "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    + "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    + "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    + "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    + "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    + "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    + "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    + "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    + "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    + "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    + "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    + "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    + "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    + "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    + "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    + "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    + "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    + "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    + "a18b2faa745b6fe189cf772a9f84cbfc"
)

/// The ClientHello both RFC packets carry (the CRYPTO frame's data, RFC 9001 A.2).
let rfcClientHello = hexBytes(
    "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c0000"
    + "0413011302010000c000000010000e00000b6578616d706c652e636f6dff01000100000a000800"
    + "06001d0017001800100007000504616c706e000500050100000000003300260024001d00209370"
    + "b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b0003020304000d"
    + "0010000e0403050306030203080408050806002d00020101001c00024001003900320408ffffff"
    + "ffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e515708"
    + "06048000ffff")

/// A UDP datagram from the client to port 443 in IPv4 and Ethernet.
func quicFrame(_ datagram: [UInt8], sourcePort: Int = 51000, destinationPort: Int = 443) -> [UInt8] {
    Craft.ethernet(type: 0x0800, payload: Craft.ipv4(payload: Craft.udp(source: sourcePort, destination: destinationPort, payload: datagram)))
}

/// Decodes frames one after another with one decoder (as a reader does).
func decodeAll(_ frames: [[UInt8]]) -> (seen: [Seen], anomalies: [String: UInt64]) {
    var decoder = PacketDecoder()
    var seen: [Seen] = []
    for (index, frame) in frames.enumerated() {
        decoder.decode(packet: frame.span, link: .ethernet, locator: .packet(UInt64(index + 1)), time: Timestamp(nanoseconds: 0)) {
            seen.append(Seen($0))
        }
    }
    return (seen, decoder.anomalies.counts)
}

func hex(_ key: SymmetricKey) -> String { key.withUnsafeBytes { Hex.string($0) } }

@Test func initialKeysMatchTheRFCVectors() {
    let connectionID = hexBytes("8394c8f03e515708")
    do {
        // RFC 9001 A.1.
        let v1 = QUICInitialKeys(clientDestinationConnectionID: connectionID.span, version: .v1)
        #expect(hex(v1.key) == "1f369613dd76d5467730efcbe3b1a22d")
        #expect(Hex.string(v1.iv) == "fa044b2f42a3fd3b46fb255c")
        #expect(hex(v1.headerProtection) == "9f50449e04a0e810283a1e9933adedd2")
        // RFC 9369 A.1.
        let v2 = QUICInitialKeys(clientDestinationConnectionID: connectionID.span, version: .v2)
        #expect(hex(v2.key) == "8b1a0bc121284290a29e0971b5cd045d")
        #expect(Hex.string(v2.iv) == "91f73e2351d8fa91660e909f")
        #expect(hex(v2.headerProtection) == "45b95e15235d6f45a6b19cbcb0294ba9")
    }
}

@Test(arguments: [("v1", rfc9001ClientInitial), ("v2", rfc9369ClientInitial)])
func rfcClientInitialYieldsServerNameAndFingerprints(version: String, packet: [UInt8]) throws {
    let (seen, anomalies) = decodeAll([quicFrame(packet)])
    #expect(anomalies.isEmpty, "\(version): \(anomalies)")
    let names = seen.filter { $0.field == .quicSNI }
    #expect(names.map(\.value) == [.domain("example.com")], "\(version): \(seen)")
    #expect(names.first?.host == Craft.client.description)
    // Spans cannot be the operands of `#require`: the fingerprints are read first.
    let quicJA4 = TLSFingerprint.ja4(clientHello: rfcClientHello.span, transport: .quic)
    let quicJA3 = TLSFingerprint.ja3(clientHello: rfcClientHello.span)
    let ja4 = try #require(quicJA4)
    let ja3 = try #require(quicJA3)
    // 2 ciphers, 11 extensions, ALPN "alpn".
    #expect(ja4.hasPrefix("q13d0211an_"), "\(ja4)")
    #expect(seen.filter { $0.field == .tlsJA4 }.map(\.value) == [.ja4(ja4)])
    #expect(seen.filter { $0.field == .tlsJA3 }.map(\.value) == [.ja3(ja3)])
    #expect(!seen.contains { $0.field == .tlsSNI })
}

@Test func damagedOrCutInitialsAreCountedNotTrusted() {
    // A flipped ciphertext byte fails authentication.
    var damaged = rfc9001ClientInitial
    damaged[600] ^= 0x01
    let (seen, anomalies) = decodeAll([quicFrame(damaged)])
    #expect(!seen.contains { $0.field == .quicSNI || $0.field == .tlsJA4 })
    #expect(anomalies == ["quic.initial_undecryptable": 1])
    // Every cut of the datagram: no value, no trap.
    for count in stride(from: 0, to: rfc9001ClientInitial.count, by: 7) {
        let (cutSeen, _) = decodeAll([quicFrame(Array(rfc9001ClientInitial[0..<count]))])
        #expect(!cutSeen.contains { $0.field == .quicSNI }, "cut at \(count)")
    }
    // A connection ID longer than 20 bytes.
    var long = rfc9001ClientInitial
    long[5] = 21
    #expect(decodeAll([quicFrame(long)]).anomalies["quic.bad_connection_id"] == 1)
    // From the server's port (a server's Initial): not decrypted with client keys.
    #expect(decodeAll([quicFrame(rfc9001ClientInitial, sourcePort: 443, destinationPort: 51000)]).seen.allSatisfy {
        $0.field != .quicSNI
    })
}

@Test(arguments: [
    [UInt8](repeating: 0, count: 40),  // not a long header
    [0xC0, 0x00, 0x00, 0x00, 0x00] + [UInt8](repeating: 0, count: 40),  // version negotiation
    [0xC0, 0xFF, 0x00, 0x00, 0x1D] + [UInt8](repeating: 0, count: 40),  // draft-29: not decrypted
    [0x17, 0x03, 0x03, 0x00, 0x10] + [UInt8](repeating: 0, count: 16),  // TLS-looking bytes
    [0xC0],
])
func otherDatagramsOnPort443AreLeftAlone(payload: [UInt8]) {
    let (seen, anomalies) = decodeAll([quicFrame(payload)])
    #expect(seen.allSatisfy { $0.field == .ipSource || $0.field == .ipDestination }, "\(seen)")
    #expect(anomalies.isEmpty, "\(anomalies)")
}

/// Protects an Initial packet as a client would (RFC 9001 §5): the test's own
/// sealing, checked against the RFC packet below, so that tests can build Initials
/// the RFC has no vector for.
func sealInitial(
    version: QUICVersion, connectionID: [UInt8], packetNumber: UInt32, frames: [UInt8], padTo: Int = 1162,
    source: [UInt8] = [], keysFrom: [UInt8]? = nil
) throws -> [UInt8] {
    let keyingID = keysFrom ?? connectionID
    let keys = QUICInitialKeys(clientDestinationConnectionID: keyingID.span, version: version)
    let payload = frames + [UInt8](repeating: 0, count: max(padTo - frames.count, 0))
    let length = 4 + payload.count + 16
    let rawVersion: [UInt8] = version == .v1 ? [0, 0, 0, 1] : [0x6B, 0x33, 0x43, 0xCF]
    var header: [UInt8] = [0xC0 | version.initialType << 4 | 0x03] + rawVersion + [UInt8(connectionID.count)] + connectionID
    header += [UInt8(source.count)] + source + [0]  // source connection ID, no token
    header += [0x40 | UInt8(length >> 8), UInt8(length & 0xFF)]
    let numberOffset = header.count
    header += Craft.be32(packetNumber)
    var nonce = keys.iv
    for index in 0..<4 { nonce[11 - index] ^= UInt8(truncatingIfNeeded: packetNumber >> (8 * UInt32(index))) }
    let sealed = try AES.GCM.seal(payload, using: keys.key, nonce: AES.GCM.Nonce(data: nonce), authenticating: header)
    var packet = header + Array(sealed.ciphertext) + Array(sealed.tag)
    var mask = Array(packet[(numberOffset + 4)..<(numberOffset + 20)])
    try AES.permute(&mask, key: keys.headerProtection)
    packet[0] ^= mask[0] & 0x0F
    for index in 0..<4 { packet[numberOffset + index] ^= mask[1 + index] }
    return packet
}

/// A CRYPTO frame with 2-byte varints for offset and length.
func cryptoFrame(offset: Int, _ data: ArraySlice<UInt8>) -> [UInt8] {
    [0x06, 0x40 | UInt8(offset >> 8), UInt8(offset & 0xFF), 0x40 | UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
}

@Test func sealingHelperReproducesTheRFCPacket() throws {
    let frames = [0x06, 0x00, 0x40, 0xF1] + rfcClientHello
    let packet = try sealInitial(version: .v1, connectionID: hexBytes("8394c8f03e515708"), packetNumber: 2, frames: frames)
    #expect(packet == rfc9001ClientInitial)
}

@Test(arguments: [QUICVersion.v1, .v2])
func cryptoFramesAreReassembledByOffsetAcrossDatagrams(version: QUICVersion) throws {
    let id = hexBytes("0011223344556677")
    let hello = rfcClientHello
    // Out of order in the first datagram, with PING, an ACK and PADDING between; the
    // rest in a second datagram, and a retransmitted overlap.
    let first = cryptoFrame(offset: 100, hello[100..<160]) + [0x01] + [0x02, 0x00, 0x00, 0x00, 0x00]
        + cryptoFrame(offset: 0, hello[0..<100]) + [0x00, 0x00]
    let second = cryptoFrame(offset: 150, hello[150...]) + [0x01]
    let datagrams = [
        try sealInitial(version: version, connectionID: id, packetNumber: 0, frames: first),
        try sealInitial(version: version, connectionID: id, packetNumber: 1, frames: second),
    ]
    let (seen, anomalies) = decodeAll(datagrams.map { quicFrame($0) })
    #expect(anomalies.isEmpty, "\(anomalies)")
    let names = seen.filter { $0.field == .quicSNI }
    #expect(names.map(\.value) == [.domain("example.com")])
    #expect(names.first?.locator == .packet(2), "seen when the ClientHello is whole")
    // Two Initials coalesced in one datagram work the same.
    let coalesced = try sealInitial(version: version, connectionID: id, packetNumber: 0, frames: cryptoFrame(offset: 0, hello[0..<120]), padTo: 0)
        + sealInitial(version: version, connectionID: id, packetNumber: 1, frames: cryptoFrame(offset: 120, hello[120...]))
    let (together, _) = decodeAll([quicFrame(coalesced)])
    #expect(together.filter { $0.field == .quicSNI }.count == 1)
    // A frame type Initial packets may not carry (STREAM) is counted.
    let stream = try sealInitial(version: version, connectionID: id, packetNumber: 0, frames: [0x08, 0x00, 0x00])
    #expect(decodeAll([quicFrame(stream)]).anomalies["quic.bad_frame"] == 1)
}

@Test func unfinishedHandshakesAreBoundedAndCounted() throws {
    // More half-sent ClientHellos than slots: the oldest is dropped and counted.
    var frames: [[UInt8]] = []
    for client in 0..<(QUICHandshakes.maxPending + 1) {
        let id = [UInt8](repeating: UInt8(client), count: 8)
        frames.append(quicFrame(try sealInitial(version: .v1, connectionID: id, packetNumber: 0,
                                                frames: cryptoFrame(offset: 0, rfcClientHello[0..<50]))))
    }
    let (seen, anomalies) = decodeAll(frames)
    #expect(seen.allSatisfy { $0.field != .quicSNI })
    #expect(anomalies == ["quic.client_hello_incomplete": 1])
    // CRYPTO data past the bound is counted.
    let far = try sealInitial(version: .v1, connectionID: [9, 9, 9, 9], packetNumber: 0,
                              frames: [0x06, 0x80, 0x01, 0x00, 0x00, 0x01, 0xAA])
    #expect(decodeAll([quicFrame(far)]).anomalies["quic.crypto_too_long"] == 1)
}

/// QUIC captures of the corpus: every `quic.sni` tshark found, on the link types
/// decoded here. mt-quic_sni.pcap is listed by its source as carrying an SNI, but its
/// Initial fails authentication (tshark agrees): no name, one anomaly.
@Test(.enabled(if: corpusPresent, "../shared/corpus is absent"))
func corpusQUICServerNamesMatchTheTruth() throws {
    let corpus = try #require(corpusDirectory)
    let captures = try FileManager.default.contentsOfDirectory(atPath: corpus + "/truth")
        .filter { $0.hasSuffix(".tsv") }.map { String($0.dropLast(4)) }.sorted()
    var compared = 0
    for name in captures {
        let truth = try String(contentsOfFile: corpus + "/truth/" + name + ".tsv", encoding: .utf8)
        let wanted = truth.split(separator: "\n").filter { $0.hasPrefix("quic.sni\t") }.map { String($0.dropFirst(9)) }
        guard !wanted.isEmpty else { continue }
        let reader = try CaptureReader(file: InputFile(path: corpus + "/pcap/" + name), filter: nil)
        guard reader.decodesLinkType else {
            print("not compared: \(name) (link type \(reader.linkTypeName) not decoded)")
            continue
        }
        let yield = try FingerprintYield(capture: corpus + "/pcap/" + name)
        let seen = Set(yield.quicSNI.values.joined())
        #expect(Set(wanted).isSubset(of: seen), "\(name): QUIC server names not observed: \(Set(wanted).subtracting(seen).sorted())")
        // The client's later Initials (to the server's connection ID) decrypt too.
        #expect(yield.anomalies["quic.initial_undecryptable"] == nil, "\(name): \(yield.anomalies)")
        compared += 1
    }
    #expect(compared >= 3)
    let maltrail = try FingerprintYield(capture: corpus + "/pcap/mt-quic_sni.pcap")
    #expect(maltrail.quicSNI.isEmpty)
    #expect(maltrail.anomalies["quic.initial_undecryptable"] == 1)
}

@Test func laterInitialsUseTheKeysOfTheClientsFirstConnectionID() throws {
    let first = hexBytes("0102030405060708"), server = hexBytes("aabbccdd"), client = hexBytes("c1c2c3c4")
    let hello = try sealInitial(version: .v1, connectionID: first, packetNumber: 0,
                                frames: cryptoFrame(offset: 0, rfcClientHello[...]), source: client)
    // After the server's reply: to the server's connection ID, keys still from `first`.
    let ack = try sealInitial(version: .v1, connectionID: server, packetNumber: 1,
                              frames: [0x02, 0x00, 0x00, 0x00, 0x00], source: client, keysFrom: first)
    let (seen, anomalies) = decodeAll([quicFrame(hello), quicFrame(ack)])
    #expect(anomalies.isEmpty, "\(anomalies)")
    #expect(seen.filter { $0.field == .quicSNI }.count == 1)
    // An unknown client with the wrong keys is still counted.
    let stranger = try sealInitial(version: .v1, connectionID: server, packetNumber: 1,
                                   frames: [0x01], source: hexBytes("0909"), keysFrom: first)
    #expect(decodeAll([quicFrame(hello), quicFrame(stranger)]).anomalies == ["quic.initial_undecryptable": 1])
}

@Test func hostileInitialsNeverTrap() throws {
    var generator = SystemRandomNumberGenerator()
    let id = hexBytes("5566778899aabbcc")
    var frames: [[UInt8]] = []
    // Authentic packets whose plaintext is random frames: every frame parser path on
    // lengths and varints that lie.
    for round in 0..<300 {
        let count = Int.random(in: 1...40, using: &generator)
        var payload = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        payload[0] = [0x02, 0x03, 0x06, 0x1C, 0x06][round % 5]
        frames.append(quicFrame(try sealInitial(version: .v1, connectionID: id, packetNumber: UInt32(round), frames: payload, padTo: 0)))
    }
    // Random headers after a valid first byte and version.
    for _ in 0..<300 {
        let count = Int.random(in: 5...80, using: &generator)
        let rest = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        frames.append(quicFrame([0xC0, 0, 0, 0, 1] + rest))
    }
    let (seen, anomalies) = decodeAll(frames)
    #expect(seen.allSatisfy { $0.field != .quicSNI })
    #expect(anomalies.values.reduce(0, +) > 0)
}
