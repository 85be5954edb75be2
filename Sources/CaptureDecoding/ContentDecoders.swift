import CBrotli
import SystemZlib
import CZstd

// The C decoders of Content-Encodings: the one file of the stream decoders that hands
// pointers to C. Each decoder reads a span, lends its memory to the library for the
// call, and hands each piece of output to its sink as a span of its own buffer.

/// A decoder of one body's Content-Encoding, streaming into a fixed output buffer:
/// zlib's inflate (`BodyInflater`), brotli or zstd.
protocol BodyDecoder: AnyObject {
    /// Decodes `input`, handing each piece of output to `sink` (which returns false to
    /// stop); false on a data error. Input after the end of the encoded stream is
    /// ignored.
    func inflate(_ input: Span<UInt8>, sink: (Span<UInt8>) -> Bool) -> Bool
    /// Whether the encoded stream has ended.
    var ended: Bool { get }
}

/// zlib's inflate for one body's Content-Encoding (gzip, or deflate with or without
/// its zlib wrapper), streaming into a fixed output buffer.
///
/// The `z_stream` lives at a fixed heap address for the inflater's life (zlib keeps a
/// pointer to it in its internal state), hence a class. `@safe`: the stream pointer is
/// private, allocated in `init`, freed in `deinit`, and lent to zlib only in `inflate`.
@safe final class BodyInflater: BodyDecoder {
    /// Output per inflate call: big enough that a segment's worth of input rarely takes
    /// more than a few calls.
    static let outputSize = 16 * 1024

    private let stream: UnsafeMutablePointer<z_stream>
    private var output = [UInt8](repeating: 0, count: BodyInflater.outputSize)
    private let initialised: Bool
    private(set) var ended = false

    /// `windowBits` as zlib takes it: 16 + 15 for gzip, 15 for zlib-wrapped deflate,
    /// -15 for raw deflate.
    init(windowBits: Int32) {
        // Safe: one z_stream, initialised here, freed in deinit, never shared.
        unsafe stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        unsafe stream.initialize(to: z_stream())
        // Safe: next_in is nil with avail_in 0, which inflateInit2_ accepts.
        initialised = unsafe inflateInit2_(stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        // Safe: the stream was allocated and initialised in init and nothing else holds it.
        if initialised { unsafe inflateEnd(stream) }
        unsafe stream.deinitialize(count: 1)
        unsafe stream.deallocate()
    }

    /// Inflates `input`, handing each piece of output to `sink`; false on a data error.
    /// Input after the end of the compressed stream is ignored.
    func inflate(_ input: Span<UInt8>, sink: (Span<UInt8>) -> Bool) -> Bool {
        guard initialised, !input.isEmpty else { return initialised }
        if ended { return true }
        // Safe: zlib reads at most avail_in bytes from next_in, the span's own memory,
        // and does not write there (the pointer is typed mutable in zlib's C API only);
        // next_in is cleared before the closure returns.
        return unsafe input.withUnsafeBytes { input in
            guard let base = input.baseAddress else { return true }
            unsafe stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
            unsafe stream.pointee.avail_in = uInt(input.count)
            defer {
                unsafe stream.pointee.next_in = nil
                unsafe stream.pointee.avail_in = 0
            }
            while true {
                // Safe: the output pointer is the array's own memory for this call, and
                // zlib writes at most avail_out bytes there; next_out is set anew each call.
                let status = unsafe output.withUnsafeMutableBytes { out in
                    unsafe stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    unsafe stream.pointee.avail_out = uInt(out.count)
                    return unsafe SystemZlib.inflate(stream, Z_NO_FLUSH)
                }
                let produced = output.count - Int(unsafe stream.pointee.avail_out)
                if produced > 0, !sink(output.span.extracting(0..<produced)) { return false }
                switch status {
                case Z_STREAM_END:
                    ended = true
                    return true
                case Z_OK:
                    if unsafe stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return true }
                case Z_BUF_ERROR:
                    return true  // needs more input
                default:
                    return false
                }
            }
        }
    }
}

