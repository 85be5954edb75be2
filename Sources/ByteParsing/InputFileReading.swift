extension InputFile {
    /// Reads up to `buffer.count` bytes into the start of `buffer`, as `read(into:)` with
    /// a pointer does (hashed, filling the buffer unless the file ends); returns the
    /// count read, 0 at the end of the file. For readers that keep their chunk in an
    /// array and read it as a span.
    public func read(into buffer: inout [UInt8]) throws(InputFileError) -> Int {
        var result: Result<Int, InputFileError> = .success(0)
        // Safe: the pointer is the array's own buffer of `buffer.count` bytes, which
        // `read(into:)` fills at most, and it does not leave the closure.
        unsafe buffer.withUnsafeMutableBytes { bytes in
            result = Result { () throws(InputFileError) in try unsafe read(into: bytes) }
        }
        return try result.get()
    }
}
