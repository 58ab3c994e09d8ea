# syntax=docker/dockerfile:1

# Build: compile TypeScript to dist/ with the full (dev) dependency set.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build

# Runtime: production dependencies only, compiled code, and the protos read at runtime
# (dist/../proto). Files stay root-owned so the non-root process cannot modify them.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/ dist/
COPY proto/ proto/
COPY examples/ examples/
# 65532 matches runAsUser in deploy/deployment.yaml.
USER 65532:65532
EXPOSE 9090 8080
CMD ["node", "dist/main.js"]
