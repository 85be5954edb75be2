import Correlation
import Foundation
import Indicators
import Observations
import Testing
import TestSupport
@testable import CaseStore

/// Text at its edges: quotes, backslash, control characters, non-ASCII, an emoji, the
/// replacement character, and U+0000 (which both stores keep as U+FFFD).
private let oddText = "quote \" apostrophe ' backslash \\ tab \t newline \n cr \r é ü 日本 🦀 \u{FFFD} nul \u{0} end"

private let hour: Int64 = 3_600_000_000_000

/// A case with rows in every table: two runs (one with log settings), a capture, a gzip
/// log and a file that could not be read; indicators with their metadata; conversation,
/// suppressed, pre-1970, DNS-derived and host-name-resolved sightings; line events;
/// grouping incidents, one merged into another, and a rule incident; triage; ingest and
/// export custody entries. `bulk` more sightings in a source of their own make the copy
/// run through several cursor batches and INSERTs.
private func makeRichCase(at location: String, bulk: Int = 0) throws -> CaseDatabase {
    let database = try CaseDatabase(location: location)
    let settings = LogSettings(
        utcOffsetSeconds: 19_800, year: 2024, maximumLineLength: 1 << 20, maximumDecompressedBytes: UInt64.max)
    let runID = try database.beginRun(
        version: "0.1.0", rulesDigest: oddText, commandLine: "cairn ingest \(oddText)", logSettings: settings)
    var domain = Indicator(type: .domain, value: "evil.example", ruleFile: "Rules/domains.txt", line: 12)
    domain.severity = "high"
    domain.confidence = 90
    domain.source = "partner-cert"
    domain.tlp = "amber"
    domain.description = oddText
    let ids = try database.storeIndicators([
        Indicator(type: .ipv4, value: "203.0.113.7", ruleFile: "Rules/ips.txt", line: 3), domain,
        Indicator(type: .sha256, value: String(repeating: "ab", count: 32), ruleFile: "Rules/\(oddText).txt",
                  line: Int(Int32.max)),
        Indicator(type: .ipv4, value: "198.51.100.9", ruleFile: "Rules/ips.txt", line: 4),
    ])

    // A capture: a conversation, a suppressed sighting, one before 1970, a DNS answer.
    let capture = try database.beginSource(path: "cases/\(oddText).pcap", size: UInt64.max, kind: .pcap, runID: runID)
    var conversation = NewSighting(
        sourceID: capture, locator: .packet(7), time: at(minutes: 0), indicatorID: ids[0], observed: "203.0.113.7",
        field: .ipDestination, host: "10.0.0.5", context: ["203.0.113.0/24", oddText])
    conversation.packets = 12
    conversation.bytes = UInt64(Int64.max)
    conversation.lastTime = at(minutes: 3)
    try database.appendSightings([
        conversation,
        NewSighting(sourceID: capture, locator: .packet(9), time: at(minutes: 1), indicatorID: ids[3],
                    observed: "198.51.100.9", field: .ipSource, host: "10.0.0.5",
                    suppressedBy: "allow/benign.txt:1 198.51.100.9"),
        NewSighting(sourceID: capture, locator: .packet(1), time: Timestamp(nanoseconds: -1_500_000_001),
                    indicatorID: ids[1], observed: "EVIL.example", field: .dnsQuery, host: "10.0.0.9"),
    ])
    try database.appendResolutions([
        NewResolution(sourceID: capture, packet: 8, time: at(minutes: 1), host: "10.0.0.5", indicatorID: ids[1],
                      name: "cdn.evil.example", address: "192.0.2.44"),
    ])
    var summary = ReadSummary()
    summary.packets = 120
    summary.bytes = 4096
    summary.anomalies.record(.ipv4Truncated, count: 2)
    summary.notes = [oddText, "second note"]
    summary.packetsDecoded = 118
    summary.packetsAnomalous = 2
    summary.bytesConsumed = 4096
    _ = try database.finishSource(
        capture, sha256: String(repeating: "1", count: 64), summary: summary,
        lastSightings: [
            NewSighting(sourceID: capture, locator: .packet(90), time: at(minutes: 10), indicatorID: ids[0],
                        observed: "203.0.113.7", field: .ipSource, host: "10.0.0.5"),
        ])
    // A later connection to the answer's address: a derived sighting and a scan record.
    try database.setEventRange(source: capture, first: at(minutes: 0), last: at(minutes: 20))
    for task in try database.pendingDerivations(horizon: hour) {
        var contact = Contact(locator: .packet(30), time: at(minutes: 2), host: "10.0.0.5", address: "192.0.2.44",
                              field: "ip.dst")
        contact.packets = 3
        contact.bytes = 900
        contact.lastTime = at(minutes: 4)
        try database.recordDerivations(task, contacts: [contact], horizon: hour)
    }

    // A gzip log: a DHCP lease naming its host, lines a base rule selected, a sighting.
    let log = try database.beginSource(path: "cases/syslog.gz", size: 300, kind: .gzip, runID: runID)
    try database.appendHostAddresses([
        NewHostAddress(sourceID: log, locator: .line(number: 2, offset: 0), time: at(minutes: 4), name: "web01",
                       address: "10.0.0.77"),
    ])
    try database.appendLineEvents([
        NewLineEvent(sourceID: log, line: 5, offset: 400, time: at(minutes: 6), host: "web01",
                     logSource: "203.0.113.9", logDestination: nil, baseRules: ["ssh-fail", "auth"]),
        NewLineEvent(sourceID: log, line: 6, offset: 480, time: at(minutes: 7), host: "web01",
                     logSource: "203.0.113.9", logDestination: "10.0.0.77", baseRules: ["ssh-fail"]),
    ])
    var logSummary = ReadSummary()
    logSummary.lines = 40
    logSummary.bytes = 3000
    logSummary.lineBytes = 2960
    logSummary.separatorBytes = 40
    logSummary.unverifiedFromLine = 30
    _ = try database.finishSource(
        log, sha256: String(repeating: "2", count: 64), summary: logSummary,
        lastSightings: [
            NewSighting(sourceID: log, locator: .line(number: 17, offset: 2048), time: at(minutes: 5),
                        indicatorID: ids[2], observed: oddText, field: .logHash, host: "web01", member: "file.sha256"),
        ])
    _ = try database.resolveHostNames()
    try database.recordFailedSource(path: "cases/missing.pcap", kind: nil, reason: oddText, runID: runID)

    if bulk > 0 {
        let big = try database.beginSource(path: "cases/big.log", size: 1, kind: .text, runID: runID)
        let sightings = (0..<bulk).map { (index: Int) -> NewSighting in
            let line = UInt64(index + 1)
            let time = at(minutes: 24 * 60 + Int64(index % 1000))
            return NewSighting(
                sourceID: big, locator: .line(number: line, offset: line * 80), time: time, indicatorID: ids[index % 4],
                observed: "value\(index)", field: .logIP, host: "host\(index % 7)")
        }
        _ = try database.finishSource(big, sha256: String(repeating: "3", count: 64), summary: ReadSummary(),
                                      lastSightings: sightings)
    }

    // Two incidents of 10.0.0.5, the later triaged; a second run bridges them (a merge).
    try database.correlateIncidents()
    try database.finishRun(runID, succeeded: true)
    let secondRun = try database.beginRun(version: "0.1.1", rulesDigest: "d2", commandLine: "cairn ingest more")
    let later = try database.beginSource(path: "cases/later.pcap", size: 10, kind: .pcapng, runID: secondRun)
    _ = try database.finishSource(
        later, sha256: String(repeating: "4", count: 64), summary: ReadSummary(),
        lastSightings: [
            NewSighting(sourceID: later, locator: .packet(1), time: at(minutes: 100), indicatorID: ids[0],
                        observed: "203.0.113.7", field: .ipDestination, host: "10.0.0.5"),
        ])
    try database.correlateIncidents()
    let apart = try database.incidents().filter { $0.host == "10.0.0.5" }.map(\.id).sorted()
    try #require(apart.count == 2)
    try database.triage(incident: apart[1], status: .investigating, note: oddText, assignee: "ana", user: "ana")
    let bridge = try database.beginSource(path: "cases/bridge.pcap", size: 11, kind: .pcap, runID: secondRun)
    _ = try database.finishSource(
        bridge, sha256: String(repeating: "5", count: 64), summary: ReadSummary(),
        lastSightings: [35, 60, 85].map { minute in
            NewSighting(sourceID: bridge, locator: .packet(UInt64(minute)), time: at(minutes: minute),
                        indicatorID: ids[0], observed: "203.0.113.7", field: .ipDestination, host: "10.0.0.5")
        })
    try database.correlateIncidents()
    try database.finishRun(secondRun, succeeded: false)

    // A rule incident over the log's lines and its sighting.
    let logSighting = try #require(try database.sightings(incident: nil).first { $0.sourcePath == "cases/syslog.gz" })
    try database.updateRuleIncidents([
        RuleIncident(
            ruleID: "ssh-brute", groupKey: "log.src=203.0.113.9", host: "10.0.0.77", firstSeen: at(minutes: 5),
            lastSeen: at(minutes: 7), severity: .medium, confidence: 70, title: "ssh brute force \(oddText)",
            explanation: oddText, indicatorValues: [String(repeating: "ab", count: 32)],
            sightingIDs: [logSighting.id], lineEventIDs: try database.lineEvents().map(\.id)),
    ])
    let listed = try #require(try database.incidents().first { $0.host == "10.0.0.5" })
    try database.triage(incident: listed.id, status: .closed, note: nil, assignee: nil, user: "bo")

    try database.appendIngestCustodyEntry(runID: runID, commandLine: "cairn ingest x", toolVersion: "0.1.0", rulesDigest: "d")
    try database.appendCustodyEntry(
        action: .export, commandLine: "cairn export --out pkg \(oddText)", toolVersion: "0.1.0", rulesDigest: "",
        inputs: [], outputs: [CustodyFile(path: "data/\(oddText)", sha256: String(repeating: "f", count: 64),
                                          bytes: UInt64(Int64.max))],
        user: oddText, host: "workstation")
    return database
}

