import CaseStore
import Observations
import TestSupport
import Testing
@testable import Ingest

/// The DNS chains a capture's first pass finds (`FirstPassChains`) must be what the
/// search reading the whole file for the same addresses finds (`ContactCollector`), or
/// nothing: the search then reads the file.
@Suite struct ChainContactsTests {
    /// One observation of a made-up capture.
    struct Step {
        var address: Address
        var field: Field
        var host: IPv4Address?
        var packet: UInt64
        var seconds: Int64
        /// Whether the step is a DNS answer of a listed domain resolving `address`.
        var resolves: Bool

        var time: Timestamp { Timestamp(seconds: 1_772_442_000 + seconds) }
    }

    /// An address as a value that can be kept (`ObservedValue` borrows).
    enum Address {
        case ipv4(IPv4Address)
        case ipv6(IPv6Address)

        var text: String {
            switch self {
            case .ipv4(let address): address.description
            case .ipv6(let address): address.description
            }
        }

        func withValue(_ body: (ObservedValue) -> Void) {
            switch self {
            case .ipv4(let address): body(.ipv4(address))
            case .ipv6(let address): body(.ipv6(address))
            }
        }
    }

    static let addresses: [Address] = [
        .ipv4(IPv4Address(0xC633_644D)),  // 198.51.100.77
        .ipv4(IPv4Address(0xC633_644E)),
        .ipv4(IPv4Address(0xCB00_7105)),
        .ipv6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1)),
        .ipv6(IPv6Address(high: 0, low: 0x0000_FFFF_C633_644D)),  // ::ffff:198.51.100.77
        .ipv6(IPv6Address(high: 0, low: 0x0000_FFFF_0A00_0009)),
    ]

    /// Packets in time order, with gaps past the conversations' idle time and packets at
    /// the same time; one capture in three steps back now and then. Each address first
    /// appears at a random packet, in a DNS answer half the time; then come contacts
    /// through IP headers and other fields, with and without a host, and answers again
    /// now and then.
    static func capture(seed: UInt64) -> [Step] {
        var random = SplitMix64(seed: seed)
        let stepsBack = seed % 3 == 0
        // IPv4-mapped addresses (the last two) give the first pass up whenever they come.
        let pool = addresses.prefix(seed % 5 == 0 ? 6 : 4)
        let firstAppearance = pool.map { _ in Int.random(in: 0..<150, using: &random) }
        var seconds: Int64 = 0
        var steps: [Step] = []
        for packet in 1...200 {
            seconds += [0, 1, 5, 20, 60, 200].randomElement(using: &random)!
            let stepBack = stepsBack && Int.random(in: 0..<25, using: &random) == 0
                ? Int64.random(in: 1...200, using: &random) : 0
            let appeared = pool.indices.filter { firstAppearance[$0] <= packet }
            guard let index = appeared.randomElement(using: &random) else { continue }
            let resolves = firstAppearance[index] == packet
                ? Bool.random(using: &random) : Int.random(in: 0..<20, using: &random) == 0
            let fields: [Field] = [.ipSource, .ipDestination, .ipv6Destination, .httpHost, .tunnelIPDestination]
            steps.append(Step(
                address: pool[index],
                field: resolves ? .dnsAnswer : fields.randomElement(using: &random)!,
                host: Int.random(in: 0..<8, using: &random) == 0
                    ? nil : IPv4Address(0x0A00_0001 + UInt32.random(in: 0..<3, using: &random)),
                packet: UInt64(packet), seconds: seconds - stepBack, resolves: resolves))
        }
        return steps
    }

    static func observe(_ step: Step, _ body: (Observation) -> Void) {
        let host: HostReference = if let address = step.host { .ipv4(address) } else { .none }
        step.address.withValue { value in
            body(Observation(
                value: value, field: step.field, host: host, locator: .packet(step.packet),
                time: step.time, packetLength: 60))
        }
    }

    static func replay(_ steps: [Step], into chains: inout FirstPassChains) {
        for step in steps {
            observe(step) { chains.observe($0) }
            if step.resolves { step.address.withValue { chains.resolved($0, text: step.address.text, at: step.time) } }
        }
    }

    /// The contacts that could derive from a capture's own answers: those at or after
    /// their address's first answer.
    static func derivable(_ contacts: [Contact], steps: [Step]) -> [Contact] {
        var firstAnswer: [String: Timestamp] = [:]
        for step in steps where step.resolves && firstAnswer[step.address.text] == nil {
            firstAnswer[step.address.text] = step.time
        }
        return contacts.filter { contact in firstAnswer[contact.address].map { $0 <= contact.time } ?? false }
    }

    @Test func theFirstPassFindsWhatTheSearchFindsOrGivesUp() {
        var found = 0
        var foundWithAddressesSeenBefore = 0
        var givenUp = 0
        for seed in 1...300 {
            let steps = Self.capture(seed: UInt64(seed))
            var chains = FirstPassChains()
            Self.replay(steps, into: &chains)
            let resolved = Set(steps.filter(\.resolves).map(\.address.text))
            guard let firstPass = chains.finish() else {
                if !resolved.isEmpty { givenUp += 1 }
                continue
            }
            var search = ContactCollector(addresses: ResolvedAddresses(Array(resolved)))
            for step in steps {
                Self.observe(step) { observation in
                    if let key = ResolvedAddresses.Key(observation.value) { search.observe(observation, key: key) }
                }
            }
            #expect(firstPass.addresses == resolved, "seed \(seed)")
            #expect(
                Self.derivable(firstPass.contacts, steps: steps) == Self.derivable(search.finish(), steps: steps),
                "seed \(seed)")
            found += 1
            let seenBefore = steps.firstIndex { !$0.resolves && resolved.contains($0.address.text) }
            let firstAnswer = steps.firstIndex(where: \.resolves)
            if let seenBefore, let firstAnswer, seenBefore < firstAnswer { foundWithAddressesSeenBefore += 1 }
        }
        // Each outcome occurs, so each was checked.
        #expect(found > 50)
        #expect(foundWithAddressesSeenBefore > 20)
        #expect(givenUp > 20)
    }

    @Test func packetTimesGoingBackGiveUp() {
        var chains = FirstPassChains()
        Self.replay([
            Step(address: Self.addresses[0], field: .dnsAnswer, host: IPv4Address(0x0A00_0001), packet: 1,
                 seconds: 10, resolves: true),
            Step(address: Self.addresses[0], field: .ipDestination, host: IPv4Address(0x0A00_0001), packet: 2,
                 seconds: 9, resolves: false),
        ], into: &chains)
        #expect(chains.finish() == nil)
    }

    @Test func aConversationGoingOnAtTheAnswerDerivesNothingUntilItEnds() throws {
        let host = IPv4Address(0x0A00_0001)
        var chains = FirstPassChains()
        Self.replay([
            Step(address: Self.addresses[0], field: .ipDestination, host: host, packet: 1, seconds: 0, resolves: false),
            Step(address: Self.addresses[0], field: .dnsAnswer, host: host, packet: 2, seconds: 60, resolves: true),
            Step(address: Self.addresses[0], field: .ipDestination, host: host, packet: 3, seconds: 100, resolves: false),
            Step(address: Self.addresses[0], field: .ipDestination, host: host, packet: 4, seconds: 400, resolves: false),
        ], into: &chains)
        let found = chains.finish()
        let contacts = try #require(found).contacts
        #expect(contacts.map(\.locator) == [.packet(4)])
    }

    @Test func anObservationAtTheAnswersVeryTimeGivesUp() {
        var chains = FirstPassChains()
        Self.replay([
            Step(address: Self.addresses[0], field: .httpHost, host: IPv4Address(0x0A00_0001), packet: 1,
                 seconds: 5, resolves: false),
            Step(address: Self.addresses[0], field: .dnsAnswer, host: IPv4Address(0x0A00_0001), packet: 2,
                 seconds: 5, resolves: true),
        ], into: &chains)
        #expect(chains.finish() == nil)
    }

    @Test func anIPv4MappedAddressGivesUp() {
        var chains = FirstPassChains()
        Self.replay([
            Step(address: Self.addresses[4], field: .ipv6Destination, host: IPv4Address(0x0A00_0001), packet: 1,
                 seconds: 0, resolves: false),
        ], into: &chains)
        #expect(chains.givenUp)
    }

    @Test func pairTimesKeepTheLastTimeOfEachLivePair() throws {
        var table = PairTimes()
        let idle: Int64 = 120
        let prints = (0..<50_000 as Range<UInt32>).map {
            PairTimes.fingerprint(host: .ipv4($0), address: .ipv4(0xC633_644D))
        }
        let noted = prints.enumerated().map { table.note($1, time: Int64($0 / 1000), idle: idle) }
        #expect(noted.allSatisfy { $0 })
        // The pairs of the last 120 "seconds" are all there; the first ones were dropped
        // as idle when the table grew, or are still there as they were.
        for (index, print) in prints.enumerated() {
            if index >= 30_000 {
                #expect(table[print] == Int64(index / 1000))
            } else if let last = table[print] {
                #expect(last == Int64(index / 1000))
            }
        }
        #expect(table[PairTimes.fingerprint(host: .ipv4(1), address: .ipv4(1))] == nil)
        _ = table.note(prints[0], time: 400, idle: idle)
        #expect(table[prints[0]] == 400)
    }
}
