/// Real /proc text captured on a 2-CPU KVM guest running Linux 6.18, used by the parser tests.
enum ProbeFixtures {
    /// `/proc/PID/stat` of a busy `swift-build` (8 threads, utime 84, stime 38 ticks).
    static let stat = "7537 (swift-build) S 1 7534 5474 0 -1 4194304 9718 143411 49 121 84 38 203 144 20 0 8 0 217901 1327710208 30836 18446744073709551615 94768161177600 94768220154464 140721277858736 0 0 0 0 4 1274 0 0 0 17 1 0 0 0 0 0 94768220160000 94768225954306 94768295112704 140721277860464 140721277860540 140721277860540 140721277861849 0\n"

    /// `/proc/PID/stat` of a copy of `sleep` renamed `we ird) (x`: spaces and parentheses in comm.
    static let statWeirdComm = "7760 (we ird) (x) S 1 7752 5474 0 -1 4194304 133 0 0 0 0 0 0 0 20 0 1 0 218133 2990080 413 18446744073709551615 94431077933056 94431077950985 140723770120848 0 0 0 0 6 0 1 0 0 17 0 0 0 0 0 0 94431077965072 94431077966336 94432083288064 140723770129096 140723770129114 140723770129114 140723770130408 0\n"

    /// `/proc/PID/status` of the same renamed `sleep` (abridged to the lines around the fields used).
    static let status = """
    Name:\twe ird) (x
    Umask:\t0022
    State:\tS (sleeping)
    Tgid:\t7760
    Pid:\t7760
    PPid:\t1
    VmPeak:\t    2920 kB
    VmSize:\t    2920 kB
    VmHWM:\t    1824 kB
    VmRSS:\t    1824 kB
    RssAnon:\t     108 kB
    Threads:\t1
    Cpus_allowed:\t3
    Cpus_allowed_list:\t0-1
    voluntary_ctxt_switches:\t1
    nonvoluntary_ctxt_switches:\t0

    """

    /// `/proc/stat`, first lines.
    static let procStat = """
    cpu  13933 0 5440 414205 1026 0 107 425 0 0
    cpu0 6178 0 2417 208670 51 0 12 213 0 0
    cpu1 7754 0 3023 205534 975 0 94 211 0 0
    intr 238241 0 0 0 0 0 0 0 0 0 0
    ctxt 406361
    btime 1700000000
    processes 7600

    """

    /// `/proc/net/snmp`, Ip/Tcp/Udp parts.
    static let snmp = """
    Ip: Forwarding DefaultTTL InReceives InHdrErrors
    Ip: 1 64 5321 0
    Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
    Tcp: 1 200 120000 -1 11 2 0 0 0 3195 2124 7 0 0 0
    Udp: InDatagrams NoPorts InErrors OutDatagrams
    Udp: 10 0 0 10

    """

    /// `/proc/net/netstat` with `TcpExt` (abridged) followed by `MPTcpExt`, whose prefix ends in `TcpExt:`.
    static let netstat = """
    TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost
    TcpExt: 0 0 0 0 0 0 0 0 0 0 10 0 0 0 0 0 0 0 0 42 0 1
    IpExt: InNoRoutes InTruncatedPkts
    IpExt: 0 0
    MPTcpExt: MPCapableSYNRX DelayedACKs
    MPTcpExt: 0 999

    """

    /// `/proc/cpuinfo`, one processor (AMD EPYC under KVM).
    static let cpuinfo = """
    processor\t: 0
    vendor_id\t: AuthenticAMD
    cpu family\t: 25
    model\t\t: 1
    model name\t: AMD EPYC
    flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm cmp_legacy

    """
}
