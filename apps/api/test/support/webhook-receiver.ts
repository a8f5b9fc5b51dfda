import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A webhook as the receiver got it, its signature checked against every secret it was given. */
export interface Received {
  readonly id: string;
  readonly type: string;
  readonly body: { type: string; timestamp: string; data: Record<string, unknown> };
  readonly headers: http.IncomingHttpHeaders;
  /** Which of the receiver's secrets verified the signature (by index). */
  readonly verifiedWith: number[];
}

/**
 * A real HTTP receiver on 127.0.0.1 that verifies every request with the `standardwebhooks`
 * package, as a consumer would. `answer` picks the response (default 204); a request whose
 * signature verifies with none of the secrets is recorded in `unverified` and answered 400.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  readonly unverified: string[] = [];
  answer: (r: Received) => number | Promise<number> = () => 204;
  secrets: string[] = [];
  private server: http.Server | null = null;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Starts listening (on the same port as before when restarted). */
  async start(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const headers = {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        };
        const verifiedWith = this.secrets.flatMap((s, i) => {
          try {
            new Webhook(s).verify(raw, headers);
            return [i];
          } catch {
            return [];
          }
        });
        if (verifiedWith.length === 0) {
          this.unverified.push(raw);
          res.writeHead(400).end('bad signature');
          return;
        }
        const body = JSON.parse(raw) as Received['body'];
        const r: Received = { id: headers['webhook-id'], type: body.type, body, headers: req.headers, verifiedWith };
        this.received.push(r);
        void Promise.resolve(this.answer(r)).then(
          (code) => {
            if (!res.destroyed) res.writeHead(code).end(code >= 300 ? 'no' : 'ok');
          },
          () => res.destroy(),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Distinct events received (by webhook-id) that the answer accepted or not. */
  ids(): Set<string> {
    return new Set(this.received.map((r) => r.id));
  }
}
