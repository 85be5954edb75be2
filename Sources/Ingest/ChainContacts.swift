import CaseStore
import Observations

/// The addresses a DNS chain search looks for, each with its text as the resolution
/// recorded it. An observed address matches as `IndicatorTable.lookup` matches an
/// address indicator: exactly, and an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`)
/// that is not itself listed also as its IPv4 address.
struct ResolvedAddresses {
    enum Key: Hashable {
        case ipv4(UInt32)
        case ipv6(high: UInt64, low: UInt64)

        /// The key of an observed address, nil for other values.
        init?(_ value: ObservedValue) {
            switch value {
            case .ipv4(let address): self = .ipv4(address.value)
            case .ipv6(let address): self = .ipv6(high: address.high, low: address.low)
            default: return nil
            }
        }

        /// The IPv4 address an IPv4-mapped IPv6 address holds.
        var mappedIPv4: Key? {
            guard case .ipv6(let high, let low) = self, high == 0, low >> 32 == 0x0000_FFFF else { return nil }
            return .ipv4(UInt32(truncatingIfNeeded: low))
        }
    }

    private var texts: [Key: String] = [:]

    init() {}

    /// The addresses of a derivation task, as text (the ones that do not parse match nothing).
    init(_ addresses: [String]) {
        for text in addresses {
            if let address = IPv4Address(text) {
                texts[.ipv4(address.value)] = text
            } else if let address = IPv6Address(text) {
                texts[.ipv6(high: address.high, low: address.low)] = text
            }
        }
    }

    var isEmpty: Bool { texts.isEmpty }
    var textSet: Set<String> { Set(texts.values) }

    mutating func insert(_ key: Key, text: String) {
        texts[key] = text
    }

    /// The text of `key` itself, not of an address it maps to.
    func text(exactly key: Key) -> String? { texts[key] }

    /// The text of the address `key` matches, or nil.
    func text(matching key: Key) -> String? {
        if let text = texts[key] { return text }
        return key.mappedIPv4.flatMap { texts[$0] }
    }
}

/// A source's contacts with resolved addresses (`Contact`s), as DNS chains derive
/// sightings from them: every observation of a resolved address by a known host but the
/// DNS records' own, the packets of one conversation folded into one contact as they
/// fold into one sighting. Conversations are not closed for being too many at once (the
/// contacts are few, and the first pass must fold each one as the search would, whatever
/// the others).
struct ContactCollector {
    var addresses: ResolvedAddresses
    /// A conversation's contact; nil for one the first pass found begun before it looked
    /// for its address (`FirstPassChains`), which derives nothing.
    private var conversations = Conversations<[String], Contact?>(maximumOpen: .max)
    static let idle = Conversations<[String], Contact?>().idle
    private(set) var contacts: [Contact] = []

    init(addresses: ResolvedAddresses) {
        self.addresses = addresses
    }

    /// `key`: the observation's address (`ResolvedAddresses.Key(observation.value)`).
    mutating func observe(_ observation: Observation, key: ResolvedAddresses.Key) {
        observe(observation, key: key, begunBefore: { _ in false })
    }

    /// `begunBefore(conversationKey)`: whether a hit that opens a conversation continues one
    /// begun before the collector was looking; that conversation then makes no contact.
    mutating func observe(
        _ observation: Observation, key: ResolvedAddresses.Key, begunBefore: ([String]) -> Bool
    ) {
        guard observation.field != .dnsAnswer, observation.field != .dnsQuery,
              let address = addresses.text(matching: key), let host = observation.host.text, !host.isEmpty
        else { return }
        let contact = Contact(
            locator: observation.locator, time: observation.time, host: host, address: address,
            field: observation.field.rawValue)
        if observation.field.isIPHeader {
            let conversation = [host, address]
            let closed = conversations.add(
                conversation, time: observation.time, bytes: UInt64(observation.packetLength),
                value: { begunBefore(conversation) ? nil : contact })
            closed.forEach { keep($0) }
        } else {
            contacts.append(contact)
        }
    }

    /// Closes the open conversations; returns every contact, in the order of their times
    /// (then packets or lines, fields, hosts and addresses), however they were found.
    mutating func finish() -> [Contact] {
        conversations.closeAll().forEach { keep($0) }
        return contacts.sorted { a, b in
            (a.time, a.locator.order, a.field, a.host, a.address) < (b.time, b.locator.order, b.field, b.host, b.address)
        }
    }

    private mutating func keep(_ folded: Conversations<[String], Contact?>.Folded) {
        guard var contact = folded.value else { return }
        if folded.packets > 1 {
            contact.packets = folded.packets
            contact.lastTime = folded.last
        }
        contact.bytes = folded.bytes
        contacts.append(contact)
    }
}

