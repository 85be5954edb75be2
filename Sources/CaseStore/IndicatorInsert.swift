import Indicators

/// How the indicators a batch of sightings names are stored (`StoreSession.storeIndicators`):
/// inserted unless a row with the same type, value, rule file and line is there, whose id
/// is then taken. A rule set of millions costs nothing until one of its indicators is
/// sighted, but a busy batch names thousands for the first time.
enum IndicatorInsert {
    static let columns = "type, value, rule_file, rule_line, source, severity, confidence, tlp, description"
    static let insert = """
        INSERT INTO indicators (\(columns))
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (type, value, rule_file, rule_line) DO NOTHING
        """
    static let select = "SELECT id FROM indicators WHERE type = ? AND value = ? AND rule_file = ? AND rule_line = ?"

    /// Calls `body` with each of an indicator's values, in the order of `columns`.
    static func forEachValue(of indicator: Indicator, _ body: (StoreValue) throws -> Void) rethrows {
        try body(indicator.type.rawValue.storeValue)
        try body(indicator.value.storeValue)
        try body(indicator.ruleFile.storeValue)
        try body(Int64(indicator.line).storeValue)
        try body(indicator.source.storeValue)
        try body(indicator.severity.storeValue)
        try body(indicator.confidence.map(Int64.init).storeValue)
        try body(indicator.tlp.storeValue)
        try body(indicator.description.storeValue)
    }

    /// One insert, and one select when the row was there, per indicator: cheap where a
    /// statement is a function call (SQLite).
    static func oneByOne(_ indicators: [Indicator], in db: any StoreSession) throws -> [Int64] {
        try indicators.map { indicator in
            var values = StoreArguments()
            forEachValue(of: indicator) { values.append($0) }
            if let inserted = try db.insertedID(sql: insert, arguments: values) { return inserted }
            let key = StoreArguments(Array(values.values.prefix(4)))
            guard let id = try db.fetchValue(Int64.self, sql: select, arguments: key) else {
                throw CaseStoreError.indicatorNotStored(indicator.value)
            }
            return id
        }
    }
}
