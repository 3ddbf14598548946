import ArgumentParser
import CorralHTTP
import CorralRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `json-api --port P --root DIR`: a small notes API next to a static site.
///
///     GET    /api/notes          all notes, as a JSON array
///     POST   /api/notes          {"text": "..."} → 201, the note, Location: /api/notes/ID
///     GET    /api/notes/:id      one note, or 404
///     DELETE /api/notes/:id      204, or 404
///     GET    /health             "ok" (a synchronous handler)
///     GET    /**                 the files under --root (index.html for /)
///
/// Every /api response carries `Access-Control-Allow-Origin: *` (middleware). The server runs in
/// a swift-service-lifecycle `ServiceGroup`: SIGTERM or SIGINT stop it gracefully.
@main
struct JSONAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "json-api", abstract: "A notes API and static files on Corral.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port: UInt16 = 8080

    @Option(help: "Directory served at /.")
    var root = "public"

    @Option(help: "Event loops.")
    var loops = availableCPUCount()

    func run() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.address = .ipv4(host: host, port: port)
        configuration.loops = loops
        let server = HTTPServer(configuration: configuration, router: Self.router(notes: Notes(), root: root))
        let address = try server.start()
        print("listening on \(address)")
        fflush(nil)  // nil: every stream (and no touching the global `stdout`)
        let group = ServiceGroup(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "json-api"))
        try await group.run()
    }

    static let json: HTTPFields = [.contentType: "application/json"]

    static func router(notes: Notes, root: String) -> Router {
        var router = Router()
        router.add(middleware: CORS())
        router.get("/health") { _, _ in Response(body: "ok\n") }
        router.get("/api/notes") { _, _ in try encoded(notes.all()) }
        router.get("/api/notes/:id") { _, context in
            guard let note = notes.note(try context.parameters.require("id", as: Int.self)) else {
                throw HTTPError(.notFound, message: "no such note")
            }
            return try encoded(note)
        }
        router.post("/api/notes") { request, _ async throws in
            let body = try await request.body.collect(upTo: 64 * 1024)
            guard let draft = try? JSONDecoder().decode(Draft.self, from: Data(body)), !draft.text.isEmpty else {
                throw HTTPError(.badRequest, message: #"expected {"text": "..."}"#)
            }
            let note = notes.add(draft.text)
            var response = try encoded(note, status: .created)
            response.headerFields[.location] = "/api/notes/\(note.id)"
            return response
        }
        router.delete("/api/notes/:id") { _, context in
            guard notes.remove(try context.parameters.require("id", as: Int.self)) else {
                throw HTTPError(.notFound, message: "no such note")
            }
            return Response(status: .noContent)
        }
        router.files("/", root: root)
        return router
    }

    static func encoded(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headerFields: json, body: ResponseBody(bytes: Array(try encoder.encode(value))))
    }
}

struct Draft: Decodable {
    var text: String
}

struct Note: Codable, Sendable {
    var id: Int
    var text: String
}

/// The notes, shared by every loop (a lock held for a dictionary operation only).
final class Notes: Sendable {
    private let state = Mutex<(next: Int, notes: [Int: Note])>((1, [:]))

    func all() -> [Note] { state.withLock { $0.notes.values.sorted { $0.id < $1.id } } }
    func note(_ id: Int) -> Note? { state.withLock { $0.notes[id] } }

    func add(_ text: String) -> Note {
        state.withLock { state in
            let note = Note(id: state.next, text: text)
            state.next += 1
            state.notes[note.id] = note
            return note
        }
    }

    func remove(_ id: Int) -> Bool { state.withLock { $0.notes.removeValue(forKey: id) != nil } }
}

/// Lets browsers on other origins call the API: every /api response allows any origin, and a
/// preflight (OPTIONS) is answered here, before routing.
struct CORS: Middleware {
    func willHandle(_ request: inout Request, context: RequestContext) throws -> Response? {
        guard request.method == .options, request.path.hasPrefix("/api/") else { return nil }
        return Response(status: .noContent, headerFields: [
            .accessControlAllowMethods: "GET, POST, DELETE", .accessControlAllowHeaders: "Content-Type",
        ])
    }

    func didHandle(_ request: Request, context: RequestContext, response: inout Response) throws {
        if request.path.hasPrefix("/api/") { response.headerFields[.accessControlAllowOrigin] = "*" }
    }
}
