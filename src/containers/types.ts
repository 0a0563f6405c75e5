// Container records as Docker's inspect shows them (field names are the API's).
import type { MountPoint } from './mounts.ts';
import type { NetworkSettingsRecord } from '../network/types.ts';
/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyObj = Record<string, any>;

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState; // only with a healthcheck (see health.ts)
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface ContainerRecord {
  ID: string;
  Name: string; // with leading slash
  Created: string;
  Path: string;
  Args: string[];
  Config: AnyObj;
  HostConfig: AnyObj;
  Image: string; // image id
  State: ContainerState;
  RestartCount: number;
  LogPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  TopLayer?: string; // chain id of the image's top layer
  MountPoints?: MountPoint[]; // volumes, binds and tmpfs mounts planned at create (mounts.ts)
  NetworkMode: string;
  NetworkSettings?: NetworkSettingsRecord; // endpoints (addresses while running) and published ports
  HasBeenManuallyStopped?: boolean; // stopped or killed by the user since the last start (restart policies)
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function newState(): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}
