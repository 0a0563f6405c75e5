// The kernel side of Berth's networking in one nftables table per daemon, rebuilt as a whole and swapped in one
// transaction whenever networks or published ports change: NAT for outgoing traffic, DNAT for published ports
// (traffic from other hosts and to the host's own non-loopback addresses; loopback goes through the userland
// proxy, as with Docker's split), and the isolation between bridges.
import { spawn } from 'node:child_process';

export interface BridgeRules {
  device: string;
  subnet: string; // CIDR
  internal: boolean; // no traffic in or out of the bridge but between its own containers
  masquerade: boolean;
}

export interface PortRule {
  proto: 'tcp' | 'udp';
  hostIp: string; // '' or 0.0.0.0 for every address
  hostPort: number;
  containerIp: string;
  containerPort: number;
  bridge: string;
}

export function quote(name: string): string {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) throw new Error(`invalid interface name: ${name}`);
  return `"${name}"`;
}

export function renderRuleset(table: string, bridges: BridgeRules[], ports: PortRule[]): string {
  const lines: string[] = [];
  const out = (s: string) => lines.push(s);
  // "add" makes the delete valid when the table is not there yet; the whole file is one transaction.
  out(`add table ip ${table}`);
  out(`delete table ip ${table}`);
  out(`table ip ${table} {`);
  out('  chain ports {');
  for (const p of ports) {
    const daddr = p.hostIp && p.hostIp !== '0.0.0.0' ? `ip daddr ${p.hostIp} ` : '';
    out(`    ${daddr}${p.proto} dport ${p.hostPort} dnat to ${p.containerIp}:${p.containerPort}`);
  }
  out('  }');
  out('  chain prerouting {');
  out('    type nat hook prerouting priority dstnat; policy accept;');
  // Traffic from the container's own bridge to a published port is left to the proxy (hairpin).
  const devs = bridges.map((b) => quote(b.device));
  out(`    fib daddr type local ${devs.length ? `iifname != { ${devs.join(', ')} } ` : ''}jump ports`);
  out('  }');
  out('  chain output {');
  out('    type nat hook output priority -100; policy accept;');
  out('    ip daddr != 127.0.0.0/8 fib daddr type local jump ports');
  out('  }');
  out('  chain postrouting {');
  out('    type nat hook postrouting priority srcnat; policy accept;');
  for (const b of bridges) if (b.masquerade && !b.internal) out(`    ip saddr ${b.subnet} oifname != ${quote(b.device)} masquerade`);
  out('  }');
  out('  chain forward {');
  out('    type filter hook forward priority filter; policy accept;');
  for (const b of bridges) {
    const others = bridges.filter((o) => o.device !== b.device).map((o) => quote(o.device));
    // Containers on different networks cannot reach each other (Docker's isolation chains).
    if (others.length) out(`    iifname ${quote(b.device)} oifname { ${others.join(', ')} } drop`);
    if (b.internal) {
      out(`    iifname ${quote(b.device)} oifname != ${quote(b.device)} drop`);
      out(`    oifname ${quote(b.device)} iifname != ${quote(b.device)} drop`);
    }
  }
  out('  }');
  out('}');
  return lines.join('\n') + '\n';
}

export function deleteTableScript(table: string): string {
  return `add table ip ${table}\ndelete table ip ${table}\n`;
}

export function runNft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${err.trim() || `exit ${code}`}`))));
    p.stdin.end(script);
  });
}

function iptables(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('iptables', ['-w', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', () => resolve({ code: -1, out: '' }));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

// A host where dockerd ran (or a firewall) has the iptables FORWARD policy DROP; nftables accepts in our
// table do not override another table's drop, so the bridge is let through there too, like Docker's
// DOCKER-FORWARD rules. Nothing is added on hosts that forward already.
export async function allowForward(device: string): Promise<void> {
  const policy = await iptables(['-S', 'FORWARD']);
  if (policy.code !== 0 || !/^-P FORWARD DROP/m.test(policy.out)) return;
  for (const dir of ['-i', '-o']) {
    const rule = ['FORWARD', dir, device, '-j', 'ACCEPT'];
    if ((await iptables(['-C', ...rule])).code !== 0) await iptables(['-I', ...rule]);
  }
}

export async function removeForward(device: string): Promise<void> {
  for (const dir of ['-i', '-o']) {
    while ((await iptables(['-D', 'FORWARD', dir, device, '-j', 'ACCEPT'])).code === 0) { /* every copy */ }
  }
}
