import ByteParsing
import Observations

/// Decides what a file is from its first bytes, never from its name.
public enum SourceDetection {
    /// Bytes needed to decide.
    public static let prefixLength = 4

    /// The kind of a file that starts with `prefix`: pcap (both byte orders, micro- and
    /// nanosecond magic), pcapng (Section Header Block type), gzip (RFC 1952 magic), else
    /// text. An empty file is text (with no lines).
    public static func kind(ofPrefix prefix: [UInt8]) -> SourceKind {
        if prefix.count >= 4 {
            let magic = UInt32(prefix[0]) << 24 | UInt32(prefix[1]) << 16 | UInt32(prefix[2]) << 8 | UInt32(prefix[3])
            switch magic {
            case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1: return .pcap
            case 0x0A0D_0D0A: return .pcapng
            default: break
            }
        }
        if prefix.count >= 2, prefix[0] == 0x1F, prefix[1] == 0x8B { return .gzip }
        return .text
    }

    /// Reads the first bytes of `path` and detects its kind.
    public static func kind(ofFile path: String) throws(InputFileError) -> SourceKind {
        kind(ofPrefix: try InputFile.prefix(of: path, count: prefixLength))
    }
}
