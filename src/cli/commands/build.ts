// berth build / image build / builder build: the docker CLI's legacy builder client (DOCKER_BUILDKIT=0
// docker build, cli/command/image/build.go). The context (a directory, a tar or Dockerfile on stdin, a Git
// repository or a URL) goes to POST /build as a tar; the daemon's JSON message stream is rendered as it comes.
// berth builder prune: POST /build/prune.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import type { Cli, CommandSpec } from '../command.ts';
import type { FlagDef, FlagValues } from '../flags.ts';
import { parseInt64 } from '../flags.ts';
import { StatusError } from '../errors.ts';
import { displayJSONMessages, JSONMessageError, progressString, type JSONMessage } from '../json-progress.ts';
import { parseNormalizedNamed } from '../reference.ts';
import { parseUlimit, type Ulimit } from '../container-options.ts';
import { readAsCSV, validateLabel } from './network.ts';
import { promptForConfirmation } from './prune.ts';
import { CliConfigFile } from '../auth-config.ts';
import { marshalJSON } from '../format/go-json.ts';
import { mergePruneFilters, filtersJSON } from './image-prune.ts';
import { readConfigFile } from '../display.ts';
import { humanSizeWithPrecision, ramInBytes } from '../../lib/units.ts';
import type { Query } from '../client.ts';
import {
  ContextError, contextExcludes, errnoMessage, contextTar, dockerfileTar, extraDockerfile, isArchive, isOutsideContext,
  listContext, localContext, peek, DEFAULT_DOCKERFILE,
} from '../build-context.ts';

// ---------------------------------------------------------------------------------------------------------
// Flag values (docker's opts validators)

/** opts.ValidateEnv: "KEY" alone takes the value from the CLI's environment when it is set there. */
export function validateBuildArg(val: string, env: NodeJS.ProcessEnv = process.env): string {
  const eq = val.indexOf('=');
  const key = eq >= 0 ? val.slice(0, eq) : val;
  if (key === '') throw new Error(`invalid environment variable: ${val}`);
  if (eq >= 0) return val;
  const v = env[key];
  return v !== undefined ? `${key}=${v}` : val;
}

/** opts.ValidateExtraHost: "host:ip" or "host=ip", sent as "host:ip" (brackets around the address dropped). */
export function validateExtraHost(val: string): string {
  let sep = val.indexOf('=');
  if (sep < 0) sep = val.indexOf(':');
  const k = sep < 0 ? '' : val.slice(0, sep);
  let v = sep < 0 ? '' : val.slice(sep + 1);
  if (sep < 0 || k === '' || k.includes(':')) throw new Error(`bad format for add-host: ${JSON.stringify(val)}`);
  if (v !== 'host-gateway') {
    if (v.length > 2 && v.startsWith('[') && v.endsWith(']')) v = v.slice(1, -1);
    if (isIP(v) === 0) throw new Error(`invalid IP address in add-host: ${JSON.stringify(v)}`);
  }
  return `${k}:${v}`;
}

function validateTag(val: string): string {
  parseNormalizedNamed(val);
  return val;
}

const parseMemSwap = (s: string) => (s === '-1' ? -1 : ramInBytes(s));