/// Every row of every table a copy copies, by table: each row's values with its columns
/// in name order (the stores order the columns of `incidents` differently), rows in key
/// order.
private func contents(of database: CaseDatabase) throws -> [String: [[StoreValue]]] {
    try database.store.read { db in
        var tables: [String: [[StoreValue]]] = [:]
        for table in CaseTable.all {
            let columns = try table.columns(in: db).sorted()
            let list = columns.map(CaseTable.quoted).joined(separator: ", ")
            let order = table.key.map(CaseTable.quoted).joined(separator: ", ")
            tables[table.name] = try db.fetchAll(sql: "SELECT \(list) FROM \(CaseTable.quoted(table.name)) ORDER BY \(order)")
                .map { row in columns.indices.map { row.value(atIndex: $0) } }
        }
        return tables
    }
}

/// Expects `copy` to hold exactly the rows of `original`, and one custody entry more.
private func expectSameRows(
    _ copy: [String: [[StoreValue]]], as original: [String: [[StoreValue]]], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(Set(copy.keys) == Set(original.keys), sourceLocation: sourceLocation)
    for (table, rows) in original where table != "custody_entries" {
        #expect(copy[table] == rows, "table \(table)", sourceLocation: sourceLocation)
    }
    let custody = copy["custody_entries"] ?? []
    #expect(custody.count == (original["custody_entries"]?.count ?? 0) + 1, sourceLocation: sourceLocation)
    #expect(Array(custody.dropLast()) == original["custody_entries"], sourceLocation: sourceLocation)
}

