// A loopback TCP round-robin balancer: stands in for the webhook Service in front of several
// replicas, so the API server's calls really spread across them.
import net from 'node:net';

export interface RoundRobin {
  port: number;
  /** Connections handed to each backend, in order. */
  counts: number[];
  close(): Promise<void>;
}

export async function startRoundRobin(backends: number[]): Promise<RoundRobin> {
  const counts = backends.map(() => 0);
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((client) => {
    const i = next++ % backends.length;
    counts[i] = (counts[i] ?? 0) + 1;
    const upstream = net.connect({ host: '127.0.0.1', port: backends[i]! });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
