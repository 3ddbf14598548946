import ArgumentParser
import Glibc

/// A one-line error for the user; ArgumentParser prints it as `Error: …` and exits non-zero.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// print + fflush, so a line reaches a pipe (scripts wait for "listening on") at once.
func printFlushed(_ text: String) {
    print(text)
    fflush(nil)  // nil flushes every output stream (and avoids touching the global `stdout`)
}
