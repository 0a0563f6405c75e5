// The classic builder behind POST /build: the context tar is unpacked, the Dockerfile parsed, and each needed
// stage built one instruction at a time on top of its base image. RUN runs in a real container that is then
// committed; COPY/ADD write into a created container's root filesystem (or, on an image without layers, into a
// fresh directory) and commit it; the other instructions only change the image config. Every step is an image
// whose parent is the previous step's, and its container_config holds the step's cache key: a step is reused when
// an image with the same parent and the same key exists (which survives daemon restarts).
import { randomBytes } from 'node:crypto';
import { promises as fsp, existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageStore, ImageRecord, ImageConfig, ContainerConfigPart } from '../images/store.ts';
import type { ContainerManager } from '../containers/manager.ts';
import type { AnyObj } from '../containers/types.ts';
import { commitContainer } from '../containers/commit.ts';
import { familiarName } from '../images/reference.ts';
import { resolveUser } from '../containers/user.ts';
import { importLayer } from '../images/transfer.ts';
import { packDirectory } from '../layers/archive.ts';
import { BerthError, invalidParameter } from '../lib/errors.ts';
import type { Report } from '../lib/progress.ts';
import { parseDockerignore, type IgnorePattern } from '../lib/dockerignore.ts';
import { parseDockerfile, DockerfileError, type Instruction, type Stage } from './dockerfile.ts';
import { expandWord, expandWords, expandHeredoc } from './shell-words.ts';
import { extractContext, copyIntoRootfs, checksumSources } from './context.ts';
import { frameSink } from './stdcopy.ts';
import { checkReachable, isOffline } from '../distribution/client.ts';

export interface BuildOptions {
  dockerfile: string; // path inside the context
  tags: string[];
  buildArgs: Record<string, string | null>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  labels: Record<string, string>;
  networkMode?: string;
  extraHosts: string[];
  platform?: string;
  quiet: boolean;
  shmSize?: number;
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  cpuPeriod?: number;
  cpuQuota?: number;
}

export interface BuildHost {
  images: ImageStore;
  containers: ContainerManager;
  tmpDir: string;
  pull(ref: string, report: Report, signal?: AbortSignal): Promise<ImageRecord>;
  tag(id: string, ref: string): Promise<void>;
}

export class BuildError extends BerthError {
  readonly exitCode?: number;
  constructor(message: string, exitCode?: number) {
    super('invalid-parameter', message);
    this.exitCode = exitCode;
  }
}

