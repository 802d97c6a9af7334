# syntax=docker/dockerfile:1
# gateway-orchestrator image: compiled JavaScript and production dependencies on a slim Node
# base, running as a non-root numeric user. Build: docker build -t gateway-orchestrator:0.1.0 .
#
# The same production start is tested without a container engine by test/ship/production-start.test.ts
# (npm run build, then node dist/server/main.js --config ...).

# NODE_VERSION follows package.json "engines" and what CI tests (20). Node 20 is past its end of
# life: move engines, CI and this default to 22 together.
ARG NODE_VERSION=20

# ---- build: all dependencies, TypeScript -> dist/ ----------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY policy/ policy/
COPY reconcile/ reconcile/
COPY server/ server/
RUN npm run build

# ---- production dependencies only ---------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    # JSON logs only: the SDK's notice about future Node versions is not a log line.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
# Files owned by root and not writable by the process; it runs as an unprivileged numeric user
# (Kubernetes can verify runAsNonRoot only with a numeric USER).
USER 65532:65532
EXPOSE 9443 9090
ENTRYPOINT ["node", "dist/server/main.js"]
CMD ["--config", "/etc/gateway-orchestrator/config.yaml"]
