# syntax=docker/dockerfile:1
#
# Ledgerline production image.
#
#   docker build -t ledgerline .
#   docker run --env-file .env ledgerline                              # API (APP_ROLE from env)
#   docker run --env-file .env ledgerline node dist/src/worker.js      # worker
#   docker run --env-file .env ledgerline node dist/src/database/cli.js run   # migrations
#
# Stages: base (Node 20 + the npm version the lockfile and `allowScripts` policy need)
#   -> toolchain (python3/make/g++ for bcrypt's node-gyp fallback)
#   -> build (all deps, `nest build` -> dist/)
#   -> prod-deps (`npm ci --omit=dev`)
#   -> runtime (slim, non-root, only dist/ + node_modules/ + package.json)

ARG NODE_VERSION=20
# node:20 images ship npm 10, which ignores package.json `allowScripts` (and would run every
# install script, including denied ones). Keep this in step with the npm that writes the lockfile.
ARG NPM_VERSION=11.19.1

FROM node:${NODE_VERSION}-bookworm-slim AS base
ARG NPM_VERSION
RUN npm install -g "npm@${NPM_VERSION}" \
 && npm cache clean --force
WORKDIR /app

FROM base AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./

# ---- build: full install + compile ----------------------------------------
FROM toolchain AS build
RUN npm ci
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- prod-deps: production dependencies only ------------------------------
FROM toolchain AS prod-deps
RUN npm ci --omit=dev \
 && npm cache clean --force

# ---- runtime ---------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime

# tini as PID 1: forwards SIGTERM/SIGINT to node (so graceful shutdown runs) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PORT=3000

WORKDIR /app

# Files stay owned by root: the `node` user can read the app but not modify it.
# Production never writes to the working directory (no .data/, no generated secrets).
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

USER node

EXPOSE 3000

# Liveness only (no database/queue check here; /health/ready is for load balancers).
# No curl in the slim image, so use Node's built-in fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# A smaller young generation keeps the API under 150 MB RSS after boot (see README "Design").
CMD ["node", "--max-semi-space-size=8", "dist/src/main.js"]
