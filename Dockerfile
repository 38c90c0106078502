# syntax=docker/dockerfile:1
# The boxoffice server image. Three stages: every dependency (to build the web client), the build,
# and a runtime with production dependencies only. The runtime runs TypeScript through tsx (a
# runtime dependency), as `npm run serve` does, so there is no compile step for the server.
#
#   docker build -t boxoffice .
#   docker run --env-file .env.production boxoffice                                  # the server
#   docker run --env-file .env.production boxoffice node --import tsx server/cli/migrate.ts up

ARG NODE_IMAGE=node:20-bookworm-slim

# --- every dependency, dev tools included (vite builds the web client) ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- the web client: clients/web -> clients/web/dist ---
FROM deps AS build
COPY tsconfig.json ./
COPY clients/web ./clients/web
RUN npm run build

# --- production dependencies only, installed apart so the runtime copies a clean tree ---
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# Owned by root and read-only to the server: the process cannot rewrite its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY machines ./machines
COPY migrations ./migrations
COPY server ./server
COPY --from=build /app/clients/web/dist ./clients/web/dist

USER node
EXPOSE 3000 9464
# No curl in the slim image: node's global fetch asks for readiness (PostgreSQL, Redis, migrations,
# queue workers). The start period covers connecting and the first reconciliation.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Migrations are a separate one-shot (node --import tsx server/cli/migrate.ts up): a node that
# starts on an unmigrated database reports not ready instead of migrating on its own.
CMD ["node", "--import", "tsx", "--import", "./server/observability/instrument.ts", "server/main.ts"]
