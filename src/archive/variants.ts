import { ARCHIVE_VARIANTS, type ArchiveVariant } from './object-store.js';

/** A variant stored in the archive: its length and the upstream's content type. */
export interface StoredVariant {
  bytes: number;
  contentType: string;
}

/** What a task has stored so far: a variant maps to null when the upstream serves none. */
export type ArchivedVariants = Partial<Record<ArchiveVariant, StoredVariant | null>>;

export function parseVariants(json: string): ArchivedVariants {
  try {
    const v = JSON.parse(json) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    const out: ArchivedVariants = {};
    for (const name of ARCHIVE_VARIANTS) {
      const s = (v as Record<string, unknown>)[name];
      if (s === null) out[name] = null;
      else if (s && typeof s === 'object' && Number.isSafeInteger((s as StoredVariant).bytes) && typeof (s as StoredVariant).contentType === 'string') {
        out[name] = { bytes: (s as StoredVariant).bytes, contentType: (s as StoredVariant).contentType };
      }
    }
    return out;
  } catch {
    return {};
  }
}

export const totalBytes = (v: ArchivedVariants): number => Object.values(v).reduce((n, s) => n + (s?.bytes ?? 0), 0);
