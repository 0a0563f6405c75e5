import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRank, parseSearchRequest, searchRepositories } from './search.ts';
import type { RepositoryLister } from './types.ts';

const lister = (repos: Record<string, string>): RepositoryLister => ({
  repositories: async () => Object.keys(repos).sort(),
  description: async (r) => repos[r] ?? '',
});

test('matchRank: exact names first, then name substrings, then words anywhere; case-insensitive', () => {
  assert.equal(matchRank('app', 'team/app', ''), 0);
  assert.equal(matchRank('APP', 'app', ''), 0);
  assert.equal(matchRank('ap', 'team/app', ''), 1);
  assert.equal(matchRank('team app', 'team/app', ''), 2);
  assert.equal(matchRank('web server', 'nginx', 'A fast Web Server'), 3);
  assert.equal(matchRank('web database', 'nginx', 'A fast web server'), undefined);
  assert.equal(matchRank('', 'anything', ''), 3);
});

test('parseSearchRequest: Docker Hub defaults and limits', () => {
  const p = (q: string) => parseSearchRequest(new URLSearchParams(q));
  assert.deepEqual(p('q=%20busy%20'), { query: 'busy', pageSize: 25, page: 1 });
  assert.deepEqual(p('q=x&n=5&page=3'), { query: 'x', pageSize: 5, page: 3 });
  assert.deepEqual(p('n=1000&page=0'), { query: '', pageSize: 100, page: 1 });
  assert.deepEqual(p('n=abc&page=-2'), { query: '', pageSize: 25, page: 1 });
});

test('searchRepositories: Docker Hub\'s shape, only visible repositories, ranked and paged', async () => {
  const l = lister({ 'team/app': 'The team application', 'app': 'plain app', 'secret/app': 'hidden', 'tools/web': 'an app server', other: 'nothing' });
  const visible = (r: string) => !r.startsWith('secret/');
  const all = await searchRepositories(l, visible, { query: 'app', pageSize: 25, page: 1 });
  assert.deepEqual(all, {
    num_pages: 1, num_results: 3, page: 1, page_size: 25, query: 'app',
    results: [
      { name: 'app', description: 'plain app', star_count: 0, is_official: false, is_automated: false },
      { name: 'team/app', description: 'The team application', star_count: 0, is_official: false, is_automated: false },
      { name: 'tools/web', description: 'an app server', star_count: 0, is_official: false, is_automated: false },
    ],
  });
  const p2 = await searchRepositories(l, visible, { query: 'app', pageSize: 2, page: 2 });
  assert.equal(p2.num_pages, 2);
  assert.equal(p2.num_results, 3);
  assert.deepEqual(p2.results.map((r) => r.name), ['tools/web']);
  const past = await searchRepositories(l, visible, { query: 'app', pageSize: 2, page: 9 });
  assert.deepEqual(past.results, []);
  // A hidden repository does not show up even when its description matches.
  assert.equal((await searchRepositories(l, visible, { query: 'hidden', pageSize: 25, page: 1 })).num_results, 0);
  const none = await searchRepositories(l, () => false, { query: '', pageSize: 25, page: 1 });
  assert.deepEqual(none, { num_pages: 0, num_results: 0, page: 1, page_size: 25, query: '', results: [] });
});
