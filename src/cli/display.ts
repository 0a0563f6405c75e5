// Small display helpers shared by the listing commands, each matching a docker CLI function.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { displayWidth, runeWidth } from './format/tabwriter.ts';

/** stringid.TruncateID: drop an "algo:" prefix, keep 12 characters. */
export function truncateID(id: string): string {
  const colon = id.indexOf(':');
  const s = colon >= 0 ? id.slice(colon + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}

/** formatter.Ellipsis: cut to a display width, ending in "…". */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const runes = [...s];
  if (max === 1) return runes[0] ?? '';
  // Fast path when every character is one byte, as in Go.
  if (Buffer.byteLength(s) === runes.length) {
    return s.length <= max ? s : s.slice(0, max - 1) + '…';
  }
  if (displayWidth(s) <= max) return s;
  let cumulative = 0;
  let i = 0;
  for (; i < runes.length; i++) {
    cumulative += runeWidth(runes[i].codePointAt(0)!);
    if (cumulative >= max) break;
  }
  return runes.slice(0, i).join('') + '…';
}

/** Container names from the API carry a leading "/". */
export function stripNamePrefix(names: string[]): string[] {
  return names.map((n) => (n.startsWith('/') ? n.slice(1) : n));
}

export interface ConfigFile {
  psFormat?: string;
  imagesFormat?: string;
  detachKeys?: string;
}

/** ~/.docker/config.json (or --config / DOCKER_CONFIG); missing or unreadable means defaults. */
export function readConfigFile(dir: string): ConfigFile {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as ConfigFile;
  } catch {
    return {};
  }
}
