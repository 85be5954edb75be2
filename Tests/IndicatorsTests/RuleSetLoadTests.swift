import Observations
import Foundation
import Testing
@testable import Indicators

/// A fresh temporary directory with the given files (relative path → content).
func makeTree(_ files: [String: [UInt8]]) throws -> String {
    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("cairn-indicators-\(UUID().uuidString)").path
    for (relative, content) in files {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(content).write(to: URL(fileURLWithPath: path))
    }
    return root
}

@Suite struct RuleSetLoadTests {
    @Test func walksDirectoriesSortedSkippingHiddenAndMarkdown() throws {
        let root = try makeTree([
            "Rules/b.txt": Array("evil.com\n192.0.2.1\n".utf8),
            "Rules/a/x.txt": Array("# first file\nEVIL.com.\n10.0.0.0/8\nnot valid!\n".utf8),
            "Rules/a/y.list": Array("2001:db8::/32\n".utf8),
            "Rules/.hidden/z.txt": Array("hidden.example\n".utf8),
            "Rules/.dot.txt": Array("dot.example\n".utf8),
            "Rules/README.md": Array("readme.example\n".utf8),
            "notes.md": Array("notes.example\n".utf8),
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rules = RuleSet.load(paths: [root + "/Rules", root + "/notes.md"])
        #expect(rules.files == [root + "/Rules/a/x.txt", root + "/Rules/a/y.list", root + "/Rules/b.txt", root + "/notes.md"])
        #expect(rules.indicators.map(\.value) == ["evil.com", "10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "notes.example"])
        // The duplicate evil.com in b.txt is dropped silently; the first one is kept.
        #expect(rules.indicators[0] == Indicator(type: .domain, value: "evil.com", ruleFile: root + "/Rules/a/x.txt", line: 2))
        #expect(rules.indicators[3] == Indicator(type: .ipv4, value: "192.0.2.1", ruleFile: root + "/Rules/b.txt", line: 2))
        #expect(rules.errors.map(\.description) == [
            "\(root)/Rules/a/x.txt:4:1: error: \"not valid!\": expected one indicator per line (an IP address, CIDR range, domain, URL, e-mail address, or MD5/SHA-1/SHA-256 hash)",
        ])
        // A trailing slash on the argument does not double the separator.
        let again = RuleSet.load(paths: [root + "/Rules/"])
        #expect(again.files.first == root + "/Rules/a/x.txt")
    }

    @Test func missingAndUnreadableFilesAreErrorsAtLineZero() throws {
        let root = try makeTree(["Rules/good.txt": Array("192.0.2.1\n".utf8)])
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createSymbolicLink(atPath: root + "/Rules/broken.txt", withDestinationPath: root + "/nowhere")
        let rules = RuleSet.load(paths: [root + "/Rules", root + "/absent.txt"])
        #expect(rules.indicators.count == 1)
        #expect(rules.files == [root + "/Rules/good.txt"])
        #expect(Set(rules.errors) == [
            RuleError(file: root + "/absent.txt", line: 0, message: "no such file or directory"),
            RuleError(file: root + "/Rules/broken.txt", line: 0, message: "cannot read: broken symbolic link"),
        ])
        #expect(rules.errors.allSatisfy { $0.description.hasSuffix(": error: " + $0.message) })
    }

    @Test func digestIsSHA256OverPathsLengthsAndContents() throws {
        #expect(RuleSet.load(paths: []).digest == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let root = try makeTree(["R/a.txt": Array("192.0.2.1\n".utf8), "R/b.txt": Array("evil.com\n".utf8)])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = RuleSet.load(paths: [root + "/R"]).digest
        #expect(first.count == 64 && first.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(RuleSet.load(paths: [root + "/R"]).digest == first)
        try Data("192.0.2.2\n".utf8).write(to: URL(fileURLWithPath: root + "/R/a.txt"))
        let changed = RuleSet.load(paths: [root + "/R"]).digest
        #expect(changed != first)
        try FileManager.default.moveItem(atPath: root + "/R/b.txt", toPath: root + "/R/c.txt")
        #expect(RuleSet.load(paths: [root + "/R"]).digest != changed, "a renamed file changes the digest")
        // Moving bytes across a file boundary changes the digest.
        try Data("192.0.2.2\nevil.com\n".utf8).write(to: URL(fileURLWithPath: root + "/R/a.txt"))
        try Data().write(to: URL(fileURLWithPath: root + "/R/c.txt"))
        let merged = RuleSet.load(paths: [root + "/R"]).digest
        try Data("192.0.2.2\n".utf8).write(to: URL(fileURLWithPath: root + "/R/a.txt"))
        try Data("evil.com\n".utf8).write(to: URL(fileURLWithPath: root + "/R/c.txt"))
        #expect(RuleSet.load(paths: [root + "/R"]).digest != merged)
    }
}
