import Observations

/// Validation of indicator metadata shared by the CSV, Zeek and STIX formats.
enum Metadata {
    static let severities = ["info", "low", "medium", "high", "critical"]
    static let tlpLevels = ["clear", "green", "amber", "amber+strict", "red"]

    /// `info`, `low`, `medium`, `high` or `critical` (any case; `informational` is `info`).
    static func severity(_ text: String) -> Result<String, MetadataProblem> {
        var word = text.lowercased()
        if word == "informational" { word = "info" }
        guard severities.contains(word) else {
            return .failure(MetadataProblem("severity \(ValueSyntax.quoted(text)) is not one of \(severities.joined(separator: ", "))"))
        }
        return .success(word)
    }

    /// An integer 0-100.
    static func confidence(_ text: String) -> Result<Int, MetadataProblem> {
        guard let number = Int(text), (0...100).contains(number) else {
            return .failure(MetadataProblem("confidence \(ValueSyntax.quoted(text)) is not a whole number 0-100"))
        }
        return .success(number)
    }

    /// `clear`, `green`, `amber`, `amber+strict`, `red`, with or without `TLP:`, any
    /// case; `white` (TLP 1.0) is `clear`.
    static func tlp(_ text: String) -> Result<String, MetadataProblem> {
        var word = text.lowercased()
        if word.hasPrefix("tlp:") { word.removeFirst(4) }
        word = word.trimmingASCIISpaces
        if word == "white" { word = "clear" }
        guard tlpLevels.contains(word) else {
            return .failure(MetadataProblem("TLP \(ValueSyntax.quoted(text)) is not one of \(tlpLevels.joined(separator: ", "))"))
        }
        return .success(word)
    }

    /// `YYYY-MM-DD` (midnight UTC), or `YYYY-MM-DDTHH:MM:SS[.fraction]` followed by `Z`
    /// or `±HH:MM` (a space may stand for the `T`).
    static func timestamp(_ text: String, field: String) -> Result<Timestamp, MetadataProblem> {
        let problem = MetadataProblem(
            "\(field) \(ValueSyntax.quoted(text)) is not a date (expected 2026-02-01 or 2026-02-01T12:00:00Z)")
        var bytes = Array(text.utf8)
        if bytes.count == 10 { bytes += Array("T00:00:00Z".utf8) }
        guard bytes.count >= 20 else { return .failure(problem) }
        if bytes[10] == UInt8(ascii: " ") { bytes[10] = UInt8(ascii: "T") }
        var offsetSeconds: Int64 = 0
        if bytes.last != UInt8(ascii: "Z") {
            // A numeric offset: ±HH:MM at the end.
            let tail = bytes.suffix(6)
            guard tail.count == 6, let sign = tail.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
                  let hours = Int(String(decoding: tail.dropFirst().prefix(2), as: UTF8.self)),
                  tail[tail.startIndex + 3] == UInt8(ascii: ":"),
                  let minutes = Int(String(decoding: tail.suffix(2), as: UTF8.self)), hours < 24, minutes < 60
            else { return .failure(problem) }
            offsetSeconds = Int64(hours * 3600 + minutes * 60) * (sign == UInt8(ascii: "+") ? 1 : -1)
            bytes.removeLast(6)
            bytes.append(UInt8(ascii: "Z"))
        }
        guard let time = Timestamp(iso8601: String(decoding: bytes, as: UTF8.self)) else { return .failure(problem) }
        return .success(Timestamp(nanoseconds: time.nanoseconds - offsetSeconds * 1_000_000_000))
    }

    /// Tags separated by `;`, `,` or `|`, trimmed, empty ones dropped.
    static func tags(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == ";" || $0 == "," || $0 == "|" })
            .map { String($0).trimmingASCIISpaces }.filter { !$0.isEmpty }
    }
}

struct MetadataProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension String {
    var trimmingASCIISpaces: String {
        String(PlainListParser.trimmed(Substring(self)))
    }
}
