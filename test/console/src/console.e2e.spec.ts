import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { checkA11y, ConsoleHarness, shot, skipReason } from './harness.js';

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

  it('no uncaught error and no CSP refusal in any page so far', () => {
    assert.deepEqual(h.pageErrors, []);
  });
});

/** Buttons only an operator or an approver can use (the page engineers' accessible names). */
const OPERATOR_OR_APPROVER_BUTTONS = [/approve/i, /request cycle/i, /launch/i, /save new version/i, /pause/i, /resume/i, /abort/i, /import/i, /preview/i, /add step/i, /gather facts/i];

/** The page's one h1 names it and nothing is still loading. */
async function assertPageSettled(page: Page, title: string): Promise<void> {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !document.querySelector('.loading'), undefined, { timeout: 30_000 });
  const h1 = (await page.getByRole('heading', { level: 1 }).first().textContent()) ?? '';
  assert.ok(h1.length > 0, `${title}: the page has a title`);
}
