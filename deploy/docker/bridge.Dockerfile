# A bridge with its headless Blender (Debian's blender package, 3.4 on bookworm).
# Build from the repository root; what the image gets is said in gateway.Dockerfile, plus the
# Blender addon the bridge starts Blender with (addon/, without its tests).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev \
 && mkdir /runtime && cp -a package.json package-lock.json node_modules /runtime/ \
 && for workspace in packages/* services/*; do \
      mkdir -p /runtime/$workspace && cp -a $workspace/package.json /runtime/$workspace/ \
      && if [ -d $workspace/dist ]; then cp -a $workspace/dist /runtime/$workspace/; fi; \
    done \
 && mkdir /runtime/addon && cp -a addon/blender_fabric addon/headless.py /runtime/addon/

FROM node:22-bookworm-slim
# numpy for Blender's Python: its glTF importer (PolyHaven models, Sketchfab, Hyper3D) needs it,
# and Debian's blender package does not pull it in (scripts/bootstrap.mjs installs the same).
RUN apt-get update && apt-get install -y --no-install-recommends blender python3-numpy && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /runtime /app
ENV FABRIC_MODE=spawn FABRIC_BLENDER=blender FABRIC_HEALTH_HOST=0.0.0.0 FABRIC_HEALTH_PORT=8081
EXPOSE 8081
# The image's own unprivileged user `node`, by number so that the kubelet can check runAsNonRoot.
USER 1000:1000
CMD ["node", "services/bridge/dist/main.js"]
