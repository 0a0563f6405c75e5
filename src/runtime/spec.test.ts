import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveCaps, DEFAULT_CAPS, availableCaps } from './spec.ts';
import { translateProfile, dockerHarden } from './seccomp.ts';

test('capabilities follow Docker: drops, adds, ALL, privileged', () => {
  assert.deepEqual(effectiveCaps(), DEFAULT_CAPS);
  assert.ok(!effectiveCaps([], ['chown']).includes('CAP_CHOWN'));
  assert.ok(effectiveCaps(['SYS_ADMIN']).includes('CAP_SYS_ADMIN'));
  assert.deepEqual(effectiveCaps(['NET_ADMIN'], ['ALL']), ['CAP_NET_ADMIN']);
  assert.deepEqual(effectiveCaps([], [], true), availableCaps());
  assert.ok(availableCaps().includes('CAP_SYS_ADMIN'));
  assert.throws(() => effectiveCaps(['BOGUS']), /unknown capability: "CAP_BOGUS"/);
});

test('seccomp translation keeps rules whose capability conditions hold', () => {
  const p = {
    defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1,
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64' }],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['vhangup'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_TTY_CONFIG'] } },
    ],
  };
  const plain = translateProfile(p, DEFAULT_CAPS);
  assert.deepEqual(plain.syscalls.map((s) => s.names[0]), ['read', 'vhangup']);
  const admin = translateProfile(p, [...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_TTY_CONFIG']);
  assert.deepEqual(admin.syscalls.map((s) => s.names[0]), ['read', 'mount']);
  if (process.arch === 'x64') assert.deepEqual(plain.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
});

test('the default profile is tightened to Docker’s: namespace syscalls need CAP_SYS_ADMIN', () => {
  const base = { defaultAction: 'SCMP_ACT_ERRNO', architectures: [], syscalls: [{ names: ['read', 'mount', 'unshare', 'clone', 'keyctl', 'ptrace'], action: 'SCMP_ACT_ALLOW' }] };
  const plain = dockerHarden(base, DEFAULT_CAPS);
  const allowed = plain.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names);
  assert.deepEqual(allowed, ['read']);
  const clone = plain.syscalls.find((s) => s.names[0] === 'clone');
  assert.equal(clone?.args?.[0].op, 'SCMP_CMP_MASKED_EQ');
  assert.equal(plain.syscalls.find((s) => s.names[0] === 'clone3')?.errnoRet, 38);
  const admin = dockerHarden(base, [...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE']);
  assert.deepEqual(admin.syscalls.flatMap((s) => s.names), ['read', 'mount', 'unshare', 'clone', 'ptrace']);
});