extension Locator {
    /// Packets and lines by number (offsets after), for sorting.
    fileprivate var order: UInt64 {
        switch self {
        case .packet(let number): number
        case .line(let number, _): number
        }
    }
}

/// A capture's DNS chains found while it is read, so that the search after the readers
/// (`DNSChainSearch`) need not read it again: the contacts with the addresses its own
/// DNS answers resolved, collected from each address's first answer on.
///
/// The search reads the whole file; to find what it would, the first pass keeps, for
/// every host and address of an IP header, when their current conversation was last
/// seen (`PairTimes`): a contact after the answer that continues a conversation begun before
/// it is part of that conversation, which begins before the answer and so derives
/// nothing. That holds while the times of the addresses observed never go back (a
/// conversation the search closes as idle could otherwise take a late packet; other
/// observations, such as the digests of a stream finished at the end, do not matter),
/// so a capture whose times go back gives the first pass up, and the search reads it as
/// it always did. So do an observation of an address at the very time of its answer,
/// host names or IPv4-mapped addresses (never in an IP header) and more contacts or
/// pairs than the limits below, which bound the memory this takes.
struct FirstPassChains {
    private var pairs = PairTimes()
    private var collector = ContactCollector(addresses: ResolvedAddresses())
    /// The resolved addresses (`collector.addresses`) in a filter of 4,096 bits, read
    /// first: most addresses observed are not resolved, and the filter costs less than
    /// hashing them for the dictionary.
    private var resolvedFilter = [UInt64](repeating: 0, count: 64)
    /// The latest time seen, and the addresses observed at that time (outside DNS
    /// records): one of them answered at that very time could derive from the answer.
    private var latest = Timestamp(nanoseconds: .min)
    private var observedAtLatest: [ResolvedAddresses.Key] = []
    private(set) var givenUp = false
    /// Contacts kept at most before the first pass gives up.
    static let contactLimit = 1_000_000
    /// Addresses observed at one time kept at most before the first pass gives up (a
    /// capture whose packets all have the same time).
    static let sameTimeLimit = 4_096
    static let idle = ContactCollector.idle

    mutating func observe(_ observation: Observation) {
        guard !givenUp, let key = ResolvedAddresses.Key(observation.value) else { return }
        let time = observation.time
        if time != latest {
            if time < latest { return giveUp() }
            latest = time
            observedAtLatest.removeAll(keepingCapacity: true)
        }
        guard observation.field != .dnsAnswer, observation.field != .dnsQuery else { return }
        guard key.mappedIPv4 == nil, let host = HostKey(observation.host) else { return giveUp() }
        if observedAtLatest.last != key {
            guard observedAtLatest.count < Self.sameTimeLimit else { return giveUp() }
            observedAtLatest.append(key)
        }
        let resolved = isResolved(key)
        guard host != .none, observation.field.isIPHeader || resolved else { return }
        let pair = PairTimes.fingerprint(host: host, address: key)
        if resolved {
            let before = observation.field.isIPHeader ? pairs[pair] : nil
            collector.observe(observation, key: key) { _ in
                // A conversation the pair had before the answer and still going: it
                // began before the answer (not at its time: see `observedAtLatest`).
                guard let before else { return false }
                return time.nanoseconds &- before <= Self.idle
            }
            if collector.contacts.count > Self.contactLimit { return giveUp() }
        }
        if observation.field.isIPHeader, !pairs.note(pair, time: time.nanoseconds, idle: Self.idle) { giveUp() }
    }

    /// Notes an address a DNS answer of the capture resolved at `time` (`text` as
    /// `NewResolution.address`).
    mutating func resolved(_ value: ObservedValue, text: String, at time: Timestamp) {
        guard !givenUp, let key = ResolvedAddresses.Key(value), !isResolved(key) else { return }
        guard key.mappedIPv4 == nil, time >= latest, time > latest || !observedAtLatest.contains(key) else {
            return giveUp()
        }
        collector.addresses.insert(key, text: text)
        let bit = Self.filterBit(key)
        resolvedFilter[bit >> 6] |= 1 << (bit & 63)
    }

    private func isResolved(_ key: ResolvedAddresses.Key) -> Bool {
        let bit = Self.filterBit(key)
        return resolvedFilter[bit >> 6] & 1 << (bit & 63) != 0 && collector.addresses.text(exactly: key) != nil
    }

    private static func filterBit(_ key: ResolvedAddresses.Key) -> Int {
        let mixed = switch key {
        case .ipv4(let value): UInt64(value) &* 0x9E37_79B9_7F4A_7C15
        case .ipv6(let high, let low): (high ^ low.byteSwapped) &* 0x9E37_79B9_7F4A_7C15
        }
        return Int(truncatingIfNeeded: mixed >> 52)
    }

