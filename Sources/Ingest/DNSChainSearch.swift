import ByteParsing
import CaseStore
import Indicators
import Observations

/// The second stage of a run: searches sources for connections to the addresses that
/// domain indicators resolved to (see `CaseDatabase.pendingDerivations`), and stores
/// the derived sightings. Runs only when the case has resolutions a source overlapping
/// their horizon has not been searched for, so most runs read nothing here.
struct DNSChainSearch: Sendable {
    let database: CaseDatabase
    /// Reads sources as the first stage did (same filter, year, time zone and limits), without
    /// progress output.
    let reader: SourceReader
    /// How long after a DNS answer a connection to one of its addresses derives from
    /// it, in nanoseconds.
    let horizon: Int64
    let jobs: Int

    struct Outcome: Sendable {
        var derivedSightings = 0
        var sourcesSearched = 0
        /// One line per source that could not be searched: which file, what is wrong.
        var problems: [String] = []
    }

    func run() throws -> Outcome {
        let tasks = try database.pendingDerivations(horizon: horizon)
        let results = Ingestor.forEachConcurrently(tasks, jobs: jobs) { task in search(task) }
        var outcome = Outcome()
        outcome.sourcesSearched = tasks.count
        for result in results {
            switch result {
            case .success(let added): outcome.derivedSightings += added
            case .failure(let problem): outcome.problems.append(problem.description)
            }
        }
        return outcome
    }

    /// Reads the task's source for observations of its addresses by a known host, checks
    /// that the file still has the SHA-256 it had when it was read, and stores the
    /// derived sightings.
    private func search(_ task: DerivationTask) -> Result<Int, IngestError> {
        let addresses = RuleSet(indicators: task.addresses.map { address in
            Indicator(type: address.contains(":") ? .ipv6 : .ipv4, value: address, ruleFile: "(resolved)", line: 0)
        })
        let table = addresses.compile()
        var contacts: [Contact] = []
        // Packets of one conversation make one contact, as they make one sighting.
        var conversations = Conversations<[String], Contact>()
        func keep(_ folded: Conversations<[String], Contact>.Folded) {
            var contact = folded.value
            if folded.packets > 1 {
                contact.packets = folded.packets
                contact.lastTime = folded.last
            }
            contact.bytes = folded.bytes
            contacts.append(contact)
        }
        do {
            let file = try InputFile(path: task.path)
            _ = try reader.readContent(of: file, kind: task.kind) { observation in
                guard observation.field != .dnsAnswer, observation.field != .dnsQuery,
                      let index = table.lookup(observation.value), let host = observation.host.text, !host.isEmpty
                else { return }
                let contact = Contact(
                    locator: observation.locator, time: observation.time, host: host,
                    address: addresses.indicators[index].value, field: observation.field.rawValue)
                if observation.field.isIPHeader {
                    let closed = conversations.add(
                        [host, contact.address], time: observation.time, bytes: UInt64(observation.packetLength),
                        value: { contact })
                    closed.forEach(keep)
                } else {
                    contacts.append(contact)
                }
            }
            conversations.closeAll().forEach(keep)
            try file.drain()
            guard file.sha256Hex == task.sha256 else {
                return .failure(.changedSinceRead(path: task.path, found: file.sha256Hex, stored: task.sha256))
            }
            return .success(try database.recordDerivations(task, contacts: contacts, horizon: horizon))
        } catch {
            return .failure(.chainSearchFailed(path: task.path, cause: error))
        }
    }
}
