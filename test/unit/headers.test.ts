import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders, upstreamRequestId } from '../../src/relay/headers.js';

describe('header filtering', () => {
  it('replaces the client credential with the upstream key and drops hop-by-hop headers', () => {
    const out = upstreamRequestHeaders(
      {
        authorization: 'Bearer sk-reelay-client',
        host: 'reelay.local',
        connection: 'keep-alive, x-secret-hop',
        'x-secret-hop': 'drop me',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic abc',
        'content-type': 'application/json',
        'x-client-request-id': 'abc',
        'openai-organization': 'org-client',
      },
      'sk-upstream',
    );
    expect(out).toEqual({
      authorization: 'Bearer sk-upstream',
      'content-type': 'application/json',
      'x-client-request-id': 'abc',
      'accept-encoding': 'identity',
    });
  });

  it('never forwards values containing CR, LF or NUL', () => {
    const out = upstreamRequestHeaders({ 'x-a': 'ok', 'x-b': 'bad\r\nx-injected: 1', 'x-c': 'nul\0' }, undefined);
    expect(out['x-a']).toBe('ok');
    expect(out).not.toHaveProperty('x-b');
    expect(out).not.toHaveProperty('x-c');
    expect(out).not.toHaveProperty('authorization');
  });

  it('keeps content headers downstream, hides the upstream account and never lets content be public', () => {
    const out = downstreamResponseHeaders({
      'content-type': 'video/mp4',
      'content-range': 'bytes 0-9/100',
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=3600',
      'set-cookie': 'a=b',
      'openai-organization': 'org-upstream',
      'x-request-id': 'req_up',
      connection: 'close',
    });
    expect(out).toEqual({ 'content-type': 'video/mp4', 'content-range': 'bytes 0-9/100', 'accept-ranges': 'bytes', 'cache-control': 'private' });
  });

  it('drops the header a bare `Connection: close` or `keep-alive` names, as it does for longer lists', () => {
    for (const connection of ['close', 'Close', ' close ']) {
      const out = downstreamResponseHeaders({ connection, close: 'x', 'x-kept': 'y' });
      expect(out).toEqual({ 'x-kept': 'y' });
    }
    for (const connection of ['keep-alive', 'Keep-Alive', ' keep-alive ']) {
      const out = downstreamResponseHeaders({ connection, close: 'x', 'keep-alive': 'timeout=5' });
      expect(out).toEqual({ close: 'x' });
    }
    // The parsed common values are shared: one message must not change what the next one drops.
    expect(downstreamResponseHeaders({ connection: 'close', 'x-a': '1' })).toEqual({ 'x-a': '1' });
    expect(downstreamResponseHeaders({ connection: 'close, x-a', 'x-a': '1' })).toEqual({});
    expect(downstreamResponseHeaders({ connection: 'close', 'x-a': '1' })).toEqual({ 'x-a': '1' });
  });

  it('reads the upstream request id', () => {
    expect(upstreamRequestId({ 'x-request-id': 'req_123' })).toBe('req_123');
    expect(upstreamRequestId({})).toBeNull();
  });
});
