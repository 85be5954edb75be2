import Foundation

/// The two stores a case can live in. Each store test is one test parameterised over
/// `StoreKind.available` (STYLE.md, "One store interface, two stores"): SQLite always,
/// PostgreSQL when this machine has its server binaries (a new database on
/// `ThrowawayPostgres.shared` per case). Without them, the test "the store tests run
/// against PostgreSQL too" in CaseStoreTests is skipped, so the gap is visible.
public enum StoreKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    /// The stores this machine can run.
    public static var available: [StoreKind] {
        ThrowawayPostgres.binaries == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    public var description: String { rawValue }

    /// Where a new, empty case goes: `sqlitePath` itself, or a new database of its own on
    /// the shared PostgreSQL server.
    public func newLocation(sqlitePath: String) throws -> String {
        switch self {
        case .sqlite: sqlitePath
        case .postgres: try ThrowawayPostgres.shared.get().newDatabaseURL()
        }
    }
}

extension ThrowawayPostgres {
    /// One server for the whole test process: started on first use, stopped and removed
    /// by a watchdog once the process has ended (`stopWhenGone`). Tests on it each take a
    /// database of their own (`newDatabaseURL()`), so they run in parallel without seeing
    /// each other's rows.
    public static let shared = Result { try startForThisProcess(tls: .off) }

    /// Creates a new empty database on this server and returns its URL (TLS off: the
    /// server has no certificate).
    public func newDatabaseURL() throws -> String {
        "postgresql://\(Self.user)@\(Self.host):\(port)/\(try newDatabase())?sslmode=disable"
    }
}
