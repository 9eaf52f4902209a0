import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { checkA11y, ConsoleHarness, shot, skipReason, waitUntil } from './harness.js';

/**
 * The web console in a real browser (Debian's chromium, headless) against a real stack and a lab
 * of real Debian hosts: one stack and one lab for the whole file, the tests in order.
 */
describe('web console in chromium: sign in, workflow editor, live cycle, approval, emergency, audit', { skip: skipReason() }, () => {
  let h: ConsoleHarness;
  const log = (l: string) => process.stderr.write(`  [console] ${l}\n`);

  before(async () => {
    h = await ConsoleHarness.start({ hosts: 3, log });
  });
  after(async () => {
    await h?.stop();
  });
  // A failed test leaves a screenshot of every page still open, to see what the browser saw.
  afterEach(async (t) => {
    if (!h || (t as { passed?: boolean }).passed !== false) return;
    const pages = h.browser.contexts().flatMap((c) => c.pages());
    for (const [i, p] of pages.entries()) await shot(p, `FAILED-${t.name.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}-${i}`).catch(() => undefined);
    for (const c of h.browser.contexts()) await c.close().catch(() => undefined);
  });

  /** Every page of the main navigation, visited as `page`'s user: screenshot and axe on each. */
  const visitAll = async (page: Page, prefix: string, onEach?: (label: string) => Promise<void>) => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const label of ['Fleet', 'Reference groups', 'Workflows', 'Policies', 'Cycles', 'Emergency', 'Audit']) {
      await nav.getByRole('link', { name: label, exact: true }).click();
      await assertPageSettled(page, label);
      await shot(page, `${prefix}-${label.toLowerCase().replace(/\s+/g, '-')}`);
      await checkA11y(page, `${label} (${prefix})`);
      await onEach?.(label);
    }
  };

  it('a wrong token is refused with a clear error and its code; nothing else is shown', async () => {
    const page = await h.openConsole();
    await page.getByRole('heading', { name: 'Sign in to Patchbay' }).waitFor();
    await checkA11y(page, 'sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const field = page.getByLabel('API token');
    assert.equal(await field.getAttribute('aria-invalid'), 'true', 'an empty token is flagged on the field');
    await page.getByLabel('API token').fill(`pbt_000000000000_${'x'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Sign-in failed' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /UNAUTHENTICATED/, 'the refusal shows its stable code');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'no navigation before signing in');
    await shot(page, 'sign-in-refused');
    await checkA11y(page, 'sign-in (refused)');
    await page.context().close();
  });

  it('a viewer signs in, sees every page, and no button of an operator or an approver', async () => {
    const page = await h.signIn(h.users.viewer);
    await page.getByText(h.users.viewer.name).waitFor();
    await visitAll(page, 'viewer', async (label) => {
      for (const name of OPERATOR_OR_APPROVER_BUTTONS) assert.equal(await page.getByRole('button', { name }).count(), 0, `${label}: a viewer sees no ${name} button`);
      if (label === 'Fleet') {
        const table = page.getByRole('table', { name: /^Endpoints/ });
        for (const host of h.lab.hosts) await table.getByRole('rowheader', { name: host.name }).waitFor();
      }
      if (label === 'Reference groups') {
        const table = page.getByRole('table', { name: 'Reference groups' });
        for (const g of ['Canary host (patched first)', 'Web front ends', 'Databases']) await table.getByRole('link', { name: g, exact: true }).waitFor();
      }
    });

    // A group's members with why each is in, and an endpoint's detail: read-only for a viewer.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reference groups', exact: true }).click();
    await page.getByRole('link', { name: 'Web front ends', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Reference group Web front ends' }).waitFor();
    await page.getByRole('table', { name: /^Members of console-web/ }).getByText('host1').waitFor();
    await assertPageSettled(page, 'group detail');
    await shot(page, 'viewer-group-detail');
    await checkA11y(page, 'Reference group detail (viewer)');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleet', exact: true }).click();
    await page.getByRole('table', { name: /^Endpoints/ }).getByRole('link', { name: 'host2', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Endpoint host2' }).waitFor();
    await assertPageSettled(page, 'endpoint detail');
    await shot(page, 'viewer-endpoint-detail');
    await checkA11y(page, 'Endpoint detail (viewer)');
    assert.equal(await page.getByRole('button', { name: /gather facts/i }).count(), 0, 'a viewer cannot gather facts');
    await page.context().close();
  });

  it('an operator sees the operator actions a viewer does not (the interface follows the role)', async () => {
    const page = await h.signIn(h.users.operator, '/fleet/host2');
    await page.getByRole('heading', { level: 1, name: 'Endpoint host2' }).waitFor();
    await page.getByRole('button', { name: 'Gather facts now' }).waitFor();
    await page.context().close();
  });

  it('an operator builds a workflow with a reboot in the middle and a validation after it, saved as new versions', async () => {
    const page = await h.signIn(h.users.operator, '/workflows');
    await page.getByRole('link', { name: 'New workflow' }).click();
    await page.getByRole('heading', { level: 1, name: 'New workflow' }).waitFor();
    await page.getByLabel('Workflow id').fill('console-built');
    await page.getByLabel('Workflow name').fill('Check, patch, reboot, back on SSH, health');
    const card = (list: string, stepId: string) => page.getByRole('list', { name: `${list} steps`, exact: true }).getByRole('listitem').filter({ has: page.getByRole('button', { name: `Remove ${stepId}`, exact: true }) });
    const add = async (phase: string, type: string) => {
      await page.getByLabel('Add to phase').selectOption({ label: phase });
      await page.getByRole('button', { name: new RegExp(`^Add ${type} step`) }).click();
    };
    const saveState = page.locator('#wf-save-state');

    // A pre-patch disk check; a bad value is refused next to its field, by the services' schema.
    await add('Pre-patch', 'check-disk');
    const minFree = card('Pre-patch', 'check-disk').getByLabel('Minimum free space (MB)');
    await minFree.fill('-5');
    assert.equal(await minFree.getAttribute('aria-invalid'), 'true', 'the field is marked invalid');
    const fieldError = card('Pre-patch', 'check-disk').getByRole('alert');
    await fieldError.waitFor();
    assert.match((await fieldError.textContent()) ?? '', /\(WORKFLOW_[A-Z_]+\)/, 'the error names its code');
    assert.ok(await page.getByRole('button', { name: 'Save new version' }).isDisabled(), 'nothing invalid can be saved');
    assert.match((await saveState.textContent()) ?? '', /1 problem to fix before saving/);
    await shot(page, 'workflow-editor-invalid');
    await checkA11y(page, 'workflow editor (invalid field)');
    await minFree.fill('20');
    await fieldError.waitFor({ state: 'detached' });

    // The patch phase: every update, then wait-for and reboot added in the wrong order and put
    // right with the keyboard (Alt+↑ on the reboot card).
    await card('Patch', 'patch').getByRole('button', { name: 'Edit patch' }).click();
    await card('Patch', 'patch').getByLabel('Updates', { exact: true }).selectOption('all');
    await add('Patch', 'wait-for');
    await card('Patch', 'wait-for').getByLabel('Poll every (s)').fill('0.5');
    await add('Patch', 'reboot');
    await card('Patch', 'reboot').getByRole('button', { name: 'Close reboot' }).focus();
    await page.keyboard.press('Alt+ArrowUp');
    await page.getByRole('status').filter({ hasText: 'reboot moved to position 2 of 3 in Patch.' }).waitFor();
    const patchOrder = await page.getByRole('list', { name: 'Patch steps', exact: true }).getByRole('heading', { level: 3 }).allTextContents();
    assert.deepEqual(patchOrder.map((t) => t.replace(/\s+/g, ' ').trim()), ['1. patch patch', '2. reboot reboot', '3. wait-for wait-for']);
    assert.match((await card('Patch', 'reboot').textContent()) ?? '', /1 step run after the endpoint comes back/);

    await page.getByRole('button', { name: 'Save new version' }).click();
    await page.getByRole('heading', { level: 1, name: 'Workflow console-built' }).waitFor();
    await page.getByLabel('Version', { exact: true }).waitFor();

    // Version 2: a validation after the reboot (the application answers 200), with retries.
    await add('Post-patch', 'validate');
    const validate = card('Post-patch', 'validate');
    await validate.getByLabel('Command', { exact: true }).fill(['python3', '-c', HEALTH_CHECK].join('\n'));
    await validate.getByLabel('Output must contain').fill('200');
    await validate.getByText('Timeout, retries and failure handling').click();
    await validate.getByLabel('Retries').fill('5');
    await validate.getByLabel('First retry after (s)').fill('1');
    assert.match((await card('Patch', 'reboot').textContent()) ?? '', /2 steps run after the endpoint comes back/);
    await shot(page, 'workflow-editor');
    await checkA11y(page, 'workflow editor');
    const saved = page.waitForResponse((r) => /SaveWorkflowTemplate/.test(r.request().postData() ?? ''));
    await page.getByRole('button', { name: 'Save new version' }).click();
    const reply = (await (await saved).json()) as { data?: { saveWorkflowTemplate: { result: { version: number } } }; errors?: unknown[] };
    assert.equal(reply.data?.saveWorkflowTemplate.result.version, 2, JSON.stringify(reply));
    await until('the editor shows version 2 once saved', async () => (await page.getByLabel('Version', { exact: true }).inputValue()) === '2');
    const changes = page.getByRole('list', { name: 'Changes from v1 to v2' });
    await changes.getByRole('listitem').filter({ hasText: 'validate' }).filter({ hasText: 'added' }).waitFor();
    await shot(page, 'workflow-versions-diff');
    await checkA11y(page, 'workflow detail with the diff of two versions');

    // What was stored is what was built.
    const stored = await h.gql<{ workflowTemplate: { lastVersion: number; versions: Array<{ version: number; template: { phases: Record<string, Array<{ id: string; type: string; params: Record<string, unknown>; retries?: { max: number } }>> } }> } }>(
      'query { workflowTemplate(id: "console-built") { lastVersion versions { version template } } }',
      undefined,
      h.users.viewer,
    );
    assert.equal(stored.workflowTemplate.lastVersion, 2);
    const v2 = stored.workflowTemplate.versions.find((v) => v.version === 2)!.template.phases;
    assert.deepEqual(
      Object.fromEntries(Object.entries(v2).map(([phase, steps]) => [phase, steps.map((st) => st.id)])),
      { pre: ['check-disk'], patch: ['patch', 'reboot', 'wait-for'], post: ['validate'] },
    );
    assert.equal(v2['pre']![0]!.params['minFreeMb'], 20);
    assert.equal(v2['patch']![0]!.params['scope'], 'all');
    assert.deepEqual((v2['post']![0]!.params['check'] as { argv: string[] }).argv, ['python3', '-c', HEALTH_CHECK]);
    assert.equal(v2['post']![0]!.retries?.max, 5);
    await page.context().close();
  });

  let liveCycleId = '';

  it('an operator previews and requests a cycle with that workflow, and watches it live to the end without reloading', async () => {
    // The rollout policy now runs the workflow built in the browser (version 2).
    const policy = { kind: 'PatchPolicy', ...ROLLOUT_POLICY, workflow: { id: 'console-built', version: 2 } };
    await h.gql('mutation ($files: [BundleFileInput!]!) { applyPolicyBundle(files: $files) { commandId } }', { files: [{ name: 'rollout.yaml', content: JSON.stringify(policy) }] }, h.users.operator);
    await waitUntil('the policy uses the new workflow', async () => {
      const r = await h.gql<{ policy: { version: number } | null }>('query { policy(id: "console-rollout") { version } }', undefined, h.users.viewer);
      return (r.policy?.version ?? 0) >= 2;
    });

    const page = await h.signIn(h.users.operator, '/cycles');
    await assertPageSettled(page, 'Cycles');
    await page.getByRole('link', { name: 'Request a cycle' }).click();
    await page.getByLabel('Policy', { exact: true }).selectOption('console-rollout');
    await page.getByRole('button', { name: 'Preview plan' }).click();
    const plan = page.getByRole('table', { name: 'Waves × endpoints × steps' });
    await plan.waitFor();
    assert.match((await page.getByRole('region', { name: 'Plan preview' }).textContent()) ?? '', /check-disk[\s\S]*patch[\s\S]*reboot[\s\S]*wait-for[\s\S]*validate/, 'the plan runs the built workflow in order');
    await shot(page, 'cycle-plan-preview');
    await checkA11y(page, 'cycle request with its plan preview');
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

    await page.getByRole('button', { name: 'Request cycle' }).click();
    await page.getByRole('heading', { level: 1, name: /^Cycle / }).waitFor();
    liveCycleId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const seen = await watchLive(page, 'cycle-live-running');
    assert.equal(seen.status.at(-1), 'completed', `statuses seen: ${seen.status.join(' → ')}`);
    assert.ok(seen.status.length >= 2, `the status changed on screen: ${seen.status.join(' → ')}`);
    assert.ok(seen.progress.length >= 3, `the progress moved on screen: ${seen.progress.join(' → ')}`);
    assert.equal(seen.progress.at(-1), '3 of 3 finished');
    assert.equal(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, 'no reload: the page is the same document');
    await page.getByRole('list', { name: 'Endpoints by state' }).getByText(/succeeded/i).waitFor();
    assert.equal(await page.getByRole('region', { name: /^Failures \([1-9]/ }).count(), 0, 'no failure');
    await shot(page, 'cycle-live');
    await checkA11y(page, 'cycle live view (completed)');
    await page.context().close();
  });

  it('a gated cycle: the requester sees no approve button, a second user approves, the requester sees it run', async () => {
    await h.publish({ name: 'pb-tools', available: '2.5.0-1' });
    const lead = await h.signIn(h.users.lead, '/cycles?request=1');
    await lead.getByLabel('Policy', { exact: true }).selectOption('console-gated');
    await lead.getByRole('button', { name: 'Preview plan' }).click();
    await lead.getByRole('table', { name: 'Waves × endpoints × steps' }).waitFor();
    await lead.getByRole('button', { name: 'Request cycle' }).click();
    await lead.getByRole('heading', { level: 1, name: /^Cycle / }).waitFor();
    const cycleId = decodeURIComponent(new URL(lead.url()).pathname.split('/').pop()!);
    await lead.locator('.live-summary .badge').filter({ hasText: 'awaiting-approval' }).waitFor();
    assert.equal(await lead.getByRole('button', { name: 'Approve cycle' }).count(), 0, 'the requester, an approver too, sees no approve button');
    await lead.getByText('You requested this cycle: another approver must approve it.').waitFor();
    await shot(lead, 'cycle-awaiting-approval-requester');
    await checkA11y(lead, 'gated cycle (requester)');

    const approver = await h.signIn(h.users.approver, `/cycles/${encodeURIComponent(cycleId)}`);
    await approver.getByLabel('Approval comment').fill('checked the plan');
    await shot(approver, 'cycle-awaiting-approval-approver');
    await checkA11y(approver, 'gated cycle (approver)');
    await approver.getByRole('button', { name: 'Approve cycle' }).click();
    await approver.getByRole('button', { name: 'Approve cycle' }).waitFor({ state: 'detached' });

    const seen = await watchLive(lead, 'cycle-gated-running');
    assert.equal(seen.status.at(-1), 'completed', `statuses seen by the requester: ${seen.status.join(' → ')}`);
    const r = await h.gql<{ cycle: { approvals: Array<{ by: string }> } }>('query ($id: ID!) { cycle(id: $id) { approvals { by } } }', { id: cycleId }, h.users.viewer);
    assert.deepEqual(r.cycle.approvals.map((a) => a.by), [h.users.approver.actor]);
    await lead.context().close();
    await approver.context().close();
  });

  it('an operator launches an emergency cycle for a zero-day: affected endpoints in tier order, preview, launch', async () => {
    await h.publish({ name: 'pb-openssl-demo', available: '1.0.2-1', classification: 'security', severity: 'critical' });
    const page = await h.signIn(h.users.operator, '/emergency');
    await assertPageSettled(page, 'Emergency');
    await page.getByLabel('Advisory or CVE id').fill('CVE-2026-0002');
    await page.getByLabel('Title').fill('Zero-day in pb-openssl-demo');
    await page.getByLabel('Fixing packages').fill('pb-openssl-demo');
    await page.getByLabel('Policy', { exact: true }).selectOption('console-rollout');
    await page.getByRole('button', { name: 'Find affected endpoints' }).click();
    const affected = page.getByRole('table', { name: 'Affected endpoints in tier order' });
    await affected.waitFor();
    const rows = (await affected.getByRole('rowheader').allTextContents()).map((t) => t.trim().split(/\s/)[0]);
    assert.deepEqual(rows, ['host0', 'host1', 'host2'], 'canary (low), web (high), databases (critical): the policy\'s tier order');
    await page.getByRole('button', { name: 'Preview emergency plan' }).click();
    await page.getByRole('region', { name: 'Plan preview' }).waitFor();
    await shot(page, 'emergency-preview');
    await checkA11y(page, 'emergency with its plan preview');
    await page.getByRole('button', { name: 'Launch emergency cycle' }).click();
    await page.getByRole('heading', { level: 1, name: /^Cycle emergency-/ }).waitFor();
    const seen = await watchLive(page, 'emergency-live-running');
    assert.equal(seen.status.at(-1), 'completed', `statuses seen: ${seen.status.join(' → ')}`);
    await shot(page, 'emergency-live');
    await checkA11y(page, 'emergency cycle live view');
    await page.context().close();
  });

  it('an auditor scrubs the cycle\'s timeline, verifies its chain and downloads the signed export', async () => {
    assert.ok(liveCycleId, 'the live cycle ran');
    const page = await h.signIn(h.users.auditor, '/audit');
    await assertPageSettled(page, 'Audit');
    await page.getByRole('table', { name: 'Cycles to audit' }).getByRole('link', { name: liveCycleId, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: `Audit of cycle ${liveCycleId}` }).waitFor();
    const slider = page.getByRole('slider', { name: 'Event in the history' });
    await slider.waitFor();
    const text = async () => (await slider.getAttribute('aria-valuetext')) ?? '';
    // The as-of view: status, approvals and endpoints by state, rebuilt for the slider's event.
    const asOf = page.getByRole('region', { name: 'The cycle as of an event' });
    const byState = async () => ((await asOf.locator('dl').textContent()) ?? '').replace(/\s+/g, ' ');

    await slider.focus();
    await page.keyboard.press('Home');
    await until('the slider is at the first event', async () => /^Event 1 of \d+: /.test(await text()) && /requested/.test(await byState()));
    const total = Number(/^Event 1 of (\d+)/.exec(await text())![1]);
    assert.ok(total > 20, `a whole cycle's history: ${total} events`);
    const first = { text: await text(), url: page.url(), byState: await byState() };
    await shot(page, 'audit-first-event');
    await checkA11y(page, 'audit at the first event');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    await until('the slider moved five events on', async () => (await text()).startsWith(`Event 6 of ${total}: `));
    await page.keyboard.press('End');
    await until('the slider is at the last event', async () => (await text()).startsWith(`Event ${total} of ${total}: `));
    await until('the as-of view shows the end', async () => /succeeded/i.test(await byState()));
    const last = { text: await text(), url: page.url(), byState: await byState() };
    assert.match(last.text, /CycleCompleted/);
    assert.match(first.byState, /Status ?requested.*none planned yet/, `at the first event: ${first.byState}`);
    assert.match(last.byState, /Status ?completed.*succeeded ?3/, `at the last event: ${last.byState}`);
    assert.notEqual(new URL(first.url).searchParams.get('event'), new URL(last.url).searchParams.get('event'), 'the event is kept in the URL');
    await shot(page, 'audit-last-event');

    await page.getByRole('button', { name: 'Verify hash chain' }).click();
    await page.getByRole('table', { name: 'Streams verified' }).waitFor();
    await page.getByText(/intact/i).first().waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: 'Broken chain' }).count(), 0);

    await page.getByLabel('Export format').selectOption({ label: 'JSON Lines' });
    await page.getByRole('button', { name: 'Export signed history' }).click();
    const link = page.getByRole('link', { name: `Download cycle-${liveCycleId}.jsonl` });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = await download.path();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { eventId: string; type: string });
    assert.equal(lines.length, total, 'the export holds every event the timeline shows');
    assert.equal(lines.at(-1)!.type, 'CycleCompleted');
    const [manifestDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download manifest and signature' }).click()]);
    const signed = JSON.parse(readFileSync(await manifestDownload.path(), 'utf8')) as { manifest: { sha256: string; events: number }; signature: string; publicKey: { pem: string } };
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), signed.manifest.sha256, 'the manifest signs the very file downloaded');
    assert.equal(signed.manifest.events, total);
    assert.ok(signed.signature.length > 40 && /BEGIN PUBLIC KEY/.test(signed.publicKey.pem), 'the signature and the key to check it');
    await page.getByText('The file’s SHA-256 matches the signed manifest.').waitFor();
    await shot(page, 'audit-verified-exported');
    await checkA11y(page, 'audit verified and exported');
    await page.context().close();
  });

  it('after the cycles, every page again with data (an admin): cycles, fleet, policies, audit', async () => {
    const page = await h.signIn(h.admin);
    await visitAll(page, 'after-cycles', async (label) => {
      if (label === 'Cycles') {
        const rows = page.getByRole('table', { name: 'Cycles' }).getByRole('rowheader');
        await until('the three cycles are listed', async () => (await rows.count()) >= 3);
      }
      if (label === 'Fleet') await page.getByRole('table', { name: /^Endpoints/ }).getByRole('link', { name: /^emergency-/ }).first().waitFor();
    });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies', exact: true }).click();
    await page.getByRole('table', { name: 'Patch policies' }).getByRole('link', { name: /Web front ends, approved by a second person/ }).click();
    await page.getByRole('heading', { level: 1, name: /^Policy / }).waitFor();
    await assertPageSettled(page, 'policy detail');
    await shot(page, 'after-cycles-policy-detail');
    await checkA11y(page, 'policy detail');
    await page.context().close();
  });

  it('no uncaught error and no CSP refusal in any page so far', () => {
    assert.deepEqual(h.pageErrors, []);
  });
});