/// Expects the two cases to answer the case's queries alike.
private func expectSameAnswers(_ copy: CaseDatabase, _ original: CaseDatabase) throws {
    let incidents = try original.incidents()
    #expect(try copy.incidents() == incidents)
    #expect(try copy.sightings(incident: nil, includeSuppressed: true) == original.sightings(incident: nil, includeSuppressed: true))
    for incident in incidents {
        #expect(try copy.sightings(incident: incident.id) == original.sightings(incident: incident.id))
        #expect(try copy.triageHistory(incident: incident.id) == original.triageHistory(incident: incident.id))
        #expect(try copy.lineEvents(incident: incident.id) == original.lineEvents(incident: incident.id))
    }
    #expect(try copy.sources() == original.sources())
    #expect(try copy.hostAddresses() == original.hostAddresses())
}

@Test("a copy copies every table of the case schema, each after the tables it refers to")
func everyTableCopied() throws {
    let directory = try TemporaryDirectory()
    let database = try CaseDatabase(location: directory.database)
    let (tables, references) = try database.store.read { db in
        let tables = Set(try CaseTable.names(in: db)).subtracting(["grdb_migrations"])
        var references: [String: [String]] = [:]
        for table in tables {
            references[table] = try db.fetchValues(
                String.self, sql: #"SELECT "table" FROM pragma_foreign_key_list(?)"#, arguments: [table])
        }
        return (tables, references)
    }
    #expect(
        Set(CaseCopy.tableNames) == tables,
        "a migration added or removed a table: add it to CaseTable.all (or remove it), in foreign-key order")
    #expect(CaseCopy.tableNames.count == Set(CaseCopy.tableNames).count)
    #expect(!CaseCopy.tableNames.contains("incident_members"))  // the view
    for (position, table) in CaseCopy.tableNames.enumerated() {
        for referenced in references[table] ?? [] {
            #expect((CaseCopy.tableNames.firstIndex(of: referenced) ?? Int.max) <= position, "\(table) → \(referenced)")
        }
    }
}

