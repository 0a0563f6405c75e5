// berth info: GET /info printed like docker's prettyPrintInfo (cli/command/system/info.go).
import type { Cli, CommandSpec } from '../command.ts';
import { formatFlag, writeFormatted } from '../common-flags.ts';
import { StatusError } from '../errors.ts';
import { bytesSize } from '../../lib/units.ts';
import { berthVersion } from './version.ts';

interface Info {
  ID?: string;
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  Plugins?: { Volume?: string[] | null; Network?: string[] | null; Authorization?: string[] | null; Log?: string[] | null };
  Debug?: boolean;
  NFd?: number;
  NGoroutines?: number;
  SystemTime?: string;
  NEventsListener?: number;
  LoggingDriver?: string;
  CgroupDriver?: string;
  CgroupVersion?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  DockerRootDir?: string;
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  Name?: string;
  Labels?: string[] | null;
  ExperimentalBuild?: boolean;
  ServerVersion?: string;
  Runtimes?: Record<string, unknown> | null;
  DefaultRuntime?: string;
  Swarm?: { LocalNodeState?: string };
  LiveRestoreEnabled?: boolean;
  Isolation?: string;
  InitBinary?: string;
  ContainerdCommit?: { ID?: string };
  RuncCommit?: { ID?: string };
  InitCommit?: { ID?: string };
  SecurityOptions?: string[] | null;
  CDISpecDirs?: string[] | null;
  RegistryConfig?: { InsecureRegistryCIDRs?: string[] | null; IndexConfigs?: Record<string, { Name?: string; Secure?: boolean }> | null; Mirrors?: string[] | null } | null;
  DefaultAddressPools?: { Base: string; Size: number }[] | null;
  ProductLicense?: string;
  Warnings?: string[] | null;
}

/** Go's fmt.Println of its operands: joined by single spaces. */
function line(...parts: unknown[]): string {
  return parts.map((p) => String(p ?? '')).join(' ') + '\n';
}

function nonEmpty(label: string, value: string | undefined): string {
  return value ? line(label, value) : '';
}

