import Foundation

/// A PostgreSQL server of a test's own: a new cluster in a temporary directory, listening on
/// a loopback port and on a Unix socket in that directory, stopped and removed when the test
/// is done. Never a system service: CI installs Debian's `postgresql` package for its
/// binaries only (issue 24).
///
/// initdb and the server refuse to run as root, so under root (CI) they run as the
/// `postgres` user Debian's package creates, through `runuser` or `setpriv`, in a directory
/// chowned to it; otherwise they run as the current user. The cluster trusts every local
/// connection (it is reachable from this machine only and lives for one test) and its
/// superuser is `postgres` either way.
///
/// Use ``with(database:tls:_:)``, which stops the server however the body ends; a test that
/// needs it is `.enabled(if: ThrowawayPostgres.binaries != nil)`, so a machine without the
/// binaries reports the test as skipped.
///
/// With `tls: .required` the server has a certificate from a throwaway CA of its own
/// (``caCertificatePath``) and refuses TCP connections without TLS. ``restart()`` ends
/// every connection and starts the server again on the same port, its data kept.
public final class ThrowawayPostgres: Sendable {
    /// The superuser initdb creates; trusted on loopback and the socket, without a password.
    public static let user = "postgres"
    /// The loopback address the server listens on.
    public static let host = "127.0.0.1"

    /// The TCP port the server listens on.
    public let port: Int
    /// The database created for the test.
    public let database: String
    /// Whether the server offers TLS, and refuses TCP connections without it.
    public let tls: TLS
    /// The directory holding the Unix socket (`.s.PGSQL.<port>`), the data directory and the log.
    public let directory: URL
    /// The Unix socket's path, for clients that connect without TCP.
    public var socketPath: String { directory.appendingPathComponent(".s.PGSQL.\(port)").path }
    /// A connection URL in the form `cairn --db` will take: `postgresql://postgres@127.0.0.1:PORT/DB`.
    public var url: String { "postgresql://\(Self.user)@\(Self.host):\(port)/\(database)" }
    /// The PEM certificate of the CA that signed the server's certificate, for `sslrootcert`;
    /// nil when TLS is off.
    public var caCertificatePath: String? {
        tls == .off ? nil : CertificateAuthority(directory: directory).certificatePath
    }

    private let binaries: Binaries
    private let account: Account
    private var dataDirectory: URL { directory.appendingPathComponent("data") }
    private var logFile: URL { directory.appendingPathComponent("server.log") }
    private var serverCertificate: URL { directory.appendingPathComponent("server.crt") }
    private var serverKey: URL { directory.appendingPathComponent("server.key") }
    private var hostBasedAuthentication: URL { directory.appendingPathComponent("pg_hba.conf") }

    private init(port: Int, database: String, tls: TLS, directory: URL, binaries: Binaries, account: Account) {
        self.port = port
        self.database = database
        self.tls = tls
        self.directory = directory
        self.binaries = binaries
        self.account = account
    }

    /// The server binaries of this machine, nil when there are none: the tests that need a
    /// server are then skipped.
    public static let binaries: Binaries? = Binaries.find()

    /// Starts a server with `database` in it, runs `body` with it, then stops the server and
    /// removes its directory, also when `body` throws.
    public static func with<Result>(
        database: String = "cairn", tls: TLS = .off,
        _ body: (ThrowawayPostgres) async throws -> Result
    ) async throws -> Result {
        let server = try start(database: database, tls: tls)
        do {
            let result = try await body(server)
            server.stop()
            return result
        } catch {
            server.stop()
            throw error
        }
    }

