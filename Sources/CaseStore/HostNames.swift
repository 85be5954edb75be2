import Observations

/// Host names resolved to addresses. A log line names its host by the name in its
/// header (`web01`); a capture names hosts by address. When the case holds evidence of
/// which address a name has — a DHCP server's acknowledgement of a lease to a client
/// of that name, in a capture or in a DHCP server's log (`host_addresses`) — the log
/// sightings of that name are grouped under the address, so that one machine's log
/// and capture sightings make one incident.
///
/// The rule is strict on purpose: a name is resolved only when every lease in the case
/// for it gives the same address. A name leased two addresses (a laptop moving between
/// networks, two machines of the same name) keeps its name, and the ingest says so.
/// Names match without regard to case, and a short name (`web01`) matches a full one
/// (`web01.corp.example`) by its first label. A resolved sighting keeps the name its
/// line gave in `host_name`; resolving is done once per sighting.
extension CaseDatabase {
    /// Stores host-name evidence found while reading a source (one transaction).
    public func appendHostAddresses(_ evidence: [NewHostAddress]) throws {
        guard !evidence.isEmpty else { return }
        try store.write { db in
            try db.insertRows(Self.hostAddressInsert, evidence.map { item in
                let locator = CaseDatabase.locatorColumns(item.locator)
                return [
                    item.sourceID, locator.kind, Int64(clamping: locator.number), item.time.nanoseconds, item.name,
                    item.address,
                ]
            })
        }
    }

    static let hostAddressInsert = TableColumns(table: "host_addresses", columns: [
        ("source_id", .bigint), ("locator_kind", .text), ("locator", .bigint), ("time_ns", .bigint), ("name", .text),
        ("address", .text),
    ])

    /// Every lease stored, in the order read.
    public func hostAddresses() throws -> [NewHostAddress] {
        try store.read { db in
            try db.fetchAll(sql: """
                SELECT source_id, locator_kind, locator, time_ns, name, address FROM host_addresses ORDER BY id
                """).map { row in
                let kind: String = try row.decode(forColumn: "locator_kind")
                let number = UInt64(clamping: try row.decode(forColumn: "locator") as Int64)
                return NewHostAddress(
                    sourceID: try row.decode(forColumn: "source_id"),
                    locator: kind == "packet" ? .packet(number) : .line(number: number, offset: 0),
                    time: Timestamp(nanoseconds: try row.decode(forColumn: "time_ns")),
                    name: try row.decode(forColumn: "name"), address: try row.decode(forColumn: "address"))
            }
        }
    }

    /// Resolves the host names of the log sightings not resolved yet (one transaction).
    public func resolveHostNames() throws -> HostNameResolution {
        try store.write { db in
            var leases = HostNameResolution.Leases()
            for row in try db.fetchAll(sql: "SELECT DISTINCT name, address FROM host_addresses") {
                leases.add(name: try row.decode(forColumn: "name"), address: try row.decode(forColumn: "address"))
            }
            var result = HostNameResolution()
            guard !leases.isEmpty else { return result }
            let names = try db.fetchValues(String.self, sql: """
                SELECT DISTINCT host FROM sightings
                WHERE locator_kind = 'line' AND host_name IS NULL AND host != ''
                """)
            for name in names where IPv4Address(name) == nil && IPv6Address(name) == nil {
                let addresses = leases.addresses(of: name)
                if addresses.count > 1 {
                    result.ambiguous.append((name, addresses.sorted()))
                    continue
                }
                guard let address = addresses.first else { continue }
                let moved = try db.execute(
                    sql: """
                        UPDATE sightings SET host_name = host, host = ?
                        WHERE host = ? AND locator_kind = 'line' AND host_name IS NULL
                        """,
                    arguments: [address, name])
                result.resolved.append((name, address, moved))
            }
            return result
        }
    }
}

/// What `resolveHostNames` did.
public struct HostNameResolution: Sendable {
    /// Names resolved now: the name, its address, and the sightings moved to it.
    public var resolved: [(name: String, address: String, sightings: Int)] = []
    /// Names the case gives more than one address; their sightings keep the name.
    public var ambiguous: [(name: String, addresses: [String])] = []

    public init() {}

    /// The leases of the case by lower-cased name, and the names by first label.
    struct Leases {
        private var byName: [String: Set<String>] = [:]
        private var namesByLabel: [String: Set<String>] = [:]

        var isEmpty: Bool { byName.isEmpty }

        mutating func add(name: String, address: String) {
            let lowered = name.lowercased()
            byName[lowered, default: []].insert(address)
            namesByLabel[Self.firstLabel(lowered), default: []].insert(lowered)
        }

        /// The addresses leased to `name`: to the same name (any case), or, when one of
        /// the two is a single label, to a name with the same first label.
        func addresses(of name: String) -> Set<String> {
            let lowered = name.lowercased()
            var found = byName[lowered] ?? []
            for leased in namesByLabel[Self.firstLabel(lowered)] ?? [] where leased != lowered {
                if !leased.contains(".") || !lowered.contains(".") { found.formUnion(byName[leased] ?? []) }
            }
            return found
        }

        private static func firstLabel(_ name: String) -> String {
            name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
        }
    }
}

/// A lease that says which address a host name has (a DHCP acknowledgement).
public struct NewHostAddress: Sendable, Hashable {
    public var sourceID: Int64
    public var locator: Locator
    public var time: Timestamp
    /// The client's host name, as the lease gives it.
    public var name: String
    /// The address leased, as text.
    public var address: String

    public init(sourceID: Int64, locator: Locator, time: Timestamp, name: String, address: String) {
        self.sourceID = sourceID
        self.locator = locator
        self.time = time
        self.name = name
        self.address = address
    }
}
