import CorralRuntime
import Glibc

/// A network namespace the lab made, kept alive by a descriptor: when the namespace object is
/// released (and no thread or process is left inside) the kernel removes it with every device,
/// address and socket in it, so an interrupted lab leaves nothing behind, not even a name in
/// /run/netns.
///
/// Namespaces belong to threads. `run` executes code on a fresh thread inside the namespace:
/// sockets it creates, threads it starts and processes it spawns live there, wherever they are
/// used from afterwards.
final class NetworkNamespace: @unchecked Sendable {
    /// The descriptor of /proc/thread-self/ns/net of the thread that made it.
    let fd: CInt
    /// A label for messages (`client`, `server`).
    let label: String
    /// This namespace's TCP counters.
    let counters: TCPCounterSource

    private init(fd: CInt, label: String, counters: TCPCounterSource) {
        self.fd = fd
        self.label = label
        self.counters = counters
    }

    deinit { Posix.close(fd) }

    /// A new namespace with its loopback up, IPv6 off (no router solicitations or DAD on the
    /// test link), TCP's per-destination metrics cache off (no run inherits an earlier run's
    /// RTT or ssthresh) and ICMP ping sockets allowed (the path's ping). Throws ``LabSkip``
    /// without the right to create namespaces.
    static func create(label: String) throws -> NetworkNamespace {
        let (fd, counters): (CInt, TCPCounterSource) = try onNewThread(named: "lab-netns") {
            do {
                try NetworkNamespaces.unshareForThread()
            } catch {
                throw LabSkip("network namespaces need root (CAP_SYS_ADMIN; \(error))")
            }
            for (path, value) in [
                ("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1"), ("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"),
                ("/proc/sys/net/ipv4/tcp_no_metrics_save", "1"),
                ("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"),  // ICMP ping sockets for everyone
            ] {
                _ = ProcFile.write(path, value)  // absent without IPv6: nothing to turn off
            }
            let fd = try NetworkNamespaces.openCurrent()
            do {
                return (fd, try TCPCounterSource())
            } catch {
                Posix.close(fd)
                throw error
            }
        }
        return NetworkNamespace(fd: fd, label: label, counters: counters)
    }

    /// Runs `body` on a new thread that has entered this namespace, and returns its result.
    func run<T>(_ body: @escaping () throws -> T) throws -> T {
        try Self.onNewThread(named: "lab-\(label)") { [fd] in
            try NetworkNamespaces.enter(fd)
            return try body()
        }
    }

    /// Runs `ip -batch -` inside the namespace with `commands`, one per line; `fds` are passed
    /// as 3, 4, … (so `netns /proc/self/fd/3` names another namespace). Throws with ip's
    /// message if any command fails.
    func ip(_ commands: [String], fds: [CInt] = []) throws {
        let (status, output) = try run { try Subprocess.run(["ip", "-batch", "-"], input: commands.joined(separator: "\n") + "\n", fds: fds) }
        guard status == 0 else {
            throw LabSkip("ip in the \(label) namespace failed: \(output.split(separator: "\n").first ?? "exit \(status)")")
        }
    }

    /// Runs `arguments` inside the namespace; returns the exit status and output.
    func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run { try Subprocess.run(arguments) }
    }

    private static func onNewThread<T>(named name: String, _ body: @escaping () throws -> T) throws -> T {
        let box = ResultBox<T>()
        let thread = try Threads.spawn(name: name) { box.result = Result { try body() } }
        Threads.join(thread)
        return try box.result!.get()
    }
}
