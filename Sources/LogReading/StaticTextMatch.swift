extension UnsafeRawBufferPointer {
    /// Whether the bytes of `text` stand at `index`: the one byte comparison with a
    /// literal that the log readers use (`DHCPLogLine`, `AddressRoles.endsWith`, JSON
    /// member names), inlined, without the generic `elementsEqual` of a `String`.
    @inline(__always)
    func holds(_ text: StaticString, at index: Int) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index >= 0, index <= self.count - count else { return false }
        return text.withUTF8Buffer { bytes in
            for offset in 0..<count where self[index + offset] != bytes[offset] { return false }
            return true
        }
    }
}
