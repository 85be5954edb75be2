extension Range<Int> {
    /// The range moved by `distance`: a range found in a part of some bytes, made
    /// relative to the whole (or back).
    public func shifted(by distance: Int) -> Range<Int> { (lowerBound + distance)..<(upperBound + distance) }
}
