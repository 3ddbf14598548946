import Glibc

enum ModelsServerProcess {
    static func run(_ options: [String: String]) -> Int32 { 2 }
    static func serveOne(fd: CInt) -> Int32 { 2 }
    static func preforkWorker(listenFD: CInt) -> Int32 { 2 }
}
