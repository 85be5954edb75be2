import ByteParsing
import Foundation

/// Finding and reading rule files.
enum RuleFiles {
    /// Directory nesting deeper than this is reported rather than followed: it guards
    /// against symbolic-link loops, and no real rules tree is anywhere near this deep.
    static let maximumDepth = 32

    /// The rule files named by `paths`: files as given (even `*.md`), directories walked
    /// recursively skipping hidden entries and `*.md`. Sorted bytewise, without
    /// duplicates. Paths that do not exist or cannot be listed become errors (line 0).
    ///
    /// `allow`: the files that are allow lists: found below a directory named `allow`
    /// inside a directory argument, or named directly with a parent directory `allow`.
    static func collect(_ paths: [String]) -> (files: [String], allow: Set<String>, errors: [RuleError]) {
        var files: [String] = []
        var allow: Set<String> = []
        var errors: [RuleError] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                errors.append(RuleError(file: path, line: 0, message: "no such file or directory"))
                continue
            }
            if isDirectory.boolValue {
                walk(path, depth: 0, underAllow: false, into: &files, allow: &allow, errors: &errors)
            } else {
                files.append(path)
                let components = path.split(separator: "/")
                if components.count >= 2, components[components.count - 2] == "allow" { allow.insert(path) }
            }
        }
        files.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var unique: [String] = []
        for file in files where unique.last != file { unique.append(file) }
        return (unique, allow, errors)
    }

    /// The subdirectory of a rules directory that holds correlation rules, not
    /// indicators.
    static let correlationDirectory = "correlation"

    private static func walk(_ directory: String, depth: Int, underAllow: Bool, into files: inout [String],
                             allow: inout Set<String>, errors: inout [RuleError])
    {
        guard depth < maximumDepth else {
            errors.append(RuleError(
                file: directory, line: 0,
                message: "directories nested more than \(maximumDepth) deep (a symbolic-link loop?); not read"))
            return
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            errors.append(RuleError(file: directory, line: 0, message: "cannot list directory: \(reason(error))"))
            return
        }
        for name in names {
            if name.hasPrefix(".") || name.hasSuffix(".md") { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                // A dangling symbolic link: say so rather than silently drop a rule file.
                errors.append(RuleError(file: path, line: 0, message: "cannot read: broken symbolic link"))
                continue
            }
            if isDirectory.boolValue {
                // Correlation rules (YAML) live beside the indicators; the Correlation
                // module reads them.
                if name == correlationDirectory, depth == 0 { continue }
                walk(path, depth: depth + 1, underAllow: underAllow || name == "allow", into: &files,
                     allow: &allow, errors: &errors)
            } else {
                files.append(path)
                if underAllow { allow.insert(path) }
            }
        }
    }

    /// Reads a whole file; the error message says why not.
    static func read(_ path: String) -> Result<[UInt8], RuleError> {
        do throws(InputFileError) {
            let file = try InputFile(path: path)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(clamping: file.size))
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { chunk.deallocate() }
            while true {
                let count = try file.read(into: chunk)
                if count == 0 { break }
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            }
            return .success(bytes)
        } catch {
            return .failure(RuleError(file: path, line: 0, message: "cannot read: \(error.reason)"))
        }
    }

    private static func reason(_ error: any Error) -> String {
        let text = (error as NSError).localizedDescription
        return text.isEmpty ? String(describing: error) : text
    }
}
