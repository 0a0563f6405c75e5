import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSearch } from './search.ts';

const results = [
  { name: 'busybox', description: 'Busybox base image.', star_count: 3037, is_official: true, is_automated: false },
  { name: 'someone/long', description: 'A very long description that goes on and on and on\r\nfor a while', star_count: 5, is_official: false },
];

test('docker\'s table: description cut to 45 columns with "…", [OK] for official images', () => {
  assert.equal(renderSearch(results, '', true),
    'NAME           DESCRIPTION                                     STARS     OFFICIAL\n'
    + 'busybox        Busybox base image.                             3037      [OK]\n'
    + 'someone/long   A very long description that goes on and on …   5         \n');
  assert.equal(renderSearch(results, 'table', false).split('\n')[2],
    'someone/long   A very long description that goes on and on and on  for a while   5         ');
  assert.equal(renderSearch([], '', true), 'NAME      DESCRIPTION   STARS     OFFICIAL\n');
});

test('json and templates: IsOfficial is true/false once the row is marshalled', () => {
  assert.equal(renderSearch(results.slice(0, 1), 'json', true),
    '{"Description":"Busybox base image.","IsOfficial":"true","Name":"busybox","StarCount":"3037"}\n');
  assert.equal(renderSearch(results, '{{.Name}}:{{.IsOfficial}}', true), 'busybox:[OK]\nsomeone/long:\n');
  assert.equal(renderSearch(results, 'table {{.Name}}\t{{.StarCount}}', true), 'NAME           STARS\nbusybox        3037\nsomeone/long   5\n');
  assert.throws(() => renderSearch(results, '{{.IsAutomated}}', true), /template parsing error: .*can't evaluate field IsAutomated/);
});
