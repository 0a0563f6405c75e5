// docker commit: a new image made of the container's image plus one layer with the container's changes (its
// overlay upper dir turned into a layer tar), and a config built from the container's with Dockerfile-style
// changes applied.
import type { ImageStore, ImageRecord, ImageConfig, ContainerConfigPart } from '../images/store.ts';
import { noSuchImage } from '../images/store.ts';
import { applyChanges } from '../images/changes.ts';
import { importLayer } from '../images/transfer.ts';
import { parseReference, fullName } from '../images/reference.ts';
import { packDirectory } from '../layers/archive.ts';
import { conflict, invalidParameter } from '../lib/errors.ts';
import { containerLayers, stubExcluder, type ContainerFsHost } from './archive.ts';
import type { AnyObj, ContainerRecord } from './types.ts';
import { readdirSync } from 'node:fs';
import type { Readable } from 'node:stream';

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Freeze a running container while its changes are read (default true, as in Docker). */
  pause: boolean;
  /** Dockerfile instructions (CMD, ENV, LABEL...). */
  changes: string[];
  /** A container config from the request body; defaults to the container's own. */
  config?: AnyObj;
  /** The builder's: the history line (default: the container's command) and the step's cache key config. */
  createdBy?: string;
  containerConfig?: AnyObj;
}

export interface CommitResult {
  image: ImageRecord;
  /** The full reference it was tagged with, if any. */
  ref?: string;
}

// The container config fields an image config carries (Docker stores the container.Config struct as is).
const CONFIG_FIELDS = [
  'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin',
  'StdinOnce', 'Env', 'Cmd', 'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled',
  'MacAddress', 'OnBuild', 'Labels', 'StopSignal', 'StopTimeout', 'Shell',
];

// The sha256 of an empty tar (two zero blocks): a commit without changes adds no layer, only history.
const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

function pick(cfg: AnyObj): ContainerConfigPart {
  const out: ContainerConfigPart = {};
  for (const k of CONFIG_FIELDS) if (cfg[k] !== undefined) out[k] = structuredClone(cfg[k]);
  return out;
}

const envKey = (e: string) => e.split('=')[0];

/**
 * Docker's merge(userConf, imageConf) for commit: what the request's config (or the changes) leave unset comes
 * from the container's config.
 */
export function mergeCommitConfig(user: ContainerConfigPart, base: ContainerConfigPart): ContainerConfigPart {
  const out: ContainerConfigPart = { ...user };
  if (!out.User) out.User = base.User ?? '';
  const ports = out.ExposedPorts ?? {};
  if (Object.keys(ports).length === 0) out.ExposedPorts = base.ExposedPorts;
  else if (base.ExposedPorts) out.ExposedPorts = { ...ports, ...Object.fromEntries(Object.keys(base.ExposedPorts).filter((p) => !(p in ports)).map((p) => [p, {}])) };
  if (!out.Env || out.Env.length === 0) out.Env = base.Env;
  else out.Env = [...out.Env, ...(base.Env ?? []).filter((e) => !out.Env!.some((u) => envKey(u) === envKey(e)))];
  out.Labels = { ...(base.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = base.Cmd;
    if (out.Entrypoint === undefined || out.Entrypoint === null) out.Entrypoint = base.Entrypoint;
  }
  if (base.Healthcheck && !out.Healthcheck) out.Healthcheck = base.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = base.WorkingDir ?? '';
  if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = base.Volumes;
  else out.Volumes = { ...out.Volumes, ...(base.Volumes ?? {}) };
  if (!out.StopSignal && base.StopSignal) out.StopSignal = base.StopSignal;
  return out;
}

/** The commit's config: `config` (or the container's) with the changes applied, then merged with the container's. */
export function commitConfig(containerConfig: AnyObj, config: AnyObj | undefined, changes: string[]): ContainerConfigPart {
  const base = pick(containerConfig);
  const start = config ? pick(config) : structuredClone(base);
  const changed = applyChanges(start, changes);
  // As in a Dockerfile, ENTRYPOINT without a CMD among the changes resets the command.
  const instr = changes.map((l) => /^\s*(\w+)/.exec(l)?.[1]?.toUpperCase());
  if (instr.includes('ENTRYPOINT') && !instr.includes('CMD')) changed.Cmd = null;
  return mergeCommitConfig(changed, base);
}

/** Docker's RepoTagReference: the full name to tag with, or undefined without a repository. */
export function commitReference(repo: string | undefined, tag: string | undefined): string | undefined {
  if (!repo) return undefined;
  const ref = parseReference(repo);
  if (ref.digest) throw invalidParameter('cannot import digest reference');
  if (tag && !/^[\w][\w.-]{0,127}$/.test(tag)) throw invalidParameter(`invalid tag format`);
  return fullName({ ...ref, tag: tag || ref.tag || 'latest' });
}

function hasChanges(upper: string, exclude: (rel: string) => boolean): boolean {
  for (const name of readdirSync(upper)) if (!exclude(name)) return true;
  return false;
}

export async function commitContainer(host: ContainerFsHost, images: ImageStore, c: ContainerRecord, opts: CommitOptions): Promise<CommitResult> {
  if (c.State.Dead) throw conflict(`You cannot commit container ${c.ID} which is Dead`);
  if (c.State.Status === 'removing') throw conflict(`You cannot commit container ${c.ID} which is being removed`);
  const target = commitReference(opts.repo, opts.tag);
  const parent = images.get(c.Image);
  if (!parent) throw noSuchImage(c.Image);
  const newConfig = commitConfig(c.Config, opts.config, opts.changes);

  // The upper dir is read directly (no mount needed); it is the container's changes in overlay form.
  const { upper, lowers } = containerLayers(host, images.layers, c);
  const exclude = stubExcluder(upper, lowers);
  const pack = async () => {
    if (!hasChanges(upper, exclude)) return EMPTY_LAYER_DIFF_ID;
    const tar = packDirectory(upper, { mode: 'overlay-diff', exclude }) as Readable;
    return (await importLayer(images, images.topLayer(parent), tar)).diffId;
  };
  let diffId: string;
  if (opts.pause && c.State.Running && !c.State.Paused) {
    // Like Docker: a real pause (with its pause/unpause events) while the changes are read.
    await host.pause(c.ID);
    try {
      diffId = await pack();
    } finally {
      await host.unpause(c.ID).catch(() => {});
    }
  } else {
    diffId = await pack();
  }

  const created = new Date().toISOString();
  const empty = diffId === EMPTY_LAYER_DIFF_ID;
  const history: NonNullable<ImageConfig['history']>[number] = { created };
  if (opts.author) history.author = opts.author;
  history.created_by = opts.createdBy ?? (c.Config.Cmd ?? []).join(' ');
  if (opts.comment) history.comment = opts.comment;
  if (empty) history.empty_layer = true;
  const pc = parent.config;
  const config: ImageConfig = {
    architecture: pc.architecture,
    ...(pc.variant ? { variant: pc.variant } : {}),
    os: pc.os,
    created,
    ...(opts.author ? { author: opts.author } : {}),
    config: newConfig,
    rootfs: { type: 'layers', diff_ids: empty ? [...pc.rootfs.diff_ids] : [...pc.rootfs.diff_ids, diffId] },
    history: [...(pc.history ?? []), history],
    ...(opts.containerConfig ? { container_config: opts.containerConfig } : {}),
  };
  const image = await images.addImage(Buffer.from(JSON.stringify(config)), { parent: parent.id });
  const ref = target ? await images.tag(image.id, target) : undefined;
  return { image, ref };
}
