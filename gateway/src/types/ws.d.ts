// The `ws` package ships no types and @types/ws is not installed; the gateway uses only
// `new WebSocketServer({ server, path, maxPayload })` and `close()`.
declare module 'ws';
