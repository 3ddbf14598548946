// The HTTP vocabulary of CorralHTTP's public API is swift-http-types': `HTTPRequest`,
// `HTTPResponse`, `HTTPFields`, `HTTPField.Name`. Re-exported, so `import CorralHTTP` is enough.
@_exported import HTTPTypes
