import type { Server } from 'node:http';
import type { HttpTimeoutsConfig } from '../config/app-config.js';

/** How often Node checks connections against the request and header timeouts. */
const CHECK_INTERVAL_MS = 1_000;

/**
 * Timeouts that fit an API, instead of Node's defaults (a request may take 5 minutes to arrive,
 * its headers 1 minute): a client that sends its request a byte at a time holds a connection
 * and a parser for seconds, not minutes, and then gets 408 and a closed connection.
 *
 * They bound receiving a request only: once a request is in, its response may last (event
 * streams stay open for hours). Node checks them every `connectionsCheckingInterval` (30 s by
 * default, which would add up to 30 s to each); that interval is read when the server starts
 * listening, so this must run before `listen`.
 */
export function applyServerTimeouts(server: Server, config: HttpTimeoutsConfig): void {
  server.requestTimeout = config.requestTimeoutMs;
  server.headersTimeout = Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // Socket inactivity is not limited: an idle event stream is kept open by its heartbeats.
  server.timeout = 0;
  // A documented createServer() option, kept as a property (absent from the type definitions).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(
    CHECK_INTERVAL_MS,
    config.headersTimeoutMs,
  );
}
