import { newId } from '../ids.js';
import type { Outcome } from '../store/types.js';
import type { WebhookEventType } from '../store/rows.js';

/**
 * The webhook event a settlement writes (contract §12), pure: which type, and the exact body,
 * shaped as OpenAI's own webhook events. Written in the settling transaction by both engines.
 */

/**
 * The event a job's settlement sends, or null for none: `video.completed` when it completed,
 * `video.failed` when it failed or expired after the upstream accepted it (it has a video id).
 * A create the upstream refused (`rejected`) or whose outcome was never learnt (`unknown`) has no
 * video the client could know of, so no event.
 */
export function eventTypeFor(outcome: Outcome['kind'], videoId: string | null): WebhookEventType | null {
  if (videoId === null) return null;
  if (outcome === 'completed') return 'video.completed';
  if (outcome === 'failed' || outcome === 'expired') return 'video.failed';
  return null;
}

/** The body sent on every attempt, byte for byte: `{"id":"evt_…","object":"event","created_at":…,"type":…,"data":{"id":…}}`. */
export function eventBody(id: string, type: WebhookEventType, createdAtMs: number, videoId: string): string {
  return JSON.stringify({ id, object: 'event', created_at: Math.floor(createdAtMs / 1000), type, data: { id: videoId } });
}

/** The row a settlement inserts for a job of a key with a webhook URL, or null when no event is due. */
export function newWebhookEvent(job: { id: string; keyId: string; videoId: string | null }, outcome: Outcome['kind'], now: number) {
  const type = eventTypeFor(outcome, job.videoId);
  if (type === null) return null;
  const id = newId('evt');
  return {
    id,
    keyId: job.keyId,
    jobId: job.id,
    videoId: job.videoId!,
    type,
    body: eventBody(id, type, now, job.videoId!),
    status: 'pending' as const,
    attemptCount: 0,
    retryStep: 0,
    nextAttemptAt: now,
    createdAt: now,
  };
}
