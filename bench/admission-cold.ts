// What one review costs the admission server when its caches are cold, as they are when the API
// server calls a webhook one review at a time between other processes' work. In a loop, posture's
// dispatch costs within a microsecond or two of a bare parse-and-reply; bench/admission-apiserver.ts
// measured it 10-25% slower through the API server. Here, in one process, 32 MiB are written
// between two reviews (more than the machine's caches), then one review is timed: the floor (parse
// the review, answer allowed with its uid, as bench/admission-apiserver.ts's floor server does),
// then posture's request path built up step by step to its full dispatcher, each on the same
// reviews (a non-admin's namespace CREATE and UPDATE through protected-namespaces); then the floor
// and the whole dispatcher on the Scorecard gate's reviews (Deployment CREATE and UPDATE of a
// repository with a score). Medians of rounds of 2,000 reviews each, and each step's time above
// the floor's in the same round.
//
//   node bench/admission-cold.ts [--rounds 5] [--n 2000]

import { WEBHOOKS_DIR } from '../functions/admission/webhooks-dir.ts';
import { createAdmissionApp } from '../lib/admission/app.ts';
import { parseReview, reviewBody } from '../lib/admission/protocol.ts';
import { StaticScoreFeed } from '../lib/admission/scores.ts';
import { admissionReview, object, user } from '../lib/admission/testing.ts';
import { defaultConfig } from '../lib/config/index.ts';
import { median } from './_util.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const rounds = Number(arg('rounds', '5'));
const n = Number(arg('n', '2000'));

const REPO = 'github.com/bench/web';
const app = await createAdmissionApp({
  config: defaultConfig(),
  refresh: false,
  webhooksDir: WEBHOOKS_DIR,
  scoreFeed: new StaticScoreFeed([{ repoKey: REPO, repo: REPO, score: 7.1, date: '2026-11-01', updatedAt: new Date() }]),
});
await app.scores.refresh(); // the gate's scores loaded, as in a running server
const path = '/protected-namespaces';
const found = app.registry.byPath(path)!;
const caller = user('bench-dev', 'bench-devs');
const ns = (i: number) => object('Namespace', `bench-${i}`, { labels: { 'bench.posture.dev/target': 'posture', team: 'a' } });
// What the API server sends for a dry-run CREATE and a merge-patch UPDATE (metadata it maintains included).
const stored = (i: number) => ({
  ...ns(i),
  metadata: {
    ...ns(i).metadata,
    uid: crypto.randomUUID(),
    resourceVersion: String(1000 + i),
    creationTimestamp: '2026-11-26T17:00:00Z',
    managedFields: [
      {
        manager: 'bench',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-11-26T17:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:team': {} } } },
      },
    ],
  },
  spec: { finalizers: ['kubernetes'] },
  status: { phase: 'Active' },
});
const bodies = Array.from({ length: 64 }, (_, i) => {
  const review =
    i % 2 === 0
      ? admissionReview({ operation: 'CREATE', object: ns(i), caller, dryRun: true })
      : admissionReview({
          operation: 'UPDATE',
          object: { ...stored(i), metadata: { ...stored(i).metadata, annotations: { 'bench/i': String(i) } } },
          oldObject: stored(i),
          caller,
          dryRun: true,
        });
  return Buffer.from(JSON.stringify(review));
});

type Steps = Record<string, { doc: string; run: (b: Buffer) => string }>;