export const buildFlags: FlagDef[] = [
  { name: 'add-host', type: 'list', desc: 'Add a custom host-to-IP mapping ("host:ip")', repeat: true, parse: validateExtraHost },
  { name: 'build-arg', type: 'list', desc: 'Set build-time variables', repeat: true, parse: (v) => validateBuildArg(v) },
  { name: 'cache-from', type: 'strings', desc: 'Images to consider as cache sources', repeat: true, parse: readAsCSV },
  { name: 'cgroup-parent', type: 'string', desc: 'Set the parent cgroup for the "RUN" instructions during build' },
  { name: 'compress', type: '', desc: 'Compress the build context using gzip' },
  { name: 'cpu-period', type: 'int', desc: 'Limit the CPU CFS (Completely Fair Scheduler) period', parse: parseInt64, def: 0 },
  { name: 'cpu-quota', type: 'int', desc: 'Limit the CPU CFS (Completely Fair Scheduler) quota', parse: parseInt64, def: 0 },
  { name: 'cpu-shares', short: 'c', type: 'int', desc: 'CPU shares (relative weight)', parse: parseInt64, def: 0 },
  { name: 'cpuset-cpus', type: 'string', desc: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', desc: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'disable-content-trust', type: '', desc: 'Skip image verification', def: true, defText: 'true' },
  { name: 'file', short: 'f', type: 'string', desc: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
  { name: 'force-rm', type: '', desc: 'Always remove intermediate containers' },
  { name: 'iidfile', type: 'string', desc: 'Write the image ID to the file' },
  { name: 'isolation', type: 'string', desc: 'Container isolation technology' },
  { name: 'label', type: 'list', desc: 'Set metadata for an image', repeat: true, parse: validateLabel },
  { name: 'memory', short: 'm', type: 'bytes', desc: 'Memory limit', parse: ramInBytes, def: 0 },
  { name: 'memory-swap', type: 'bytes', desc: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap', parse: parseMemSwap, def: 0 },
  { name: 'network', type: 'string', desc: 'Set the networking mode for the RUN instructions during build', def: 'default', defText: '"default"' },
  { name: 'no-cache', type: '', desc: 'Do not use cache when building the image' },
  { name: 'platform', type: 'string', desc: 'Set platform if server is multi-platform capable', def: process.env.DOCKER_DEFAULT_PLATFORM ?? '' },
  { name: 'pull', type: '', desc: 'Always attempt to pull a newer version of the image' },
  { name: 'quiet', short: 'q', type: '', desc: 'Suppress the build output and print image ID on success' },
  { name: 'rm', type: '', desc: 'Remove intermediate containers after a successful build', def: true, defText: 'true' },
  { name: 'security-opt', type: 'strings', desc: 'Security options', repeat: true, parse: readAsCSV },
  { name: 'shm-size', type: 'bytes', desc: 'Size of "/dev/shm"', parse: ramInBytes, def: 0 },
  // Experimental: hidden unless the daemon runs with experimental features, which berthd does not have.
  { name: 'squash', type: '', desc: 'Squash newly built layers into a single new layer', hidden: true },
  { name: 'tag', short: 't', type: 'list', desc: 'Name and optionally a tag in the "name:tag" format', repeat: true, parse: validateTag },
  { name: 'target', type: 'string', desc: 'Set the target build stage to build.' },
  { name: 'ulimit', type: 'ulimit', desc: 'Ulimit options', repeat: true, parse: parseUlimit, defText: '[]' },
];

// ---------------------------------------------------------------------------------------------------------
// Flags → POST /build query (the Go client's imageBuildOptionsToQuery)

/** Go's json.Marshal of a map (marshalJSON sorts a Map's keys as Go does). */
const sortedMapJSON = (m: Map<string, string | null>) => marshalJSON(m);

/** opts.ConvertKVStringsToMapWithNil (build args: "KEY" alone is null) or ConvertKVStringsToMap (labels: ""). */
export function kvMap(items: string[], missing: null | ''): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const s of items) {
    const eq = s.indexOf('=');
    if (eq < 0) m.set(s, missing);
    else m.set(s.slice(0, eq), s.slice(eq + 1));
  }
  return m;
}

/** configfile.ParseProxyConfig: config.json's proxies for this host (or "default") as build args not set yet. */
export function withProxyArgs(args: Map<string, string | null>, proxies: unknown, host: string): Map<string, string | null> {
  if (typeof proxies !== 'object' || proxies === null) return args;
  const all = proxies as Record<string, Record<string, unknown> | undefined>;
  const cfg = all[host] ?? all.default;
  if (!cfg || typeof cfg !== 'object') return args;
  const permitted: [string, string][] = [['HTTP_PROXY', 'httpProxy'], ['HTTPS_PROXY', 'httpsProxy'], ['NO_PROXY', 'noProxy'], ['FTP_PROXY', 'ftpProxy'], ['ALL_PROXY', 'allProxy']];
  for (const [key, field] of permitted) {
    const v = cfg[field];
    if (typeof v !== 'string' || v === '') continue;
    if (!args.has(key)) args.set(key, v);
    if (!args.has(key.toLowerCase())) args.set(key.toLowerCase(), v);
  }
  return args;
}

export function buildQuery(flags: FlagValues, relDockerfile: string, buildArgs: Map<string, string | null>): Query {
  const q: Query = {};
  const nonZero = (name: string) => (flags.num(name) !== 0 ? String(flags.num(name)) : undefined);
  const nonEmpty = (name: string) => flags.str(name) || undefined;
  const tags = flags.list('tag');
  if (tags.length > 0) q.t = tags;
  const sec = flags.list('security-opt');
  if (sec.length > 0) q.securityopt = sec;
  const hosts = flags.list('add-host');
  if (hosts.length > 0) q.extrahosts = hosts;
  if (flags.bool('quiet')) q.q = '1';
  if (flags.bool('no-cache')) q.nocache = '1';
  if (!flags.bool('rm')) q.rm = '0';
  if (flags.bool('force-rm')) q.forcerm = '1';
  if (flags.bool('pull')) q.pull = '1';
  if (flags.bool('squash')) q.squash = '1';
  const isolation = flags.str('isolation');
  if (isolation !== '' && isolation.toLowerCase() !== 'default') q.isolation = isolation;
  q.cpusetcpus = nonEmpty('cpuset-cpus');
  const network = flags.str('network');
  if (network !== '' && network !== 'default') q.networkmode = network;
  q.cpusetmems = nonEmpty('cpuset-mems');
  q.cpushares = nonZero('cpu-shares');
  q.cpuquota = nonZero('cpu-quota');
  q.cpuperiod = nonZero('cpu-period');
  q.memory = nonZero('memory');
  q.memswap = nonZero('memory-swap');
  q.cgroupparent = nonEmpty('cgroup-parent');
  q.shmsize = nonZero('shm-size');
  if (relDockerfile !== '') q.dockerfile = relDockerfile;
  q.target = nonEmpty('target');
  const ulimits = flags.get('ulimit') as Ulimit[];
  if (ulimits.length > 0) q.ulimits = marshalJSON(ulimits.map((u) => ({ Name: u.Name, Hard: u.Hard, Soft: u.Soft })));
  if (buildArgs.size > 0) q.buildargs = sortedMapJSON(buildArgs);
  const labels = kvMap(flags.list('label'), '');
  if (labels.size > 0) q.labels = sortedMapJSON(labels);
  const cacheFrom = flags.list('cache-from');
  if (cacheFrom.length > 0) q.cachefrom = marshalJSON(cacheFrom);
  const platform = flags.str('platform');
  if (platform !== '') q.platform = platform.toLowerCase();
  q.version = '1';
  return q;
}

/** X-Registry-Config: every credential in config.json, keyed by registry, as base64url JSON. */
function registryConfigHeader(configDir: string, err: Cli['err']): string {
  const cfg = CliConfigFile.loadOrWarn(configDir, err);
  // A Map is written with its keys sorted (Go's map); each AuthConfig in struct field order, empty ones left out.
  const all = new Map<string, Record<string, string>>();
  for (const [key, a] of cfg.auths) {
    const entry: Record<string, string> = {};
    for (const k of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) if (a[k]) entry[k] = a[k]!;
    all.set(key, entry);
  }
  return Buffer.from(marshalJSON(all), 'utf8').toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

// ---------------------------------------------------------------------------------------------------------
// Remote contexts (urlutil.IsGitURL / IsURL)

export function isURL(s: string): boolean {
  return s.startsWith('http://') || s.startsWith('https://');
}

export function isGitURL(s: string): boolean {
  if (isURL(s) && /\.git(?:#.+)?$/.test(s)) return true;
  return ['git://', 'github.com/', 'git@'].some((p) => s.startsWith(p));
}

/** git.Clone, simplified: a shallow clone of "URL#ref:subdir" into a temporary directory. */
function cloneGit(url: string): { dir: string; context: string } {
  let repo = url;
  let fragment = '';
  const hash = url.indexOf('#');
  if (hash >= 0) {
    repo = url.slice(0, hash);
    fragment = url.slice(hash + 1);
  }
  if (repo.startsWith('github.com/')) repo = `https://${repo}`;
  const [ref, subdir = ''] = fragment.split(':');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-build-git'));
  const args = ['clone', '--recurse-submodules', '--depth', '1', ...(ref ? ['--branch', ref] : []), '--', repo, dir];
  const r = spawnSync('git', args, { encoding: 'utf8' });
  if (r.error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new ContextError(`unable to find 'git': exec: "git": executable file not found in $PATH`);
  }
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new ContextError(`unable to 'git clone' to temporary context directory: error fetching: ${(r.stderr || r.stdout).trim()}: exit status ${r.status}`);
  }
  return { dir, context: subdir ? path.join(dir, subdir) : dir };
}

// ---------------------------------------------------------------------------------------------------------
// Output

/** Where text goes: the terminal, or a buffer (-q keeps it to show only on failure). */
interface Sink {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

class Buffered implements Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

const SENDING = 'Sending build context to Docker daemon';

/** The line of the upload progress: "Sending build context to Docker daemon  4.608kB". */
export function sendingLine(bytes: number): string {
  return `${SENDING} ${progressString({ current: bytes, total: 0 }, 200)}`;
}

/**
 * progress.NewProgressReader over the context: on a terminal the count is redrawn every 512 kB (at most ten
 * times a second); the final count ends with "\r\r\n" (the raw progress formatter's "\r" then a "\r\n" status).
 */
async function* counted(src: AsyncIterable<Buffer>, out: Sink, terminal: boolean): AsyncGenerator<Buffer> {
  let current = 0;
  let lastUpdate = 0;
  let lastWrite = 0;
  for await (const chunk of src) {
    current += chunk.length;
    if (terminal && current - lastUpdate > 512 * 1024) {
      lastUpdate = current;
      const now = Date.now();
      if (now - lastWrite >= 100) {
        lastWrite = now;
        out.write(`${sendingLine(current)}\r`);
      }
    }
    yield chunk;
  }
  out.write(`${sendingLine(current)}\r\r\n`);
}

async function* of(...bufs: Buffer[]): AsyncGenerator<Buffer> {
  yield* bufs;
}

async function* concat(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string);
  }
}

async function readAll(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

const prepareError = (msg: string) => new StatusError(`unable to prepare context: ${msg}`, 1);

/**
 * build.GetContextFromReader: a tar (or compressed archive) is sent as it is; anything else is a Dockerfile,
 * wrapped in a tar of its own.
 */
async function contextFromReader(src: AsyncIterable<Buffer>, dockerfileName: string): Promise<{ body: AsyncIterable<Buffer>; relDockerfile: string }> {
  const it = src[Symbol.asyncIterator]();
  const { head, done } = await peek(it);
  if (isArchive(head)) return { body: done ? of(head) : concat(head, it), relDockerfile: dockerfileName };
  if (dockerfileName === '-') throw prepareError('build context is not an archive');
  if (dockerfileName !== '') throw prepareError('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles');
  const content = done ? head : Buffer.concat([head, await readAll(concat(Buffer.alloc(0), it))]);
  return { body: of(dockerfileTar(content)), relDockerfile: DEFAULT_DOCKERFILE };
}

/** build.GetContextFromURL: downloaded with a progress line, then read like stdin. */
async function contextFromURL(url: string, dockerfileName: string, out: Sink): Promise<{ body: AsyncIterable<Buffer>; relDockerfile: string }> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw prepareError(`unable to download remote context ${url}: Get ${JSON.stringify(url)}: ${(err as Error).message}`);
  }
  if (res.status >= 400) {
    const body = (await res.text()).trim();
    throw prepareError(`unable to download remote context ${url}: failed to GET ${url} with status ${res.status} ${res.statusText}: ${body}`);
  }
  const data = Buffer.from(await res.arrayBuffer());
  const total = Number(res.headers.get('content-length') ?? 0);
  out.write(`Downloading build context from remote url: ${url} ${progressString({ current: data.length, total }, 200)}\r\r\n`);
  return contextFromReader(of(data), dockerfileName);
}

// ---------------------------------------------------------------------------------------------------------
// berth build

async function runBuild(cli: Cli, flags: FlagValues, args: string[]): Promise<number> {
  const specified = args[0]!;
  const dockerfileName = flags.str('file');
  const quiet = flags.bool('quiet');
  const fromStdin = specified === '-';
  if (dockerfileName === '-' && fromStdin) throw new StatusError("invalid argument: can't use stdin for both build context and dockerfile", 1);
  if (flags.bool('squash')) throw new StatusError('"--squash" is only supported on a Docker daemon with experimental features enabled', 1);

  const progOut: Sink = quiet ? new Buffered() : cli.out;
  const buildOut: Sink = quiet ? new Buffered() : cli.out;
  const iidfile = flags.str('iidfile');
  if (iidfile !== '') {
    try {
      fs.rmSync(iidfile);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new StatusError(`Removing image ID file: remove ${iidfile}: ${(err as Error).message}`, 1);
    }
  }

  let body: AsyncIterable<Buffer>;
  let relDockerfile = '';
  let tempDir: string | undefined;
  try {
    if (fromStdin) {
      ({ body, relDockerfile } = await contextFromReader(cli.in as AsyncIterable<Buffer>, dockerfileName));
    } else {
      let dir: string | undefined;
      if (fs.existsSync(specified)) {
        dir = specified;
      } else if (isGitURL(specified)) {
        try {
          const cloned = cloneGit(specified);
          tempDir = cloned.dir;
          dir = cloned.context;
        } catch (err) {
          if (err instanceof ContextError) throw prepareError(err.message);
          throw err;
        }
      } else if (isURL(specified)) {
        ({ body, relDockerfile } = await contextFromURL(specified, dockerfileName, progOut));
      } else {
        throw new StatusError(`unable to prepare context: path ${JSON.stringify(specified)} not found`, 1);
      }
      if (dir !== undefined) {
        let ctx;
        try {
          ctx = localContext(dir, dockerfileName);
        } catch (err) {
          if (err instanceof ContextError) throw prepareError(err.message);
          throw err;
        }
        if (tempDir !== undefined && isOutsideContext(ctx.relDockerfile)) {
          throw prepareError(`the Dockerfile (${dockerfileName}) must be within the build context`);
        }
        let extra;
        if (dockerfileName === '-') {
          extra = extraDockerfile(await readAll(cli.in as AsyncIterable<Buffer>));
        } else if (isOutsideContext(ctx.relDockerfile)) {
          let content: Buffer;
          try {
            content = fs.readFileSync(dockerfileName);
          } catch (err) {
            throw new StatusError(`unable to open Dockerfile: open ${dockerfileName}: ${errnoMessage(err)}`, 1);
          }
          extra = extraDockerfile(content);
        }
        let entries;
        try {
          const excludes = contextExcludes(ctx.contextDir, ctx.relDockerfile, dockerfileName === '-');
          entries = listContext(ctx.contextDir, excludes);
        } catch (err) {
          throw new StatusError((err as Error).message, 1);
        }
        body = contextTar(entries, extra);
        relDockerfile = extra ? extra.name : ctx.relDockerfile;
      }
    }

    if (flags.bool('compress')) {
      const gz = createGzip();
      Readable.from(body!).pipe(gz);
      body = gz;
    }
    const upload = Readable.from(counted(body!, progOut, cli.out.isTTY === true));

    const client = cli.client();
    const cfg = readConfigFile(cli.configDir) as { proxies?: unknown };
    const buildArgs = withProxyArgs(kvMap(flags.list('build-arg'), null), cfg.proxies, client.host);
    let res;
    try {
      res = await client.request('POST', '/build', {
        query: buildQuery(flags, relDockerfile, buildArgs),
        headers: { 'Content-Type': 'application/x-tar', 'X-Registry-Config': registryConfigHeader(cli.configDir, cli.err) },
        body: upload,
      });
    } catch (err) {
      if (quiet) cli.err.write((progOut as Buffered).text);
      throw err;
    }

    let imageID = '';
    try {
      await displayJSONMessages(res, buildOut, {
        onAux: (jm: JSONMessage) => {
          const id = (jm.aux as { ID?: unknown } | null)?.ID;
          if (typeof id === 'string') imageID = id;
        },
      });
    } catch (err) {
      if (err instanceof JSONMessageError) {
        if (quiet) cli.err.write((progOut as Buffered).text + (buildOut as Buffered).text);
        throw new StatusError(err.message, err.code || 1);
      }
      throw err;
    }
    if (quiet) {
      imageID = (buildOut as Buffered).text;
      cli.out.write(imageID);
    }
    if (iidfile !== '') {
      if (imageID === '') throw new StatusError(`Server did not provide an image ID. Cannot write ${iidfile}`, 1);
      fs.writeFileSync(iidfile, imageID, { mode: 0o666 });
    }
    return 0;
  } finally {
    if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

export const buildCommand: CommandSpec = {
  usage: '[OPTIONS] PATH | URL | -',
  short: 'Build an image from a Dockerfile',
  aliases: ['image build', 'build', 'builder build'],
  flags: buildFlags,
  args: { exact: 1 },
  run: runBuild,
};

// ---------------------------------------------------------------------------------------------------------
// berth builder prune

const DANGLING_WARNING = 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
const ALL_WARNING = 'WARNING! This will remove all build cache. Are you sure you want to continue?';

/** --filter values merged with config.json's pruneFilters (command.PruneFilters), as filters.ToJSON: "" when empty. */
export function buildPruneFilters(cliFilters: string[], configFilters: string[] = []): string {
  const f = mergePruneFilters(cliFilters, configFilters);
  return f.size === 0 ? '' : filtersJSON(f);
}

interface BuildCachePruneReport { CachesDeleted?: string[] | null; SpaceReclaimed?: number }

export function buildPruneOutput(report: BuildCachePruneReport): string {
  let out = '';
  const deleted = report.CachesDeleted ?? [];
  if (deleted.length > 0) out = `Deleted build cache objects:\n${deleted.map((id) => `${id}\n`).join('')}\n`;
  return `${out}Total reclaimed space: ${humanSizeWithPrecision(report.SpaceReclaimed ?? 0, 4)}\n`;
}

export const builderPruneCommand: CommandSpec = {
  usage: '',
  short: 'Remove build cache',
  flags: [
    { name: 'all', short: 'a', type: '', desc: 'Remove all unused build cache, not just dangling ones' },
    { name: 'filter', type: 'filter', desc: 'Provide filter values (e.g. "until=24h")', repeat: true, parse: (v) => {
      if (!v.includes('=')) throw new Error('bad format of filter (expected name=value)');
      return v;
    } },
    { name: 'force', short: 'f', type: '', desc: 'Do not prompt for confirmation' },
    { name: 'keep-storage', type: 'bytes', desc: 'Amount of disk space to keep for cache', parse: ramInBytes, def: 0 },
  ],
  args: { none: true },
  async run(cli, flags) {
    const all = flags.bool('all');
    const configFilters = (readConfigFile(cli.configDir) as { pruneFilters?: unknown }).pruneFilters;
    const filters = buildPruneFilters(flags.list('filter'), Array.isArray(configFilters) ? configFilters.map(String) : []);
    // A "no" ends the command quietly with status 0, as in docker 28.
    if (!flags.bool('force') && !(await promptForConfirmation(cli, all ? ALL_WARNING : DANGLING_WARNING))) return 0;
    const keep = flags.num('keep-storage');
    const report = await cli.client().json<BuildCachePruneReport>('POST', '/build/prune', {
      query: { all: all ? '1' : undefined, 'keep-storage': keep !== 0 ? String(keep) : undefined, filters },
    });
    cli.out.write(buildPruneOutput(report ?? {}));
    return 0;
  },
};
