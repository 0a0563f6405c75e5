// Network records and endpoint settings with the API's field names (NetworkInspect, EndpointSettings).

export interface IpamConfig {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null';
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  // Berth's own state (not shown by inspect).
  Bridge?: string; // the bridge device
  LastIp?: string; // the allocator's round-robin cursor
  Allocated: Record<string, string>; // address → container id
}

export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
  // Berth's own: the veth end on the host and the interface name inside.
  HostIfname?: string;
  Ifname?: string;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface NetworkSettingsRecord {
  Networks: Record<string, EndpointSettings>;
  Ports: Record<string, PortBinding[] | null>;
  SandboxKey: string;
  SandboxID: string;
}

export function emptyEndpoint(networkId: string): EndpointSettings {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: networkId, EndpointID: '',
    Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
}
