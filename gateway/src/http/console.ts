import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the built web console lives when `GATEWAY_CONSOLE_DIR` is not set: `gateway/console/dist`. */
export const DEFAULT_CONSOLE_DIR = resolve(__dirname, '..', '..', 'console', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Headers on every console response: the page may talk only to this origin (GraphQL over HTTP and
 * WebSocket), may not be framed, and sends no referrer.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export interface ConsoleHandler {
  /** The folder served, or undefined when the console is off or not built. */
  readonly dir: string | undefined;
  /** Answers a GET/HEAD for a console path; false when the request is not the console's. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean;
}

/**
 * Serves the built single-page console: files under `dir` as they are (hashed assets cached for a
 * year), any other path without a file extension gets `index.html` (client-side routes). Without a
 * build, `/` answers 404 with how to build it. Paths never leave `dir`.
 */
export function consoleHandler(dir: string | false | undefined): ConsoleHandler {
  const root = dir === false ? undefined : resolve(dir ?? DEFAULT_CONSOLE_DIR);
  const built = root !== undefined && existsSync(join(root, 'index.html'));
  const send = (res: ServerResponse, status: number, headers: Record<string, string>, file: string | undefined, body?: string, head = false) => {
    res.writeHead(status, { ...CONSOLE_HEADERS, ...headers });
    if (head) return res.end();
    if (file) createReadStream(file).on('error', () => res.destroy()).pipe(res);
    else res.end(body);
  };
  return {
    dir: built ? root : undefined,
    handle(req, res, path) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const head = req.method === 'HEAD';
      if (!built) {
        if (path !== '/' && path !== '/index.html') return false;
        send(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, undefined, root === undefined ? 'The web console is turned off (GATEWAY_CONSOLE_DIR=off).\n' : 'The web console is not built: run `npm run build` at the repository root.\n', head);
        return true;
      }
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        send(res, 400, { 'content-type': 'text/plain; charset=utf-8' }, undefined, 'bad path\n', head);
        return true;
      }
      const target = resolve(root, '.' + (decoded.startsWith('/') ? decoded : `/${decoded}`));
      if (target !== root && !target.startsWith(root + sep)) {
        send(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, undefined, 'not found\n', head);
        return true;
      }
      const stat = existsSync(target) ? statSync(target) : undefined;
      if (stat?.isFile()) {
        const immutable = target.startsWith(join(root, 'assets') + sep);
        send(res, 200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', 'content-length': String(stat.size), 'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' }, target, undefined, head);
        return true;
      }
      if (extname(decoded) !== '') {
        send(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, undefined, 'not found\n', head);
        return true;
      }
      send(res, 200, { 'content-type': TYPES['.html']!, 'cache-control': 'no-cache' }, join(root, 'index.html'), undefined, head);
      return true;
    },
  };
}