const steps: Steps = {
  floor: {
    doc: 'JSON.parse the review, JSON.stringify an allowed answer with its uid',
    run: (b) => {
      const r = JSON.parse(b.toString('utf8'));
      return JSON.stringify({ apiVersion: r.apiVersion, kind: 'AdmissionReview', response: { uid: r.request.uid, allowed: true } });
    },
  },
  shape: {
    doc: "the floor with posture's shape check (parseReview) and reviewBody",
    run: (b) => {
      const p = parseReview(JSON.parse(b.toString('utf8')));
      if (p.kind !== 'ok') throw new Error(p.kind);
      return reviewBody(p.apiVersion, { uid: p.request.uid, allowed: true });
    },
  },
  decision: {
    doc: "plus the webhook's own decision (authorize)",
    run: (b) => {
      const p = parseReview(JSON.parse(b.toString('utf8')));
      if (p.kind !== 'ok') throw new Error(p.kind);
      const v = found.webhook.declaration.authorize(p.request, {
        settings: found.webhook.settings,
        services: { scores: app.scores },
        namespaceLabel: found.entry.tier,
        now: Date.now(),
      }) as { allowed: boolean };
      return reviewBody(p.apiVersion, { uid: p.request.uid, allowed: v.allowed });
    },
  },
  dispatcher: {
    doc: "posture's whole dispatcher (exemptions, failure policy, enforcement, metrics, decision log)",
    run: (b) => app.dispatcher.dispatch({ method: 'POST', path, contentType: 'application/json', body: b }).body,
  },
};
const caches = Buffer.alloc(32 << 20);
function coldCaches(): void {
  for (let j = 0; j < caches.length; j += 64) caches[j]++;
}

function measure(title: string, steps: Steps, bodies: Buffer[]): void {
  for (const s of Object.values(steps)) if (!s.run(bodies[1]).includes('"allowed":true')) throw new Error(`${title}: a step did not allow the review`);
  // Warm: every step compiled before anything is timed.
  for (let i = 0; i < 20_000; i++) for (const s of Object.values(steps)) s.run(bodies[i & 63]);
  const names = Object.keys(steps);
  const perRound = new Map(names.map((k) => [k, [] as number[]]));
  const aboveFloor = new Map(names.map((k) => [k, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    const times = new Map(names.map((k) => [k, [] as number[]]));
    for (let i = 0; i < n; i++) {
      for (const k of names) {
        coldCaches();
        const t0 = process.hrtime.bigint();
        steps[k].run(bodies[i & 63]);
        times.get(k)!.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    }
    const floor = median(times.get('floor')!);
    for (const k of names) {
      perRound.get(k)!.push(median(times.get(k)!));
      aboveFloor.get(k)!.push(median(times.get(k)!) - floor);
    }
  }
  console.log(
    `${title}: one review with cold caches (32 MiB written before each), ${rounds} rounds of ${n}: median µs per review; µs above the floor in the same round`,
  );
  for (const k of names) {
    console.log(`  ${k.padEnd(11)} ${median(perRound.get(k)!).toFixed(1).padStart(6)} µs  +${median(aboveFloor.get(k)!).toFixed(1)} µs  (${steps[k].doc})`);
  }
}

measure('protected-namespaces', steps, bodies);

// The gate: Deployment reviews that declare a repository with a score (a cache hit).
const gatePath = app.registry.byName('scorecard-gate')!.entries.find((e) => e.tier === undefined || e.tier.state === 'absent')!.path;
// A stored Deployment carries the generation the API server keeps (an annotation change leaves it).
const deployment = (i: number, extra: Record<string, string> = {}) => {
  const d = object('Deployment', `web-${i}`, {
    namespace: 'bench',
    labels: { app: 'web' },
    annotations: { 'posture.dev/source-repo': REPO, ...extra },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: `registry.example.com/web@sha256:${'a'.repeat(64)}` }] } },
    },
  });
  return { ...d, metadata: { ...d.metadata, generation: 1 } };
};
const gateBodies = Array.from({ length: 64 }, (_, i) =>
  Buffer.from(
    JSON.stringify(
      i % 2 === 0
        ? admissionReview({ operation: 'CREATE', object: deployment(i), caller, dryRun: true })
        : admissionReview({ operation: 'UPDATE', object: deployment(i, { 'bench/i': String(i) }), oldObject: deployment(i), caller, dryRun: true }),
    ),
  ),
);
measure(
  'scorecard-gate',
  {
    floor: steps.floor,
    dispatcher: {
      doc: "posture's whole dispatcher with the gate's decision (score cache hit)",
      run: (b) => app.dispatcher.dispatch({ method: 'POST', path: gatePath, contentType: 'application/json', body: b }).body,
    },
  },
  gateBodies,
);
app.close();
