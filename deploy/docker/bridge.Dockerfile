# A bridge with its headless Blender (Debian's blender package, 3.4 on bookworm).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends blender && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENV FABRIC_MODE=spawn FABRIC_BLENDER=blender FABRIC_HEALTH_HOST=0.0.0.0 FABRIC_HEALTH_PORT=8081
EXPOSE 8081
USER node
CMD ["node", "services/bridge/dist/main.js"]
