# The gateway: stateless, any number of replicas behind a load balancer.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
ENV FABRIC_HTTP_HOST=0.0.0.0 FABRIC_HTTP_PORT=8080
EXPOSE 8080
# The image's own unprivileged user.
USER node
CMD ["node", "services/gateway/dist/main.js"]
