// Scaffolds one workspace package: package.json, tsconfig.json (project reference), project.json (Nx tags).
// usage: node scripts/new-package.mjs <dir> <@patchbay/name> <tags,comma> [dep,dep]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
const [dir, name, tags, deps = ''] = process.argv.slice(2);
const depList = deps ? deps.split(',') : [];
const dirOf = (n) => {
  const short = n.replace('@patchbay/', '');
  if (short === 'gateway') return 'gateway';
  for (const root of ['libs', 'services']) if (existsSync(join(root, short))) return join(root, short);
  throw new Error('unknown package ' + n);
};
mkdirSync(join(dir, 'src'), { recursive: true });
const pkg = {
  name, version: '0.1.0', private: true, license: 'Apache-2.0',
  main: 'dist/index.js', types: 'dist/index.d.ts',
  dependencies: Object.fromEntries(depList.map((d) => [d, '*'])),
};
if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
const ts = {
  extends: relative(dir, 'tsconfig.base.json'),
  compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' },
  include: ['src/**/*.ts', 'src/**/*.tsx'],
  references: depList.map((d) => ({ path: relative(dir, dirOf(d)) })),
};
writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(ts, null, 2) + '\n');
const project = { name: name.replace('@patchbay/', ''), $schema: relative(dir, 'node_modules/nx/schemas/project-schema.json'), sourceRoot: `${dir}/src`, projectType: dir.startsWith('libs') ? 'library' : 'application', tags: tags.split(',') };
writeFileSync(join(dir, 'project.json'), JSON.stringify(project, null, 2) + '\n');
