/**
 * What the machine is doing: CPU time from /proc/stat (whole machine) and /proc/<pid>/stat (our
 * processes), resident memory from /proc/<pid>/status. "Foreign" CPU is the machine's busy time
 * minus our processes' — other people's work that would skew a benchmark on a 2-core machine.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const CLK_TCK = 100; // USER_HZ on Linux

interface MachineCpu {
  /** user + nice + system + steal jiffies (irq/softirq are left out: loopback traffic lands there) */
  busy: number;
  total: number;
}

function machineCpu(): MachineCpu {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { busy: user + nice + system + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** utime + stime of a process in jiffies (0 when it is gone). */
export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm) ": state is [0], utime is field 14 overall → index 11 here, stime 12
    return Number(after[11]) + Number(after[12]);
  } catch {
    return 0;
  }
}

/** Resident set size in bytes (0 when the process is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface CpuWindow {
  /** cores' worth of CPU used by processes that are not ours, averaged over the window */
  foreignCores: number;
  /** cores' worth used by each of our processes, by pid */
  ours: Map<number, number>;
}

/** Starts a CPU accounting window over the given pids (our processes); `end()` closes it. */
export function cpuWindow(pids: number[]): { end(): CpuWindow } {
  const m0 = machineCpu();
  const p0 = new Map(pids.map((p) => [p, processCpu(p)]));
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    end() {
      const m1 = machineCpu();
      const wallS = (performance.now() - t0) / 1000;
      const ncpu = os.cpus().length;
      const busyCores = m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * ncpu : 0;
      const ours = new Map<number, number>();
      let oursCores = 0;
      for (const [pid, before] of p0) {
        const cores = (processCpu(pid) - before) / CLK_TCK / wallS;
        ours.set(pid, cores);
        oursCores += cores;
      }
      const self = process.cpuUsage(self0);
      oursCores += (self.user + self.system) / 1e6 / wallS;
      return { foreignCores: Math.max(0, busyCores - oursCores), ours };
    },
  };
}

/** Busy cores on the whole machine over `ms` (nothing of ours should be running then). */
export async function machineBusyCores(ms: number): Promise<number> {
  const w = cpuWindow([]);
  await new Promise((r) => setTimeout(r, ms));
  return w.end().foreignCores;
}

/**
 * Waits until the processes' memory has settled: V8 keeps the young generation its start-up grew
 * (up to 2 × 8 MB) until its memory reducer runs, several seconds after the process went quiet.
 * A memory round measured from before that point counts those megabytes as "already there" in
 * one round and as growth in another. Settled means: at least `minQuietMs` since `quietSince` (the
 * last work the processes were given), and every process's RSS within `toleranceBytes` over the
 * last `windowMs`. Gives up after `maxMs`.
 * Resolves with the milliseconds waited and whether every process settled.
 */
export async function settleRss(
  pids: number[],
  opts: { quietSince: number; minQuietMs: number; windowMs: number; toleranceBytes: number; maxMs: number; everyMs?: number },
  readRss: (pid: number) => number = rssBytes,
): Promise<{ waitedMs: number; settled: boolean }> {
  const t0 = performance.now();
  const every = opts.everyMs ?? 500;
  const history = new Map<number, number[]>(pids.map((p) => [p, []]));
  const keep = Math.max(2, Math.ceil(opts.windowMs / every) + 1);
  for (;;) {
    for (const [pid, list] of history) {
      list.push(readRss(pid));
      if (list.length > keep) list.shift();
    }
    const quietLongEnough = performance.now() - opts.quietSince >= opts.minQuietMs;
    const steady = [...history.values()].every((list) => list.length === keep && Math.max(...list) - Math.min(...list) <= opts.toleranceBytes);
    const waitedMs = performance.now() - t0;
    if (quietLongEnough && steady) return { waitedMs, settled: true };
    if (waitedMs >= opts.maxMs) return { waitedMs, settled: false };
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function rssPeak(pid: number, everyMs = 50): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

/**
 * Pins a process (all its threads) to one CPU with taskset. The benchmark gives the target under
 * test a core of its own and puts the load generator and the fake upstream on the other, so that
 * where the scheduler happens to place three busy processes on two cores does not decide the
 * result. Returns false where taskset is unavailable.
 */
export function pinToCpu(pid: number, cpu: number): boolean {
  const r = spawnSync('taskset', ['-a', '-c', '-p', String(cpu), String(pid)], { encoding: 'utf8' });
  return r.status === 0;
}
