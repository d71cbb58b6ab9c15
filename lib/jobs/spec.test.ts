import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runCliCaptured } from '../cli/testing.ts';
import { defaultConfig } from '../config/index.ts';
import { parseRepo, type RepoId } from '../repo/identity.ts';
import { buildScorecardJob, jobName, repoIdLabel } from './spec.ts';

const repo = (s: string): RepoId => {
  const r = parseRepo(s);
  if (!r.ok) throw new Error(r.reason);
  return r.repo;
};
const due = new Date('2030-01-01T00:00:00Z');

test('Job names are DNS-1123, at most 63 characters, and deterministic per repository and due window', () => {
  const names = ['ossf/scorecard', 'A/.github', `${'x'.repeat(39)}/${'y'.repeat(100)}`, 'a/---', 'a/_._'];
  for (const n of names) {
    const name = jobName(repo(n), due);
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, name);
    assert.ok(name.length <= 63, `${name} is ${name.length} long`);
    assert.equal(jobName(repo(n), due), name);
    assert.notEqual(jobName(repo(n), new Date(due.getTime() + 1000)), name, 'another window, another name');
  }
  assert.equal(jobName(repo('OSSF/Scorecard'), due), jobName(repo('ossf/scorecard'), due), 'case does not make another Job');
  assert.notEqual(jobName(repo('a/b-c'), due), jobName(repo('a-b/c'), due), 'the hash separates names that read alike');
});

test('the Job carries exactly the hardened spec', () => {
  const config = defaultConfig({ scorecardChecks: ['Binary-Artifacts', 'Pinned-Dependencies'] });
  const job = buildScorecardJob({ repo: repo('https://github.com/ossf/scorecard'), dueWindow: due, tickSlot: '2030-01-01T00:00Z' }, config);
  assert.equal(job.metadata?.namespace, 'posture');
  assert.deepEqual(job.metadata?.labels, {
    'app.kubernetes.io/managed-by': 'posture',
    'app.kubernetes.io/component': 'scorecard',
    'posture.dev/repo-id': repoIdLabel(repo('ossf/scorecard')),
    'posture.dev/job': job.metadata?.name,
  });
  assert.deepEqual(
    Object.keys(job.spec!.template.metadata!.labels!).sort(),
    ['app.kubernetes.io/component', 'app.kubernetes.io/managed-by', 'posture.dev/repo-id'],
    "the pods carry the Job's name in Kubernetes' own label",
  );
  assert.equal(job.metadata?.annotations?.['posture.dev/repo'], 'github.com/ossf/scorecard');
  assert.equal(job.metadata?.annotations?.['posture.dev/checks'], 'Binary-Artifacts,Pinned-Dependencies');
  const spec = job.spec!;
  assert.equal(spec.backoffLimit, 0);
  assert.equal(spec.activeDeadlineSeconds, config.jobDeadlineSeconds);
  assert.equal(spec.ttlSecondsAfterFinished, config.jobTtlSeconds);
  const pod = spec.template.spec!;
  assert.equal(pod.activeDeadlineSeconds, config.jobDeadlineSeconds - 30, "the kubelet ends the pod (and keeps it) before the Job's deadline");
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  assert.equal(c.image, 'ghcr.io/ossf/scorecard:v5.5.0');
  assert.deepEqual(c.args, ['--repo=github.com/ossf/scorecard', '--format=json', '--show-details', '--checks=Binary-Artifacts,Pinned-Dependencies']);
  assert.equal(c.command, undefined, 'the image entrypoint runs; no shell');
  assert.deepEqual(c.env?.find((e) => e.name === 'GITHUB_AUTH_TOKEN')?.valueFrom?.secretKeyRef, { name: 'posture-github-tokens', key: 'GITHUB_AUTH_TOKEN' });
  assert.ok(!JSON.stringify(c.env).includes('"value":"ghp_'), 'no token value in the spec');
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
  assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
  assert.ok(pod.volumes?.some((v) => v.name === 'tmp' && v.emptyDir));
  assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory);
  assert.equal(spec.template.metadata?.labels?.['app.kubernetes.io/managed-by'], 'posture');
});

test("posture jobs render prints the scheduler's Job as YAML; an invalid repo exits 2", async () => {
  const ok = await runCliCaptured(['jobs', 'render', 'ossf/scorecard', '--due', '2030-01-01T00:00:00Z'], {});
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(parseYaml(ok.stdout), JSON.parse(JSON.stringify(buildScorecardJob({ repo: repo('ossf/scorecard'), dueWindow: due }, defaultConfig()))));
  const bad = await runCliCaptured(['jobs', 'render', 'ossf/score card'], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid repository "ossf\/score card": contains whitespace/);
  const usage = await runCliCaptured(['jobs', 'render'], {});
  assert.equal(usage.code, 1);
});

