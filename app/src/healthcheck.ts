import { request } from 'http';
import { DEFAULT_PORT, HEALTH_LIVE_PATH } from './contract';

/**
 * Container HEALTHCHECK for an image without shell or curl: GET /health/live on loopback, exit 0 on 200, else 1.
 * Resolves to the exit code so it can be tested without exiting the test process.
 */
export function checkLiveness(port: number, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    // agent: false sends `Connection: close`: a probe leaves no idle keep-alive connection behind on the server
    // (Node 19+ agents keep connections alive by default), which would otherwise sit out the drain's idle grace.
    const req = request({ host: '127.0.0.1', port, path: HEALTH_LIVE_PATH, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? 0 : 1);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(1));
    req.end();
  });
}

/* istanbul ignore next -- process entry, run by the container test */
if (require.main === module) {
  const port = Number(process.env.PORT) || DEFAULT_PORT;
  void checkLiveness(port).then((code) => process.exit(code));
}
