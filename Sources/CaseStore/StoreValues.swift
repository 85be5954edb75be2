import GRDB

/// The values that go into and come out of a case store's statements, the same for
/// SQLite and PostgreSQL: the case's queries are written once (`StoreSession`) and
/// read their rows through these, whichever store runs them.

/// One value of a statement's argument or result column: SQLite's storage classes but
/// the blob, which no column of a case holds (a blob read is taken as its UTF-8 text, as
/// SQLite's `sqlite3_column_text` takes it). PostgreSQL's column types map onto them
/// (`PostgresStore`): integers of every width and booleans are `integer` (a boolean as
/// 0 or 1, as SQLite computes it), every other type its text.
public enum StoreValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    /// The kind in words, for errors.
    var kind: String {
        switch self {
        case .null: "NULL"
        case .integer: "an integer"
        case .real: "a real number"
        case .text: "text"
        }
    }
}

/// A Swift value that can be bound to a statement's `?`.
public protocol StoreBindable {
    var storeValue: StoreValue { get }
}

extension StoreValue: StoreBindable {
    public var storeValue: StoreValue { self }
}

extension Int64: StoreBindable {
    public var storeValue: StoreValue { .integer(self) }
}

extension Int: StoreBindable {
    public var storeValue: StoreValue { .integer(Int64(self)) }
}

extension Bool: StoreBindable {
    public var storeValue: StoreValue { .integer(self ? 1 : 0) }
}

extension Double: StoreBindable {
    public var storeValue: StoreValue { .real(self) }
}

extension String: StoreBindable {
    /// The text as both stores keep it: U+0000, which hostile evidence can put in a name
    /// or a line, written as U+FFFD (the replacement character). PostgreSQL's text types
    /// cannot hold U+0000, and GRDB reads SQLite's text only up to it; replacing it keeps
    /// the rest of the value, and the same value in both stores (docs/schema.md).
    public var storeValue: StoreValue {
        .text(utf8.contains(0) ? replacing("\u{0}", with: "\u{FFFD}") : self)
    }
}

extension Optional: StoreBindable where Wrapped: StoreBindable {
    public var storeValue: StoreValue { self?.storeValue ?? .null }
}

/// A statement's arguments, one per `?` in order: `[runID, path, nil]`.
public struct StoreArguments: Sendable, ExpressibleByArrayLiteral {
    public var values: [StoreValue]

    public init() {
        values = []
    }

    public init<Value: StoreBindable>(_ values: [Value]) {
        self.values = values.map(\.storeValue)
    }

    public init(arrayLiteral elements: (any StoreBindable)?...) {
        values = elements.map { $0?.storeValue ?? .null }
    }

    public mutating func append(_ value: some StoreBindable) {
        values.append(value.storeValue)
    }

    public mutating func append(contentsOf other: StoreArguments) {
        values += other.values
    }

    public static func + (left: StoreArguments, right: StoreArguments) -> StoreArguments {
        StoreArguments(left.values + right.values)
    }
}

/// A Swift value a result column can be read as.
public protocol StoreDecodable {
    /// The value of `value`, nil when it cannot be read as this type.
    static func decode(_ value: StoreValue) -> Self?
}

extension Int64: StoreDecodable {
    public static func decode(_ value: StoreValue) -> Int64? {
        switch value {
        case .integer(let integer): integer
        case .real(let real): Int64(exactly: real)
        default: nil
        }
    }
}

extension Int: StoreDecodable {
    public static func decode(_ value: StoreValue) -> Int? {
        Int64.decode(value).map { Int($0) }
    }
}

extension Bool: StoreDecodable {
    public static func decode(_ value: StoreValue) -> Bool? {
        Int64.decode(value).map { $0 != 0 }
    }
}

extension Double: StoreDecodable {
    public static func decode(_ value: StoreValue) -> Double? {
        switch value {
        case .integer(let integer): Double(integer)
        case .real(let real): real
        default: nil
        }
    }
}

extension String: StoreDecodable {
    public static func decode(_ value: StoreValue) -> String? {
        if case .text(let text) = value { return text }
        return nil
    }
}

extension Optional: StoreDecodable where Wrapped: StoreDecodable {
    public static func decode(_ value: StoreValue) -> Wrapped?? {
        if value == .null { return .some(nil) }
        return Wrapped.decode(value).map { .some($0) }
    }
}

/// The names of a result's columns, shared by its rows. Made for every statement run, so
/// it holds the names alone: a case's queries select a few dozen columns at most, and the
/// queries that read millions of rows find their columns' positions once
/// (`StoreSession.forEachRow(positions:)`).
public final class StoreColumns: Sendable {
    public let names: [String]

    init(_ names: [String]) {
        self.names = names
    }

    /// The position of the column called `name` (its name or `AS` alias; the leftmost if
    /// several share it, as SQLite's and GRDB's lookups by name take; found as written, or
    /// else without regard to case). A name the query does not select is a mistake in the
    /// query, not in the data: it throws rather than reading another column.
    public func position(of name: String) throws -> Int {
        if let index = names.firstIndex(of: name) { return index }
        let lowered = name.lowercased()
        if let index = names.firstIndex(where: { $0.lowercased() == lowered }) { return index }
        throw CaseStoreError.corruptRow("the query selects no column named \(name) (it selects \(names.joined(separator: ", ")))")
    }
}

/// One row of a result: its values, by position, and its columns' names.
public struct StoreRow {
    public let columns: StoreColumns
    private let storage: Storage

    /// Where the values are.
    private enum Storage {
        /// Read already (PostgreSQL's rows).
        case values([StoreValue])
        /// GRDB's row, each value read when asked, so that reading millions of rows builds
        /// no array per row. A cursor's row is GRDB's to reuse: valid in the call it is
        /// handed to (`StoreSession.forEachRow`), and not to be kept past it.
        case sqlite(Row)
    }

    init(columns: StoreColumns, values: [StoreValue]) {
        self.columns = columns
        storage = .values(values)
    }

    init(columns: StoreColumns, sqlite row: Row) {
        self.columns = columns
        storage = .sqlite(row)
    }

    /// The value at `index`.
    public func value(atIndex index: Int) -> StoreValue {
        switch storage {
        case .values(let values): values[index]
        case .sqlite(let row): SQLiteStore.value(row[index])
        }
    }

    /// The value of the column called `name`, as `T`.
    public func decode<T: StoreDecodable>(forColumn name: String) throws -> T {
        try decode(atIndex: columns.position(of: name))
    }

    /// The value at `index`, as `T`; a value of another kind (text where a number is
    /// expected, NULL in a non-optional) is an error naming the column.
    public func decode<T: StoreDecodable>(atIndex index: Int) throws -> T {
        let value = value(atIndex: index)
        guard let decoded = T.decode(value) else {
            throw CaseStoreError.corruptRow("column \(columns.names[index]) holds \(value.kind), not \(T.self)")
        }
        return decoded
    }
}
