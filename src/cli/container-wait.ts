// docker's waitExitOrRemoved: the wait is registered before the container starts so that a fast exit is
// not missed; the result is the container's exit status, or 125 when waiting failed.
import { esc, type ApiClient } from './client.ts';

interface WaitResult { StatusCode: number; Error?: { Message?: string } | null }

/**
 * Registers the wait before the container starts (docker's waitExitOrRemoved). The returned promise settles
 * once the daemon acknowledged the wait (it sends the headers at once) or after a short grace period.
 */
export async function registerWait(client: ApiClient, id: string, removed: boolean): Promise<{ result: Promise<number> }> {
  let acked!: () => void;
  const ack = new Promise<void>((r) => (acked = r));
  const result = (async () => {
    try {
      const res = await client.request('POST', `/containers/${esc(id)}/wait`, { query: { condition: removed ? 'removed' : 'next-exit' } });
      acked();
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as WaitResult;
      if (body.Error?.Message) {
        process.stderr.write(`Error waiting for container: ${body.Error.Message}\n`);
        return 125;
      }
      return body.StatusCode ?? 125;
    } catch (err) {
      acked();
      process.stderr.write(`error waiting for container: ${(err as Error).message}\n`);
      return 125;
    }
  })();
  const grace = new Promise<void>((r) => setTimeout(r, 1000).unref());
  await Promise.race([ack, grace]);
  return { result };
}

