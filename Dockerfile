# syntax=docker/dockerfile:1
# One image recipe for every app: `docker build --build-arg APP=billing -t tessera-billing .`
# The build stage compiles the whole monorepo with turbo; the runtime stage keeps production
# dependencies only and runs apps/$APP/dist/main.js.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /repo
ENV TURBO_TELEMETRY_DISABLED=1
# Native addons in the dependency tree (sqlite3) fall back to compiling when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci --no-audit --no-fund \
 && npx turbo run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ARG APP
RUN test -n "$APP" || (echo "build with --build-arg APP=<name of a folder in apps/>" >&2 && exit 1)
ENV NODE_ENV=production \
    APP=${APP} \
    HTTP_PORT=3000
WORKDIR /repo
COPY --from=build --chown=node:node /repo/package.json ./package.json
COPY --from=build --chown=node:node /repo/node_modules ./node_modules
COPY --from=build --chown=node:node /repo/packages ./packages
COPY --from=build --chown=node:node /repo/apps ./apps
RUN test -f "apps/${APP}/dist/main.js" || (echo "apps/${APP}/dist/main.js was not built" >&2 && exit 1)
USER node
EXPOSE 3000
# Shell form so $APP expands; exec hands PID 1 to node so SIGTERM reaches the app.
CMD exec node "apps/${APP}/dist/main.js"
