/**
 * Loaded into the measured API process with `node --expose-gc --import`: samples the process's own
 * memory every 10 ms (a peak between two polls from outside would be missed) and answers the bench
 * over the IPC channel. It changes nothing else in the process.
 */
interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export type ProbeRequest = 'rest' | 'reset-peak' | 'peak' | 'live-on' | 'live-off';
export interface ProbeAnswer {
  readonly request: ProbeRequest;
  readonly memory: Sample;
}

const sample = (): Sample => {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};

let peak = sample();
const timer = setInterval(() => {
  const now = sample();
  for (const k of Object.keys(now) as (keyof Sample)[]) peak[k] = Math.max(peak[k], now[k]);
}, 10);
// The probe alone never keeps the process alive.
timer.unref();

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * What is still referenced, sampled after a full collection every 0.5 s while on: the peaks above
 * count garbage V8 has not collected yet; these count only what the process holds on to (a
 * buffered file would show here).
 */
let live = sample();
let liveTimer: NodeJS.Timeout | null = null;
const sampleLive = () => {
  gc?.();
  const now = sample();
  for (const k of Object.keys(now) as (keyof Sample)[]) live[k] = Math.max(live[k], now[k]);
};

if (process.send) {
  process.on('message', (request: ProbeRequest) => {
    if (request === 'rest') {
      // Memory at rest: what is still referenced after a full collection.
      gc?.();
      process.send!({ request, memory: sample() } satisfies ProbeAnswer);
    } else if (request === 'reset-peak') {
      peak = sample();
      process.send!({ request, memory: peak } satisfies ProbeAnswer);
    } else if (request === 'peak') {
      process.send!({ request, memory: { ...peak } } satisfies ProbeAnswer);
    } else if (request === 'live-on') {
      gc?.();
      live = sample();
      liveTimer = setInterval(sampleLive, 500);
      process.send!({ request, memory: live } satisfies ProbeAnswer);
    } else if (request === 'live-off') {
      if (liveTimer) clearInterval(liveTimer);
      liveTimer = null;
      sampleLive();
      process.send!({ request, memory: { ...live } } satisfies ProbeAnswer);
    }
  });
  // The IPC channel must not keep a process that was told to stop.
  process.channel?.unref();
}
