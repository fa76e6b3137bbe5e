# tvtelegrambingx — one image, every role (`--role all|api|bot`).
FROM node:24-slim

ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8000 \
    BOT_METRICS_PORT=9000

WORKDIR /app

# Dependencies first (cached layer). The pinned `node` devDependency is not needed: the image is Node 24.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY src ./src

# Non-root user owning only the data volume.
RUN groupadd --system app && useradd --system --gid app --home /app app \
    && mkdir -p /data && chown app:app /data
USER app
VOLUME ["/data"]

EXPOSE 8000 9000

# Liveness: /health on :8000 (roles all, api) or :9000 (role bot) — whichever this role serves.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "Promise.any([process.env.PORT,process.env.BOT_METRICS_PORT].map(p=>fetch('http://127.0.0.1:'+p+'/health').then(r=>{if(!r.ok)throw r.status}))).then(()=>process.exit(0),()=>process.exit(1))"

# The role comes from ROLE (default all) or from arguments: docker run … image --role api
ENTRYPOINT ["node", "src/main.ts"]