@Test(
    "PostgreSQL has the copied tables with SQLite's columns; its other tables are its own",
    .enabled(if: ThrowawayPostgres.binaries != nil, "no PostgreSQL server binaries: install Debian's postgresql package")
)
func postgresTablesAreTheCase() throws {
    let directory = try TemporaryDirectory()
    let sqlite = try CaseDatabase(location: directory.database)
    let postgres = try CaseDatabase(location: StoreKind.postgres.newLocation(sqlitePath: directory.database))
    func columns(_ database: CaseDatabase) throws -> [String: Set<String>] {
        try database.store.read { db in
            var columns: [String: Set<String>] = [:]
            for table in CaseTable.all { columns[table.name] = Set(try table.columns(in: db)) }
            return columns
        }
    }
    #expect(try columns(postgres) == columns(sqlite))
    let sqliteTables = Set(try sqlite.store.read { try CaseTable.names(in: $0) })
    let postgresTables = Set(try postgres.store.read { try CaseTable.names(in: $0) })
    #expect(Set(CaseCopy.tableNames).isSubset(of: postgresTables))
    // What is not copied is bookkeeping, or a table the case schema (SQLite's) lacks:
    // PostgreSQL's own, for operations (a work queue), not evidence.
    let notCopied = postgresTables.subtracting(CaseCopy.tableNames).subtracting(["grdb_migrations"])
    #expect(notCopied.isDisjoint(with: sqliteTables))
}

@Test("a case copied into another store, and from there into SQLite, holds the same rows and answers",
      arguments: StoreKind.available, StoreKind.available)
func roundTrip(from: StoreKind, to: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let source = try makeRichCase(at: from.newLocation(sqlitePath: directory.path + "/source.sqlite"), bulk: 12_000)
    let original = try contents(of: source)
    #expect(CaseTable.all.allSatisfy { original[$0.name]?.isEmpty == false }, "every table holds a row")
    let originalEntries = try source.custodyEntries()

    let middle = try CaseDatabase(location: to.newLocation(sqlitePath: directory.path + "/middle.sqlite"))
    let copy = try source.copy(
        to: middle, commandLine: "cairn case copy --from \(source.location) --to postgresql://ana:secret@db/case",
        toolVersion: "test", user: "ana", host: "lab")
    #expect(try contents(of: source) == original, "the source is not changed")
    let copied = try contents(of: middle)
    expectSameRows(copied, as: original)
    try expectSameAnswers(middle, source)

    #expect(copy.source == source.location && copy.destination == middle.location)
    #expect(copy.tables.map(\.table) == CaseCopy.tableNames)
    #expect(copy.tables.allSatisfy { $0.rows == original[$0.table]?.count })
    #expect(copy.tables.first { $0.table == "sightings" }.map { $0.rows > 12_000 } == true)
    #expect(copy.custody == CustodyVerification(ok: true, firstBrokenID: nil, problem: nil, entryCount: originalEntries.count + 1))
    #expect(try middle.verifyCustody().ok)
    let entries = try middle.custodyEntries()
    #expect(Array(entries.dropLast()) == originalEntries)
    #expect(entries.last == copy.entry)
    #expect(copy.entry.action == "copy" && copy.entry.user == "ana" && copy.entry.host == "lab")
    #expect(copy.entry.id == (originalEntries.last?.id ?? 0) + 1)
    #expect(copy.entry.previousHash == originalEntries.last?.entryHash)
    #expect(copy.entry.inputs.isEmpty && copy.entry.outputs.isEmpty && copy.entry.rulesDigest.isEmpty)
    #expect(!copy.entry.commandLine.contains("secret") && copy.entry.commandLine.contains("postgresql://ana@db/case"))

    // And on into SQLite, the investigators' file.
    let back = try CaseDatabase(location: directory.path + "/back.sqlite")
    let second = try middle.copy(to: back, commandLine: "cairn case copy", toolVersion: "test")
    #expect(try contents(of: middle) == copied)
    expectSameRows(try contents(of: back), as: copied)
    try expectSameAnswers(back, source)
    #expect(second.custody.ok && second.custody.entryCount == originalEntries.count + 2)
    #expect(second.entry.previousHash == copy.entry.entryHash)
    #expect(try back.integrityCheck() == ["ok"])
}

