# syntax=docker/dockerfile:1
# petrascore: serves the default PETRA bundle (models/loan_approval) on port 8000.
# Another bundle: mount it and pass its path, e.g.
#   docker run -p 8000:8000 -v $PWD/my-model:/bundle:ro petrascore /bundle/model.onnx
# or set PETRASCORE_BUNDLE=/bundle/model.onnx (CMD names no bundle, so the variable is read; the default is below).
# Options alone (`docker run petrascore --log-level debug`) replace CMD too: serve is the CLI's default command.
# Stopping: node is PID 1 and drains on SIGTERM; give `docker stop -t` at least --drain-delay + --shutdown-timeout.
# The Node.js version is CI's (.ci/run): bump both together.

FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
# .npmrc carries onnxruntime-node-install=skip: the CPU runtime ships inside the package, and the install script
# would otherwise try to download GPU binaries.
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY scripts ./scripts
# `npm ci` runs the prepare script, which compiles TypeScript into dist/; then drop the dev dependencies.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production \
    PETRASCORE_HOST=0.0.0.0 \
    PETRASCORE_PORT=8000
WORKDIR /app
# The code and the default model stay root's: the service user reads them and cannot change them. It writes only
# where it is given a place: `score -o` into a mounted directory, --case-state-file on a volume (README → Docker).
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY models ./models
COPY public ./public
# For --case-state-file: a named volume mounted here starts with this directory's owner, so the service can write there.
RUN mkdir -p /var/lib/petrascore && chown 1000:1000 /var/lib/petrascore
# The image's node user, by number: Kubernetes' runAsNonRoot cannot verify a user name.
USER 1000:1000
EXPOSE 8000
# On the admin port when there is one (PETRASCORE_ADMIN_PORT, not 0): there --max-connections cannot turn it away. A
# value that is no number (a service link's tcp://10.0.0.7:8000, which the server ignores too) falls through.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (Number(process.env.PETRASCORE_ADMIN_PORT) || Number(process.env.PETRASCORE_PORT) || 8000) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The node flags of `npm start` (a test keeps them equal; README → Performance): one GC thread, measured faster on 2
# cores, where parallel GC helpers only contend with the request thread; and Node 20's young generation, where Node 24
# grows it to 128 MB on a large host and doubles the peak memory for no measured gain.
ENTRYPOINT ["node", "--single-threaded-gc", "--max-semi-space-size=16", "/app/dist/src/cli/main.js"]
CMD ["serve"]
