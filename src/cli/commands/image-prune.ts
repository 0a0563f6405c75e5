// berth image prune: POST /images/prune with dangling=true (or false with -a) after docker's confirmation,
// then the untagged and deleted images and the space reclaimed.
import type { CommandSpec } from '../command.ts';
import { filterFlag } from '../common-flags.ts';
import { humanSizeWithPrecision } from '../../lib/units.ts';
import { readConfigFile } from '../display.ts';
import { promptForConfirmation } from './prune.ts';

const ALL_IMAGE_WARNING = 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';
const DANGLING_WARNING = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';

interface ImagePruneReport { ImagesDeleted?: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed?: number }

type Filters = Map<string, Set<string>>;

function addFilter(f: Filters, key: string, value: string): void {
  const k = key.trim().toLowerCase();
  if (!f.has(k)) f.set(k, new Set());
  f.get(k)!.add(value.trim());
}

/**
 * docker's command.PruneFilters: the command line's filters, the fixed ones, then config.json's pruneFilters (a
 * label filter on the command line wins over the opposite one from the file).
 */
export function mergePruneFilters(cliFilters: string[], configFilters: string[], fixed: [string, string][] = []): Filters {
  const f: Filters = new Map();
  for (const s of cliFilters) {
    const eq = s.indexOf('=');
    if (eq >= 0) addFilter(f, s.slice(0, eq), s.slice(eq + 1));
  }
  for (const [k, v] of fixed) addFilter(f, k, v);
  for (const s of configFilters) {
    const eq = s.indexOf('=');
    if (eq < 0) continue;
    const k = s.slice(0, eq);
    const v = s.slice(eq + 1);
    if (k === 'label' && f.get('label!')?.has(v)) continue;
    if (k === 'label!' && f.get('label')?.has(v)) continue;
    addFilter(f, k, v);
  }
  return f;
}

// filters.ToJSON: {"key": {"value": true}}, keys and values in Go's map order (sorted).
export function filtersJSON(f: Filters): string {
  const out: Record<string, Record<string, boolean>> = {};
  for (const k of [...f.keys()].sort()) out[k] = Object.fromEntries([...f.get(k)!].sort().map((v) => [v, true]));
  return JSON.stringify(out);
}

/** The image prune filters: the command line's, dangling=true|false, then config.json's pruneFilters. */
export function pruneFilters(cliFilters: string[], all: boolean, configFilters: string[] = []): string {
  return filtersJSON(mergePruneFilters(cliFilters, configFilters, [['dangling', String(!all)]]));
}

/** The report as docker prints it. */
export function pruneOutput(report: ImagePruneReport): string {
  let out = '';
  let reclaimed = 0;
  const deleted = report.ImagesDeleted ?? [];
  if (deleted.length > 0) {
    out = 'Deleted Images:\n' + deleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`)).join('') + '\n';
    reclaimed = report.SpaceReclaimed ?? 0;
  }
  return `${out}Total reclaimed space: ${humanSizeWithPrecision(reclaimed, 4)}\n`;
}

export const imagePruneCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Remove unused images',
  flags: [
    { name: 'all', short: 'a', type: '', desc: 'Remove all unused images, not just dangling ones' },
    { ...filterFlag(), short: undefined, desc: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: '', desc: 'Do not prompt for confirmation' },
  ],
  args: { none: true },
  async run(cli, flags) {
    const all = flags.bool('all');
    const configFilters = (readConfigFile(cli.configDir) as { pruneFilters?: unknown }).pruneFilters;
    const filters = pruneFilters(flags.list('filter'), all, Array.isArray(configFilters) ? configFilters.map(String) : []);
    // A "no" ends the command quietly with status 0 (docker's "image prune has been cancelled" is not printed).
    if (!flags.bool('force') && !(await promptForConfirmation(cli, all ? ALL_IMAGE_WARNING : DANGLING_WARNING))) return 0;
    const report = await cli.client().json<ImagePruneReport>('POST', '/images/prune', { query: { filters } });
    cli.out.write(pruneOutput(report ?? {}));
    return 0;
  },
};
