import GRDB

/// The columns of one statement's result, found by name once for the statement so that
/// its rows are read by name at the cost of reading them by position.
///
/// `Row.decode(forColumn:)` looks the name up on every row (lowercased, in a dictionary
/// or a scan of the row's names). The queries that read every sighting of an incident
/// (export, listing) or of the case (correlation) read millions of rows, so they find
/// each column's position here first and decode with `decode(atIndex:)`; other queries
/// decode by name per row.
struct ColumnPositions {
    private let statement: Statement

    init(_ statement: Statement) {
        self.statement = statement
    }

    /// The position of the column called `name` (its name or `AS` alias; the leftmost
    /// if several share it). A name the statement does not select is a mistake in the
    /// query, not in the data: it throws rather than reading another column.
    func callAsFunction(_ name: String) throws -> Int {
        guard let index = statement.index(ofColumn: name) else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE, message: "the query selects no column named \(name)", sql: statement.sql)
        }
        return index
    }
}
