import type { JobRow } from '../db/billing-store.js';

/**
 * A job as an OpenAI video object, for the list endpoint. The stored final object is used when
 * there is one; otherwise the object is built from what reelay knows. Only the four wire statuses
 * are ever shown: a job reelay gave up on (expired) shows as failed with an explanatory error.
 */
export function toVideoObject(job: JobRow): Record<string, unknown> {
  if (job.finalObject && (job.status === 'completed' || job.status === 'failed')) {
    try {
      return JSON.parse(job.finalObject) as Record<string, unknown>;
    } catch {
      // fall through to the synthesized object
    }
  }
  const expired = job.status === 'expired';
  return {
    id: job.videoId,
    object: 'video',
    model: job.model,
    status: expired ? 'failed' : job.status === 'pending' ? 'queued' : job.status,
    progress: job.progress ?? 0,
    created_at: Math.floor(job.createdAt / 1000),
    completed_at: job.completedAt === null ? null : Math.floor(job.completedAt / 1000),
    expires_at: null,
    size: job.size,
    seconds: String(job.requestedSeconds),
    prompt: null,
    remixed_from_video_id: job.kind === 'remix' ? job.sourceVideoId : null,
    error: expired ? { code: 'expired', message: 'The job did not finish within the gateway\'s maximum job age or vanished upstream.' } : null,
  };
}
