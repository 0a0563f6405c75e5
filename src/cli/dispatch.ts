// berth: the command-line client. It speaks the Docker Engine API over HTTP to berthd, like the docker CLI,
// and mirrors docker's commands, flags, output and exit statuses. Command modules are imported only when
// their command runs, to keep start-up short.
import { parseFlags, flagUsages, FlagError, type FlagDef } from './flags.ts';
import { BIN, checkArgs, commandHelp, flagError, terminalWidth, type Cli, type CommandSpec } from './command.ts';
import { ApiError, ConnectError, StatusError } from './errors.ts';
import { ApiClient, DEFAULT_HOST } from './client.ts';

interface Entry {
  short: string;
  load: () => Promise<CommandSpec>;
}

const cmd = {
  run: { short: 'Create and run a new container from an image', load: () => import('./commands/run.ts').then((m) => m.runCommand) },
  create: { short: 'Create a new container', load: () => import('./commands/run.ts').then((m) => m.createCommand) },
  ps: { short: 'List containers', load: () => import('./commands/ps.ts').then((m) => m.psCommand) },
  images: { short: 'List images', load: () => import('./commands/images.ts').then((m) => m.imagesCommand) },
  version: { short: 'Show the Docker version information', load: () => import('./commands/version.ts').then((m) => m.versionCommand) },
  info: { short: 'Display system-wide information', load: () => import('./commands/info.ts').then((m) => m.infoCommand) },
  start: { short: 'Start one or more stopped containers', load: () => import('./commands/start.ts').then((m) => m.startCommand) },
  stop: { short: 'Stop one or more running containers', load: () => import('./commands/lifecycle.ts').then((m) => m.stopCommand) },
  restart: { short: 'Restart one or more containers', load: () => import('./commands/lifecycle.ts').then((m) => m.restartCommand) },
  kill: { short: 'Kill one or more running containers', load: () => import('./commands/lifecycle.ts').then((m) => m.killCommand) },
  wait: { short: 'Block until one or more containers stop, then print their exit codes', load: () => import('./commands/lifecycle.ts').then((m) => m.waitCommand) },
  rm: { short: 'Remove one or more containers', load: () => import('./commands/lifecycle.ts').then((m) => m.rmCommand) },
  logs: { short: 'Fetch the logs of a container', load: () => import('./commands/logs.ts').then((m) => m.logsCommand) },
  inspect: { short: 'Return low-level information on Docker objects', load: () => import('./commands/inspect.ts').then((m) => m.inspectCommand) },
  containerInspect: { short: 'Display detailed information on one or more containers', load: () => import('./commands/inspect.ts').then((m) => m.containerInspectCommand) },
  imageInspect: { short: 'Display detailed information on one or more images', load: () => import('./commands/inspect.ts').then((m) => m.imageInspectCommand) },
  rmi: { short: 'Remove one or more images', load: () => import('./commands/image-ops.ts').then((m) => m.rmiCommand) },
  tag: { short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', load: () => import('./commands/image-ops.ts').then((m) => m.tagCommand) },
  load: { short: 'Load an image from a tar archive or STDIN', load: () => import('./commands/image-transfer.ts').then((m) => m.loadCommand) },
  save: { short: 'Save one or more images to a tar archive (streamed to STDOUT by default)', load: () => import('./commands/image-transfer.ts').then((m) => m.saveCommand) },
  import: { short: 'Import the contents from a tarball to create a filesystem image', load: () => import('./commands/image-transfer.ts').then((m) => m.importCommand) },
  exec: { short: 'Execute a command in a running container', load: () => import('./commands/exec.ts').then((m) => m.execCommand) },
  attach: { short: 'Attach local standard input, output, and error streams to a running container', load: () => import('./commands/exec.ts').then((m) => m.attachCommand) },
  stats: { short: 'Display a live stream of container(s) resource usage statistics', load: () => import('./commands/stats.ts').then((m) => m.statsCommand) },
  top: { short: 'Display the running processes of a container', load: () => import('./commands/top.ts').then((m) => m.topCommand) },
  events: { short: 'Get real time events from the server', load: () => import('./commands/events.ts').then((m) => m.eventsCommand) },
  update: { short: 'Update configuration of one or more containers', load: () => import('./commands/update.ts').then((m) => m.updateCommand) },
  rename: { short: 'Rename a container', load: () => import('./commands/update.ts').then((m) => m.renameCommand) },
  pause: { short: 'Pause all processes within one or more containers', load: () => import('./commands/update.ts').then((m) => m.pauseCommand) },
  unpause: { short: 'Unpause all processes within one or more containers', load: () => import('./commands/update.ts').then((m) => m.unpauseCommand) },
  cp: { short: 'Copy files/folders between a container and the local filesystem', load: () => import('./commands/cp.ts').then((m) => m.cpCommand) },
  diff: { short: "Inspect changes to files or directories on a container's filesystem", load: () => import('./commands/diff.ts').then((m) => m.diffCommand) },
  export: { short: "Export a container's filesystem as a tar archive", load: () => import('./commands/export.ts').then((m) => m.exportCommand) },
  commit: { short: "Create a new image from a container's changes", load: () => import('./commands/commit.ts').then((m) => m.commitCommand) },
  containerPrune: { short: 'Remove all stopped containers', load: () => import('./commands/prune.ts').then((m) => m.containerPruneCommand) },
  volumeCreate: { short: 'Create a volume', load: () => import('./commands/volume.ts').then((m) => m.volumeCreateCommand) },
  volumeLs: { short: 'List volumes', load: () => import('./commands/volume.ts').then((m) => m.volumeLsCommand) },
  volumeInspect: { short: 'Display detailed information on one or more volumes', load: () => import('./commands/volume.ts').then((m) => m.volumeInspectCommand) },
  volumeRm: { short: 'Remove one or more volumes', load: () => import('./commands/volume.ts').then((m) => m.volumeRmCommand) },
  volumePrune: { short: 'Remove unused local volumes', load: () => import('./commands/volume.ts').then((m) => m.volumePruneCommand) },
  networkCreate: { short: 'Create a network', load: () => import('./commands/network.ts').then((m) => m.networkCreateCommand) },
  networkLs: { short: 'List networks', load: () => import('./commands/network.ts').then((m) => m.networkLsCommand) },
  networkInspect: { short: 'Display detailed information on one or more networks', load: () => import('./commands/network.ts').then((m) => m.networkInspectCommand) },
  networkRm: { short: 'Remove one or more networks', load: () => import('./commands/network.ts').then((m) => m.networkRmCommand) },
  networkPrune: { short: 'Remove all unused networks', load: () => import('./commands/network.ts').then((m) => m.networkPruneCommand) },
  networkConnect: { short: 'Connect a container to a network', load: () => import('./commands/network.ts').then((m) => m.networkConnectCommand) },
  networkDisconnect: { short: 'Disconnect a container from a network', load: () => import('./commands/network.ts').then((m) => m.networkDisconnectCommand) },
  port: { short: 'List port mappings or a specific mapping for the container', load: () => import('./commands/port.ts').then((m) => m.portCommand) },
  pull: { short: 'Download an image from a registry', load: () => import('./commands/pull.ts').then((m) => m.pullCommand) },
  push: { short: 'Upload an image to a registry', load: () => import('./commands/push.ts').then((m) => m.pushCommand) },
  registry: { short: 'Run and manage a Berth image registry', load: () => Promise.reject(new Error('berth registry is dispatched before the API commands')) },
  login: { short: 'Authenticate to a registry', load: () => import('./commands/login.ts').then((m) => m.loginCommand) },
  logout: { short: 'Log out from a registry', load: () => import('./commands/login.ts').then((m) => m.logoutCommand) },
  search: { short: 'Search Docker Hub for images', load: () => import('./commands/search.ts').then((m) => m.searchCommand) },
  imagePrune: { short: 'Remove unused images', load: () => import('./commands/image-prune.ts').then((m) => m.imagePruneCommand) },
  systemDf: { short: 'Show docker disk usage', load: () => import('./commands/system-df.ts').then((m) => m.systemDfCommand) },
  build: { short: 'Build an image from a Dockerfile', load: () => import('./commands/build.ts').then((m) => m.buildCommand) },
  builderPrune: { short: 'Remove build cache', load: () => import('./commands/build.ts').then((m) => m.builderPruneCommand) },
  bootstrap: { short: 'Create the offline busybox base image from the host\'s busybox binary', load: () => import('./commands/bootstrap.ts').then((m) => m.bootstrapCommand) },
} satisfies Record<string, Entry>;

/** Top-level commands; the help text lists them in docker's groups. */
const topLevel: Record<string, Entry> = {
  run: cmd.run, exec: cmd.exec, ps: cmd.ps, images: cmd.images, version: cmd.version, info: cmd.info, attach: cmd.attach,
  create: cmd.create, import: cmd.import, inspect: cmd.inspect, kill: cmd.kill, load: cmd.load, logs: cmd.logs,
  restart: cmd.restart, rm: cmd.rm, rmi: cmd.rmi, save: cmd.save, start: cmd.start, stop: cmd.stop, tag: cmd.tag, wait: cmd.wait,
  cp: cmd.cp, diff: cmd.diff, export: cmd.export, commit: cmd.commit,
  stats: cmd.stats, top: cmd.top, events: cmd.events, update: cmd.update, rename: cmd.rename, pause: cmd.pause, unpause: cmd.unpause,
  port: cmd.port, pull: cmd.pull, push: cmd.push, login: cmd.login, logout: cmd.logout, search: cmd.search,
  build: cmd.build,
};
const common = ['run', 'exec', 'ps', 'build', 'pull', 'push', 'images', 'login', 'logout', 'search', 'version', 'info'];

interface Group {
  short: string;
  commands: Record<string, Entry>;
  aliases: Record<string, string>;
}

const groups: Record<string, Group> = {
  builder: {
    short: 'Manage builds',
    commands: { build: cmd.build, prune: cmd.builderPrune },
    aliases: {},
  },
  container: {
    short: 'Manage containers',
    commands: {
      attach: cmd.attach, exec: cmd.exec, create: cmd.create, inspect: cmd.containerInspect, kill: cmd.kill, logs: cmd.logs, ls: cmd.ps, restart: cmd.restart,
      rm: cmd.rm, run: cmd.run, start: cmd.start, stop: cmd.stop, wait: cmd.wait,
      cp: cmd.cp, diff: cmd.diff, export: cmd.export, commit: cmd.commit, prune: cmd.containerPrune,
      stats: cmd.stats, top: cmd.top, update: cmd.update, rename: cmd.rename, pause: cmd.pause, unpause: cmd.unpause,
      port: cmd.port,
    },
    aliases: { list: 'ls', ps: 'ls', remove: 'rm' },
  },
  image: {
    short: 'Manage images',
    commands: {
      bootstrap: cmd.bootstrap, import: cmd.import, inspect: cmd.imageInspect, load: cmd.load, ls: cmd.images, rm: cmd.rmi,
      save: cmd.save, tag: cmd.tag, pull: cmd.pull, push: cmd.push, prune: cmd.imagePrune, build: cmd.build,
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  network: {
    short: 'Manage networks',
    commands: {
      connect: cmd.networkConnect, create: cmd.networkCreate, disconnect: cmd.networkDisconnect, inspect: cmd.networkInspect,
      ls: cmd.networkLs, prune: cmd.networkPrune, rm: cmd.networkRm,
    },
    aliases: { list: 'ls', remove: 'rm' },
  },
  volume: {
    short: 'Manage volumes',
    commands: { create: cmd.volumeCreate, inspect: cmd.volumeInspect, ls: cmd.volumeLs, prune: cmd.volumePrune, rm: cmd.volumeRm },
    aliases: { list: 'ls', remove: 'rm' },
  },
  system: {
    short: 'Manage Berth',
    commands: { info: cmd.info, events: cmd.events, df: cmd.systemDf },
    aliases: {},
  },
};

const globalFlags: FlagDef[] = [
  { name: 'config', type: 'string', desc: 'Location of client config files', defText: '"/root/.docker"' },
  { name: 'context', short: 'c', type: 'string', desc: 'Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "docker context use")' },
  { name: 'debug', short: 'D', type: '', desc: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', desc: 'Daemon socket to connect to', repeat: true },
  { name: 'log-level', short: 'l', type: 'string', desc: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', defText: '"info"' },
  { name: 'tls', type: '', desc: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', type: 'string', desc: 'Trust certs signed only by this CA', defText: '"/root/.docker/ca.pem"' },
  { name: 'tlscert', type: 'string', desc: 'Path to TLS certificate file', defText: '"/root/.docker/cert.pem"' },
  { name: 'tlskey', type: 'string', desc: 'Path to TLS key file', defText: '"/root/.docker/key.pem"' },
  { name: 'tlsverify', type: '', desc: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: '', desc: 'Print version information and quit' },
];

function rootHelp(): string {
  const line = (name: string, short: string) => `  ${name.padEnd(11)} ${short}\n`;
  let s = `Usage:  ${BIN} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nCommon Commands:\n`;
  for (const n of common) s += line(n, topLevel[n].short);
  s += '\nManagement Commands:\n';
  for (const [n, g] of Object.entries(groups)) s += line(n, g.short);
  s += '\nCommands:\n';
  for (const n of Object.keys(topLevel).sort()) if (!common.includes(n)) s += line(n, topLevel[n].short);
  s += `\nGlobal Options:\n${flagUsages(globalFlags, terminalWidth() - 1)}`;
  s += `\nRun '${BIN} COMMAND --help' for more information on a command.\n`;
  return s;
}

function groupHelp(name: string, g: Group): string {
  let s = `Usage:  ${BIN} ${name} COMMAND\n\n${g.short}\n\nCommands:\n`;
  for (const n of Object.keys(g.commands).sort()) s += `  ${n.padEnd(11)} ${g.commands[n].short}\n`;
  return s + `\nRun '${BIN} ${name} COMMAND --help' for more information on a command.\n`;
}

function resolveHost(hosts: string[], env: NodeJS.ProcessEnv): string {
  if (hosts.length > 1) throw new StatusError('Failed to initialize: unable to resolve docker endpoint: Specify only one -H', 1);
  const host = hosts[0] ?? env.DOCKER_HOST ?? '';
  if (host === '') return DEFAULT_HOST;
  if (host.startsWith('unix://')) return host;
  if (host.startsWith('/')) return `unix://${host}`;
  throw new StatusError(`Failed to initialize: unable to resolve docker endpoint: ${BIN} supports only unix:// hosts, not ${JSON.stringify(host)}`, 1);
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(globalFlags, argv, { interspersed: false });
  } catch (err) {
    if (err instanceof FlagError) throw flagError(BIN, { usage: '[OPTIONS] COMMAND [ARG...]' }, err);
    throw err;
  }
  const g = parsed.flags;
  if (g.bool('version')) {
    const { printShortVersion } = await import('./commands/version.ts');
    printShortVersion(process.stdout);
    return 0;
  }
  const [name, ...rest] = parsed.args;
  if (parsed.help || name === undefined) {
    process.stdout.write(rootHelp());
    return 0;
  }

  // The registry server and its admin commands are their own program (they do not talk to berthd): they take
  // their arguments as they are.
  if (name === 'registry') {
    const { registryMain } = await import('../registry/main.ts');
    return registryMain(rest, { in: process.stdin, out: process.stdout, err: process.stderr });
  }

  let path = `${BIN} ${name}`;
  let entry: Entry | undefined = topLevel[name];
  let args = rest;
  const group = groups[name];
  if (group) {
    const sub = rest[0];
    if (sub === undefined || sub === '--help' || sub === '-h') {
      process.stdout.write(groupHelp(name, group));
      return 0;
    }
    entry = group.commands[group.aliases[sub] ?? sub];
    path = `${BIN} ${name} ${sub}`;
    args = rest.slice(1);
    if (!entry) throw new StatusError(`${BIN}: unknown command: ${path}\n\nUsage:  ${BIN} ${name}\n\nRun '${BIN} ${name} --help' for more information`, 1);
  }
  if (!entry) throw new StatusError(`${BIN}: unknown command: ${path}\n\nRun '${BIN} --help' for more information`, 1);

  const spec = await entry.load();
  let sub;
  try {
    sub = parseFlags(spec.flags, args, { interspersed: spec.interspersed });
  } catch (err) {
    if (err instanceof FlagError) throw flagError(path, spec, err);
    throw err;
  }
  if (sub.help || (spec.flags.some((f) => f.name === 'help') && sub.flags.bool('help'))) {
    process.stdout.write(commandHelp(path, spec));
    return 0;
  }
  checkArgs(path, spec, sub.args);

  let client: ApiClient | undefined;
  const env = process.env;
  const cli: Cli = {
    configDir: g.str('config') || env.DOCKER_CONFIG || `${env.HOME ?? '/root'}/.docker`,
    out: process.stdout,
    err: process.stderr,
    in: process.stdin,
    client: () => {
      client ??= new ApiClient(resolveHost(g.list('host'), env), { version: env.DOCKER_API_VERSION || undefined });
      return client;
    },
  };
  try {
    return (await spec.run(cli, sub.flags, sub.args)) ?? 0;
  } finally {
    client?.close();
  }
}

function report(err: unknown): number {
  if (err instanceof StatusError) {
    if (err.message) process.stderr.write(err.message + '\n');
    return err.status;
  }
  if (err instanceof ApiError || err instanceof ConnectError) {
    process.stderr.write(err.message + '\n');
    return 1;
  }
  process.stderr.write(`${(err as Error)?.message ?? String(err)}\n`);
  if (process.env.BERTH_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
  return 1;
}

// A closed pipe on our output ends the command the way it ends docker: Go dies of SIGPIPE (status 141),
// unless it is catching signals to forward them (run, start -a), where the write error is reported instead.
for (const [stream, name] of [[process.stdout, 'stdout'], [process.stderr, 'stderr']] as const) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') process.exit(1);
    if (process.listenerCount('SIGINT') === 0) process.exit(141);
    if (name === 'stdout') process.stderr.write('write /dev/stdout: broken pipe\n');
    process.exit(1);
  });
}

// Writes to pipes and files are synchronous on Linux, so exiting right away loses no output; exiting also
// ends any stdin reader or idle keep-alive socket that would otherwise hold the process open.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => process.exit(report(err)),
);
