import Observations
import Testing
@testable import Ingest

@Suite struct SourceDetectionTests {
    @Test(arguments: [
        ([0xD4, 0xC3, 0xB2, 0xA1], SourceKind.pcap),   // little-endian, microseconds
        ([0xA1, 0xB2, 0xC3, 0xD4], .pcap),             // big-endian, microseconds
        ([0x4D, 0x3C, 0xB2, 0xA1], .pcap),             // little-endian, nanoseconds
        ([0xA1, 0xB2, 0x3C, 0x4D], .pcap),             // big-endian, nanoseconds
        ([0x0A, 0x0D, 0x0D, 0x0A], .pcapng),
        ([0x1F, 0x8B, 0x08, 0x00], .gzip),
        ([0x1F, 0x8B], .gzip),
        (Array("Mar  1 ".utf8), .text),
        ([], .text),
        ([0xD4, 0xC3], .text),
    ] as [([UInt8], SourceKind)])
    func detectsKindFromFirstBytes(prefix: [UInt8], kind: SourceKind) {
        #expect(SourceDetection.kind(ofPrefix: prefix) == kind)
    }
}
