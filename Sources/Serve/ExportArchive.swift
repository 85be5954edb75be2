import CaseStore
import Evidence
import Foundation
import Hummingbird
import Observations
import ZIPFoundation

/// An evidence package built for the browser: `cairn export`'s package (a BagIt
/// directory, recorded in the custody log) in a ZIP file, removed once it is sent.
struct ExportArchive: Sendable {
    /// The private directory holding the package and the ZIP.
    let workDirectory: URL
    let archive: URL
    let name: String

    static func build(
        database: CaseDatabase, ids: [Int64], organisation: String, toolVersion: String, analyst: String
    ) throws -> ExportArchive {
        let stamp = Timestamp.now.iso8601.prefix(19).replacingOccurrences(of: ":", with: "")
        let name = "cairn-export-\(stamp)-incidents-\(ids.map(String.init).joined(separator: "-").prefix(80))"
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cairn-serve-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        do {
            let package = work.appendingPathComponent(name)
            let options = ExportOptions(
                incidentIDs: ids, tlp: nil, organisation: organisation,
                commandLine: "cairn serve: Export by \(analyst) of incidents \(ids.map(String.init).joined(separator: " "))",
                toolVersion: toolVersion)
            _ = try EvidenceExporter(database: database).export(options, to: package.path)
            let archive = work.appendingPathComponent(name + ".zip")
            try FileManager.default.zipItem(at: package, to: archive, shouldKeepParent: true)
            try FileManager.default.removeItem(at: package)
            return ExportArchive(workDirectory: work, archive: archive, name: name + ".zip")
        } catch {
            try? FileManager.default.removeItem(at: work)
            throw error
        }
    }

    /// The ZIP as a download, streamed a megabyte at a time; its directory is removed
    /// when the download ends, however it ends.
    func response() -> Response {
        let size = (try? FileManager.default.attributesOfItem(atPath: archive.path)[.size] as? Int) ?? nil
        let (archive, work) = (archive, workDirectory)
        return Response(
            status: .ok,
            headers: [.contentType: "application/zip", .contentDisposition: "attachment; filename=\"\(name)\""],
            body: ResponseBody(contentLength: size) { writer in
                defer { try? FileManager.default.removeItem(at: work) }
                let handle = try FileHandle(forReadingFrom: archive)
                defer { try? handle.close() }
                while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
                    try await writer.write(ByteBuffer(bytes: data))
                }
                try await writer.finish(nil)
            })
    }
}