@Test("a destination that holds a case is refused and left unchanged", arguments: StoreKind.available, StoreKind.available)
func nonEmptyDestinationRefused(from: StoreKind, to: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let source = try makeRichCase(at: from.newLocation(sqlitePath: directory.path + "/source.sqlite"))
    let original = try contents(of: source)

    // Only a custody entry: not empty either.
    let logged = try CaseDatabase(location: to.newLocation(sqlitePath: directory.path + "/logged.sqlite"))
    try logged.appendCustodyEntry(
        action: .export, commandLine: "cairn export", toolVersion: "0.1.0", rulesDigest: "", inputs: [], outputs: [])
    let loggedBefore = try contents(of: logged)
    #expect(throws: CaseStoreError.destinationNotEmpty(logged.location, tables: ["custody_entries"])) {
        try source.copy(to: logged, commandLine: "cairn case copy", toolVersion: "test")
    }
    #expect(try contents(of: logged) == loggedBefore)

    // A whole case.
    let full = try makeRichCase(at: to.newLocation(sqlitePath: directory.path + "/full.sqlite"))
    let fullBefore = try contents(of: full)
    let error = #expect(throws: CaseStoreError.self) {
        try source.copy(to: full, commandLine: "cairn case copy", toolVersion: "test")
    }
    #expect(error == .destinationNotEmpty(full.location, tables: CaseCopy.tableNames))
    #expect(error.map { "\($0)" }?.contains("case database \(full.location) is not empty") == true)
    #expect(try contents(of: full) == fullBefore)
    #expect(try contents(of: source) == original)
}

