import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1, for a child process that cannot report the port it picked (the port is released
 * before it is answered, so another process could take it in between: use it at once).
 *
 * @example
 * const port = await freePort();
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export { freePort };
