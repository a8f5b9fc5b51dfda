import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * A consumer's endpoint on 127.0.0.1: verifies every request with the `standardwebhooks` package
 * (answers 400 and records it when none of `secrets` verifies) and answers 200 otherwise. It can
 * be stopped and started again on the same port, as a consumer's server going down and back up.
 */
export class E2eWebhookReceiver {
  /** `webhook-id`s received and verified, in order (a redelivery appears again). */
  readonly ids: string[] = [];
  readonly unverified: string[] = [];
  secrets: string[] = [];
  private server: http.Server | null = null;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/jobtrail`;
  }

  async start(): Promise<void> {
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
        const ok = this.secrets.some((s) => {
          try {
            new Webhook(s).verify(raw, headers);
            return true;
          } catch {
            return false;
          }
        });
        if (!ok) {
          this.unverified.push(headers['webhook-id']);
          res.writeHead(400).end('bad signature');
          return;
        }
        this.ids.push(headers['webhook-id']);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
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
}
