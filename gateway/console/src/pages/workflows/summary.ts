/** One line saying what a step does, shown while its form is closed. */
export function summary(step: Record<string, unknown>): string {
  const p = (step['params'] ?? {}) as Record<string, unknown>;
  const argv = (v: unknown) => (Array.isArray(v) ? v.join(' ') : '');
  const hook = (h: unknown) => {
    const o = (h ?? {}) as Record<string, unknown>;
    return o['kind'] === 'http' ? `${String(o['method'] ?? 'POST')} ${String(o['url'] ?? '')}` : `${String(o['on'] ?? 'endpoint')}: ${argv(o['argv'])}`;
  };
  const check = (c: unknown) => {
    const o = (c ?? {}) as Record<string, unknown>;
    if (o['kind'] === 'tcp') return `TCP ${String(o['host'] ?? 'endpoint')}:${String(o['port'] ?? '?')}`;
    if (o['kind'] === 'http') return `HTTP ${String(o['url'] ?? '')}`;
    return hook(o);
  };
  const name = typeof step['name'] === 'string' && step['name'] ? `${step['name']} · ` : '';
  let what = '';
  switch (step['type']) {
    case 'check-disk':
      what = `at least ${String(p['minFreeMb'] ?? '?')} MB free on ${String(p['path'] ?? '/')}`;
      break;
    case 'stop-service':
    case 'start-service':
      what = `service ${String(p['service'] ?? '') || '(none)'}`;
      break;
    case 'snapshot':
    case 'drain':
    case 'rejoin':
      what = hook(p['hook']);
      break;
    case 'patch':
      what = p['scope'] === 'list' ? `packages ${(Array.isArray(p['packages']) ? p['packages'] : []).join(', ')}` : `${String(p['scope'] ?? '?')} updates`;
      break;
    case 'reboot':
      what = `${String(p['mode'] ?? '?')}, back within ${String(p['returnTimeoutSeconds'] ?? '?')} s`;
      break;
    case 'wait-for':
    case 'validate':
      what = check(p['check']);
      break;
    case 'cleanup':
      what = [p['autoremove'] !== false ? 'autoremove' : '', p['cleanCache'] !== false ? 'clean cache' : '', ...(Array.isArray(p['paths']) ? p['paths'] : [])].filter(Boolean).join(', ') || 'nothing';
      break;
    case 'custom':
      what = `${String(p['on'] ?? 'endpoint')}: ${argv(p['argv'])}`;
      break;
  }
  const extra = [step['onFailure'] && step['onFailure'] !== 'stop-endpoint' ? `on failure: ${String(step['onFailure'])}` : '', step['timeoutSeconds'] ? `timeout ${String(step['timeoutSeconds'])} s` : ''].filter(Boolean).join(', ');
  return `${name}${what}${extra ? ` (${extra})` : ''}`;
}
