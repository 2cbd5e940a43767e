import fp from 'fastify-plugin';
import { openFileLimit } from '../http/open-file-limit.js';

/** A flood at the cap drops thousands of connections a second: their log line is one per this window at most. */
const DROP_LOG_WINDOW_MS = 10_000;

/**
 * Files the process holds besides its connections (about 21 with inference on the event loop, 26 with a worker
 * thread and a webhook), with room for the static files and webhook deliveries that open more.
 */
const OWN_FILES = 64;

export interface ConnectionsPluginOptions {
  /** Node's server.maxConnections; 0: no cap. */
  maxConnections: number;
}

/**
 * The cap on open TCP connections (Node closes one beyond it as it accepts it, and says so with 'drop'), the count of
 * open and dropped connections for /metrics, and a warning in the log while connections are being dropped.
 */
export const connectionsPlugin = fp<ConnectionsPluginOptions>(
  async (app, { maxConnections }) => {
    const server = app.server;
    // Asked at scrape time: no listener on each socket (ServiceMetrics.openConnections says what one cost).
    app.metrics.openConnections.readFrom(() => new Promise((resolve) => server.getConnections((error, count) => resolve(error === null ? count : 0))));
    app.metrics.maxConnections.set(maxConnections);
    if (maxConnections === 0) return;
    // Set only as a cap: Node 20 reads 0 as no cap, later versions as no connection at all.
    server.maxConnections = maxConnections;

    const limit = openFileLimit();
    if (limit !== undefined && maxConnections > limit - OWN_FILES) {
      app.log.warn(
        { max_connections: maxConnections, open_file_limit: limit },
        `--max-connections ${maxConnections} is more than the open-file limit (${limit}) leaves for connections: at that limit Node closes new connections without counting them, and static files and webhook deliveries fail (EMFILE); give --max-connections at most ${limit - OWN_FILES}, or raise the limit (ulimit -n, docker run --ulimit nofile=…)`,
      );
    }

    const dropped = app.metrics.connectionsDropped.series();
    // The first drop after a quiet window is logged at once (no scrape gets through while the cap holds: the log is
    // where it shows meanwhile); those that follow within the window are summed into one line at its end.
    let unlogged = 0;
    let window: NodeJS.Timeout | undefined;
    const logDrops = () => {
      app.log.warn({ dropped: unlogged, max_connections: maxConnections }, 'connections dropped as they were accepted: --max-connections are open');
      unlogged = 0;
    };
    const logAndWait = () => {
      logDrops();
      window = setTimeout(() => {
        window = undefined;
        if (unlogged > 0) logAndWait();
      }, DROP_LOG_WINDOW_MS);
      window.unref();
    };
    server.on('drop', () => {
      dropped.inc();
      unlogged++;
      if (window === undefined) logAndWait();
    });
    app.addHook('onClose', async () => {
      clearTimeout(window);
      if (unlogged > 0) logDrops();
    });
  },
  { name: 'connections', dependencies: ['metrics'] },
);
