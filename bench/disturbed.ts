/** Samples that other processes disturbed, measured again. */
import { NOISY_CORES, type Sample } from './report.js';

export interface RetryOptions {
  /** how many more times a disturbed sample may be taken */
  retries: number;
  /** pause before taking it again, so a neighbour's burst can pass */
  pauseMs: number;
  onRetry?: (disturbed: Sample) => void;
}

/**
 * Takes one sample; while other processes took more than NOISY_CORES of the machine during it,
 * takes it again (at most `retries` more times) and keeps the least disturbed one. On a shared
 * machine a neighbour's burst would otherwise decide a round. The sample records how many times it
 * was taken, so the report can say so; one that stayed disturbed is still marked there.
 */
export async function measureSample(take: () => Promise<Sample>, o: RetryOptions): Promise<Sample> {
  let best = await take();
  let attempts = 1;
  while (best.foreign > NOISY_CORES && attempts <= o.retries) {
    o.onRetry?.(best);
    await new Promise((r) => setTimeout(r, o.pauseMs));
    const again = await take();
    attempts++;
    if (again.foreign < best.foreign) best = again;
  }
  return { ...best, attempts };
}
