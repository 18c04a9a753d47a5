import type { HttpBindings } from '@hono/node-server';
import type { KeyRow } from '../db/keys-store.js';
import type { UploadBudget } from './upload-budget.js';

/** Per-request facts collected along the way and written to the request log at the end. */
export interface RequestState {
  requestId: string;
  clientRequestId: string | null;
  startedAt: number;
  receivedAt: number;
  route: string;
  /** The matched route pattern (`/v1/videos/:id`, `/admin/keys/:id`), for metrics labels. */
  routeLabel: string;
  key: KeyRow | null;
  /**
   * Set by the admin token and dashboard-session checks (a /v1 request is authenticated once `key`
   * is set). The request-log row of a request that is neither keeps only bounded facts.
   */
  adminAuthenticated: boolean;
  videoId: string | null;
  upstreamRequestId: string | null;
  /** The upstream the request reached (contract §10); null when it reached none. */
  upstreamId: string | null;
  upstreamMs: number | null;
  /** performance.now() when the response headers were ready (server-timing, overhead metric) */
  respondedAt: number | null;
  errorCode: string | null;
  bytesIn: number;
  /** The process's upload budget, and what this request's body holds of it (released when it is done). */
  uploadBudget: UploadBudget;
  uploadReserved: number;
  /** Set by routes that stream the response themselves (they also write the log row when done), and by `respond`. */
  bytesOut: number | null;
  /** `respond` built the response with reelay's own headers already on it. */
  headersDone: boolean;
  streamed: boolean;
}

export type AppEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: { state: RequestState; adminActor: string };
};
