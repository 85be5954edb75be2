import Foundation

/// How a PostgreSQL case's schema is brought up to date: the migrations of
/// `PostgresSchema`, recorded by name in `grdb_migrations` as GRDB records SQLite's, so
/// both stores list the same names in the same table.
extension PostgresSchema {
    /// The advisory-lock key migrations take: workers started together migrate once.
    static let migrationLockKey: Int64 = 2399

    /// Applies the migrations the case does not have yet, in `session`'s transaction: all
    /// of them or none (PostgreSQL's DDL is transactional, so a failed migration leaves
    /// the case as it was; back it up with `pg_dump` before upgrading Cairn). A case
    /// with migrations this version does not know is refused and left untouched.
    static func migrate(_ session: PostgresStore.Session, location: String) throws {
        try session.execute(sql: "SELECT pg_advisory_xact_lock(?)", arguments: [migrationLockKey])
        try session.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        for migration in try pendingMigrations(session, location: location) {
            try session.executeScript(migration.sql)
            try session.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [migration.name])
        }
    }

    /// The migrations the case does not have yet, oldest first (all of them for an
    /// empty database). Throws `newerSchema` when the case has migrations this version
    /// does not know.
    static func pendingMigrations(
        _ session: PostgresStore.Session, location: String
    ) throws -> [(name: String, sql: String)] {
        let recorded = try session.fetchValue(Bool.self, sql: "SELECT to_regclass('grdb_migrations') IS NOT NULL") ?? false
        let applied = recorded
            ? Set(try session.fetchValues(String.self, sql: "SELECT identifier FROM grdb_migrations")) : []
        let unknown = applied.subtracting(migrations.map(\.name))
        if !unknown.isEmpty { throw CaseStoreError.newerSchema(path: location, migrations: unknown.sorted()) }
        return migrations.filter { !applied.contains($0.name) }
    }

    /// The statements of a script, split at each `;` that is outside quotes ('…', "…"),
    /// dollar quotes ($$…$$, $tag$…$tag$, a function's body) and `--` comments; empty
    /// statements are dropped.
    static func statements(of script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var characters = script[...]
        while let character = characters.popFirst() {
            switch character {
            case "'", "\"":
                current.append(character)
                while let next = characters.popFirst() {
                    current.append(next)
                    if next == character { break }
                }
            case "-" where characters.first == "-":
                while let next = characters.popFirst(), next != "\n" {}
                current.append("\n")
            case "$":
                // A dollar quote's tag is `$`, letters, digits and underscores, `$`.
                let tagBody = characters.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                guard characters.dropFirst(tagBody.count).first == "$" else {
                    current.append(character)
                    continue
                }
                let tag = "$" + tagBody + "$"
                current += tag
                characters = characters.dropFirst(tagBody.count + 1)
                if let end = characters.firstRange(of: tag) {
                    current += characters[..<end.upperBound]
                    characters = characters[end.upperBound...]
                } else {
                    current += characters
                    characters = characters[characters.endIndex...]
                }
            case ";":
                statements.append(current)
                current = ""
            default:
                current.append(character)
            }
        }
        statements.append(current)
        return statements.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}
