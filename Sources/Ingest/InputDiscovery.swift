import ByteParsing
import Foundation

/// Turns the paths given on the command line into the list of files to ingest.
public struct InputDiscovery {
    /// One path to ingest, or the reason it cannot be.
    public enum Entry: Sendable, Equatable {
        case file(String)
        case missing(path: String, reason: String)
    }

    private var entries: [Entry] = []
    private var seen = Set<String>()

    /// Files are taken as they are; directories are walked recursively, entries sorted
    /// bytewise, hidden entries (names starting with `.`) skipped. A path that does not
    /// exist or a directory that cannot be read is reported, not dropped. The same file
    /// named twice is ingested once. Paths come back absolute (symbolic links kept as
    /// named), so that a source's record in the case database names its file whatever
    /// directory the command ran in.
    public static func entries(for paths: [String]) -> [Entry] {
        var discovery = InputDiscovery()
        for path in paths.map({ URL(fileURLWithPath: $0).standardizedFileURL.path }) {
            guard let kind = FileKind(of: path) else {
                discovery.entries.append(.missing(path: path, reason: "no such file or directory"))
                continue
            }
            if kind == .directory {
                discovery.walk(directory: path)
            } else {
                discovery.add(file: path)
            }
        }
        return discovery.entries
    }

    private mutating func add(file path: String) {
        let key = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        if seen.insert(key).inserted { entries.append(.file(path)) }
    }

    private mutating func walk(directory: String) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            entries.append(.missing(path: directory, reason: "directory cannot be read"))
            return
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        where !name.hasPrefix(".") {
            let path = base + "/" + name
            guard let kind = FileKind(of: path) else { continue }
            if kind == .directory {
                walk(directory: path)
            } else {
                add(file: path)
            }
        }
    }
}
