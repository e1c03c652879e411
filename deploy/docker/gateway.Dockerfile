# The gateway: stateless, any number of replicas behind a load balancer.
# Build from the repository root: docker build -f deploy/docker/gateway.Dockerfile .
# The context is filtered by .dockerignore (no secrets, node_modules or dist), and the image gets
# only the runtime tree (package manifests, production node_modules, every workspace's dist,
# and the dashboard's static files in services/gateway/ui), never the build stage's /app.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev \
 && mkdir /runtime && cp -a package.json package-lock.json node_modules /runtime/ \
 && for workspace in packages/* services/*; do \
      mkdir -p /runtime/$workspace && cp -a $workspace/package.json /runtime/$workspace/ \
      && if [ -d $workspace/dist ]; then cp -a $workspace/dist /runtime/$workspace/; fi \
      && if [ -d $workspace/ui ]; then cp -a $workspace/ui /runtime/$workspace/; fi; \
    done

FROM node:22-bookworm-slim
# ffmpeg encodes renders' preview videos (preview_video).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /runtime /app
ENV FABRIC_HTTP_HOST=0.0.0.0 FABRIC_HTTP_PORT=8080
EXPOSE 8080
# The image's own unprivileged user `node`, by number so that the kubelet can check runAsNonRoot.
USER 1000:1000
CMD ["node", "services/gateway/dist/main.js"]
