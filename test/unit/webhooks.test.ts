import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { RETRY_SCHEDULE_MS, retryDelayMs } from '../../src/webhooks/worker.js';
import { newWebhookSecret, signatureHeader, webhookHeaders } from '../../src/webhooks/sign.js';
import { isSpecialAddress, parseWebhookUrl } from '../../src/webhooks/address.js';
import { eventBody, eventTypeFor } from '../../src/webhooks/event.js';

describe('retry schedule', () => {
  it('is contract §12’s: 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, then give up', () => {
    expect(RETRY_SCHEDULE_MS).toEqual([5_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000]);
    expect(retryDelayMs(8)).toBeNull();
  });
  it('jitters each delay within ±20%', () => {
    RETRY_SCHEDULE_MS.forEach((base, i) => {
      expect(retryDelayMs(i + 1, RETRY_SCHEDULE_MS, () => 0)).toBe(Math.round(base * 0.8));
      expect(retryDelayMs(i + 1, RETRY_SCHEDULE_MS, () => 1)).toBe(Math.round(base * 1.2));
      const d = retryDelayMs(i + 1)!;
      expect(d).toBeGreaterThanOrEqual(base * 0.8);
      expect(d).toBeLessThanOrEqual(base * 1.2);
    });
  });
});

describe('signing', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const s = newWebhookSecret();
    expect(s).toMatch(/^whsec_/);
    expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(s);
  });
  it('signs one v1 signature per secret, space-separated, that the OpenAI SDK accepts; a fresh timestamp gives a fresh signature', async () => {
    const [a, b] = [newWebhookSecret(), newWebhookSecret()];
    const body = eventBody('evt_1', 'video.completed', Date.now(), 'video_1');
    const h1 = webhookHeaders('evt_1', body, [a, b], Date.now());
    expect(h1['webhook-signature']!.split(' ').map((p) => p.slice(0, 3))).toEqual(['v1,', 'v1,']);
    const sdk = new OpenAI({ apiKey: 'x' });
    await sdk.webhooks.unwrap(body, h1, a);
    await sdk.webhooks.unwrap(body, h1, b);
    const h2 = webhookHeaders('evt_1', body, [a], Date.now() + 2000);
    expect(h2['webhook-id']).toBe('evt_1');
    expect(h2['webhook-timestamp']).not.toBe(h1['webhook-timestamp']);
    expect(h2['webhook-signature']).not.toBe(signatureHeader('evt_1', Number(h1['webhook-timestamp']), body, [a]));
  });
});

describe('events', () => {
  it('only for jobs with a video: completed, and failed or expired', () => {
    expect(eventTypeFor('completed', 'v')).toBe('video.completed');
    expect(eventTypeFor('failed', 'v')).toBe('video.failed');
    expect(eventTypeFor('expired', 'v')).toBe('video.failed');
    expect(eventTypeFor('expired', null)).toBeNull();
    expect(eventTypeFor('rejected', 'v')).toBeNull();
    expect(eventTypeFor('unknown', null)).toBeNull();
  });
  it('has OpenAI’s shape with created_at in unix seconds', () => {
    expect(eventBody('evt_a', 'video.failed', 1_700_000_000_999, 'video_x')).toBe('{"id":"evt_a","object":"event","created_at":1700000000,"type":"video.failed","data":{"id":"video_x"}}');
  });
});

describe('addresses', () => {
  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '64:ff9b::a00:1', '2001:db8::1'])('%s is special', (ip) => {
    expect(isSpecialAddress(ip)).toBe(true);
  });
  it.each(['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (ip) => {
    expect(isSpecialAddress(ip)).toBe(false);
  });
  it('accepts only http and https URLs without credentials', () => {
    expect(parseWebhookUrl('https://hooks.example.com/x?a=1').host).toBe('hooks.example.com');
    for (const bad of ['file:///etc/passwd', 'gopher://x', 'https://u:p@x.com', 'x'.repeat(3000)]) expect(() => parseWebhookUrl(bad)).toThrow();
  });
});
