# Canopy container: build with dev dependencies, run with production ones only.
# docs/deploy.md shows how to run it with a mounted configuration and secrets.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /opt/canopy
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY config ./config
COPY fixtures ./fixtures
# Mount the real configuration at /etc/canopy/canopy.yaml; without one the bundled mock forests
# are served (the default's LDIF paths rewritten to where the fixtures live in the image).
RUN mkdir -p /etc/canopy && cp config/default.yaml /etc/canopy/canopy.yaml \
 && sed -i 's#\.\./fixtures/#/opt/canopy/fixtures/#' /etc/canopy/canopy.yaml
# The embedded default listens where these say; a mounted configuration must itself listen on
# 0.0.0.0 (listen.ldap, listen.ldaps, http.host) to be reachable from outside the container.
ENV CANOPY_HOST=0.0.0.0 CANOPY_HTTP_HOST=0.0.0.0
USER node
# LDAP, LDAPS (when tls is configured), and HTTP for /metrics, /healthz, /readyz.
EXPOSE 3389 3636 9389
# /healthz answers while the process runs; CANOPY_HTTP_PORT only when the configuration moves http.port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CANOPY_HTTP_PORT||9389)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form through the command's own first line (its Node flags): env execs node, which is PID 1
# and receives SIGTERM (graceful stop) and SIGHUP (reload) itself.
ENTRYPOINT ["/opt/canopy/dist/cli.js"]
CMD ["serve", "--config", "/etc/canopy/canopy.yaml"]
