// berth version and berth -v.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import type { CommandSpec } from '../command.ts';
import { CLIENT_API_VERSION } from '../client.ts';
import { formatFlag, writeFormatted } from '../common-flags.ts';
import { StatusError } from '../errors.ts';

export function berthVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function printShortVersion(out: NodeJS.WritableStream): void {
  out.write(`Berth version ${berthVersion()}, build node${process.versions.node}\n`);
}

interface Component { Name: string; Version: string; Details?: Record<string, string> | null }
interface ServerVersion {
  Platform?: { Name?: string };
  Components?: Component[] | null;
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

/** Go's tabwriter with minwidth 20 and padding 1, as docker's version template is printed. */
function cell(label: string): string {
  return label.padEnd(Math.max(20, label.length + 1));
}

export const versionCommand: CommandSpec = {
  usage: '[OPTIONS]',
  short: 'Show the Docker version information',
  flags: [formatFlag({ table: false, short: true })],
  args: { none: true },
  async run(cli, flags) {
    const client = cli.client();
    let server: ServerVersion | null = null;
    let serverError: Error | undefined;
    try {
      server = await client.json<ServerVersion>('GET', '/version');
    } catch (err) {
      serverError = err as Error;
    }
    const clientInfo = {
      Version: berthVersion(),
      ApiVersion: client.version,
      DefaultAPIVersion: CLIENT_API_VERSION,
      GitCommit: '',
      GoVersion: process.version,
      Os: process.platform,
      Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      Context: 'default',
    };
    if (server && !server.Components) {
      server.Components = [{
        Name: 'Engine',
        Version: server.Version ?? '',
        Details: {
          ApiVersion: server.ApiVersion ?? '', MinAPIVersion: server.MinAPIVersion ?? '', GitCommit: server.GitCommit ?? '',
          GoVersion: server.GoVersion ?? '', Os: server.Os ?? '', Arch: server.Arch ?? '', BuildTime: server.BuildTime ?? '',
          Experimental: String(server.Experimental ?? false),
        },
      }];
    }
    const format = flags.str('format');
    if (format !== '') {
      const data = { Client: clientInfo, Server: server };
      await writeFormatted(cli.out, format, data);
      if (serverError) throw serverError;
      return;
    }
    let s = 'Client:\n';
    s += `${cell(' Version:')}${clientInfo.Version}\n`;
    s += `${cell(' API version:')}${clientInfo.ApiVersion}${clientInfo.ApiVersion !== CLIENT_API_VERSION ? ` (downgraded from ${CLIENT_API_VERSION})` : ''}\n`;
    s += `${cell(' Node version:')}${clientInfo.GoVersion}\n`;
    s += `${cell(' OS/Arch:')}${clientInfo.Os}/${clientInfo.Arch}\n`;
    s += `${cell(' Context:')}${clientInfo.Context}\n`;
    if (server) {
      s += `\nServer:${server.Platform?.Name ? ` ${server.Platform.Name}` : ''}\n`;
      for (const c of server.Components ?? []) {
        const d = c.Details ?? {};
        s += ` ${c.Name}:\n`;
        if (c.Name === 'Engine') {
          s += `${cell('  Version:')}${c.Version}\n`;
          s += `${cell('  API version:')}${d.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? ''})\n`;
          s += `${cell('  Go version:')}${d.GoVersion ?? ''}\n`;
          s += `${cell('  Git commit:')}${d.GitCommit ?? ''}\n`;
          s += `${cell('  Built:')}${d.BuildTime ?? ''}\n`;
          s += `${cell('  OS/Arch:')}${d.Os ?? ''}/${d.Arch ?? ''}\n`;
          s += `${cell('  Experimental:')}${d.Experimental ?? ''}\n`;
        } else {
          s += `${cell('  Version:')}${c.Version}\n`;
          for (const k of Object.keys(d).sort()) s += `${cell(`  ${k}:`)}${d[k]}\n`;
        }
      }
    }
    cli.out.write(s);
    if (serverError) throw serverError;
  },
};
