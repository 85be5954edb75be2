/// Receives progress from a run. Called from reader threads: implementations lock.
public protocol IngestProgress: Sendable {
    /// Before the first file: how many files and bytes there are.
    func begin(files: Int, bytes: UInt64)
    /// Now and then while a file is read: the bytes read from it so far.
    func read(bytes: UInt64, path: String)
    /// When a file is done, whatever its outcome.
    func finished(_ result: SourceResult)
    /// After the last file.
    func end()
}