/** Run on a lab host after its reboot: the application answers on /health. */
const HEALTH_CHECK = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=5).status)";

/** Buttons only an operator or an approver can use (the accessible names listed in gateway/console/README.md). */
const OPERATOR_OR_APPROVER_BUTTONS = [/approve/i, /request cycle/i, /launch/i, /save new version/i, /pause/i, /resume/i, /abort/i, /import/i, /preview/i, /add step/i, /gather facts/i];

/** The rollout policy of the harness's bundle, as a definition. */
const ROLLOUT_POLICY = {
  id: 'console-rollout',
  name: 'Whole lab, canary first, approved automatically',
  groups: ['console-canary', 'console-web', 'console-db'],
  approval: { mode: 'auto', afterDays: 0 },
  rollout: { tierOrder: ['low', 'high', 'critical'], canary: 1 },
  maxConcurrency: 2,
  errorThreshold: 1,
  reboot: 'if-required',
};

const FINAL = new Set(['completed', 'halted', 'aborted']);

/**
 * Follows a cycle's live view on screen (no reload) until it ends: every distinct status badge and
 * progress text seen, in order. A screenshot is taken once something is running.
 */
async function watchLive(page: Page, runningShot: string, timeoutMs = 180_000): Promise<{ status: string[]; progress: string[] }> {
  await page.getByRole('region', { name: /^Live view/ }).getByText('live', { exact: true }).waitFor();
  const status: string[] = [];
  const progress: string[] = [];
  let shotTaken = false;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = ((await page.locator('.live-summary .badge').first().textContent().catch(() => '')) ?? '').trim();
    const p = (await page.getByRole('progressbar', { name: 'Endpoints finished' }).getAttribute('aria-valuetext').catch(() => null)) ?? '';
    if (s && s !== status.at(-1)) status.push(s);
    if (p && p !== progress.at(-1)) progress.push(p);
    if (!shotTaken && s === 'running' && !p.startsWith('0 ')) {
      shotTaken = true;
      await shot(page, runningShot);
      await checkA11y(page, `${runningShot} (while it runs)`);
    }
    if (FINAL.has(s) && (s !== 'completed' || /^(\d+) of \1 finished$/.test(p))) return { status, progress };
    if (Date.now() > deadline) throw new Error(`the live view did not end within ${timeoutMs / 1000} s: ${status.join(' → ')}; ${progress.join(' → ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `check` every 200 ms for up to `timeoutMs`; fails saying what did not happen. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The page's one h1 names it and nothing is still loading. */
async function assertPageSettled(page: Page, title: string): Promise<void> {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !document.querySelector('.loading'), undefined, { timeout: 30_000 });
  const h1 = (await page.getByRole('heading', { level: 1 }).first().textContent()) ?? '';
  assert.ok(h1.length > 0, `${title}: the page has a title`);
}
