import CCorral
import CorralRuntime
import Foundation
import Glibc

/// How nginx's workers share one listening socket: the knobs the seeds' effects depend on.
struct NginxSettings: Sendable, Hashable {
    /// `accept_mutex on`: workers take turns holding the listener (off by default since 1.11.3;
    /// then every worker's epoll waits on it with EPOLLEXCLUSIVE).
    var acceptMutex = false
    /// `listen … reuseport`: one listening socket per worker, spread by the kernel's hash.
    var reusePort = false
    /// `multi_accept on`: a worker accepts every queued connection per wake-up, not one.
    var multiAccept = false

    /// The variants the lab runs, by the strategy name its tables show.
    static let variants: [(name: String, settings: NginxSettings)] = [
        ("nginx", NginxSettings()),
        ("nginx-mutex", NginxSettings(acceptMutex: true)),
        ("nginx-reuseport", NginxSettings(reusePort: true)),
        ("nginx-multi", NginxSettings(multiAccept: true)),
    ]

    /// The settings of strategy `name`, or `nil` if it is not an nginx variant.
    static func named(_ name: String) -> NginxSettings? { variants.first { $0.name == name }?.settings }

    /// What the variant's configuration says, for the method paragraph.
    var summary: String {
        "accept_mutex \(acceptMutex ? "on" : "off"), multi_accept \(multiAccept ? "on" : "off")\(reusePort ? ", listen reuseport" : "")"
    }
}

/// nginx from the distribution, as a subject of the lab: started with a configuration of the
/// lab's own in a temporary directory (master and W workers, answering `GET /` with one byte),
/// stopped and removed after the run. Each worker writes `$pid $connection $connection_requests`
/// to an access log per request, so the per-worker shares of connections and requests come
/// from the workers themselves.
///
/// It listens in the network namespace of the thread that starts it.
final class NginxServer {
    let master: pid_t
    let port: UInt16
    private(set) var workers: [pid_t] = []
    private let directory: String
    private let diag: CInt

    /// The request the lab's clients send, and the length of nginx's answer's body.
    static let request = Array("GET / HTTP/1.1\r\nHost: lab\r\n\r\n".utf8)

    /// Starts nginx with `workers` worker processes listening on `host`; returns once every
    /// worker runs and the socket listens. Throws ``LabSkip`` when nginx is not installed.
    init(workers count: Int, settings: NginxSettings, host: String) throws {
        guard let binary = Subprocess.find("nginx") else { throw LabSkip("nginx is not installed (Scripts/setup.sh installs it)") }
        // 0755: the workers run as nobody when nginx starts as root.
        directory = try Files.makeTemporaryDirectory("/tmp/corral-nginx-", mode: 0o755)
        do {
            diag = try SockDiag.open()
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        do {
            port = try Self.freePort(host: host)
            let config = Self.configuration(directory: directory, workers: count, settings: settings, host: host, port: port)
            try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/nginx.conf"))
            master = try Subprocess.spawn([binary, "-p", directory + "/", "-c", directory + "/nginx.conf", "-e", directory + "/error.log"],
                                          stdout: -1, stderr: -1)
        } catch {
            Posix.close(diag)
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        // Ready: every worker forked and the socket(s) listening (bounded wait).
        let end = deadline(afterMilliseconds: 10_000)
        let sockets = settings.reusePort ? count : 1
        while monotonicNanoseconds() < end {
            workers = Self.children(of: master)
            let listening = (try? SockDiag.listeners(diag, port: port).count) ?? 0
            if workers.count == count && listening >= sockets && ServerThreads(processes: workers).allSleeping() { return }
            if ProcessStat.read(pid: master) == nil || ProcessStat.read(pid: master)?.state == "Z" { break }
            LabPause.microseconds(2000)
        }
        let log = (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8))?.split(separator: "\n").last.map(String.init)
        stop()
        throw LabSkip("nginx did not start \(count) workers within 10 s\(log.map { ": \($0)" } ?? "")")
    }

    /// Connections waiting in the listening socket(s)' accept queues now (tcp_diag).
    func acceptQueue() -> UInt32 {
        ((try? SockDiag.listeners(diag, port: port)) ?? []).reduce(0) { $0 + $1.queued }
    }

    /// Per worker (in `workers` order): connections and requests it served, from the access
    /// log. Waits (bounded) until the log holds `requests` lines: a worker logs a request
    /// after its answer has gone out.
    func shares(expectingRequests requests: Int) throws -> (connections: [Int], requests: [Int]) {
        let path = directory + "/access.log"
        var lines: [Substring] = []
        let end = deadline(afterMilliseconds: 3000)
        repeat {
            let text = ProcFile.read(path) ?? ""
            lines = text.split(separator: "\n")
            if lines.count >= requests { break }
            LabPause.microseconds(1000)
        } while monotonicNanoseconds() < end
        guard lines.count >= requests else {
            throw AcceptLabError("nginx logged \(lines.count) of \(requests) requests")
        }
        var connections: [pid_t: Int] = [:], served: [pid_t: Int] = [:]
        for line in lines {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let pid = pid_t(fields[0]), let n = Int(fields[2]) else { continue }
            served[pid, default: 0] += 1
            if n == 1 { connections[pid, default: 0] += 1 }
        }
        return (workers.map { connections[$0] ?? 0 }, workers.map { served[$0] ?? 0 })
    }

    /// Stops nginx (SIGTERM: fast shutdown; SIGKILL after 5 s), reaps it and removes its directory.
    func stop() {
        if master > 0 { Subprocess.stop(master, signal: SIGTERM, milliseconds: 5000) }
        Posix.close(diag)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The worker processes: children of the master.
    private static func children(of master: pid_t) -> [pid_t] {
        ProcFile.list("/proc").compactMap { pid_t($0) }.filter { ProcessStat.read(pid: $0)?.parentPID == master }.sorted()
    }

    /// A port nobody listens on now (bound and released; nginx binds it a moment later).
    private static func freePort(host: String) throws -> UInt16 {
        let fd = try Posix.socket(domain: AF_INET, type: CInt(SOCK_STREAM.rawValue))
        defer { Posix.close(fd) }
        try Posix.bind(fd, .ipv4(host: host, port: 0))
        return try Posix.getsockname(fd).port ?? 0
    }

    static func configuration(directory: String, workers: Int, settings: NginxSettings, host: String, port: UInt16) -> String {
        """
        daemon off;
        master_process on;
        worker_processes \(workers);
        pid \(directory)/nginx.pid;
        error_log \(directory)/error.log warn;
        events {
            use epoll;
            worker_connections 4096;
            accept_mutex \(settings.acceptMutex ? "on" : "off");
            multi_accept \(settings.multiAccept ? "on" : "off");
        }
        http {
            log_format lab '$pid $connection $connection_requests';
            access_log \(directory)/access.log lab;
            keepalive_requests 1000000;
            keepalive_timeout 75s;
            client_body_temp_path \(directory)/body;
            proxy_temp_path \(directory)/proxy;
            fastcgi_temp_path \(directory)/fastcgi;
            uwsgi_temp_path \(directory)/uwsgi;
            scgi_temp_path \(directory)/scgi;
            server {
                listen \(host):\(port) backlog=1024\(settings.reusePort ? " reuseport" : "");
                location / { return 200 "x"; }
            }
        }

        """
    }
}
