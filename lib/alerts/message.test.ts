import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertMessage, checkDocsUrl, diffUrl, eventMarker, issueMarker } from './message.ts';
import { checks, inputOf, policyChanged, REPO, scoreChanged } from './testing.ts';

describe('alertMessage', () => {
  const ev = scoreChanged(
    12,
    { score: 7, checks: [...checks(8, 7), { name: 'Gone', score: 3 }] },
    { score: 5.5, checks: [...checks(0, 7), { name: 'SAST', score: 2, reason: 'a | pipe' }] },
  );
  const m = alertMessage(inputOf(ev), 'open', ['score fell 1.5 (7.0 → 5.5)', 'Code-Review fell to 0'], { publicUrl: 'https://posture.example.com/' });

  it('links the dashboard diff page of the two results', () => {
    assert.equal(m.link, 'https://posture.example.com/ui/projects/github.com/acme/widget/diff?from=11&to=12');
    assert.match(
      m.markdown,
      /\[What changed, on the dashboard\]\(https:\/\/posture\.example\.com\/ui\/projects\/github\.com\/acme\/widget\/diff\?from=11&to=12\)/,
    );
  });
  it('says check by check what changed, each linked to Scorecard’s docs', () => {
    assert.match(
      m.markdown,
      /\| \[Code-Review\]\(https:\/\/github\.com\/ossf\/scorecard\/blob\/main\/docs\/checks\.md#code-review\) \| 8 \| 0 \| -8 \| reason 0 \|/,
    );
    assert.match(m.markdown, /\| \[SAST\]\([^)]+#sast\) \| \(new\) \| 2 \| \| a \\\| pipe \|/, 'a | in a reason does not end the cell');
    assert.match(m.markdown, /\| \[Gone\]\([^)]+#gone\) \| 3 \| \(gone\) \|/);
    assert.doesNotMatch(m.markdown, /Maintained/, 'an unchanged check is not listed');
  });
  it('has a one-line text for chat tools with the reasons and the link', () => {
    assert.equal(
      m.text,
      'posture: github.com/acme/widget dropped: score fell 1.5 (7.0 → 5.5); Code-Review fell to 0 — https://posture.example.com/ui/projects/github.com/acme/widget/diff?from=11&to=12',
    );
    assert.doesNotMatch(m.text, /\n/);
  });
  it('carries the event marker (a redelivery finds its comment)', () => assert.ok(m.markdown.includes(eventMarker(ev.id))));
  it('without POSTURE_PUBLIC_URL: no link', () => {
    const n = alertMessage(inputOf(ev), 'close', ['x'], {});
    assert.equal(n.link, undefined);
    assert.doesNotMatch(n.markdown + n.text, /https?:\/\/posture/);
    assert.match(n.text, /recovered: x$/);
  });
  it('a policy alert lists the failing rules and links the repository page', () => {
    const p = alertMessage(
      inputOf(policyChanged('p', { repo: REPO, from: 'pass', to: 'fail', rules: ['min-score'] })),
      'open',
      ['the policy fails: min-score'],
      {
        publicUrl: 'https://p.example',
      },
    );
    assert.equal(p.title, 'posture: github.com/acme/widget security posture fails its policy');
    assert.match(p.markdown, /- `min-score`/);
    assert.equal(p.link, 'https://p.example/ui/projects/github.com/acme/widget');
  });
});

describe('links and markers', () => {
  it('diffUrl encodes each path segment', () =>
    assert.equal(diffUrl('https://x', 'github.com/a b/c', 1, 2), 'https://x/ui/projects/github.com/a%20b/c/diff?from=1&to=2'));
  it('checkDocsUrl anchors the lower-cased check', () =>
    assert.equal(checkDocsUrl('Branch-Protection'), 'https://github.com/ossf/scorecard/blob/main/docs/checks.md#branch-protection'));
  it('the issue marker is per repository, case-insensitive', () => assert.equal(issueMarker('GitHub.com/Acme/W'), issueMarker('github.com/acme/w')));
  it('an event id cannot end the comment early', () => assert.equal(eventMarker('a-->b'), '<!-- posture-event id=ab -->'));
});
