import Foundation
import Ingest

/// Progress on standard error: one line rewritten in place, a few times a second.
enum TerminalProgress {
    static func make() -> ProgressTally {
        ProgressTally { line, last in
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line.text + (last ? "\n" : "")).utf8))
        }
    }
}