function serverText(info: Info, debug: boolean): string {
  let s = '';
  s += line(' Containers:', info.Containers ?? 0);
  s += line('  Running:', info.ContainersRunning ?? 0);
  s += line('  Paused:', info.ContainersPaused ?? 0);
  s += line('  Stopped:', info.ContainersStopped ?? 0);
  s += line(' Images:', info.Images ?? 0);
  s += nonEmpty(' Server Version:', info.ServerVersion);
  if (info.Driver) {
    s += line(' Storage Driver:', info.Driver);
    for (const [k, v] of info.DriverStatus ?? []) s += `  ${k}: ${v}\n`;
  }
  s += nonEmpty(' Logging Driver:', info.LoggingDriver);
  s += nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  s += nonEmpty(' Cgroup Version:', info.CgroupVersion);
  s += line(' Plugins:');
  s += line('  Volume:', (info.Plugins?.Volume ?? []).join(' '));
  s += line('  Network:', (info.Plugins?.Network ?? []).join(' '));
  if ((info.Plugins?.Authorization ?? []).length > 0) s += line('  Authorization:', info.Plugins!.Authorization!.join(' '));
  s += line('  Log:', (info.Plugins?.Log ?? []).join(' '));
  if ((info.CDISpecDirs ?? []).length > 0) {
    s += line(' CDI spec directories:');
    for (const d of info.CDISpecDirs!) s += `  ${d}\n`;
  }
  s += line(' Swarm:', info.Swarm?.LocalNodeState ?? '');
  const runtimes = Object.keys(info.Runtimes ?? {});
  if (runtimes.length > 0) {
    s += line(' Runtimes:', runtimes.join(' '));
    s += line(' Default Runtime:', info.DefaultRuntime ?? '');
  }
  if (info.OSType === 'linux') {
    s += line(' Init Binary:', info.InitBinary ?? '');
    s += ` containerd version: ${info.ContainerdCommit?.ID ?? ''}\n`;
    s += ` runc version: ${info.RuncCommit?.ID ?? ''}\n`;
    s += ` init version: ${info.InitCommit?.ID ?? ''}\n`;
    if ((info.SecurityOptions ?? []).length > 0) {
      s += line(' Security Options:');
      for (const opt of info.SecurityOptions!) {
        // "name=seccomp,profile=builtin"
        const kv = Object.fromEntries(opt.split(',').map((p) => {
          const eq = p.indexOf('=');
          return eq >= 0 ? [p.slice(0, eq), p.slice(eq + 1)] : ['name', p];
        }));
        s += line(`  ${kv.name ?? opt}`);
        if (kv.profile !== undefined) s += line('   Profile:', kv.profile);
      }
    }
  }
  if (info.OSType === 'windows') s += line(' Default Isolation:', info.Isolation ?? '');
  s += nonEmpty(' Kernel Version:', info.KernelVersion);
  s += nonEmpty(' Operating System:', info.OperatingSystem);
  s += nonEmpty(' OSType:', info.OSType);
  s += nonEmpty(' Architecture:', info.Architecture);
  s += line(' CPUs:', info.NCPU ?? 0);
  s += line(' Total Memory:', bytesSize(info.MemTotal ?? 0));
  s += nonEmpty(' Name:', info.Name);
  s += nonEmpty(' ID:', info.ID);
  s += line(' Docker Root Dir:', info.DockerRootDir ?? '');
  s += line(' Debug Mode:', info.Debug ?? false);
  if (info.Debug || debug) {
    s += line('  File Descriptors:', info.NFd ?? 0);
    s += line('  Goroutines:', info.NGoroutines ?? 0);
    s += line('  System Time:', info.SystemTime ?? '');
    s += line('  EventsListeners:', info.NEventsListener ?? 0);
  }
  s += nonEmpty(' HTTP Proxy:', info.HttpProxy);
  s += nonEmpty(' HTTPS Proxy:', info.HttpsProxy);
  s += nonEmpty(' No Proxy:', info.NoProxy);
  if ((info.Labels ?? []).length > 0) {
    s += line(' Labels:');
    for (const l of info.Labels!) s += line(`  ${l}`);
  }
  s += line(' Experimental:', info.ExperimentalBuild ?? false);
  const reg = info.RegistryConfig;
  const indexConfigs = Object.values(reg?.IndexConfigs ?? {});
  if (reg && ((reg.InsecureRegistryCIDRs ?? []).length > 0 || indexConfigs.length > 0)) {
    s += line(' Insecure Registries:');
    for (const r of indexConfigs) if (!r.Secure) s += line(`  ${r.Name ?? ''}`);
    for (const cidr of reg.InsecureRegistryCIDRs ?? []) s += `  ${cidr}\n`;
  }
  if ((reg?.Mirrors ?? []).length > 0) {
    s += line(' Registry Mirrors:');
    for (const m of reg!.Mirrors!) s += line(`  ${m}`);
  }
  s += line(' Live Restore Enabled:', info.LiveRestoreEnabled ?? false);
  if (info.ProductLicense) s += line(' Product License:', info.ProductLicense);
  if ((info.DefaultAddressPools ?? []).length > 0) {
    s += line(' Default Address Pools:');
    for (const p of info.DefaultAddressPools!) s += `   Base: ${p.Base}, Size: ${p.Size}\n`;
  }
  return s + '\n';
}

export const infoCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Display system-wide information',
  aliases: ['system info', 'info'],
  flags: [formatFlag({ table: false, short: true })],
  args: { none: true },
  async run(cli: Cli, flags) {
    const clientInfo = { Debug: false, Version: berthVersion(), Context: 'default', Plugins: [], Warnings: null };
    let info: Info | undefined;
    let serverError: Error | undefined;
    try {
      info = await cli.client().json<Info>('GET', '/info');
    } catch (err) {
      serverError = err as Error;
    }
    const format = flags.str('format');
    if (format !== '') {
      const data = { ...(info ?? {}), ClientInfo: clientInfo, ServerErrors: serverError ? [serverError.message] : undefined };
      await writeFormatted(cli.out, format, data);
      if (serverError) throw serverError;
      return;
    }
    let s = 'Client:\n';
    s += line(' Version:   ', clientInfo.Version);
    s += line(' Context:   ', clientInfo.Context);
    s += line(' Debug Mode:', clientInfo.Debug);
    s += '\nServer:\n';
    if (info) s += serverText(info, false);
    cli.out.write(s);
    if (serverError) throw serverError;
    for (const w of info?.Warnings ?? []) cli.err.write(`${w}\n`);
  },
};
