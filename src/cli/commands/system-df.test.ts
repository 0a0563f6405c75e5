import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDiskUsage, summaryRows, type DiskUsage } from './system-df.ts';

const now = new Date('2025-01-10T00:00:00Z');
const A = 'sha256:' + 'a'.repeat(64);
const du: DiskUsage = {
  LayersSize: 5_000_000,
  Images: [
    { Id: A, RepoTags: ['busybox:latest', 'bb:1'], RepoDigests: [], Created: 1736400000, Size: 4_000_000, SharedSize: 0, Containers: 1 },
    { Id: 'sha256:' + 'b'.repeat(64), RepoTags: [], RepoDigests: [], Created: 1736300000, Size: 1_000_000, SharedSize: 0, Containers: 0 },
  ],
  Containers: [
    { Id: 'c'.repeat(64), Names: ['/web'], Image: 'busybox', ImageID: A, Command: 'sleep 1000', Created: 1736450000, State: 'running', Status: 'Up 2 hours', SizeRw: 3000, SizeRootFs: 4003000, Mounts: [{ Name: 'v1', Driver: 'local' }] },
    { Id: 'd'.repeat(64), Names: ['/old'], Image: 'busybox', ImageID: A, Command: 'true', Created: 1736450000, State: 'exited', Status: 'Exited (0) 1 hour ago', SizeRw: 1000, Mounts: [] },
  ],
  Volumes: [
    { Name: 'v1', Driver: 'local', Scope: 'local', Mountpoint: '/x', Labels: null, UsageData: { Size: 2048, RefCount: 1 } },
    { Name: 'v2', Driver: 'local', Scope: 'local', Mountpoint: '/y', Labels: null, UsageData: { Size: -1, RefCount: 0 } },
  ],
  BuildCache: [],
};

test('summary: counts and reclaimable space computed from the lists, as docker 28 does', () => {
  assert.equal(renderDiskUsage(du, '', false, now),
    'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n'
    + 'Images          2         1         5MB       1MB (20%)\n'
    + 'Containers      2         1         4kB       1kB (25%)\n'
    + 'Local Volumes   2         1         2.048kB   0B (0%)\n'
    + 'Build Cache     0         0         0B        0B\n');
  assert.equal(renderDiskUsage({}, '', false, now).split('\n')[1], 'Images          0         0         0B        0B');
  assert.equal(renderDiskUsage(du, '{{.Type}}: {{.Size}}', false, now), 'Images: 5MB\nContainers: 4kB\nLocal Volumes: 2.048kB\nBuild Cache: 0B\n');
  assert.equal(renderDiskUsage(du, 'json', false, now).split('\n')[0], '{"Active":"1","Reclaimable":"1MB (20%)","Size":"5MB","TotalCount":"2","Type":"Images"}');
  assert.equal(renderDiskUsage(du, 'raw', false, now).split('\n\n')[1], 'type: Containers\ntotal: 2\nactive: 1\nsize: 4kB\nreclaimable: 1kB (25%)');
});

test('summary from the totals of newer daemons when the lists are missing', () => {
  const rows = summaryRows({
    ImageUsage: { TotalCount: 3, ActiveCount: 1, TotalSize: 1000, Reclaimable: 250 },
    ContainerUsage: { TotalCount: 0, ActiveCount: 0, TotalSize: 0, Reclaimable: 0 },
    VolumeUsage: { TotalCount: 1, ActiveCount: 0, TotalSize: 10, Reclaimable: 10 },
    BuildCacheUsage: { TotalCount: 0, ActiveCount: 0, TotalSize: 0, Reclaimable: 0 },
  });
  assert.deepEqual(rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable]), [
    ['Images', '3', '1', '1kB', '250B (25%)'], ['Containers', '0', '0', '0B', '0B'], ['Local Volumes', '1', '0', '10B', '10B (100%)'], ['Build Cache', '0', '0', '0B', '0B'],
  ]);
});

test('-v: a table per type, first tag only, no virtual size for containers', () => {
  assert.equal(renderDiskUsage(du, '', true, now),
    'Images space usage:\n\n'
    + 'REPOSITORY   TAG       IMAGE ID       CREATED        SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n'
    + 'busybox      latest    aaaaaaaaaaaa   19 hours ago   4MB       0B            4MB           1\n'
    + '<none>       <none>    bbbbbbbbbbbb   46 hours ago   1MB       0B            1MB           0\n'
    + '\nContainers space usage:\n\n'
    + 'CONTAINER ID   IMAGE     COMMAND        LOCAL VOLUMES   SIZE      CREATED       STATUS                  NAMES\n'
    + 'cccccccccccc   busybox   "sleep 1000"   1               3kB       5 hours ago   Up 2 hours              web\n'
    + 'dddddddddddd   busybox   "true"         0               1kB       5 hours ago   Exited (0) 1 hour ago   old\n'
    + '\nLocal Volumes space usage:\n\n'
    + 'VOLUME NAME   LINKS     SIZE\n'
    + 'v1            1         2.048kB\n'
    + 'v2            0         -1B\n'
    + '\nBuild cache usage: 0B\n\n'
    + 'CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n');
});

test('-v with a template: one execution over all lists, untruncated, no newline added', () => {
  const out = renderDiskUsage(du, '{{range .Images}}{{.ID}} {{end}}{{len .Volumes}}', true, now);
  assert.equal(out, `${A} ${'sha256:' + 'b'.repeat(64)} 2`);
  const json = JSON.parse(renderDiskUsage(du, 'json', true, now));
  assert.deepEqual(Object.keys(json), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.equal(json.Containers[0].Size, '3kB');
  const raw = renderDiskUsage(du, 'raw', true, now);
  assert.ok(raw.startsWith('type: Image\nrepository: busybox\ntag: latest\ndigest: \nimage_id: ' + A + '\n'), raw);
  assert.match(raw, /\ntype: Volume\nname: v1\ndriver: local\n\ntype: Volume\n/);
});
