# The peer pool in knative mode: it only watches the work stream and wakes projects' Knative
# Services over HTTP, so it needs no Blender. (In process mode the pool runs bridges with
# Blender as its children: use the bridge image with `node services/pool/dist/main.js`.)
# Build from the repository root; what the image gets is said in gateway.Dockerfile.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev \
 && mkdir /runtime && cp -a package.json package-lock.json node_modules /runtime/ \
 && for workspace in packages/* services/*; do \
      mkdir -p /runtime/$workspace && cp -a $workspace/package.json /runtime/$workspace/ \
      && if [ -d $workspace/dist ]; then cp -a $workspace/dist /runtime/$workspace/; fi; \
    done

FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=build /runtime /app
# knative: this image could not start a Blender of its own. The state dir is for process mode's
# crash record; the pool creates it at start, so it points at a writable place.
ENV FABRIC_POOL_LAUNCHER=knative FABRIC_POOL_STATE_DIR=/tmp/pool FABRIC_HEALTH_HOST=0.0.0.0 FABRIC_HEALTH_PORT=8082
EXPOSE 8082
# The image's own unprivileged user `node`, by number so that the kubelet can check runAsNonRoot.
USER 1000:1000
CMD ["node", "services/pool/dist/main.js"]
