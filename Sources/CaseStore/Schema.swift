import GRDB

/// The case database schema, as named migrations.
///
/// A migration is never edited once it has shipped: a schema change is a new
/// migration appended here (GRDB records the names it has applied in
/// `grdb_migrations`, so a database opened by a newer Cairn catches up and one opened
/// twice is left alone). docs/schema.md describes the tables for users and scripts.
enum Schema {
    /// The migrator holding every migration, oldest first.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.execute(sql: v1Initial)
        }
        migrator.registerMigration("v2-custody") { db in
            try db.execute(sql: v2Custody)
        }
        migrator.registerMigration("v3-incident-identity") { db in
            try db.execute(sql: v3IncidentIdentity)
        }
        migrator.registerMigration("v4-source-accounting") { db in
            try db.execute(sql: v4SourceAccounting)
        }
        migrator.registerMigration("v5-incident-ranges") { db in
            try db.execute(sql: v5IncidentRanges)
        }
        migrator.registerMigration("v6-log-settings") { db in
            try db.execute(sql: v6LogSettings)
        }
        return migrator
    }

    /// The first schema. Times are ISO 8601 UTC text (`2024-03-01T12:00:00Z`); where a
    /// time is also kept as integer nanoseconds since the Unix epoch (`*_ns`), that
    /// column is the one to sort and compare on.
    private static let v1Initial = """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            version TEXT NOT NULL,
            rules_digest TEXT NOT NULL,
            command_line TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed'))
        );

        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            path TEXT NOT NULL,
            size INTEGER,
            sha256 TEXT,
            kind TEXT CHECK (kind IN ('pcap', 'pcapng', 'gzip', 'text')),
            status TEXT NOT NULL CHECK (status IN ('reading', 'complete', 'failed')),
            error TEXT,
            packets INTEGER NOT NULL DEFAULT 0,
            lines INTEGER NOT NULL DEFAULT 0,
            bytes INTEGER NOT NULL DEFAULT 0,
            anomalies TEXT NOT NULL DEFAULT '{}',
            notes TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );
        -- Each file content is recorded complete at most once.
        CREATE UNIQUE INDEX sources_complete_sha256 ON sources(sha256) WHERE status = 'complete';
        CREATE INDEX sources_complete_size ON sources(size) WHERE status = 'complete';
        CREATE INDEX sources_path ON sources(path);
        CREATE INDEX sources_run ON sources(run_id);

        CREATE TABLE indicators (
            id INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            value TEXT NOT NULL,
            rule_file TEXT NOT NULL,
            rule_line INTEGER NOT NULL,
            UNIQUE (type, value, rule_file, rule_line)
        );

        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            locator_kind TEXT NOT NULL CHECK (locator_kind IN ('packet', 'line')),
            locator INTEGER NOT NULL,
            byte_offset INTEGER,
            time_ns INTEGER NOT NULL,
            time TEXT NOT NULL,
            indicator_id INTEGER NOT NULL REFERENCES indicators(id),
            observed TEXT NOT NULL,
            field TEXT NOT NULL,
            host TEXT NOT NULL
        );
        CREATE INDEX sightings_source ON sightings(source_id);
        CREATE INDEX sightings_time ON sightings(time_ns);

        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            host TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            first_seen_ns INTEGER NOT NULL,
            last_seen_ns INTEGER NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
            title TEXT NOT NULL,
            indicators TEXT NOT NULL,
            sighting_count INTEGER NOT NULL
        );
        CREATE INDEX incidents_last_seen ON incidents(last_seen_ns);

        CREATE TABLE incident_sightings (
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
            PRIMARY KEY (incident_id, sighting_id)
        ) WITHOUT ROWID;
        -- Deleting a source cascades to its sightings and from them to here: without
        -- this index every deleted sighting would scan the table.
        CREATE INDEX incident_sightings_sighting ON incident_sightings(sighting_id);
        """

    /// The custody log: one row per run or export, each holding the SHA-256 of the
    /// previous row's canonical serialisation (`CustodyEntry.canonicalSerialisation`),
    /// the first chaining to 64 zeros. Triggers make the table append-only: an UPDATE or
    /// DELETE aborts, so nothing in Cairn (nor a careless SQL session) changes history;
    /// someone who drops the triggers to edit it still breaks the chain.
    private static let v2Custody = """
        CREATE TABLE custody_entries (
            id INTEGER PRIMARY KEY,
            recorded_at TEXT NOT NULL,
            user TEXT NOT NULL,
            host TEXT NOT NULL,
            action TEXT NOT NULL,
            command_line TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            rules_digest TEXT NOT NULL,
            inputs TEXT NOT NULL,
            outputs TEXT NOT NULL,
            previous_hash TEXT NOT NULL,
            entry_hash TEXT NOT NULL
        );
        CREATE TRIGGER custody_entries_no_update BEFORE UPDATE ON custody_entries
        BEGIN
            SELECT RAISE(ABORT, 'custody entries are append-only: an entry cannot be changed');
        END;
        CREATE TRIGGER custody_entries_no_delete BEFORE DELETE ON custody_entries
        BEGIN
            SELECT RAISE(ABORT, 'custody entries are append-only: an entry cannot be deleted');
        END;
        """

    /// Incidents that keep their id from run to run, triage history, and the indicator
    /// metadata that severity and confidence are computed from.
    ///
    /// - `indicators` gains the metadata of the rule entry (feed, severity, confidence,
    ///   TLP, description).
    /// - `incidents` is rebuilt (SQLite cannot widen a CHECK constraint): severity has
    ///   the five levels `info`…`critical`; `confidence`; `explanation` says what made it
    ///   an incident and how its severity was reached; `merged_into` is set when a later
    ///   run joined it to an older incident, which keeps its id.
    /// - `triage_events` is append-only like the custody log: the status of an incident
    ///   is that of its latest event, `new` when it has none.
    /// - IP sightings are per conversation: `sightings.packets`, `bytes` and
    ///   `last_time_ns`/`last_time` say how many packets of the conversation hit the
    ///   indicator, their bytes on the wire, and when the last one was seen (NULL bytes
    ///   and last time for a sighting of one packet or line).
    /// - `sightings.suppressed_by` names the allow-list entry that suppressed a sighting
    ///   (kept, but left out of incidents); `sightings.context` lists the other, wider
    ///   indicators the value also matched.
    /// - Correlation rules: `line_events` are the log lines a base rule of
    ///   `Rules/correlation` selected (by name, comma-separated in `base_rules`);
    ///   an incident a correlation rule made has `rule_id` and `group_key`, its
    ///   sightings in `incident_sightings` and its lines in `incident_line_events`.
    /// - DNS chains: `resolutions` are the addresses a DNS answer gave for a name that
    ///   matched a domain indicator; `sightings.derived_from` marks a sighting of a later
    ///   connection to such an address, derived from the resolution; `derivation_scans`
    ///   records which sources have been searched for which resolution's address; and
    ///   `sources.first_event_ns`/`last_event_ns` bound the event times a source holds, so
    ///   that only sources overlapping a resolution's horizon are searched.
    private static let v3IncidentIdentity = """
        ALTER TABLE indicators ADD COLUMN source TEXT;
        ALTER TABLE indicators ADD COLUMN severity TEXT;
        ALTER TABLE indicators ADD COLUMN confidence INTEGER;
        ALTER TABLE indicators ADD COLUMN tlp TEXT;
        ALTER TABLE indicators ADD COLUMN description TEXT;

        CREATE TABLE incidents_v3 (
            id INTEGER PRIMARY KEY,
            host TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            first_seen_ns INTEGER NOT NULL,
            last_seen_ns INTEGER NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
            confidence INTEGER NOT NULL DEFAULT 50,
            title TEXT NOT NULL,
            indicators TEXT NOT NULL,
            sighting_count INTEGER NOT NULL,
            explanation TEXT NOT NULL DEFAULT '',
            merged_into INTEGER REFERENCES incidents(id),
            rule_id TEXT,
            group_key TEXT,
            line_count INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO incidents_v3 (id, host, first_seen, last_seen, first_seen_ns, last_seen_ns, severity, title,
                                  indicators, sighting_count)
            SELECT id, host, first_seen, last_seen, first_seen_ns, last_seen_ns, severity, title, indicators,
                   sighting_count
            FROM incidents;
        DROP TABLE incidents;
        ALTER TABLE incidents_v3 RENAME TO incidents;
        CREATE INDEX incidents_last_seen ON incidents(last_seen_ns);

        CREATE TABLE triage_events (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            recorded_at TEXT NOT NULL,
            user TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('new', 'investigating', 'escalated', 'closed')),
            assignee TEXT,
            note TEXT
        );
        CREATE INDEX triage_events_incident ON triage_events(incident_id, id);
        CREATE TRIGGER triage_events_no_update BEFORE UPDATE ON triage_events
        BEGIN
            SELECT RAISE(ABORT, 'triage history is append-only: an event cannot be changed');
        END;
        CREATE TRIGGER triage_events_no_delete BEFORE DELETE ON triage_events
        BEGIN
            SELECT RAISE(ABORT, 'triage history is append-only: an event cannot be deleted');
        END;

        ALTER TABLE sources ADD COLUMN first_event_ns INTEGER;
        ALTER TABLE sources ADD COLUMN last_event_ns INTEGER;

        CREATE TABLE resolutions (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            packet INTEGER NOT NULL,
            time_ns INTEGER NOT NULL,
            host TEXT NOT NULL,
            indicator_id INTEGER NOT NULL REFERENCES indicators(id),
            name TEXT NOT NULL,
            address TEXT NOT NULL
        );
        CREATE INDEX resolutions_address ON resolutions(address, host, time_ns);
        CREATE INDEX resolutions_source ON resolutions(source_id);

        CREATE TABLE derivation_scans (
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            resolution_id INTEGER NOT NULL REFERENCES resolutions(id) ON DELETE CASCADE,
            PRIMARY KEY (source_id, resolution_id)
        ) WITHOUT ROWID;
        CREATE INDEX derivation_scans_resolution ON derivation_scans(resolution_id);

        ALTER TABLE sightings ADD COLUMN packets INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE sightings ADD COLUMN bytes INTEGER;
        ALTER TABLE sightings ADD COLUMN last_time_ns INTEGER;
        ALTER TABLE sightings ADD COLUMN last_time TEXT;
        ALTER TABLE sightings ADD COLUMN suppressed_by TEXT;
        ALTER TABLE sightings ADD COLUMN context TEXT;
        ALTER TABLE sightings ADD COLUMN derived_from INTEGER REFERENCES resolutions(id) ON DELETE CASCADE;
        CREATE UNIQUE INDEX sightings_derived_once
            ON sightings(source_id, locator_kind, locator, field, indicator_id, observed)
            WHERE derived_from IS NOT NULL;
        CREATE INDEX sightings_derived_from ON sightings(derived_from) WHERE derived_from IS NOT NULL;

        CREATE TABLE line_events (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            line INTEGER NOT NULL,
            byte_offset INTEGER NOT NULL,
            time_ns INTEGER NOT NULL,
            host TEXT NOT NULL,
            log_src TEXT,
            log_dst TEXT,
            base_rules TEXT NOT NULL
        );
        CREATE INDEX line_events_source ON line_events(source_id);

        CREATE TABLE incident_line_events (
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            line_event_id INTEGER NOT NULL REFERENCES line_events(id) ON DELETE CASCADE,
            PRIMARY KEY (incident_id, line_event_id)
        ) WITHOUT ROWID;
        CREATE INDEX incident_line_events_event ON incident_line_events(line_event_id);
        """

    /// The read account of each source (`ReadSummary`), so that what was read, what
    /// could not be and why adds up from the database alone (docs/schema.md):
    /// `packets = packets_decoded + packets_anomalous + packets_undecodable +
    /// packets_filtered`, `bytes_consumed + bytes_unread = size`, and for logs
    /// `line_bytes + separator_bytes + cut_bytes = bytes`.
    ///
    /// The columns have no default: rows written before this migration, and sources
    /// that could not be opened at all, keep NULL there (not 0, which would claim an
    /// account that was never taken). A source finished by this version has every column
    /// set, 0 where a count does not apply (line bytes of a capture).
    private static let v4SourceAccounting = """
        ALTER TABLE sources ADD COLUMN packets_decoded INTEGER;
        ALTER TABLE sources ADD COLUMN packets_anomalous INTEGER;
        ALTER TABLE sources ADD COLUMN packets_undecodable INTEGER;
        ALTER TABLE sources ADD COLUMN packets_filtered INTEGER;
        ALTER TABLE sources ADD COLUMN bytes_consumed INTEGER;
        ALTER TABLE sources ADD COLUMN bytes_unread INTEGER;
        ALTER TABLE sources ADD COLUMN line_bytes INTEGER;
        ALTER TABLE sources ADD COLUMN separator_bytes INTEGER;
        ALTER TABLE sources ADD COLUMN cut_bytes INTEGER;
        """

    /// A grouping incident (made by the default grouping, `rule_id` NULL) holds the
    /// sightings of its host within its time span: correlation groups one host's
    /// sightings by time, so the span says which they are without one link row per
    /// sighting (writing ten million links took longer than reading the sightings). The
    /// `incident_members` view lists the members of every incident: grouping
    /// incidents' by host and span, rule incidents' from `incident_sightings`, which
    /// now holds rule incidents' links only. A sighting with no host belongs to the host
    /// `(unknown)`. PostgreSQL's migration of the same name is this same text
    /// (`PostgresSchema`).
    static let v5IncidentRanges = """
        DELETE FROM incident_sightings
            WHERE incident_id IN (SELECT id FROM incidents WHERE rule_id IS NULL);
        CREATE INDEX sightings_host_time ON sightings(host, time_ns);
        CREATE INDEX incidents_host ON incidents(host, first_seen_ns) WHERE rule_id IS NULL;
        CREATE VIEW incident_members (incident_id, sighting_id) AS
            SELECT i.id, s.id
            FROM incidents i
            JOIN sightings s ON s.host = i.host AND s.time_ns BETWEEN i.first_seen_ns AND i.last_seen_ns
            JOIN sources src ON src.id = s.source_id
            WHERE i.rule_id IS NULL AND i.merged_into IS NULL AND i.sighting_count > 0 AND i.host != '(unknown)'
                AND s.suppressed_by IS NULL AND src.status != 'reading'
            UNION ALL
            SELECT i.id, s.id
            FROM incidents i
            JOIN sightings s ON s.host = '' AND s.time_ns BETWEEN i.first_seen_ns AND i.last_seen_ns
            JOIN sources src ON src.id = s.source_id
            WHERE i.rule_id IS NULL AND i.merged_into IS NULL AND i.sighting_count > 0 AND i.host = '(unknown)'
                AND s.suppressed_by IS NULL AND src.status != 'reading'
            UNION ALL
            SELECT incident_id, sighting_id FROM incident_sightings;
        """

    /// How a run read its logs (`LogSettings`), so that a log sighting's time and a cut
    /// line can be explained from the database alone: the offset taken for times
    /// written without a zone, the year given for RFC 3164 times (NULL: inferred per
    /// file), the line limit and the decompressed-size limit. Runs recorded before this
    /// migration keep NULL in all four: their settings were not kept.
    ///
    /// And per source, the first line of a gzip member that reading stopped inside
    /// (`ReadSummary.unverifiedFromLine`): that member's CRC-32 was never checked, so
    /// its lines, and the sightings on them, are unverified. NULL: every line read was
    /// verified, or the source is no gzip log, or it was read before this migration.
    ///
    /// And host names resolved to addresses (`HostNames.swift`): `host_addresses` holds
    /// the DHCP leases read (which address a client of a name was given, where, when);
    /// a log sighting whose header's host name they resolve takes the address as its
    /// `host`, and keeps the name in `host_name` (NULL for every other sighting).
    private static let v6LogSettings = """
        ALTER TABLE runs ADD COLUMN log_timezone TEXT;
        ALTER TABLE runs ADD COLUMN log_year INTEGER;
        ALTER TABLE runs ADD COLUMN line_limit INTEGER;
        ALTER TABLE runs ADD COLUMN decompressed_limit INTEGER;
        ALTER TABLE sources ADD COLUMN unverified_from_line INTEGER;

        CREATE TABLE host_addresses (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            locator_kind TEXT NOT NULL CHECK (locator_kind IN ('packet', 'line')),
            locator INTEGER NOT NULL,
            time_ns INTEGER NOT NULL,
            name TEXT NOT NULL,
            address TEXT NOT NULL
        );
        CREATE INDEX host_addresses_source ON host_addresses(source_id);
        ALTER TABLE sightings ADD COLUMN host_name TEXT;
        """
}
