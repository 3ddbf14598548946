/// The seeds' figures by name: the key an experiment supplies today's value under
/// (``LabExperiment/todayFigures(for:)``) and the key in the JSON's `today` object.
public enum SeedFigureID: String, Sendable, CaseIterable {
    case randomInetCPU = "random_inet_cpu", ringOrUnixCPU = "ring_or_unix_cpu", sixteenMessages = "sixteen_messages"
    case contextSwitchesPerRequest = "ctx_per_request", forkPerRequest = "fork_per_request", idleThreads = "idle_threads"
    case settle100 = "settle_100", settle500 = "settle_500", settle1000 = "settle_1000", settleWakeOne = "settle_wake_one"
    case apacheThroughput = "apache_throughput"
    case lifoPileup = "lifo_pileup", randomSleep = "random_sleep"
    case nagleDefault = "nagle_default", nagleNodelay = "nagle_nodelay", nagleCork = "nagle_cork"
    case yieldIperf = "yield_iperf", yieldCPU = "yield_cpu"
}

/// One figure as the seed document reported it, e.g. "settle time at 100 threads: 4.7 ms".
public struct SeedFigure: Sendable, Equatable {
    /// Which figure it is.
    public var id: SeedFigureID
    /// What was measured.
    public var label: String
    /// The value as the seed gave it, units included.
    public var value: String

    /// Build a figure.
    public init(id: SeedFigureID, label: String, value: String) {
        self.id = id
        self.label = label
        self.value = value
    }
}

/// What one seed document reported, for the "the seed reported" box of the report.
public struct SeedReport: Sendable, Equatable {
    /// Seed number, e.g. `002`.
    public var seed: String
    /// Author or source and year.
    public var source: String
    /// Machine and kernel the seed measured on.
    public var setting: String
    /// One-sentence finding.
    public var finding: String
    /// The seed's figures.
    public var figures: [SeedFigure]
}

/// The original figures of the five seed documents, so every report page shows
/// "then" next to "now".
public enum SeedFigures {
    /// All seeds in number order.
    public static let all: [SeedReport] = [
        SeedReport(
            seed: "000", source: "Hans Henrik Happe, LKML, May 2005 (\"Issues with INET sockets through loopback\")",
            setting: "Linux 2.6, 1.6 GHz Celeron M, one CPU",
            finding: "Processes forwarding one message to random peers over TCP loopback leave the CPU mostly idle; a ring, or UNIX sockets, keep it busy.",
            figures: [
                SeedFigure(id: .randomInetCPU, label: "16 processes, 1 message, random peer, INET: CPU use", value: "~20 %"),
                SeedFigure(id: .ringOrUnixCPU, label: "ring pattern, or UNIX sockets: CPU use", value: "~100 % (full CPU)"),
                SeedFigure(id: .sixteenMessages, label: "16 messages in flight", value: "system unresponsive for seconds"),
            ]),
        SeedReport(
            seed: "001", source: "Robert G. Brown and others, Beowulf list, July 2008 (\"dealing with lots of sockets\")",
            setting: "discussion, figures from experience",
            finding: "Threads versus events: each request costs several context switches; forking per request is suicide; 20 000 idle threads is insane.",
            figures: [
                SeedFigure(id: .contextSwitchesPerRequest, label: "context switches per request", value: "~4–5"),
                SeedFigure(id: .forkPerRequest, label: "fork per request", value: "\"suicide\" under load"),
                SeedFigure(id: .idleThreads, label: "20 000 idle threads", value: "\"insane\""),
            ]),
        SeedReport(
            seed: "002", source: "Steve Molloy, CITI, University of Michigan, 1999 (\"Accept() scalability on Linux\")",
            setting: "Linux 2.2.9, Dell PowerEdge 6300, 4 × 450 MHz Pentium II Xeon",
            finding: "Every thread blocked in accept() woke for each connection; wake-one made settle time flat and Apache 50 % faster.",
            figures: [
                SeedFigure(id: .settle100, label: "wait-queue settle time, 100 threads, unpatched", value: "4.7 ms"),
                SeedFigure(id: .settle500, label: "wait-queue settle time, 500 threads, unpatched", value: "52 ms"),
                SeedFigure(id: .settle1000, label: "wait-queue settle time, 1000 threads, unpatched", value: "177 ms"),
                SeedFigure(id: .settleWakeOne, label: "settle time with wake-one, 100–1000 threads", value: "~0.6–1.3 ms"),
                SeedFigure(id: .apacheThroughput, label: "Apache (SPECweb99) throughput with either patch", value: "+50 %"),
            ]),
        SeedReport(
            seed: "003", source: "Sun (Oracle) blog, \"How not to load-balance connections with accept()\"",
            setting: "Solaris and Linux, multi-threaded server",
            finding: "The accept queue is FIFO but poll's sleep queue is LIFO, so connections pile onto one thread; a random 0–20 ms sleep before accept spread them.",
            figures: [
                SeedFigure(id: .lifoPileup, label: "threads in poll() then accept()", value: "connections pile onto one thread"),
                SeedFigure(id: .randomSleep, label: "random 0–20 ms sleep before accept()", value: "connections spread across threads"),
            ]),
        SeedReport(
            seed: "004", source: "Arnaldo Carvalho de Melo, Red Hat, 2008 (\"Earthquaky kernel interfaces\")",
            setting: "Linux 2.6 over loopback; iperf under CFS",
            finding: "sched_yield spinning broke under CFS; small writes stall on Nagle unless the application says where a message ends.",
            figures: [
                SeedFigure(id: .nagleDefault, label: "10 000 round trips, 30 B as 15 × 2 B writes, default", value: "400 s"),
                SeedFigure(id: .nagleNodelay, label: "same with TCP_NODELAY", value: "1.65 s"),
                SeedFigure(id: .nagleCork, label: "same with TCP_CORK", value: "0.85 s"),
                SeedFigure(id: .yieldIperf, label: "iperf throughput lost to sched_yield spinning under CFS", value: "30 %"),
                SeedFigure(id: .yieldCPU, label: "CPU to saturate gigabit, before → after removing the yield loop", value: "100 % → 9 %"),
            ]),
    ]

    /// The report of seed `seed` (e.g. `002`), or `nil`.
    public static func report(for seed: String) -> SeedReport? {
        all.first { $0.seed == seed }
    }
}
