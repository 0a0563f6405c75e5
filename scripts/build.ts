// Strips TypeScript types once (Node's own stripper, positions kept) into build/, so berthd and berth start
// without loading the type stripper (~17 MB RSS and ~20 ms per CLI start). Import specifiers ending in .ts
// become .js. bin/berthd and bin/berth use build/ when it is newer than every source file.
import { stripTypeScriptTypes } from 'node:module';
import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync, renameSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'build.tmp');
rmSync(out, { recursive: true, force: true });

function walk(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
      const rel = path.relative(root, p);
      const js = stripTypeScriptTypes(readFileSync(p, 'utf8'), { mode: 'strip' })
        .replace(/(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
      const dest = path.join(out, rel.replace(/\.ts$/, '.js'));
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, js);
    }
  }
}
walk(path.join(root, 'src'));
writeFileSync(path.join(out, 'package.json'), '{"type":"module"}\n');
rmSync(path.join(root, 'build'), { recursive: true, force: true });
renameSync(out, path.join(root, 'build'));
writeFileSync(path.join(root, 'build', '.stamp'), '');
