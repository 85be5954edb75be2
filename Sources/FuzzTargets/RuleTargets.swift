import Indicators

extension FuzzTargets {
    /// The input as a rule file: format detection, then whichever parser it picks,
    /// then compilation of the lookup tables. The format targets below differ in their
    /// seeds (and for Zeek, in a header) so that each parser gets the fuzzer's time.
    public static func rulesPlain(_ data: [UInt8]) {
        loadRules(data)
    }

    /// CSV rule files (a header naming the columns; also maltrail's and MISP's CSV).
    public static func rulesCSV(_ data: [UInt8]) {
        loadRules(data)
    }

    /// Zeek intel files. An input that does not start with `#` gets a `#separator`
    /// line in front, so that it is read as Zeek intel whatever follows.
    public static func rulesZeek(_ data: [UInt8]) {
        if data.first == UInt8(ascii: "#") {
            loadRules(data)
        } else {
            let header = Array("#separator \\x09\n".utf8)
            loadRules(header + data)
        }
    }

    /// STIX 2.1 bundles (JSON).
    public static func rulesSTIX(_ data: [UInt8]) {
        loadRules(data)
    }

    /// MISP events and warning lists (JSON).
    public static func rulesMISP(_ data: [UInt8]) {
        loadRules(data)
    }

    static func loadRules(_ data: [UInt8]) {
        _ = withTemporaryFile(data) { path in
            let rules = RuleSet.load(paths: [path])
            _ = rules.compile()
        }
    }
}