    /// The contacts, unless the first pass gave up or nothing was resolved.
    mutating func finish() -> ChainContacts? {
        guard !givenUp, !collector.addresses.isEmpty else { return nil }
        let addresses = collector.addresses.textSet
        return ChainContacts(addresses: addresses, contacts: collector.finish())
    }

    private mutating func giveUp() {
        givenUp = true
        pairs = PairTimes()
        collector = ContactCollector(addresses: ResolvedAddresses())
        resolvedFilter = []
        observedAtLatest = []
    }

    /// A host as a number for `PairTimes`; nil for a host name.
    enum HostKey: Equatable {
        case none
        case ipv4(UInt32)
        case ipv6(high: UInt64, low: UInt64)

        init?(_ host: HostReference) {
            switch host {
            case .none: self = .none
            case .ipv4(let address): self = .ipv4(address.value)
            case .ipv6(let address): self = .ipv6(high: address.high, low: address.low)
            case .name: return nil
            }
        }
    }
}

/// What the first pass over a capture found for its DNS chains (`FirstPassChains`).
struct ChainContacts: Sendable {
    /// The addresses its own answers resolved.
    var addresses: Set<String>
    var contacts: [Contact]
}

/// The last time of the current conversation of each host and address, by a 64-bit
/// fingerprint of the two, in an open-addressing table (linear probing, mixed from a
/// random seed per process, as `FlowIndex`). Two pairs with the same fingerprint count
/// as one: a wrong answer here could only make the first pass keep a conversation whole
/// that the search would split, one time in 2^64. Conversations idle for longer than the
/// idle time are dropped when the table grows; it holds at most `capacity`.
struct PairTimes {
    /// A fingerprint (0: an empty slot) and the time its pair was last seen, side by
    /// side: a lookup misses the cache once.
    private struct Slot {
        var print: UInt64
        var last: Int64
    }

    private var slots = [Slot](repeating: Slot(print: 0, last: 0), count: 1 << 12)
    private var count = 0
    private static let seed = UInt64.random(in: .min ... .max)
    /// 2 M conversations: a table of at most 64 MiB.
    static let capacity = 1 << 21

    static func fingerprint(host: FirstPassChains.HostKey, address: ResolvedAddresses.Key) -> UInt64 {
        var x: UInt64 = seed
        func mix(_ value: UInt64) {
            x = (x ^ value) &* 0xBF58_476D_1CE4_E5B9
            x ^= x >> 31
        }
        switch host {
        case .none: mix(0)
        case .ipv4(let value): mix(UInt64(value) | 1 << 32)
        case .ipv6(let high, let low): mix(high); mix(low); mix(2)
        }
        switch address {
        case .ipv4(let value): mix(UInt64(value) | 1 << 32)
        case .ipv6(let high, let low): mix(high); mix(low); mix(2)
        }
        x = (x ^ x >> 29) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 32
        return x == 0 ? 1 : x
    }

    /// When the pair was last seen, if it is in the table.
    subscript(print: UInt64) -> Int64? {
        var position = Int(truncatingIfNeeded: print) & (slots.count - 1)
        while slots[position].print != 0 {
            if slots[position].print == print { return slots[position].last }
            position = (position + 1) & (slots.count - 1)
        }
        return nil
    }

    /// Notes that the pair was seen at `time` (never earlier than the times noted before).
    /// False when the table is full.
    mutating func note(_ print: UInt64, time: Int64, idle: Int64) -> Bool {
        var position = Int(truncatingIfNeeded: print) & (slots.count - 1)
        while slots[position].print != 0 {
            if slots[position].print == print {
                slots[position].last = time
                return true
            }
            position = (position + 1) & (slots.count - 1)
        }
        slots[position] = Slot(print: print, last: time)
        count += 1
        if count * 2 > slots.count { return grow(idle: idle, now: time) }
        return true
    }

    /// Doubles the table, or keeps its size when dropping the pairs idle at `now` leaves
    /// it at most a quarter full.
    private mutating func grow(idle: Int64, now: Int64) -> Bool {
        let live = slots.filter { $0.print != 0 && now &- $0.last <= idle }
        guard live.count <= Self.capacity else { return false }
        let size = live.count * 4 <= slots.count ? slots.count : slots.count * 2
        slots = [Slot](repeating: Slot(print: 0, last: 0), count: size)
        for slot in live {
            var position = Int(truncatingIfNeeded: slot.print) & (size - 1)
            while slots[position].print != 0 { position = (position + 1) & (size - 1) }
            slots[position] = slot
        }
        count = live.count
        return true
    }
}
