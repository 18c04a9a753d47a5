# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with the dev dependencies, then ship only the production
# dependencies (no tsx, TypeScript or test tooling: `npm prune --omit=dev`), the compiled code,
# the migrations and the simulator's media. Runs as the non-root `node` user (uid 1000).

FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && cp -r src/simulator/assets dist/simulator/assets
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=/data/reelay.db
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# bin/reelay.js (the CLI: runs dist/cli.js here) and bin/healthcheck.js
COPY bin ./bin
# Applied at start-up, before the port opens.
COPY migrations ./migrations
# /data must be writable by uid 1000: a named volume inherits this; a bind-mounted host
# directory needs `chown 1000:1000 <dir>` on the host.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# Follows HOST and PORT (a wildcard HOST is checked on loopback). The start period covers the
# migrations run at start-up; failures during it do not count.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "bin/healthcheck.js"]
CMD ["node", "--max-semi-space-size=8", "--liftoff-only", "dist/main.js"]