@Test("after a copy, an ingest, triage and export append with new ids", arguments: StoreKind.available, StoreKind.available)
func insertAfterCopy(from: StoreKind, to: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let source = try makeRichCase(at: from.newLocation(sqlitePath: directory.path + "/source.sqlite"))
    let copy = try CaseDatabase(location: to.newLocation(sqlitePath: directory.path + "/copy.sqlite"))
    _ = try source.copy(to: copy, commandLine: "cairn case copy", toolVersion: "test")
    func largestIDs() throws -> [String: Int64] {
        try copy.store.read { db in
            var ids: [String: Int64] = [:]
            for table in CaseTable.all where table.hasIdentity {
                ids[table.name] = try db.fetchValue(Int64.self, sql: "SELECT MAX(id) FROM \(table.name)")
            }
            return ids
        }
    }
    let before = try largestIDs()

    let runID = try copy.beginRun(version: "0.2.0", rulesDigest: "d3", commandLine: "cairn ingest new")
    #expect(runID == (before["runs"] ?? 0) + 1)
    let ids = try copy.storeIndicators([Indicator(type: .domain, value: "new.example", ruleFile: "Rules/new.txt", line: 1)])
    let sourceID = try copy.beginSource(path: "cases/new.log", size: 5, kind: .text, runID: runID)
    try copy.appendResolutions([
        NewResolution(sourceID: sourceID, packet: 1, time: at(minutes: 500), host: "10.0.0.5", indicatorID: ids[0],
                      name: "new.example", address: "192.0.2.99"),
    ])
    try copy.appendLineEvents([
        NewLineEvent(sourceID: sourceID, line: 1, offset: 0, time: at(minutes: 500), host: "web02", logSource: nil,
                     logDestination: nil, baseRules: ["x"]),
    ])
    try copy.appendHostAddresses([
        NewHostAddress(sourceID: sourceID, locator: .line(number: 1, offset: 0), time: at(minutes: 500), name: "web02",
                       address: "10.0.0.78"),
    ])
    _ = try copy.finishSource(
        sourceID, sha256: String(repeating: "9", count: 64), summary: ReadSummary(),
        lastSightings: [
            NewSighting(sourceID: sourceID, locator: .line(number: 1, offset: 0), time: at(minutes: 500),
                        indicatorID: ids[0], observed: "new.example", field: .logDomain, host: "10.0.0.5"),
        ])
    try copy.correlateIncidents()
    let incident = try #require(try copy.incidents().first { $0.lastSeen == at(minutes: 500) })
    try copy.triage(incident: incident.id, status: .escalated, note: "after the copy", assignee: nil)
    try copy.appendCustodyEntry(
        action: .export, commandLine: "cairn export", toolVersion: "0.2.0", rulesDigest: "", inputs: [], outputs: [])
    try copy.finishRun(runID, succeeded: true)

    let after = try largestIDs()
    for (table, id) in before {
        #expect((after[table] ?? 0) > id, "table \(table) took a new id")
    }
    #expect(try copy.verifyCustody().ok)
}

@Test("an incident merged into a later one is copied", arguments: StoreKind.available)
func laterMergeTarget(to: StoreKind) throws {
    let directory = try TemporaryDirectory()
    let source = try makeRichCase(at: directory.path + "/source.sqlite")
    // No correlation of Cairn's makes this (a merged incident names the older one).
    try source.store.write { db in
        try db.execute(sql: """
            UPDATE incidents SET merged_into = (SELECT MAX(id) FROM incidents)
            WHERE id = (SELECT MIN(id) FROM incidents WHERE merged_into IS NULL)
            """)
    }
    let later = try source.store.read { db in
        try db.fetchValue(Int.self, sql: "SELECT COUNT(*) FROM incidents WHERE merged_into > id")
    }
    #expect(later == 1)
    let original = try contents(of: source)
    let copy = try CaseDatabase(location: to.newLocation(sqlitePath: directory.path + "/copy.sqlite"))
    _ = try source.copy(to: copy, commandLine: "cairn case copy", toolVersion: "test")
    expectSameRows(try contents(of: copy), as: original)
    try expectSameAnswers(copy, source)
}

@Test("a case is not copied into itself")
func copyIntoItselfRefused() throws {
    let directory = try TemporaryDirectory()
    let source = try CaseDatabase(location: directory.database)
    // Empty, so only the identity of the file stops it.
    let samePath = try CaseDatabase(location: directory.path + "/./case.sqlite")
    for destination in [source, samePath] {
        let error = #expect(throws: CaseStoreError.self) {
            try source.copy(to: destination, commandLine: "cairn case copy", toolVersion: "test")
        }
        #expect(error == .copyRefused(destination: destination.location, reason: "it is the source case itself"))
    }
    #expect(try source.custodyEntries().isEmpty)
}

@Test("a source whose custody log does not verify is not copied")
func brokenSourceCustodyRefused() throws {
    let directory = try TemporaryDirectory()
    let source = try makeRichCase(at: directory.path + "/source.sqlite")
    try source.store.write { db in
        try db.execute(sql: "DROP TRIGGER custody_entries_no_update")
        try db.execute(sql: #"UPDATE custody_entries SET "user" = 'mallory' WHERE id = 1"#)
    }
    let destination = try CaseDatabase(location: directory.path + "/copy.sqlite")
    let error = #expect(throws: CaseStoreError.self) {
        try source.copy(to: destination, commandLine: "cairn case copy", toolVersion: "test")
    }
    #expect(error.map { "\($0)" }?.contains("does not verify") == true)
    #expect(try contents(of: destination).values.allSatisfy(\.isEmpty))
}
