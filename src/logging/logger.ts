import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout. Callers log chosen fields only (an allow-list): request headers
 * and bodies are never passed to the logger, so keys and credentials cannot leak through it.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { service: 'reelay' }, timestamp: pino.stdTimeFunctions.isoTime }, destination as never);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