    /// Starts a new cluster with `database` in it; the caller must call ``stop()``.
    /// Throws a ``Failure`` saying which step failed and what the tool printed; whatever
    /// was started by then is stopped and removed.
    public static func start(
        database: String = "cairn", tls: TLS = .off, binaries: Binaries? = binaries
    ) throws -> ThrowawayPostgres {
        guard let binaries else { throw Failure.binariesMissing(searched: Binaries.searchedPlaces()) }
        let account = try Account.current()
        let directory = try makeDirectory(ownedBy: account)
        let server: ThrowawayPostgres
        do {
            try initialise(directory.appendingPathComponent("data"), binaries: binaries, account: account)
            if tls == .required { try prepareTLS(in: directory, account: account) }
            server = try launch(
                database: database, tls: tls, directory: directory, binaries: binaries, account: account,
                attemptsLeft: portAttempts)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        do {
            try server.createDatabase()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Stops the server (fast shutdown: open connections are ended) and removes its
    /// directory. Safe to call more than once: a removed directory means already stopped.
    public func stop() {
        guard FileManager.default.fileExists(atPath: directory.path) else { return }
        let stopped = try? account.run(
            binaries.pgCtl, ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "30"], in: directory)
        if stopped?.status != 0, let pid = serverProcessID() {
            kill(pid, SIGQUIT)  // pg_ctl failed: the postmaster's immediate shutdown
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server with a fast shutdown, keeping its data, and starts it again on the
    /// same port; returns once it accepts connections. Every open connection ends, told
    /// why (SQLSTATE 57P01), as in a real server's restart. For a server of the test's own
    /// (``start(database:tls:binaries:)``): on ``shared`` it would cut other tests' connections.
    public func restart() throws {
        try stopKeepingData()
        try startAgain()
    }

    /// Stops the server (fast shutdown: open connections are ended, each told so) and
    /// keeps its directory, for ``startAgain()``.
    public func stopKeepingData() throws {
        let result = try account.run(
            binaries.pgCtl, ["stop", "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "30"], in: directory)
        guard result.status == 0 else { throw Failure.stopFailed(output: result.output) }
    }

    /// Starts the server stopped by ``stopKeepingData()`` again, on the same port; returns
    /// once it accepts connections.
    public func startAgain() throws {
        try startServer()
    }

    /// Ports tried at random: below Linux's ephemeral range (32768–60999), so that no
    /// client socket of this machine holds one by chance.
    private static let portRange = 15_000..<32_000
    /// How many ports to try before giving up when the chosen one is taken.
    private static let portAttempts = 5
    /// How long pg_ctl waits for the server to accept connections, in seconds.
    private static let startTimeout = 60

    private static func makeDirectory(ownedBy account: Account) throws -> URL {
        // Short: a Unix socket's path must fit in 107 bytes.
        let name = "cairn-pg-" + UUID().uuidString.prefix(8).lowercased()
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        try account.takeOwnership(of: directory)
        return directory
    }

    private static func initialise(_ dataDirectory: URL, binaries: Binaries, account: Account) throws {
        let arguments = [
            "-D", dataDirectory.path, "-U", user, "--auth=trust",
            // The C locale: the cluster does not depend on which locales the machine generated.
            "--locale=C", "--encoding=UTF8", "--no-sync",
        ]
        let result = try account.run(binaries.initdb, arguments, in: dataDirectory.deletingLastPathComponent())
        guard result.status == 0 else { throw Failure.initdbFailed(status: result.status, output: result.output) }
    }

    /// Starts the server on a port chosen at random, and on another when someone else
    /// bound that one between the choice and the server's start.
    private static func launch(
        database: String, tls: TLS, directory: URL, binaries: Binaries, account: Account, attemptsLeft: Int
    ) throws -> ThrowawayPostgres {
        let server = ThrowawayPostgres(
            port: Int.random(in: portRange), database: database, tls: tls, directory: directory, binaries: binaries,
            account: account)
        try? FileManager.default.removeItem(at: server.logFile)  // a failed attempt's: only this start's is read
        do {
            try server.startServer()
        } catch Failure.startFailed(_, let log) where log.contains("could not bind") && attemptsLeft > 1 {
            return try launch(
                database: database, tls: tls, directory: directory, binaries: binaries, account: account,
                attemptsLeft: attemptsLeft - 1)
        } catch {
            server.stop()  // pg_ctl may have given up waiting on a server that still starts
            throw error
        }
        return server
    }

    private func startServer() throws {
        // A test server: nothing needs to survive a crash, so durability is off for speed.
        var options = [
            "-p \(port)", "-k \(directory.path)", "-c listen_addresses=\(Self.host)",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
        ]
        if tls == .required {
            options += [
                "-c ssl=on", "-c ssl_cert_file=\(serverCertificate.path)", "-c ssl_key_file=\(serverKey.path)",
                "-c hba_file=\(hostBasedAuthentication.path)",
            ]
        }
        let arguments = [
            "start", "-D", dataDirectory.path, "-l", logFile.path, "-o", options.joined(separator: " "),
            "-w", "-t", "\(Self.startTimeout)",
        ]
        let result = try account.run(
            "/bin/bash", ["-c", Self.closingInheritedDescriptors, "pg_ctl", binaries.pgCtl] + arguments, in: directory)
        guard result.status == 0 else {
            let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            throw Failure.startFailed(output: result.output, log: log)
        }
    }

    /// A shell script that closes every descriptor above standard error, then runs its
    /// arguments. Foundation's `Process` learns that a child exited when a socket it hands
    /// the child closes; the server pg_ctl leaves running would inherit that socket and hold
    /// it open, so `waitUntilExit()` would wait for the server, not for pg_ctl.
    private static let closingInheritedDescriptors = """
        for fd in /proc/self/fd/*; do fd=${fd##*/}; if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done 2>/dev/null
        exec "$@"
        """

    private func createDatabase() throws {
        try createDatabase(named: database)
    }

    /// Creates the database `name` on this server.
    func createDatabase(named name: String) throws {
        let arguments = ["-h", directory.path, "-p", "\(port)", "-U", Self.user, name]
        let result = try account.run(binaries.createdb, arguments, in: directory)
        guard result.status == 0 else { throw Failure.createdbFailed(output: result.output) }
    }

    /// Stops the server (immediate shutdown) and removes its directory once process
    /// `owner` has ended, however it ends: a watchdog shell loop of its own, for the
    /// server a whole test process shares (a test process's exit handlers do not always
    /// run). The loop is detached: its descriptors are closed or /dev/null, so no one
    /// waits for it, and it watches `/proc`, which it may read whoever it runs as.
    func stopWhenGone(_ owner: pid_t) throws {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid").path
        let watch = """
            while [ -d /proc/\(owner) ]; do sleep 1; done
            kill -QUIT "$(head -n 1 '\(pidFile)')" 2>/dev/null
            for _ in $(seq 30); do [ -e '\(pidFile)' ] || break; sleep 1; done
            rm -rf '\(directory.path)'
            """
        let detach = "setsid /bin/bash -c \"$0\" </dev/null >/dev/null 2>&1 &"
        let result = try account.run(
            "/bin/bash", ["-c", Self.closingInheritedDescriptors, "watchdog", "/bin/bash", "-c", detach, watch], in: directory)
        guard result.status == 0 else { throw Failure.startFailed(output: "the watchdog: " + result.output, log: "") }
    }

    /// The postmaster's process id, from the first line of `postmaster.pid`.
    private func serverProcessID() -> pid_t? {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// Why a server could not be started; the description says what to do.
    public enum Failure: Error, CustomStringConvertible {
        case binariesMissing(searched: [String])
        case noServerAccount(reason: String)
        case initdbFailed(status: Int32, output: String)
        case startFailed(output: String, log: String)
        case createdbFailed(output: String)
        case stopFailed(output: String)
        case certificateFailed(step: String, output: String)

        public var description: String {
            switch self {
            case .binariesMissing(let searched):
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres, createdb in one directory) in "
                    + searched.joined(separator: ", ") + "; install Debian's postgresql package"
            case .noServerAccount(let reason):
                "running as root, and initdb refuses root: \(reason)"
            case .initdbFailed(let status, let output):
                "initdb failed with status \(status):\n\(output)"
            case .startFailed(let output, let log):
                "the server did not start:\n\(output)\nserver log:\n\(log)"
            case .createdbFailed(let output):
                "createdb failed:\n\(output)"
            case .stopFailed(let output):
                "the server did not stop:\n\(output)"
            case .certificateFailed(let step, let output):
                "openssl could not \(step) (is the openssl command installed?):\n\(output)"
            }
        }
    }

    /// The directory holding initdb, pg_ctl, postgres and createdb of one PostgreSQL version.
    public struct Binaries: Sendable {
        /// The directory's path, e.g. `/usr/lib/postgresql/15/bin`.
        public let directory: String
        var initdb: String { directory + "/initdb" }
        var pgCtl: String { directory + "/pg_ctl" }
        var createdb: String { directory + "/createdb" }

        static let required = ["initdb", "pg_ctl", "postgres", "createdb"]
        /// Where Debian's packages put each version's server binaries.
        public static let versionedRoot = "/usr/lib/postgresql"

        /// The first directory holding all of ``required``: an initdb on PATH (followed
        /// through symbolic links to where its siblings are), then the highest version
        /// under `/usr/lib/postgresql/*/bin`.
        public static func find(
            path: String? = ProcessInfo.processInfo.environment["PATH"], versionedRoot: String = versionedRoot
        ) -> Binaries? {
            candidates(path: path, versionedRoot: versionedRoot).lazy.map(Binaries.init).first(where: \.isComplete)
        }

        static func searchedPlaces(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> [String] {
            ["PATH (\(path ?? ""))", versionedRoot + "/*/bin"]
        }

        private static func candidates(path: String?, versionedRoot: String) -> [String] {
            let onPath = (path ?? "").split(separator: ":").map { directory in
                URL(fileURLWithPath: String(directory)).appendingPathComponent("initdb")
                    .resolvingSymlinksInPath().deletingLastPathComponent().path
            }
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: versionedRoot)) ?? []
            let versioned = versions.sorted { $0.compare($1, options: .numeric) == .orderedDescending }
                .map { "\(versionedRoot)/\($0)/bin" }
            return onPath + versioned
        }

        private var isComplete: Bool {
            Self.required.allSatisfy { FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)") }
        }
    }

    /// Whom initdb, pg_ctl and the server run as: the current user, or under root the
    /// `postgres` user through a command that drops to it.
    private enum Account: Sendable {
        case current
        case serverUser(switchCommand: [String])

        static func current() throws -> Account {
            guard getuid() == 0 else { return .current }
            let user = ThrowawayPostgres.user
            guard (try? ExternalCommand.runCombined("/usr/bin/id", ["-u", user]))?.status == 0 else {
                throw Failure.noServerAccount(
                    reason: "there is no '\(ThrowawayPostgres.user)' user to run it as (Debian's postgresql package creates one)")
            }
            if let runuser = ["/usr/sbin/runuser", "/sbin/runuser"].first(where: FileManager.default.isExecutableFile) {
                return .serverUser(switchCommand: [runuser, "-u", user, "--"])
            }
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
                return .serverUser(switchCommand: ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups"])
            }
            throw Failure.noServerAccount(reason: "neither runuser nor setpriv (util-linux) is installed")
        }

        func takeOwnership(of directory: URL) throws {
            guard case .serverUser = self else { return }
            try FileManager.default.setAttributes(
                [.ownerAccountName: ThrowawayPostgres.user, .groupOwnerAccountName: ThrowawayPostgres.user],
                ofItemAtPath: directory.path)
        }

        /// Runs `executable` as this account in `directory`: its exit status and its
        /// standard output and error together.
        func run(_ executable: String, _ arguments: [String], in directory: URL) throws -> (status: Int32, output: String) {
            switch self {
            case .current:
                try ExternalCommand.runCombined(executable, arguments, in: directory)
            case .serverUser(let switchCommand):
                try ExternalCommand.runCombined(switchCommand[0], Array(switchCommand.dropFirst()) + [executable] + arguments, in: directory)
            }
        }
    }
}

// MARK: TLS

extension ThrowawayPostgres {
    /// Whether a server offers TLS.
    public enum TLS: Sendable, Equatable {
        /// No certificate: TLS is not offered.
        case off
        /// A certificate for `127.0.0.1` and `localhost` signed by a throwaway CA of the
        /// server's own (``caCertificatePath``). TCP connections without TLS are refused
        /// (`hostssl` only); the Unix socket, which createdb uses, needs none.
        case required
    }

    /// One server with `tls: .required` for the whole test process, like `shared`: started
    /// on first use, stopped and removed by a watchdog once the process has ended. Tests on
    /// it each take a database of their own (``newDatabase()``).
    public static let sharedWithTLS = Result { try startForThisProcess(tls: .required) }

    /// A server stopped and removed once this test process has ended (`stopWhenGone`).
    static func startForThisProcess(tls: TLS) throws -> ThrowawayPostgres {
        let server = try ThrowawayPostgres.start(database: "cairn", tls: tls)
        do {
            try server.stopWhenGone(getpid())
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Creates a new empty database on this server and returns its name.
    public func newDatabase() throws -> String {
        let name = "case_" + UUID().uuidString.prefix(12).lowercased()
        try createDatabase(named: name)
        return name
    }

    /// The URL of `database` on this server as `cairn --db` takes it, through `host` (the
    /// server listens on 127.0.0.1; `localhost` names it too) with `parameters` as its
    /// query, e.g. `sslmode=verify-full&sslrootcert=/tmp/…/ca.crt`.
    public func url(database: String, host: String = ThrowawayPostgres.host, parameters: String) -> String {
        "postgresql://\(Self.user)@\(host):\(port)/\(database)?\(parameters)"
    }

    /// Writes, in `directory`, the server's CA, its certificate and key, and a pg_hba.conf
    /// taking TCP connections over TLS only. The server refuses a key that others may read
    /// or that is not its account's, hence the owner and mode.
    private static func prepareTLS(in directory: URL, account: Account) throws {
        let authority = try CertificateAuthority.create(in: directory, name: "Cairn throwaway CA")
        let key = directory.appendingPathComponent("server.key")
        try authority.issueServerCertificate(
            certificate: directory.appendingPathComponent("server.crt"), key: key,
            subjectAltName: "IP:\(host),DNS:localhost")
        try account.takeOwnership(of: key)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        let rules = """
            # ThrowawayPostgres, tls: .required: TCP with TLS or not at all.
            local      all  all                 trust
            hostssl    all  all  \(host)/32  trust
            hostnossl  all  all  \(host)/32  reject

            """
        try rules.write(to: directory.appendingPathComponent("pg_hba.conf"), atomically: true, encoding: .utf8)
    }

    /// A throwaway certificate authority: a P-256 key and a self-signed certificate, made
    /// with the `openssl` command, valid for two days.
    public struct CertificateAuthority: Sendable {
        /// The CA's PEM certificate, what a client trusts (`sslrootcert`).
        public let certificatePath: String
        let keyPath: String

        /// Whether this machine has the `openssl` command; tests that need a CA skip without it.
        public static let isAvailable: Bool = ExternalCommand.run("openssl", ["version"])?.status == 0

        /// The CA whose files are `ca.crt` and `ca.key` in `directory`.
        init(directory: URL) {
            certificatePath = directory.appendingPathComponent("ca.crt").path
            keyPath = directory.appendingPathComponent("ca.key").path
        }

        /// Makes a new CA called `name` in `directory` (`ca.crt`, `ca.key`): unrelated to
        /// every other, so a client trusting it trusts no other CA's certificates.
        public static func create(in directory: URL, name: String) throws -> CertificateAuthority {
            let authority = CertificateAuthority(directory: directory)
            try Self.openssl(
                "make a CA",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", authority.keyPath, "-out", authority.certificatePath, "-days", "\(Self.validDays)",
                    "-subj", "/CN=\(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                ])
            return authority
        }

        /// Writes a new key at `key` and a certificate for it at `certificate`, signed by
        /// this CA, for a TLS server named by `subjectAltName` (`IP:127.0.0.1,DNS:localhost`).
        public func issueServerCertificate(certificate: URL, key: URL, subjectAltName: String) throws {
            let request = certificate.appendingPathExtension("csr")
            let extensions = certificate.appendingPathExtension("ext")
            defer {
                try? FileManager.default.removeItem(at: request)
                try? FileManager.default.removeItem(at: extensions)
            }
            try Self.openssl(
                "make a server key",
                [
                    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key.path, "-out", request.path, "-subj", "/CN=Cairn throwaway server",
                ])
            try """
                subjectAltName = \(subjectAltName)
                basicConstraints = critical,CA:FALSE
                keyUsage = critical,digitalSignature
                extendedKeyUsage = serverAuth

                """.write(to: extensions, atomically: true, encoding: .utf8)
            // A random serial: clients may cache certificates by issuer and serial.
            let serial = "0x" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
            try Self.openssl(
                "sign the server certificate",
                [
                    "x509", "-req", "-in", request.path, "-CA", certificatePath, "-CAkey", keyPath,
                    "-set_serial", serial, "-days", "\(Self.validDays)", "-extfile", extensions.path,
                    "-out", certificate.path,
                ])
        }

        /// Long enough for any test process; short, since nothing should outlive one.
        private static let validDays = 2

        private static func openssl(_ step: String, _ arguments: [String]) throws {
            let result: (status: Int32, output: String)
            do {
                result = try ExternalCommand.runCombined("openssl", arguments)
            } catch {
                throw Failure.certificateFailed(step: step, output: "\(error)")
            }
            guard result.status == 0 else { throw Failure.certificateFailed(step: step, output: result.output) }
        }
    }
}