/// Brotli (RFC 7932, `Content-Encoding: br`), with the reference library's streaming
/// decoder. `@safe`: the decoder state is private, created in `init`, destroyed in
/// `deinit`, and lent to the library only in `inflate`.
@safe final class BrotliBodyDecoder: BodyDecoder {
    private let state: OpaquePointer?
    private var output = [UInt8](repeating: 0, count: BodyInflater.outputSize)
    private(set) var ended = false

    init() {
        unsafe state = BrotliDecoderCreateInstance(nil, nil, nil)
    }

    deinit {
        if let state = unsafe state { unsafe BrotliDecoderDestroyInstance(state) }
    }

    func inflate(_ input: Span<UInt8>, sink: (Span<UInt8>) -> Bool) -> Bool {
        guard let state = unsafe state else { return false }
        if ended || input.isEmpty { return true }
        // Safe: the decoder reads at most `available` bytes from `next` (the span's own
        // memory, valid in the closure) and writes at most `room` bytes to `out` (the
        // output array's, valid in its closure); both pointers are advanced by the
        // library and not kept.
        return unsafe input.withUnsafeBytes { input in
            var available = input.count
            var next = unsafe input.baseAddress?.assumingMemoryBound(to: UInt8.self)
            while true {
                let (result, produced) = unsafe output.withUnsafeMutableBytes { buffer in
                    var room = buffer.count
                    var out = unsafe buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
                    let result = unsafe BrotliDecoderDecompressStream(state, &available, &next, &room, &out, nil)
                    return (result, buffer.count - room)
                }
                if produced > 0, !sink(output.span.extracting(0..<produced)) { return false }
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
}

/// Zstandard (RFC 8878, `Content-Encoding: zstd`), with the reference library's
/// streaming decoder; the window is bounded as RFC 8878 §3.1.1.1.2 lets a decoder.
/// `@safe`: the stream is private, created in `init`, freed in `deinit`, and lent to
/// the library only in `inflate`.
@safe final class ZstdBodyDecoder: BodyDecoder {
    private let stream: OpaquePointer?
    private var output = [UInt8](repeating: 0, count: BodyInflater.outputSize)
    private(set) var ended = false

    /// The largest window accepted: 8 MiB, as browsers and RFC 9659 bound it for HTTP.
    static let maxWindowLog: Int32 = 23

    init() {
        unsafe stream = ZSTD_createDStream()
        if let stream = unsafe stream {
            unsafe ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, ZstdBodyDecoder.maxWindowLog)
        }
    }

    deinit {
        if let stream = unsafe stream { unsafe ZSTD_freeDStream(stream) }
    }

    func inflate(_ input: Span<UInt8>, sink: (Span<UInt8>) -> Bool) -> Bool {
        guard let stream = unsafe stream else { return false }
        if ended || input.isEmpty { return true }
        // Safe: zstd reads `source.size` bytes at `source.src` (the span's own memory,
        // valid in the closure) and writes at most `destination.size` bytes at
        // `destination.dst` (the output array's, valid in its closure), moving `pos` in
        // each; neither pointer is kept.
        return unsafe input.withUnsafeBytes { input in
            var source = unsafe ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                let (result, produced, full) = unsafe output.withUnsafeMutableBytes { buffer in
                    var destination = unsafe ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                    let result = unsafe ZSTD_decompressStream(stream, &destination, &source)
                    return unsafe (result, destination.pos, destination.pos == destination.size)
                }
                if ZSTD_isError(result) != 0 { return false }
                if produced > 0, !sink(output.span.extracting(0..<produced)) { return false }
                if result == 0 {
                    ended = true  // a frame ended: what follows it is not read
                    return true
                }
                if unsafe source.pos == source.size, !full { return true }
            }
        }
    }
}
