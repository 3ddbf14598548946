import CorralRuntime

/// The accept counters as a table: one row per acceptor, then the totals.
enum AcceptorTable {
    static func render(_ stats: [AcceptorStats]) -> String {
        var lines = ["acceptor        wake-ups  empty  accepted  errors  pauses"]
        func row(_ name: String, _ w: Int, _ e: Int, _ a: Int, _ err: Int, _ p: Int) -> String {
            name + String(repeating: " ", count: max(0, 14 - name.count))
                + [w, e, a, err, p].enumerated().map { i, v in
                    let width = [10, 7, 10, 8, 8][i]
                    let text = String(v)
                    return String(repeating: " ", count: max(0, width - text.count)) + text
                }.joined()
        }
        for s in stats { lines.append(row(s.name, s.wakeUps, s.emptyWakeUps, s.accepted, s.errors, s.pauses)) }
        lines.append(row("total", stats.map(\.wakeUps).reduce(0, +), stats.map(\.emptyWakeUps).reduce(0, +),
                         stats.map(\.accepted).reduce(0, +), stats.map(\.errors).reduce(0, +), stats.map(\.pauses).reduce(0, +)))
        return lines.joined(separator: "\n")
    }
}
