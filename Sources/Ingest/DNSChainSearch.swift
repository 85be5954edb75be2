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
    /// The contacts found while the captures were read (`FirstPassChains`), by source id:
    /// a task for the resolutions a capture read itself, and all of them, takes them
    /// instead of reading the file (the first pass found only the contacts after each
    /// address's first answer in the file).
    var firstPass: [Int64: ChainContacts] = [:]

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

    /// Reads the task's source for observations of its addresses by a known host (unless
    /// the first pass found them), checks that the file still has the SHA-256 it had when
    /// it was read, and stores the derived sightings.
    private func search(_ task: DerivationTask) -> Result<Int, IngestError> {
        do {
            let contacts: [Contact]
            if !task.hasOtherSourcesResolutions, let found = firstPass[task.sourceID],
               found.addresses == Set(task.addresses)
            {
                contacts = found.contacts
            } else {
                contacts = try read(task)
            }
            return .success(try database.recordDerivations(task, contacts: contacts, horizon: horizon))
        } catch let error as IngestError {
            return .failure(error)
        } catch {
            return .failure(.chainSearchFailed(path: task.path, cause: error))
        }
    }

    private func read(_ task: DerivationTask) throws -> [Contact] {
        var collector = ContactCollector(addresses: ResolvedAddresses(task.addresses))
        let file = try InputFile(path: task.path)
        // Only addresses are looked for: no body digests or fingerprints.
        _ = try reader.readContent(of: file, kind: task.kind, derived: []) { observation in
            if let key = ResolvedAddresses.Key(observation.value) { collector.observe(observation, key: key) }
        }
        let contacts = collector.finish()
        try file.drain()
        guard file.sha256Hex == task.sha256 else {
            throw IngestError.changedSinceRead(path: task.path, found: file.sha256Hex, stored: task.sha256)
        }
        return contacts
    }
}
