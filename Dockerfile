# One multi-stage Dockerfile for every service: `docker build --build-arg SERVICE=catalog .`
# (docker-compose passes SERVICE). Everything up to the workspace build is the same for
# every service, so the four images share those layers: the dependencies are fetched and
# the workspace compiled once. Only the last step, `pnpm deploy` (one service with only its
# production dependencies, into /out), differs per service.
ARG NODE_IMAGE=node:20.19-alpine

FROM ${NODE_IMAGE} AS build
RUN npm install -g pnpm@10.34.9
WORKDIR /repo
# The lockfile alone decides what is downloaded: this layer stays cached until it changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile && pnpm turbo run build --filter='./services/*'
ARG SERVICE
RUN test -n "${SERVICE}" && pnpm --filter "@storefront/${SERVICE}" deploy --legacy --prod /out

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /out ./
USER node
CMD ["node", "dist/main.js"]
