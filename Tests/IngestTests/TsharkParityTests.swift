import Foundation
import Testing

// scripts/tshark-parity.sh, the check a CERT runs on its own captures, run on corpus
// captures of several kinds: where Cairn reads what tshark shows it says so (exit 0),
// and where it does not (an object tshark makes of a request it cannot parse) it names
// the value (exit 1).

private let tsharkInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark")
private let corpus = Fixtures.corpusURL.appendingPathComponent("pcap")

/// Runs the parity script on links to `captures` in a new directory: its exit status
/// and standard output.
private func parity(_ captures: [String]) throws -> (status: Int32, output: String) {
    let cairn = try #require(Fixtures.cairnExecutable, "the cairn executable was not found beside the test bundle")
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    for name in captures {
        try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(name),
                                                   withDestinationURL: corpus.appendingPathComponent(name))
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [Fixtures.packageRoot.appendingPathComponent("scripts/tshark-parity.sh").path, directory.path, cairn.path]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

@Test(.enabled(if: tsharkInstalled && Fixtures.corpusPresent, "needs tshark and ../shared/corpus"))
func tsharkParityHoldsOnCapturesOfEveryKind() throws {
    // TLS SNI, DNS, an HTTP evader whose EICAR tshark recovers, DNS over HTTP/2, PPP,
    // Cisco HDLC, 802.11 behind radiotap, ICMP errors quoting packets.
    let (status, output) = try parity([
        "mt-tls_sni.pcap", "mt-cache_expiry.pcap", "sv-http-evader-001.pcap", "sv-dns-over-http2-dns_over_https.pcap",
        "tcpd-mpls-traceroute.pcap", "tcpd-HDLC.pcap", "tcpd-ieee802.11_htc.pcap", "tcpd-icmp-rfc5837.pcap",
    ])
    #expect(status == 0, "\(output)")
    #expect(output.contains("8 captures: "), "\(output)")
    #expect(!output.contains("tshark only") && !output.contains("cairn only"), "\(output)")
}

@Test(.enabled(if: tsharkInstalled && Fixtures.corpusPresent, "needs tshark and ../shared/corpus"))
func tsharkParityNamesWhatCairnMisses() throws {
    // tshark exports the bytes of requests it cannot parse as objects; Cairn reads no
    // body there: the object's digest is named.
    let (status, output) = try parity(["zk-http-methods.pcap"])
    #expect(status == 1)
    #expect(output.contains("tshark only\t"), "\(output)")
}
