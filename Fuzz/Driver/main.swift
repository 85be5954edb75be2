// The libFuzzer driver: scripts/fuzz.sh compiles this file with
// `swiftc -sanitize=fuzzer,address -parse-as-library` against the FuzzTargets module
// (built by SwiftPM with the same sanitizers) and links it with libFuzzer's runtime,
// which supplies `main`. The target is chosen by the CAIRN_FUZZ_TARGET environment
// variable, one of `FuzzTargets.names`.
import FuzzTargets
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The chosen target, looked up once (globals are initialised lazily and atomically).
let selected: @Sendable ([UInt8]) -> Void = {
    let name = getenv("CAIRN_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.all[name] else {
        let message = "CAIRN_FUZZ_TARGET must be one of: \(FuzzTargets.names.joined(separator: " ")) (got \"\(name)\")\n"
        _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    _ = selected
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected(Array(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}
