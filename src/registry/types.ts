// The seams of `berth registry`: the storage the HTTP API serves from, and the access control it asks. The
// server (server.ts) knows nothing of users; the access module (access.ts) knows nothing of blobs.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Action = 'pull' | 'push' | 'delete';

// Who is asking. Anonymous callers have no user.
export interface Principal {
  user?: string;
  teams: string[];
}

export type AuthResult =
  | { principal: Principal }
  // Credentials were sent but are wrong or expired: a 401 with this WWW-Authenticate value.
  | { rejected: true; challenge: string; message: string };

export interface AccessControl {
  // From the Authorization header (Basic or Bearer); no header gives the anonymous principal.
  authenticate(req: IncomingMessage): Promise<AuthResult>;
  // Whether the principal may do every one of these actions on the repository.
  allowed(p: Principal, repo: string, actions: Action[]): boolean;
  // Whether the repository shows up for the principal in the catalog and in search (public, or pullable).
  visible(p: Principal, repo: string): boolean;
  // The WWW-Authenticate value of a 401 for this scope (Basic realm, or Bearer realm/service/scope).
  challenge(repo: string | undefined, actions: Action[]): string;
  // Routes the access module serves itself (the token endpoint); true when it answered the request.
  handle?(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

// What search and the catalog need from the storage.
export interface RepositoryLister {
  repositories(): Promise<string[]>; // every repository with at least one manifest, sorted
  description(repo: string): Promise<string>; // the description set by an admin, else the image's label
}
