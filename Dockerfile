# One multi-stage Dockerfile for every service: `docker build --build-arg SERVICE=catalog .`
# (docker-compose passes SERVICE). The build stage compiles the workspace; `pnpm deploy`
# copies one service with only its production dependencies into /out.
ARG NODE_IMAGE=node:20.19-alpine

FROM ${NODE_IMAGE} AS build
RUN npm install -g pnpm@10.34.9
WORKDIR /repo
COPY . .
ARG SERVICE
RUN pnpm install --frozen-lockfile \
 && pnpm turbo run build --filter=@storefront/${SERVICE}... \
 && pnpm --filter @storefront/${SERVICE} deploy --legacy --prod /out

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /out ./
USER node
CMD ["node", "dist/main.js"]
