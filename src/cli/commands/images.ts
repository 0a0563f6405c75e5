// berth images: GET /images/json rendered like docker's ImageContext (cli/command/formatter/image.go):
// one row per repository:tag (and per digest with --digests).
import type { Cli, CommandSpec } from '../command.ts';
import { formatFlag, filterFlag, filtersJSON } from '../common-flags.ts';
import { truncateID, readConfigFile } from '../display.ts';
import { renderRows } from '../format/formatter.ts';
import { humanSize } from '../../lib/units.ts';
import { formatGoTimeString, createdSince } from '../format/go-time.ts';
import { formatterContext } from '../format/go-fmt.ts';
import { parseNormalizedNamed, familiarName } from '../reference.ts';

export interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created?: number;
  Size?: number;
  SharedSize?: number;
  VirtualSize?: number;
  Containers?: number;
}

const header: Record<string, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};

const defaultTable = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const defaultTableDigest = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/**
 * The (repository, tag, digest) rows of one image, as imageFormatTaggedAndDigest builds them: tagged rows show
 * digests when the format does (needDigest), digest-only rows only with --digests.
 */
export function imageRefs(img: ImageSummary, showDigests: boolean, needDigest: boolean): [string, string, string][] {
  if (isDangling(img)) return [['<none>', '<none>', '<none>']];
  const repoTags = new Map<string, string[]>();
  const repoDigests = new Map<string, string[]>();
  for (const s of img.RepoTags ?? []) {
    try {
      const ref = parseNormalizedNamed(s);
      if (ref.tag !== undefined && ref.digest === undefined) {
        const repo = familiarName(ref.name);
        repoTags.set(repo, [...(repoTags.get(repo) ?? []), ref.tag]);
      }
    } catch { /* unparsable references are skipped, as in docker */ }
  }
  for (const s of img.RepoDigests ?? []) {
    try {
      const ref = parseNormalizedNamed(s);
      if (ref.digest !== undefined) {
        const repo = familiarName(ref.name);
        repoDigests.set(repo, [...(repoDigests.get(repo) ?? []), ref.digest]);
      }
    } catch { /* skipped */ }
  }
  const rows: [string, string, string][] = [];
  for (const [repo, tags] of repoTags) {
    const digests = needDigest ? (repoDigests.get(repo) ?? []) : [];
    repoDigests.delete(repo);
    for (const tag of tags) {
      if (digests.length === 0) rows.push([repo, tag, '<none>']);
      else for (const d of digests) rows.push([repo, tag, d]);
    }
  }
  for (const [repo, digests] of repoDigests) {
    if (showDigests) for (const d of digests) rows.push([repo, '<none>', d]);
    else rows.push([repo, '<none>', '']);
  }
  return rows;
}

export function imageRow(img: ImageSummary, repo: string, tag: string, digest: string, trunc: boolean, now: Date) {
  const created = new Date((img.Created ?? 0) * 1000);
  const size = img.Size ?? 0;
  const shared = img.SharedSize ?? -1;
  return {
    [formatterContext]: true,
    Containers: img.Containers === undefined || img.Containers === -1 ? 'N/A' : String(img.Containers),
    CreatedAt: formatGoTimeString(created),
    CreatedSince: createdSince(created, now),
    Digest: digest,
    ID: trunc ? truncateID(img.Id) : img.Id,
    Repository: repo,
    SharedSize: shared === -1 ? 'N/A' : humanSize(shared, 4),
    Size: humanSize(size),
    Tag: tag,
    UniqueSize: size === -1 || shared === -1 ? 'N/A' : humanSize(size - shared, 4),
    VirtualSize: humanSize(size, 4),
  };
}

export const imagesCommand: CommandSpec = {
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  short: 'List images',
  aliases: ['image ls', 'image list', 'images'],
  flags: [
    { name: 'all', short: 'a', type: '', desc: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: '', desc: 'Show digests' },
    filterFlag(),
    formatFlag({ table: true }),
    { name: 'no-trunc', type: '', desc: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: '', desc: 'Only show image IDs' },
  ],
  args: { max: 1 },
  async run(cli: Cli, flags, args) {
    const quiet = flags.bool('quiet');
    const filters = flags.list('filter');
    if (args[0] !== undefined) filters.push(`reference=${args[0]}`);
    const list = await cli.client().json<ImageSummary[]>('GET', '/images/json', {
      query: { all: flags.bool('all'), filters: filtersJSON(filters) },
    });
    let format = flags.str('format');
    if (format === '') format = (!quiet && readConfigFile(cli.configDir).imagesFormat) || 'table';
    const showDigests = flags.bool('digests');
    let tmpl: string;
    if (format === 'table') tmpl = quiet ? '{{.ID}}' : showDigests ? defaultTableDigest : defaultTable;
    else if (format === 'raw') {
      tmpl = quiet ? 'image_id: {{.ID}}'
        : `repository: {{ .Repository }}\ntag: {{.Tag}}\n${showDigests ? 'digest: {{.Digest}}\n' : ''}image_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n`;
    } else {
      tmpl = format;
      if (tmpl.startsWith('table') && showDigests && !tmpl.includes('{{.Digest}}')) tmpl += '\t{{.Digest}}';
    }
    const needDigest = showDigests || tmpl.includes('{{.Digest}}');
    const trunc = !flags.bool('no-trunc');
    const now = new Date();
    const rows = (list ?? []).flatMap((img) => imageRefs(img, showDigests, needDigest).map(([r, t, d]) => imageRow(img, r, t, d, trunc, now)));
    cli.out.write(renderRows(tmpl, rows, header, { typeName: '*formatter.imageContext' }));
  },
};
