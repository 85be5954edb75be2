import CBrotli
import CZstd

/// A decoder of one body's Content-Encoding, streaming into a fixed output buffer:
/// zlib's inflate (`BodyInflater`), brotli or zstd.
protocol BodyDecoder: AnyObject {
    /// Decodes `input`, handing each piece of output to `sink` (which returns false to
    /// stop); false on a data error. Input after the end of the encoded stream is
    /// ignored.
    func inflate(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) -> Bool
    /// Whether the encoded stream has ended.
    var ended: Bool { get }
}

extension BodyInflater: BodyDecoder {}

/// Brotli (RFC 7932, `Content-Encoding: br`), with the reference library's streaming
/// decoder.
final class BrotliBodyDecoder: BodyDecoder {
    private let state: OpaquePointer?
    private let output: UnsafeMutableRawBufferPointer
    private(set) var ended = false

    init() {
        state = BrotliDecoderCreateInstance(nil, nil, nil)
        output = .allocate(byteCount: BodyInflater.outputSize, alignment: 16)
    }

    deinit {
        if let state { BrotliDecoderDestroyInstance(state) }
        output.deallocate()
    }

    func inflate(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard let state else { return false }
        if ended || input.isEmpty { return true }
        // Safe: the decoder reads at most `available` bytes from `next` and writes at
        // most `room` bytes to `out`; both pointers are advanced by the library.
        var available = input.count
        var next = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        while true {
            var room = output.count
            var out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let result = BrotliDecoderDecompressStream(state, &available, &next, &room, &out, nil)
            let produced = output.count - room
            if produced > 0, !sink(UnsafeRawBufferPointer(rebasing: output[0..<produced])) { return false }
            switch result {
            case BROTLI_DECODER_RESULT_SUCCESS:
                ended = true
                return true
            case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: continue
            case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT: return true
            default: return false
            }
        }
    }
}

/// Zstandard (RFC 8878, `Content-Encoding: zstd`), with the reference library's
/// streaming decoder; the window is bounded as RFC 8878 §3.1.1.1.2 lets a decoder.
final class ZstdBodyDecoder: BodyDecoder {
    private let stream: OpaquePointer?
    private let output: UnsafeMutableRawBufferPointer
    private(set) var ended = false

    /// The largest window accepted: 8 MiB, as browsers and RFC 9659 bound it for HTTP.
    static let maxWindowLog: Int32 = 23

    init() {
        stream = ZSTD_createDStream()
        if let stream { ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, ZstdBodyDecoder.maxWindowLog) }
        output = .allocate(byteCount: BodyInflater.outputSize, alignment: 16)
    }

    deinit {
        if let stream { ZSTD_freeDStream(stream) }
        output.deallocate()
    }

    func inflate(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard let stream else { return false }
        if ended || input.isEmpty { return true }
        // Safe: zstd reads `source.size` bytes at `source.src` and writes at most
        // `destination.size` bytes at `destination.dst`, moving `pos` in each.
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let result = ZSTD_decompressStream(stream, &destination, &source)
            if ZSTD_isError(result) != 0 { return false }
            if destination.pos > 0, !sink(UnsafeRawBufferPointer(rebasing: output[0..<destination.pos])) { return false }
            if result == 0 {
                ended = true  // a frame ended: what follows it is not read
                return true
            }
            if source.pos == source.size, destination.pos < destination.size { return true }
        }
    }
}
