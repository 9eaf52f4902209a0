import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults PATCHBAY_NODE_SEMI_SPACE_MB to 16 and takes 0 (V8 default) up to 256', () => {
    assert.equal(loadConfig({}).nodeSemiSpaceMb, 16);
    assert.equal(loadConfig({ PATCHBAY_NODE_SEMI_SPACE_MB: '0' }).nodeSemiSpaceMb, 0);
    assert.equal(loadConfig({ PATCHBAY_NODE_SEMI_SPACE_MB: '64' }).nodeSemiSpaceMb, 64);
  });

  it('defaults PATCHBAY_NODE_HEAP_GROWING_PERCENT to 100 and takes 0 (V8 decides) up to 400; refuses the rest naming it', () => {
    assert.equal(loadConfig({}).nodeHeapGrowingPercent, 100);
    assert.equal(loadConfig({ PATCHBAY_NODE_HEAP_GROWING_PERCENT: '0' }).nodeHeapGrowingPercent, 0);
    assert.equal(loadConfig({ PATCHBAY_NODE_HEAP_GROWING_PERCENT: '400' }).nodeHeapGrowingPercent, 400);
    for (const bad of ['-1', '2.5', 'double', '401']) {
      assert.throws(
        () => loadConfig({ PATCHBAY_NODE_HEAP_GROWING_PERCENT: bad }),
        (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID' && /PATCHBAY_NODE_HEAP_GROWING_PERCENT/.test(e.message),
        bad,
      );
    }
  });

  it('refuses a bad PATCHBAY_NODE_SEMI_SPACE_MB with CONFIG_INVALID naming the variable', () => {
    for (const bad of ['-1', '2.5', 'lots', '257']) {
      assert.throws(
        () => loadConfig({ PATCHBAY_NODE_SEMI_SPACE_MB: bad }),
        (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID' && /PATCHBAY_NODE_SEMI_SPACE_MB/.test(e.message),
        bad,
      );
    }
  });

  it('PATCHBAY_UP_LAYOUT is separate by default, takes grouped, and refuses anything else with CONFIG_INVALID', () => {
    assert.equal(loadConfig({}).upLayout, 'separate');
    assert.equal(loadConfig({ PATCHBAY_UP_LAYOUT: 'grouped' }).upLayout, 'grouped');
    for (const bad of ['single', 'GROUPED', 'grouped ']) {
      assert.throws(
        () => loadConfig({ PATCHBAY_UP_LAYOUT: bad }),
        (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG_INVALID' && /PATCHBAY_UP_LAYOUT/.test(e.message),
        bad,
      );
    }
  });
});
