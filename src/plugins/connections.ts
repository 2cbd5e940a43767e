import fp from 'fastify-plugin';
import { openFileLimit } from '../http/open-file-limit.js';
import { WindowedCount } from '../http/windowed-count.js';

/**
 * Files the process holds besides its connections (about 21 with inference on the event loop, 26 with a worker
 * thread and a webhook), with room for the static files and webhook deliveries that open more.
 */
const OWN_FILES = 64;

export interface ConnectionsPluginOptions {
  /** Node's server.maxConnections; 0: no cap. */
  maxConnections: number;
  /** Connections the admin listener may hold besides (its cap; 0 without one): they need files too. */
  adminMaxConnections: number;
}

/**
 * The cap on open TCP connections (Node closes one beyond it as it accepts it, and says so with 'drop'), the count of
 * open and dropped connections for /metrics, and a warning in the log while connections are being dropped.
 */
export const connectionsPlugin = fp<ConnectionsPluginOptions>(
  async (app, { maxConnections, adminMaxConnections }) => {
    const server = app.server;
    // Asked at scrape time: no listener on each socket (ServiceMetrics.openConnections says what one cost).
    app.metrics.openConnections.readFrom(() => new Promise((resolve) => server.getConnections((error, count) => resolve(error === null ? count : 0))));
    app.metrics.maxConnections.set(maxConnections);
    if (maxConnections === 0) return;
    // Set only as a cap: Node 20 reads 0 as no cap, later versions as no connection at all.
    server.maxConnections = maxConnections;

    const limit = openFileLimit();
    const room = limit === undefined ? undefined : limit - OWN_FILES - adminMaxConnections;
    if (room !== undefined && maxConnections > room) {
      const admin = adminMaxConnections === 0 ? '' : ` beside the admin listener's ${adminMaxConnections} (--admin-max-connections)`;
      app.log.warn(
        { max_connections: maxConnections, admin_max_connections: adminMaxConnections, open_file_limit: limit },
        `--max-connections ${maxConnections} is more than the open-file limit (${limit}) leaves for connections${admin}: at that limit Node closes new connections without counting them, and static files and webhook deliveries fail (EMFILE); give --max-connections at most ${Math.max(room, 1)}, or raise the limit (ulimit -n, docker run --ulimit nofile=…)`,
      );
    }

    const dropped = app.metrics.connectionsDropped.series();
    const drops = new WindowedCount((count) =>
      app.log.warn({ dropped: count, max_connections: maxConnections }, 'connections dropped as they were accepted: --max-connections are open'),
    );
    server.on('drop', () => {
      dropped.inc();
      drops.add();
    });
    app.addHook('onClose', async () => drops.flush());
  },
  { name: 'connections', dependencies: ['metrics'] },
);
