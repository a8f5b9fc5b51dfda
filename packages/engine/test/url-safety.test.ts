import { describe, expect, it } from '@jest/globals';
import { checkWebhookUrl, classifyAddress, UnsafeWebhookUrlError } from '../src/index.js';

const strict = { allowPrivate: false, resolver: async () => ['93.184.216.34'] };
const dev = { allowPrivate: true, resolver: async () => ['127.0.0.1'] };

describe('webhook target safety', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd00::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'cgnat'],
    ['93.184.216.34', null],
    ['172.32.0.1', null],
    ['2606:2800:220:1::1', null],
  ])('%s is %s', (ip, expected) => {
    expect(classifyAddress(ip)).toBe(expected);
  });

  it.each([
    ['http://example.com/hook', 'must be an https URL'],
    ['https://127.0.0.1/hook', 'must not target a loopback address'],
    ['https://[::1]/hook', 'must not target a loopback address'],
    ['https://10.0.0.5/hook', 'must not target a private address'],
    ['https://169.254.169.254/latest/meta-data', 'must not target a link-local address'],
    ['https://metadata.google.internal/x', 'must not target a cloud metadata service'],
    ['https://user:pw@example.com/', 'must not carry credentials'],
    ['not a url', 'is not a valid URL'],
  ])('refuses %s without the allow flag: %s', async (url, message) => {
    await expect(checkWebhookUrl(url, strict)).rejects.toThrow(new UnsafeWebhookUrlError(message));
  });

  it('refuses a host name that resolves to a private, loopback or link-local address', async () => {
    for (const [address, kind] of [
      ['127.0.0.1', 'loopback'],
      ['192.168.0.10', 'private'],
      ['169.254.1.1', 'link-local'],
    ] as const) {
      await expect(
        checkWebhookUrl('https://hooks.example.test/in', { allowPrivate: false, resolver: async () => [address] }),
      ).rejects.toThrow(`resolves to a ${kind} address (${address})`);
    }
    // One private address among public ones is enough.
    await expect(
      checkWebhookUrl('https://hooks.example.test/in', {
        allowPrivate: false,
        resolver: async () => ['93.184.216.34', '10.0.0.1'],
      }),
    ).rejects.toThrow('resolves to a private address (10.0.0.1)');
    // The real resolver: localhost is loopback.
    await expect(checkWebhookUrl('https://localhost/in', { allowPrivate: false })).rejects.toThrow(/loopback/);
  });

  it('accepts https to a public address, and with the allow flag http to loopback only', async () => {
    await expect(checkWebhookUrl('https://hooks.example.test/in', strict)).resolves.toBeInstanceOf(URL);
    await expect(checkWebhookUrl('http://127.0.0.1:8080/in', dev)).resolves.toBeInstanceOf(URL);
    await expect(checkWebhookUrl('http://localhost:8080/in', { allowPrivate: true })).resolves.toBeInstanceOf(URL);
    await expect(checkWebhookUrl('http://10.0.0.1/in', dev)).rejects.toThrow('must not target a private address');
    await expect(
      checkWebhookUrl('http://hooks.example.test/in', { allowPrivate: true, resolver: async () => ['93.184.216.34'] }),
    ).rejects.toThrow('may use http only for a loopback target');
  });
});
