import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, isForwardedUpstream, upstreamRequestHeaders, upstreamRequestId } from '../../src/relay/headers.js';

describe('header filtering', () => {
  it('replaces the client credential with the upstream key and drops hop-by-hop headers', () => {
    const out = upstreamRequestHeaders(
      {
        authorization: 'Bearer sk-reelay-client',
        host: 'reelay.local',
        connection: 'keep-alive, user-agent',
        'user-agent': 'named in Connection',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic abc',
        'proxy-connection': 'keep-alive',
        trailer: 'x-t',
        'content-type': 'application/json',
        'openai-organization': 'org-client',
        'openai-project': 'proj-client',
      },
      'sk-upstream',
    );
    expect(out).toEqual({ authorization: 'Bearer sk-upstream', 'content-type': 'application/json', 'accept-encoding': 'identity' });
  });

  it('forwards the allow-list: content type, accept, user agent, range, the client request id and the SDK headers', () => {
    const sdk = {
      'content-type': 'multipart/form-data; boundary=abc',
      accept: 'application/json',
      'user-agent': 'OpenAI/JS 6.49.0',
      'x-stainless-lang': 'js',
      'x-stainless-package-version': '6.49.0',
      'x-stainless-os': 'Linux',
      'x-stainless-arch': 'x64',
      'x-stainless-runtime': 'node',
      'x-stainless-runtime-version': 'v20.18.0',
      'x-stainless-retry-count': '0',
      'x-stainless-timeout': '600',
      'openai-beta': 'video=v1',
      range: 'bytes=0-99',
      'if-range': '"etag-1"',
      'x-client-request-id': 'trace-123',
    };
    expect(upstreamRequestHeaders(sdk, 'sk-up')).toEqual({ ...sdk, 'accept-encoding': 'identity', authorization: 'Bearer sk-up' });
  });

  it.each([
    'idempotency-key',
    'api-key',
    'x-api-key',
    'x-http-method-override',
    'x-http-method',
    'x-method-override',
    'true-client-ip',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'forwarded',
    'x-real-ip',
    'cf-connecting-ip',
    'cookie',
    'host',
    'expect',
    'origin',
    'referer',
    'accept-language',
    'if-none-match',
    'if-modified-since',
    'x-request-id',
    'x-custom-anything',
    'openai-organization',
    'openai-project',
    'content-length',
    'accept-encoding',
    'x-stainless', // the prefix needs its dash
    'openai',
  ])('never forwards the client header %s', (name) => {
    const out = upstreamRequestHeaders({ [name]: 'client value', 'user-agent': 'ua' }, 'sk-up');
    expect(out).toEqual({ 'user-agent': 'ua', 'accept-encoding': 'identity', authorization: 'Bearer sk-up' });
  });

  it('matches names case-insensitively and joins repeated values', () => {
    const out = upstreamRequestHeaders({ 'User-Agent': 'ua', 'X-Stainless-Lang': 'js', 'Idempotency-Key': 'k', 'API-Key': 'sk', accept: ['a/b', 'c/d'] }, undefined);
    expect(out).toEqual({ 'user-agent': 'ua', 'x-stainless-lang': 'js', accept: 'a/b, c/d', 'accept-encoding': 'identity' });
  });

  it('sets reelay\'s own credential and accept-encoding over whatever the client sent', () => {
    const out = upstreamRequestHeaders({ authorization: 'Bearer client', 'accept-encoding': 'gzip, br' }, 'sk-up');
    expect(out).toEqual({ authorization: 'Bearer sk-up', 'accept-encoding': 'identity' });
    expect(upstreamRequestHeaders({ authorization: 'Bearer client' }, undefined)).toEqual({ 'accept-encoding': 'identity' });
  });

  it('never forwards values containing CR, LF or NUL', () => {
    const out = upstreamRequestHeaders({ accept: 'ok', 'user-agent': 'bad\r\nx-injected: 1', 'x-stainless-lang': 'nul\0', 'openai-beta': ['a', 'b\n'] }, undefined);
    expect(out['accept']).toBe('ok');
    expect(out).not.toHaveProperty('user-agent');
    expect(out).not.toHaveProperty('x-stainless-lang');
    expect(out).not.toHaveProperty('openai-beta');
    expect(out).not.toHaveProperty('authorization');
  });

  it('tells allowed names from the rest', () => {
    for (const name of ['accept', 'content-type', 'user-agent', 'range', 'if-range', 'x-stainless-lang', 'openai-beta']) expect(isForwardedUpstream(name), name).toBe(true);
    for (const name of ['idempotency-key', 'authorization', 'openai-organization', 'openai-project', 'x-stainless', 'cookie']) expect(isForwardedUpstream(name), name).toBe(false);
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