test('an eviction, preemption or drain fails the Job through its podFailurePolicy (classified as infrastructure)', () => {
  const job = buildScorecardJob({ repo: (parseRepo('ossf/scorecard') as any).repo, dueWindow: new Date(0) }, defaultConfig());
  assert.deepEqual(job.spec?.podFailurePolicy, { rules: [{ action: 'FailJob', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] });
  assert.equal(job.spec?.template.spec?.restartPolicy, 'Never', 'podFailurePolicy requires restartPolicy Never');
});

test("GitHub Enterprise: GH_HOST names the host and a ConfigMap's CA bundle becomes SSL_CERT_FILE; by default neither is there", () => {
  const plain = buildScorecardJob({ repo: repo('o/r'), dueWindow: due }, defaultConfig()).spec!.template.spec!;
  assert.ok(!plain.containers[0].env!.some((e) => e.name === 'GH_HOST' || e.name === 'SSL_CERT_FILE'));
  assert.deepEqual(
    plain.volumes!.map((v) => v.name),
    ['tmp'],
  );
  const ghes = buildScorecardJob(
    { repo: repo('o/r'), dueWindow: due },
    defaultConfig({ githubHost: 'github.example.com:8443', githubCaConfigMap: 'github-ca' }),
  ).spec!.template.spec!;
  const c = ghes.containers[0];
  assert.deepEqual(
    c.env!.filter((e) => e.name === 'GH_HOST' || e.name === 'SSL_CERT_FILE'),
    [
      { name: 'GH_HOST', value: 'github.example.com:8443' },
      { name: 'SSL_CERT_FILE', value: '/etc/posture/github-ca/ca.crt' },
    ],
  );
  assert.deepEqual(c.volumeMounts!.at(-1), { name: 'github-ca', mountPath: '/etc/posture/github-ca', readOnly: true });
  assert.deepEqual(ghes.volumes!.at(-1), { name: 'github-ca', configMap: { name: 'github-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
});

test('the storage and memory limits are settings; /tmp is capped at the storage limit and no request exceeds its limit', () => {
  const spec = buildScorecardJob({ repo: repo('o/r'), dueWindow: due }, defaultConfig({ jobStorageLimit: '64Mi', jobMemoryLimit: '2Gi' })).spec!.template.spec!;
  const r = spec.containers[0].resources!;
  assert.deepEqual(r.limits, { cpu: '1', memory: '2Gi', 'ephemeral-storage': '64Mi' });
  assert.deepEqual(r.requests, { cpu: '250m', memory: '256Mi', 'ephemeral-storage': '64Mi' });
  assert.deepEqual(spec.volumes![0], { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
});

test("a GitHub App: the Job gets the App's id, installation id and its key's path from a Secret volume, and no token", () => {
  const spec = buildScorecardJob(
    { repo: repo('o/r'), dueWindow: due },
    defaultConfig({ githubAppId: '123', githubAppInstallationId: '456', githubAppKeyFile: '/var/run/app/key.pem', githubAppKeySecret: 'app-key' }),
  ).spec!.template.spec!;
  const c = spec.containers[0];
  assert.deepEqual(
    c.env!.filter((e) => e.name.startsWith('GITHUB_')),
    [
      { name: 'GITHUB_APP_ID', value: '123' },
      { name: 'GITHUB_APP_INSTALLATION_ID', value: '456' },
      { name: 'GITHUB_APP_KEY_PATH', value: '/etc/posture/github-app/private-key.pem' },
    ],
  );
  assert.deepEqual(c.volumeMounts!.at(-1), { name: 'github-app', mountPath: '/etc/posture/github-app', readOnly: true });
  assert.deepEqual(spec.volumes!.at(-1), {
    name: 'github-app',
    secret: { secretName: 'app-key', items: [{ key: 'private-key.pem', path: 'private-key.pem' }], defaultMode: 0o444 },
  });
  // No value of a secret is in the Job: only the Secret's name.
  assert.ok(!JSON.stringify(spec).includes('BEGIN'));
  const tokens = buildScorecardJob({ repo: repo('o/r'), dueWindow: due }, defaultConfig()).spec!.template.spec!;
  assert.ok(!tokens.containers[0].env!.some((e) => e.name.startsWith('GITHUB_APP_')));
  assert.ok(!tokens.volumes!.some((v) => v.name === 'github-app'));
});
