// berth search: GET /images/search, rendered with docker's search table (NAME, DESCRIPTION, STARS, OFFICIAL).
import type { CommandSpec } from '../command.ts';
import { filterFlag, filtersJSON } from '../common-flags.ts';
import { parseInt64 } from '../flags.ts';
import { renderRows } from '../format/formatter.ts';
import { formatterContext } from '../format/go-fmt.ts';
import { ellipsis } from '../display.ts';
import { StatusError } from '../errors.ts';
import { CliConfigFile, authKeyForIndex, searchIndexName } from '../auth-config.ts';
import { withRegistryAuth } from './registry-auth.ts';

export interface SearchResult {
  name?: string;
  description?: string;
  star_count?: number;
  is_official?: boolean;
  is_automated?: boolean;
}

const DEFAULT_FORMAT = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
const HEADER = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL' };

/**
 * One row of docker's searchContext. Its MarshalJSON switches IsOfficial to "true"/"false", so the json form
 * (and templates marshalling the row) get those instead of "[OK]" and "".
 */
export function searchRow(r: SearchResult, trunc: boolean, json: boolean) {
  let desc = (r.description ?? '').replaceAll('\n', ' ').replaceAll('\r', ' ');
  if (trunc) desc = ellipsis(desc, 45);
  const official = r.is_official === true;
  return {
    [formatterContext]: true,
    Name: r.name ?? '',
    Description: desc,
    StarCount: String(r.star_count ?? 0),
    IsOfficial: json ? String(official) : official ? '[OK]' : '',
  };
}

/** The search output for a --format value ("" or "table" for docker's table). */
export function renderSearch(results: SearchResult[], format: string, trunc: boolean): string {
  const f = format === '' || format === 'table' ? DEFAULT_FORMAT : format;
  const json = f === 'json' || /\{\{-?\s*json\s+\.\s*-?\}\}/.test(f);
  return renderRows(f, results.map((r) => searchRow(r, trunc, json)), HEADER, { typeName: '*registry.searchContext' });
}

export const searchCommand: CommandSpec = {
  usage: '[OPTIONS] TERM',
  short: 'Search Docker Hub for images',
  flags: [
    filterFlag(),
    { name: 'format', type: 'string', desc: 'Pretty-print search using a Go template' },
    { name: 'limit', type: 'int', desc: 'Max number of search results', parse: parseInt64, def: 0 },
    { name: 'no-trunc', type: '', desc: "Don't truncate output" },
  ],
  args: { exact: 1 },
  async run(cli, flags, args) {
    const term = args[0];
    const filters = flags.list('filter');
    if (filters.some((f) => f.slice(0, f.indexOf('=')).trim().toLowerCase() === 'is-automated')) {
      cli.err.write('WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.\n');
    }
    const cfg = CliConfigFile.loadOrWarn(cli.configDir, cli.err);
    const limit = flags.num('limit');
    const results = await withRegistryAuth(cli, cfg, authKeyForIndex(searchIndexName(term)), 'search', (auth) =>
      cli.client().json<SearchResult[] | null>('GET', '/images/search', {
        query: { term, limit: limit > 0 ? limit : undefined, filters: filtersJSON(filters) },
        headers: { 'X-Registry-Auth': auth },
      }));
    let out: string;
    try {
      out = renderSearch(results ?? [], flags.str('format'), !flags.bool('no-trunc'));
    } catch (err) {
      throw new StatusError((err as Error).message, 1);
    }
    cli.out.write(out);
  },
};
