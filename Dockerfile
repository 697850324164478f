# Canopy container: build with dev dependencies, run with production ones only.
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
# Mount the real configuration here; without one the bundled mock forests are served.
RUN mkdir -p /etc/canopy && cp config/default.yaml /etc/canopy/canopy.yaml \
 && sed -i 's#\.\./fixtures/#/opt/canopy/fixtures/#' /etc/canopy/canopy.yaml
USER node
ENV CANOPY_HOST=0.0.0.0
EXPOSE 3389 3636
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "require('net').connect(Number(process.env.CANOPY_PORT||3389),'127.0.0.1').on('connect',function(){this.end();process.exit(0)}).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "/opt/canopy/dist/cli.js"]
CMD ["serve", "--config", "/etc/canopy/canopy.yaml"]
