// `GET /v1/search?q=&n=&page=` in Docker Hub's answer shape, which `docker search` (and berthd's
// /images/search) read: repository names and descriptions matched case-insensitively, every word of the query
// as a substring of the name or the description, best matches first. Only repositories the caller may see are
// looked at, so private names never leak through a count or a page.
import type { RepositoryLister } from './types.ts';

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface SearchResponse {
  num_pages: number;
  num_results: number;
  page: number;
  page_size: number;
  query: string;
  results: SearchResult[];
}

export interface SearchRequest {
  query: string;
  pageSize: number;
  page: number;
}

// Docker Hub's defaults and limit (docker search --limit accepts 1 to 100).
export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

/** q, n and page from the query string; a missing or unusable n or page falls back to the default. */
export function parseSearchRequest(params: URLSearchParams): SearchRequest {
  const int = (v: string | null, dflt: number) => (v !== null && /^\d{1,9}$/.test(v) && Number(v) >= 1 ? Number(v) : dflt);
  return {
    query: (params.get('q') ?? '').trim(),
    pageSize: Math.min(MAX_PAGE_SIZE, int(params.get('n'), DEFAULT_PAGE_SIZE)),
    page: int(params.get('page'), 1),
  };
}

/**
 * How well a repository matches the query's words: 0 the name is the query (or its last component is), 1 the
 * name holds the whole query, 2 the name holds every word, 3 every word is in the name or the description;
 * undefined when some word is in neither. An empty query matches everything at rank 3.
 */
export function matchRank(query: string, name: string, description: string): number | undefined {
  const q = query.toLowerCase();
  const n = name.toLowerCase();
  const d = description.toLowerCase();
  const words = q.split(/\s+/).filter(Boolean);
  if (words.length === 0) return 3;
  if (n === q || n.endsWith(`/${q}`)) return 0;
  if (n.includes(q)) return 1;
  if (words.every((w) => n.includes(w))) return 2;
  if (words.every((w) => n.includes(w) || d.includes(w))) return 3;
  return undefined;
}

// Descriptions may cost a read each (a manifest and a config): a few at a time.
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function searchRepositories(lister: RepositoryLister, visible: (repo: string) => boolean, req: SearchRequest): Promise<SearchResponse> {
  const repos = (await lister.repositories()).filter(visible);
  const described = await mapLimit(repos, 8, async (name) => ({ name, description: await lister.description(name).catch(() => '') }));
  const hits: { rank: number; result: SearchResult }[] = [];
  for (const { name, description } of described) {
    const rank = matchRank(req.query, name, description);
    if (rank === undefined) continue;
    hits.push({ rank, result: { name, description, star_count: 0, is_official: false, is_automated: false } });
  }
  hits.sort((a, b) => a.rank - b.rank || (a.result.name < b.result.name ? -1 : a.result.name > b.result.name ? 1 : 0));
  const start = (req.page - 1) * req.pageSize;
  return {
    num_pages: Math.ceil(hits.length / req.pageSize),
    num_results: hits.length,
    page: req.page,
    page_size: req.pageSize,
    query: req.query,
    results: hits.slice(start, start + req.pageSize).map((h) => h.result),
  };
}