// Proxy variables may be passed without an ARG, and stay out of the history (Docker's predefined ARGs).
const PREDEFINED_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface StageState {
  image?: ImageRecord; // undefined: scratch with nothing committed yet
  config: ContainerConfigPart;
  args: Map<string, string | undefined>; // ARGs in scope and their values
  cmdSet: boolean; // CMD given in this stage (ENTRYPOINT then keeps it)
  author?: string;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function envMap(env: string[] | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

function setEnv(env: string[], key: string, value: string): string[] {
  return [...env.filter((e) => e.split('=')[0] !== key), `${key}=${value}`];
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function runBuild(host: BuildHost, context: Readable, o: BuildOptions, report: Report, signal?: AbortSignal): Promise<{ id: string; tags: string[] }> {
  const out = (s: string) => { if (!o.quiet) report({ stream: s }); };
  const ctxDir = path.join(host.tmpDir, `build-${randomBytes(8).toString('hex')}`);
  await fsp.mkdir(ctxDir, { recursive: true, mode: 0o700 });
  const cleanups: (() => Promise<void>)[] = [];
  try {
    await extractContext(context, ctxDir, { signal });
    const dfPath = path.posix.normalize(`/${o.dockerfile || 'Dockerfile'}`).slice(1);
    let text: string;
    try {
      text = await fsp.readFile(path.join(ctxDir, dfPath), 'utf8');
    } catch {
      throw new BuildError(`Cannot locate specified Dockerfile: ${o.dockerfile || 'Dockerfile'}`);
    }
    let ignore: IgnorePattern[] = [];
    try {
      ignore = parseDockerignore(await fsp.readFile(path.join(ctxDir, '.dockerignore'), 'utf8'));
    } catch { /* no .dockerignore */ }
    let df;
    try {
      df = parseDockerfile(text);
    } catch (err) {
      if (err instanceof DockerfileError) throw new BuildError(err.line ? `dockerfile parse error line ${err.line}: ${err.detail}` : err.detail);
      throw err;
    }
    // Meta ARGs (before the first FROM) only feed FROM lines.
    const usedArgs = new Set<string>();
    const metaArgs: Record<string, string> = {};
    for (const a of df.metaArgs) {
      for (const [k, v] of a.kv ?? []) {
        const given = o.buildArgs[k];
        const val = given ?? (v === undefined ? undefined : expandWord(v, metaArgs, df.escape));
        if (given !== undefined && given !== null) usedArgs.add(k);
        if (val !== undefined) metaArgs[k] = val;
      }
    }
    const stages = df.stages;
    let targetIdx = stages.length - 1;
    const target = o.target;
    if (target) {
      targetIdx = stages.findIndex((s) => s.name === target.toLowerCase());
      if (targetIdx < 0) throw new BuildError(`failed to reach build target ${target} in Dockerfile`);
    }
    // Only the stages the target needs (through FROM <stage> and COPY --from=<stage>) are built.
    const stageRef = (ref: string, before: number): number | undefined => {
      const lower = ref.toLowerCase();
      const byName = stages.findIndex((s, i) => i < before && s.name === lower);
      if (byName >= 0) return byName;
      if (/^\d+$/.test(ref) && Number(ref) < before) return Number(ref);
      return undefined;
    };
    const fromName = (s: Stage) => expandWord(s.from.args[0]?.split(/\s+/)[0] ?? '', metaArgs, df.escape);
    const needed = new Set<number>();
    const visit = (i: number) => {
      if (needed.has(i)) return;
      needed.add(i);
      const base = stageRef(fromName(stages[i]), i);
      if (base !== undefined) visit(base);
      for (const ins of stages[i].instructions) {
        const from = ins.flags.from;
        if ((ins.cmd === 'COPY' || ins.cmd === 'ADD') && from) {
          const r = stageRef(from, i);
          if (r !== undefined) visit(r);
        }
      }
    };
    visit(targetIdx);
    const order = [...needed].sort((a, b) => a - b);
    const total = order.reduce((n, i) => n + 1 + stages[i].instructions.length, 0);
    let step = 0;
    const results = new Map<number, ImageRecord | undefined>();

    for (const si of order) {
      const stage = stages[si];
      step++;
      out(`Step ${step}/${total} : ${stage.from.original}\n`);
      const st = await fromStep(host, stage, si, metaArgs, df.escape, o, results, stageRef, report, signal);
      out(` ---> ${st.image ? shortId(st.image.id) : 'scratch'}\n`);
      // ONBUILD triggers of the base image run first.
      for (const trigger of (st.image?.config.config?.OnBuild as string[] | null | undefined) ?? []) {
        const parsed = parseDockerfile(`FROM scratch\n${trigger}\n`).stages[0].instructions[0];
        out(`# Executing 1 build trigger\n`);
        await runInstruction(host, st, parsed, { ...ctxOf(), stageIndex: si });
      }
      if (st.image && st.image.config.config?.OnBuild?.length) {
        st.config.OnBuild = null;
      }
      for (const ins of stage.instructions) {
        step++;
        out(`Step ${step}/${total} : ${ins.original}\n`);
        await runInstruction(host, st, ins, { ...ctxOf(), stageIndex: si });
        out(` ---> ${st.image ? shortId(st.image.id) : 'scratch'}\n`);
      }
      results.set(si, st.image);
      if (si === targetIdx && Object.keys(o.labels).length) {
        st.config.Labels = { ...(st.config.Labels ?? {}), ...o.labels };
        await commitMetadata(host, st, `LABEL ${Object.entries(o.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`, o.noCache);
      }
    }
    const final = results.get(targetIdx);
    if (!final) throw new BuildError('No image was generated. Is your Dockerfile empty?');
    const unused = Object.keys(o.buildArgs).filter((k) => !usedArgs.has(k) && !PREDEFINED_ARGS.includes(k));
    if (unused.length) out(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    report({ aux: { ID: final.id } });
    out(`Successfully built ${shortId(final.id)}\n`);
    for (const t of o.tags) {
      await host.tag(final.id, t);
      out(`Successfully tagged ${familiarName(t)}\n`);
    }
    return { id: final.id, tags: o.tags };

    function ctxOf() {
      return { ctxDir, ignore, escape: df!.escape, o, out, report, signal, usedArgs, results, stageRef, cleanups };
    }
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await fsp.rm(ctxDir, { recursive: true, force: true });
  }
}

interface StepCtx {
  ctxDir: string;
  ignore: IgnorePattern[];
  escape: string;
  o: BuildOptions;
  out: (s: string) => void;
  report: Report;
  signal?: AbortSignal;
  usedArgs: Set<string>;
  results: Map<number, ImageRecord | undefined>;
  stageRef: (ref: string, before: number) => number | undefined;
  stageIndex: number;
  cleanups: (() => Promise<void>)[];
}

async function fromStep(host: BuildHost, stage: Stage, si: number, metaArgs: Record<string, string>, escape: string, o: BuildOptions,
  results: Map<number, ImageRecord | undefined>, stageRef: (r: string, b: number) => number | undefined, report: Report, signal?: AbortSignal): Promise<StageState> {
  const name = expandWord(stage.from.args[0]?.split(/\s+/)[0] ?? '', metaArgs, escape);
  if (!name) throw new BuildError('FROM requires either one or three arguments');
  const fresh = (image: ImageRecord | undefined): StageState => ({
    image,
    config: structuredClone(image?.config.config ?? { Env: [DEFAULT_PATH] }),
    args: new Map(),
    cmdSet: false,
  });
  if (name.toLowerCase() === 'scratch') return fresh(undefined);
  const ref = stageRef(name, si);
  if (ref !== undefined) return fresh(results.get(ref));
  let image = o.pull ? undefined : host.images.tryResolve(name);
  if (!image) {
    try {
      image = await host.pull(name, (m) => { if (!o.quiet && m.status && !m.progressDetail?.total) report({ stream: `${m.id ? `${m.id}: ` : ''}${m.status}\n` }); }, signal);
    } catch (err) {
      if (o.pull && host.images.tryResolve(name)) image = host.images.tryResolve(name);
      else throw new BuildError(`pull access denied for ${name}, repository does not exist or may require 'docker login': ${(err as Error).message}`);
    }
  }
  return fresh(image);
}

// The ARGs visible to RUN (build args given, else defaults), and the "|N a=b" prefix Docker puts in the
// history and cache key of a RUN that sees them.
function runArgs(st: StageState): { env: string[]; prefix: string } {
  const pairs: string[] = [];
  for (const [k, v] of st.args) if (v !== undefined) pairs.push(`${k}=${v}`);
  return { env: pairs, prefix: pairs.length ? `|${pairs.length} ${pairs.join(' ')} ` : '' };
}

function expandEnv(st: StageState): Record<string, string> {
  const env = envMap(st.config.Env);
  for (const [k, v] of st.args) if (v !== undefined && !(k in env)) env[k] = v;
  return env;
}

function findCache(images: ImageStore, parent: ImageRecord | undefined, key: AnyObj): ImageRecord | undefined {
  const want = JSON.stringify(key);
  for (const i of images.all()) {
    if ((i.parent ?? '') !== (parent?.id ?? '')) continue;
    if (JSON.stringify((i.config as AnyObj).container_config ?? null) === want) return i;
  }
  return undefined;
}

// A cache hit moves the stage to the cached step's image.
function useCache(host: BuildHost, st: StageState, key: AnyObj, noCache: boolean, out?: (s: string) => void): boolean {
  if (noCache) return false;
  const hit = findCache(host.images, st.image, key);
  if (!hit) return false;
  out?.(' ---> Using cache\n');
  st.image = hit;
  return true;
}

// A step that only changes the config: a new image with the same layers and a history entry without a layer.
async function commitMetadata(host: BuildHost, st: StageState, what: string, noCache: boolean, out?: (s: string) => void): Promise<void> {
  const createdBy = `/bin/sh -c #(nop) ${what}`;
  const key = { ...st.config, Cmd: ['/bin/sh', '-c', `#(nop) ${what}`], CmdConfig: st.config.Cmd ?? null };
  if (useCache(host, st, key, noCache, out)) return;
  const pc = st.image?.config;
  const created = new Date().toISOString();
  const config: ImageConfig = {
    architecture: pc?.architecture ?? goArch(),
    os: pc?.os ?? 'linux',
    ...(pc?.variant ? { variant: pc.variant } : {}),
    created,
    ...(st.author ? { author: st.author } : pc?.author ? { author: pc.author } : {}),
    config: st.config,
    rootfs: { type: 'layers', diff_ids: [...(pc?.rootfs.diff_ids ?? [])] },
    history: [...(pc?.history ?? []), { created, created_by: createdBy, empty_layer: true }],
    container_config: key,
  };
  st.image = await host.images.addImage(Buffer.from(JSON.stringify(config)), { parent: st.image?.id });
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}

async function runInstruction(host: BuildHost, st: StageState, ins: Instruction, c: StepCtx): Promise<void> {
  const env = () => expandEnv(st);
  const word = (s: string) => expandWord(s, env(), c.escape);
  const meta = (what: string) => commitMetadata(host, st, what, c.o.noCache, c.out);
  switch (ins.cmd) {
    case 'ENV': {
      if (!ins.kv?.length) throw new BuildError('ENV requires at least one argument');
      let e = [...(st.config.Env ?? [])];
      const shown: string[] = [];
      for (const [k, v] of ins.kv) {
        const val = expandWord(v ?? '', { ...env(), ...envMap(e) }, c.escape);
        e = setEnv(e, k, val);
        shown.push(`${k}=${val}`);
      }
      st.config.Env = e;
      return meta(`ENV ${shown.join(' ')}`);
    }
    case 'LABEL': {
      const labels = { ...(st.config.Labels ?? {}) };
      const shown: string[] = [];
      for (const [k, v] of ins.kv ?? []) {
        const key = word(k);
        const val = word(v ?? '');
        labels[key] = val;
        shown.push(`${JSON.stringify(key)}=${JSON.stringify(val)}`);
      }
      st.config.Labels = labels;
      return meta(`LABEL ${shown.join(' ')}`);
    }
    case 'MAINTAINER':
      st.author = ins.args.join(' ');
      return meta(`MAINTAINER ${st.author}`);
    case 'ARG': {
      for (const [k, v] of ins.kv ?? []) {
        const given = c.o.buildArgs[k];
        let val: string | undefined = v === undefined ? undefined : word(v);
        if (given !== undefined && given !== null) {
          val = given;
          c.usedArgs.add(k);
        } else if (given === null && process.env[k] !== undefined) val = process.env[k];
        st.args.set(k, val);
      }
      return meta(`ARG ${(ins.kv ?? []).map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ')}`);
    }
    case 'CMD':
      st.config.Cmd = ins.json ? ins.args : [...(st.config.Shell ?? DEFAULT_SHELL), ins.args[0] ?? ''];
      st.cmdSet = true;
      return meta(`CMD ${JSON.stringify(st.config.Cmd)}`);
    case 'ENTRYPOINT':
      st.config.Entrypoint = ins.json ? ins.args : [...(st.config.Shell ?? DEFAULT_SHELL), ins.args[0] ?? ''];
      // Docker: an ENTRYPOINT resets a CMD inherited from the base image.
      if (!st.cmdSet) st.config.Cmd = null;
      return meta(`ENTRYPOINT ${JSON.stringify(st.config.Entrypoint)}`);
    case 'EXPOSE': {
      const ports = { ...(st.config.ExposedPorts ?? {}) };
      const list = ins.args.flatMap((a) => expandWords(a, env(), c.escape));
      for (const p of list) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw new BuildError(`Invalid containerPort: ${p}`);
        ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      }
      st.config.ExposedPorts = ports;
      return meta(`EXPOSE ${Object.keys(ports).join(' ')}`);
    }
    case 'VOLUME': {
      const vols = { ...(st.config.Volumes ?? {}) };
      const list = ins.json ? ins.args.map(word) : ins.args.flatMap((a) => expandWords(a, env(), c.escape));
      if (!list.length || list.some((v) => !v)) throw new BuildError('VOLUME specified can not be an empty string');
      for (const v of list) vols[v] = {};
      st.config.Volumes = vols;
      return meta(`VOLUME ${JSON.stringify(list)}`);
    }
    case 'USER':
      st.config.User = word(ins.args[0] ?? '');
      return meta(`USER ${st.config.User}`);
    case 'WORKDIR': {
      const w = word(ins.args[0] ?? '');
      st.config.WorkingDir = path.posix.resolve(st.config.WorkingDir || '/', w);
      // Created at once, like Docker's builder (an empty directory layer when it is missing).
      if (st.image && st.image.config.rootfs.diff_ids.length) {
        const wd = st.config.WorkingDir;
        await inContainer(host, st, c, async (rootfs) => {
          const { resolveInRoot } = await import('../layers/archive.ts');
          const p = await resolveInRoot(rootfs, wd, { followFinal: true });
          if (existsSync(p)) return false;
          await fsp.mkdir(p, { recursive: true, mode: 0o755 });
          return true;
        }, `/bin/sh -c #(nop) WORKDIR ${st.config.WorkingDir}`);
        return;
      }
      return meta(`WORKDIR ${st.config.WorkingDir}`);
    }
    case 'STOPSIGNAL':
      st.config.StopSignal = word(ins.args[0] ?? '');
      return meta(`STOPSIGNAL ${st.config.StopSignal}`);
    case 'SHELL':
      if (!ins.json) throw new BuildError('SHELL requires the arguments to be in JSON form');
      st.config.Shell = ins.args;
      return meta(`SHELL ${JSON.stringify(ins.args)}`);
    case 'ONBUILD': {
      const text = ins.original.replace(/^\s*onbuild\s+/i, '');
      st.config.OnBuild = [...(st.config.OnBuild ?? []), text];
      return meta(`ONBUILD ${text}`);
    }
    case 'HEALTHCHECK': {
      const rest = ins.args;
      if (ins.flags && rest[0]?.toUpperCase() === 'NONE') {
        st.config.Healthcheck = { Test: ['NONE'] };
      } else {
        const sub = ins.sub;
        const test = sub ? (sub.json ? ['CMD', ...sub.args] : ['CMD-SHELL', sub.args[0] ?? '']) : ['CMD-SHELL', rest.join(' ').replace(/^CMD\s+/i, '')];
        const dur = (k: string) => (ins.flags[k] ? parseDurationNs(ins.flags[k]) : undefined);
        st.config.Healthcheck = {
          Test: test,
          ...(dur('interval') ? { Interval: dur('interval') } : {}),
          ...(dur('timeout') ? { Timeout: dur('timeout') } : {}),
          ...(dur('start-period') ? { StartPeriod: dur('start-period') } : {}),
          ...(dur('start-interval') ? { StartInterval: dur('start-interval') } : {}),
          ...(ins.flags.retries ? { Retries: Number(ins.flags.retries) } : {}),
        };
      }
      return meta(`HEALTHCHECK ${JSON.stringify(st.config.Healthcheck)}`);
    }
    case 'RUN':
      return runStep(host, st, ins, c);
    case 'COPY':
    case 'ADD':
      return copyStep(host, st, ins, c);
    default:
      throw new BuildError(`unknown instruction: ${ins.cmd}`);
  }
}

function parseDurationNs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(s);
  if (!m) throw new BuildError(`time: invalid duration "${s}"`);
  const mult: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  return Math.round(Number(m[1]) * mult[m[2]]);
}

// Creates a build container on the current image, lets `fill` change its root filesystem (the container is not
// started) and commits it as the next step when fill returns true.
async function inContainer(host: BuildHost, st: StageState, c: StepCtx, fill: (rootfs: string) => Promise<boolean>, createdBy: string, cacheKey?: AnyObj): Promise<void> {
  const { Id } = await host.containers.create({ Image: st.image!.id, Cmd: ['/bin/sh', '-c', createdBy], Entrypoint: [''], Labels: {}, HostConfig: { NetworkMode: 'none' } }, undefined);
  const ctr = host.containers.get(Id);
  try {
    const hold = host.containers.holdRootfs(ctr);
    let changed: boolean;
    try {
      changed = await fill(hold.merged);
    } finally {
      hold.release();
    }
    if (!changed) return;
    const { image } = await commitContainer(host.containers, host.images, ctr, { pause: false, changes: [], config: st.config as AnyObj, createdBy, containerConfig: cacheKey });
    st.image = image;
  } finally {
    await host.containers.remove(Id, { force: true, volumes: true }).catch(() => {});
  }
}

async function runStep(host: BuildHost, st: StageState, ins: Instruction, c: StepCtx): Promise<void> {
  if (!st.image) throw new BuildError('RUN needs a base image with a shell; the stage starts FROM scratch');
  const shell = (st.config.Shell as string[] | undefined) ?? DEFAULT_SHELL;
  let cmd: string[];
  if (ins.json) cmd = ins.args;
  else if (ins.heredocs.length && /^\s*<<-?['"]?\w+['"]?\s*$/.test(ins.args[0] ?? '')) cmd = [...shell, ins.heredocs[0].content];
  else if (ins.heredocs.length) {
    // `RUN cmd <<EOF`: the shell gets the line with its here-documents after it, and does the rest itself.
    const docs = ins.heredocs.map((h) => `${h.content === '' || h.content.endsWith('\n') ? h.content : `${h.content}\n`}${h.name}`);
    cmd = [...shell, `${ins.args[0] ?? ''}\n${docs.join('\n')}`];
  } else cmd = [...shell, ins.args[0] ?? ''];
  const { env: argEnv, prefix } = runArgs(st);
  const createdBy = `${prefix}${cmd.join(' ')}`;
  const key = { ...st.config, Cmd: [...(prefix ? [prefix.trim()] : []), ...cmd], CmdConfig: st.config.Cmd ?? null };
  if (useCache(host, st, key, c.o.noCache, c.out)) return;
  const o = c.o;
  const body: AnyObj = {
    Image: st.image.id, Cmd: cmd, Entrypoint: [''], Env: [...(st.config.Env ?? []), ...argEnv], User: st.config.User ?? '',
    WorkingDir: st.config.WorkingDir ?? '', Labels: {}, AttachStdout: true, AttachStderr: true,
    HostConfig: {
      NetworkMode: o.networkMode || 'default', ExtraHosts: o.extraHosts.length ? o.extraHosts : undefined, ShmSize: o.shmSize || undefined,
      Memory: o.memory || undefined, MemorySwap: o.memorySwap || undefined, CpuShares: o.cpuShares || undefined,
      CpusetCpus: o.cpusetCpus || undefined, CpuPeriod: o.cpuPeriod || undefined, CpuQuota: o.cpuQuota || undefined,
    },
  };
  const { Id } = await host.containers.create(body, undefined);
  c.out(` ---> Running in ${shortId(Id)}\n`);
  let keep = false;
  try {
    await host.containers.attach(Id, frameSink((_s, data) => c.out(data.toString('utf8'))), { stdin: false, stdout: true, stderr: true });
    const exit = host.containers.wait(Id, 'next-exit');
    await host.containers.start(Id);
    const onAbort = () => { void host.containers.kill(Id, 'SIGKILL').catch(() => {}); };
    c.signal?.addEventListener('abort', onAbort);
    const code = await exit.finally(() => c.signal?.removeEventListener('abort', onAbort));
    if (c.signal?.aborted) throw new BuildError('build canceled');
    if (code !== 0) {
      keep = !o.forceRm;
      throw new BuildError(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, code);
    }
    const ctr = host.containers.get(Id);
    const { image } = await commitContainer(host.containers, host.images, ctr, { pause: false, changes: [], config: st.config as AnyObj, createdBy, containerConfig: key });
    st.image = image;
  } finally {
    if (!keep && (o.rm || o.forceRm)) {
      await host.containers.remove(Id, { force: true, volumes: true }).catch(() => {});
      c.out(`Removing intermediate container ${shortId(Id)}\n`);
    }
  }
}

async function copyStep(host: BuildHost, st: StageState, ins: Instruction, c: StepCtx): Promise<void> {
  const env = expandEnv(st);
  const isAdd = ins.cmd === 'ADD';
  let words = ins.json ? ins.args.map((a) => expandWord(a, env, c.escape)) : ins.args.flatMap((a) => expandWords(a, env, c.escape));
  // COPY <<EOF /dst: the heredoc is the source file.
  let srcRoot = c.ctxDir;
  let ignore: IgnorePattern[] | undefined = c.ignore;
  const heredocDir = ins.heredocs.length ? path.join(c.ctxDir, `..heredoc-${randomBytes(4).toString('hex')}`) : undefined;
  if (heredocDir) {
    await fsp.mkdir(heredocDir, { recursive: true });
    c.cleanups.push(() => fsp.rm(heredocDir, { recursive: true, force: true }));
    for (const h of ins.heredocs) await fsp.writeFile(path.join(heredocDir, h.name), h.expand ? expandHeredoc(h.content, env, c.escape) : h.content, { mode: 0o644 });
    words = [...ins.heredocs.map((h) => h.name), ...words.filter((w) => !/^<<-?['"]?\w+['"]?$/.test(w))];
    srcRoot = heredocDir;
    ignore = undefined;
  }
  if (words.length < 2) throw new BuildError(`${ins.cmd} requires at least two arguments, but only one was provided. Destination could not be determined.`);
  const dest = words[words.length - 1];
  let sources = words.slice(0, -1);
  const from = ins.flags.from;
  let fromRelease: (() => Promise<void>) | undefined;
  let urlDir: string | undefined;
  try {
    if (from !== undefined) {
      const idx = c.stageRef(from, c.stageIndex);
      const img = idx !== undefined ? c.results.get(idx) : host.images.tryResolve(from) ?? await host.pull(from, () => {}, c.signal);
      if (!img) throw new BuildError(`COPY --from=${from}: the stage has no files`);
      const { Id } = await host.containers.create({ Image: img.id, Cmd: ['true'], Entrypoint: [''], HostConfig: { NetworkMode: 'none' } }, undefined);
      const ctr = host.containers.get(Id);
      const hold = host.containers.holdRootfs(ctr);
      srcRoot = hold.merged;
      ignore = undefined;
      fromRelease = async () => {
        hold.release();
        await host.containers.remove(Id, { force: true, volumes: true });
      };
    } else if (isAdd && sources.some((s) => /^https?:\/\//.test(s))) {
      urlDir = path.join(c.ctxDir, `..url-${randomBytes(4).toString('hex')}`);
      await fsp.mkdir(urlDir);
      c.cleanups.push(() => fsp.rm(urlDir!, { recursive: true, force: true }));
      const local: string[] = [];
      for (const s of sources) {
        if (!/^https?:\/\//.test(s)) throw new BuildError('ADD: URL and local sources cannot be mixed here');
        checkReachable(s);
        // Offline, a redirect could lead off the machine: it is not followed.
        const res = await fetch(s, { signal: c.signal, redirect: isOffline() ? 'manual' : 'follow' });
        if (!res.ok) throw new BuildError(`failed to GET ${s} with status ${res.status} ${res.statusText}`);
        const name = path.posix.basename(new URL(s).pathname) || 'index.html';
        await fsp.writeFile(path.join(urlDir, name), Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
        local.push(name);
      }
      sources = local;
      srcRoot = urlDir;
      ignore = undefined;
    }
    const sum = await checksumSources({ contextDir: srcRoot, sources, ignore }).catch((err: Error) => { throw new BuildError(`${ins.cmd} failed: ${err.message}`); });
    const createdBy = `/bin/sh -c #(nop) ${ins.cmd} ${from !== undefined ? `--from=${from} ` : ''}${sum} in ${dest} `;
    const key = { ...st.config, Cmd: ['/bin/sh', '-c', `#(nop) ${ins.cmd} ${sum} in ${dest} ${ins.flags.chown ?? ''} ${ins.flags.chmod ?? ''}`.trimEnd()], CmdConfig: st.config.Cmd ?? null };
    if (useCache(host, st, key, c.o.noCache, c.out)) return;
    const chmod = ins.flags.chmod ? parseInt(ins.flags.chmod, 8) : undefined;
    if (chmod !== undefined && (Number.isNaN(chmod) || chmod > 0o7777)) throw new BuildError(`invalid chmod parameter: ${ins.flags.chmod}`);
    const copy = async (rootfs: string) => {
      const chown = ins.flags.chown ? await resolveChown(rootfs, word(ins.flags.chown)) : undefined;
      await copyIntoRootfs({ contextDir: srcRoot, sources, dest, rootfs, workdir: st.config.WorkingDir || '/', chown, chmod, extractArchives: isAdd && !urlDir, ignore })
        .catch((err: Error) => { throw new BuildError(err.message.startsWith(`${ins.cmd} failed`) || err.message.startsWith('COPY failed') ? err.message : `${ins.cmd} failed: ${err.message}`); });
      return true;
    };
    if (st.image && st.image.config.rootfs.diff_ids.length) {
      await inContainer(host, st, c, copy, createdBy, key);
    } else {
      // No layers yet (FROM scratch): the files become the first layer.
      const dir = path.join(c.ctxDir, `..layer-${randomBytes(4).toString('hex')}`);
      await fsp.mkdir(dir, { mode: 0o755 });
      c.cleanups.push(() => fsp.rm(dir, { recursive: true, force: true }));
      await copy(dir);
      const { diffId } = await importLayer(host.images, undefined, packDirectory(dir, {}) as Readable);
      const created = new Date().toISOString();
      const pc = st.image?.config;
      const config: ImageConfig = {
        architecture: pc?.architecture ?? goArch(), os: 'linux', created, config: st.config,
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [...(pc?.history ?? []), { created, created_by: createdBy }],
        container_config: key,
      };
      st.image = await host.images.addImage(Buffer.from(JSON.stringify(config)), { parent: st.image?.id });
    }
  } finally {
    await fromRelease?.().catch(() => {});
  }

  function word(s: string): string {
    return expandWord(s, env, c.escape);
  }
}

async function resolveChown(rootfs: string, spec: string): Promise<{ uid: number; gid: number }> {
  try {
    const u = await resolveUser(rootfs, spec, []);
    return { uid: u.uid, gid: u.gid };
  } catch (err) {
    throw invalidParameter(`unable to convert uid/gid chown string to host mapping: ${(err as Error).message}`);
  }
}
